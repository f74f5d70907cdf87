//! Lambda entry of `POST /v1/uploads`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_uploads::CREATE).await
}
