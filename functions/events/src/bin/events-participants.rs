//! Lambda entry of `events-participants`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_events::participation::PARTICIPANTS).await
}
