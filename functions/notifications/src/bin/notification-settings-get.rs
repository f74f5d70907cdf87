//! Lambda entry of `notification-settings-get`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_notifications::settings::GET).await
}
