//! Lambda entry of `events-results`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_events::results::RESULTS).await
}
