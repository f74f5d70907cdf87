//! Lambda entry of the `event-reminders` scheduled task (participants reminded before a group run).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::tasks::schedule::run_schedule(&runcrew_events::reminders::EVENT_REMINDERS).await
}
