//! Lambda entry of the `projector` stream consumer (runs → leaderboards and records).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::tasks::stream::run_stream(&runcrew_runs::projector::PROJECTOR).await
}
