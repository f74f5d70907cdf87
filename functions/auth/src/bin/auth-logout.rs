//! Lambda entry of `POST /v1/auth/logout`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_auth::LOGOUT).await
}
