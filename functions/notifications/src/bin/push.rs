//! Lambda entry of the `push` queue consumer (push jobs → FCM HTTP v1).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_shared::tasks::queue::run_queue(&runcrew_notifications::push::PUSH).await
}
