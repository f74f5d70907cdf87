//! Lambda entry of `events-join`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_events::participation::JOIN).await
}
