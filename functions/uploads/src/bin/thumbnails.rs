//! Lambda entry of the `thumbnails` task (S3 ObjectCreated under `routes/`,
//! `private/routes/` and `uploads/`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_uploads::run_thumbnails().await
}
