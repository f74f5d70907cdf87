//! Lambda entry of `GET /.well-known/openid-configuration`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_keys::OPENID_CONFIGURATION).await
}
