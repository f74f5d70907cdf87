//! Lambda entry of the CodeDeploy pre-traffic hook (`CodeDeployHook_runcrew-<env>-pre-traffic-check`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    runcrew_deploy::run().await
}
