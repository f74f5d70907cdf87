//! Lambda entry of `notifications-token-delete`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_notifications::devices::UNREGISTER).await
}
