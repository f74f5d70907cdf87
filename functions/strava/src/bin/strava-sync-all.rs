//! Lambda entry of `strava-sync-all`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_strava::connection_routes::SYNC_ALL).await
}
