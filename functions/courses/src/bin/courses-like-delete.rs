//! Lambda entry of `courses-like-delete`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_courses::reactions::UNLIKE).await
}
