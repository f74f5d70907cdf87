//! Lambda entry of `follow-delete`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::run_http(&runcrew_social::UNFOLLOW).await
}
