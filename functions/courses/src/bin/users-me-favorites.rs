//! Lambda entry of `users-me-favorites`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_courses::reactions::MY_FAVORITES).await
}
