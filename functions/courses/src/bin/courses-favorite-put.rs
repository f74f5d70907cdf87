//! Lambda entry of `courses-favorite-put`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_courses::reactions::FAVORITE).await
}
