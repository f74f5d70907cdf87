//! Lambda entry of the `strava-import` queue consumer (Strava jobs → runs).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::tasks::queue::run_queue(&runcrew_strava::importer::IMPORT).await
}
