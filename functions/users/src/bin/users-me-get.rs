//! Lambda entry of `GET /v1/users/me`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_users::ME_GET).await
}
