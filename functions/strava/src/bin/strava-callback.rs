//! Lambda entry of `strava-callback`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_strava::connect::CALLBACK).await
}
