//! Lambda entry of `events-leave`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_events::participation::LEAVE).await
}
