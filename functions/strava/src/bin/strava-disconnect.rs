//! Lambda entry of `strava-disconnect`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_strava::connection_routes::DISCONNECT).await
}
