//! Lambda entry of `courses-update`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_courses::UPDATE).await
}
