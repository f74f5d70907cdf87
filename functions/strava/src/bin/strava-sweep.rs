//! Lambda entry of the `strava-sweep` scheduled task (a sync per connected athlete).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::tasks::schedule::run_schedule(&runcrew_strava::sweep::SWEEP).await
}
