//! Lambda entry of the `thumbnails` task (S3 ObjectCreated under `routes/` and `uploads/`).
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_s3(&runcrew_uploads::THUMBNAILS).await
}
