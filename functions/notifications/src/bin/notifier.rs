//! Lambda entry of the `notifier` stream consumer (committed writes → inbox items and push jobs).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::tasks::stream::run_stream(&runcrew_notifications::notifier::NOTIFIER).await
}
