//! Lambda entry of the `feed-changes` stream consumer (runs and follows → feed work).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::tasks::stream::run_stream(&runcrew_social::fanout::FEED_CHANGES).await
}
