//! Lambda entry of `error-reports`: the functions' error lines and traced lines to Sentry.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_reports::run().await
}
