//! Lambda entry of the `feed-writer` queue consumer (one bounded step of feed work).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::tasks::queue::run_queue(&runcrew_social::fanout::FEED_WRITER).await
}
