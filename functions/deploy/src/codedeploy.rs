//! [`ReportHookStatus`] over CodeDeploy's `PutLifecycleEventHookExecutionStatus`.

use async_trait::async_trait;
use aws_sdk_codedeploy::types::LifecycleEventStatus;

use crate::{HookEvent, HookStatus, ReportHookStatus};

/// Reports hook verdicts through the AWS SDK.
#[derive(Debug, Clone)]
pub struct CodeDeployReporter {
    client: aws_sdk_codedeploy::Client,
}

impl CodeDeployReporter {
    /// A client from the shared AWS configuration, at `endpoint` when given (tests).
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Self {
        let mut builder = aws_sdk_codedeploy::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            builder = builder.endpoint_url(url);
        }
        CodeDeployReporter {
            client: aws_sdk_codedeploy::Client::from_conf(builder.build()),
        }
    }
}

#[async_trait]
impl ReportHookStatus for CodeDeployReporter {
    async fn report(&self, hook: &HookEvent, status: HookStatus) -> Result<(), String> {
        let status = match status {
            HookStatus::Succeeded => LifecycleEventStatus::Succeeded,
            HookStatus::Failed => LifecycleEventStatus::Failed,
        };
        self.client
            .put_lifecycle_event_hook_execution_status()
            .deployment_id(&hook.deployment_id)
            .lifecycle_event_hook_execution_id(&hook.lifecycle_event_hook_execution_id)
            .status(status)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_codedeploy::error::DisplayErrorContext(&e).to_string())
    }
}
