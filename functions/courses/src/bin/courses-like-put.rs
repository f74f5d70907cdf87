//! Lambda entry of `courses-like-put`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_courses::reactions::LIKE).await
}
