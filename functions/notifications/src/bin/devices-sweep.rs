//! Lambda entry of the `devices-sweep` scheduled task (stale device tokens removed daily).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::tasks::schedule::run_schedule(
        &runcrew_notifications::devices_sweep::DEVICES_SWEEP,
    )
    .await
}
