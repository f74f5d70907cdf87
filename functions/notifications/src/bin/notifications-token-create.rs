//! Lambda entry of `notifications-token-create`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_notifications::devices::REGISTER).await
}
