//! Lambda entry of `users-me-stats`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_runs::STATS).await
}
