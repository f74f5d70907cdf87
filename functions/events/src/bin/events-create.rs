//! Lambda entry of `events-create`.
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_events::CREATE).await
}
