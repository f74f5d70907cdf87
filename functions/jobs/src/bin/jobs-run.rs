//! Lambda entry of the `jobs-run` queue consumer (one bounded step of a job per message).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::tasks::queue::run_queue(&runcrew_jobs::RUN).await
}
