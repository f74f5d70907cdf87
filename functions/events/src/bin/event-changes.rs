//! Lambda entry of the `event-changes` stream consumer (waiters moved up, participants told of changes).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::tasks::stream::run_stream(&runcrew_events::changes::EVENT_CHANGES).await
}
