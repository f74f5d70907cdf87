//! Lambda entry of `following-list`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_social::FOLLOWING).await
}
