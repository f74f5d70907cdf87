//! Lambda entry of `notifications-read`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_notifications::inbox::MARK_READ).await
}
