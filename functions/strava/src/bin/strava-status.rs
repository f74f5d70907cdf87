//! Lambda entry of `strava-status`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_strava::connection_routes::STATUS).await
}
