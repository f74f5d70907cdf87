//! Lambda entry of `strava-webhook`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_strava::webhook::EVENT).await
}
