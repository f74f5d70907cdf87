//! Lambda entry of `leaderboard-get`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_runs::LEADERBOARD).await
}
