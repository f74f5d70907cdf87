//! Lambda entry of `GET /v1/jobs/{jobId}`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_jobs::GET).await
}
