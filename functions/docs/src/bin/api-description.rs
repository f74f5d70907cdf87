//! Lambda entry of `GET /openapi.json`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_docs::API_DESCRIPTION).await
}
