//! Lambda entry of `GET /.well-known/jwks.json`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_keys::JWKS).await
}
