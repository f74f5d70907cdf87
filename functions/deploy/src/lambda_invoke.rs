//! [`InvokeFunction`] over Lambda's `Invoke` API (synchronous, `RequestResponse`).

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;

use crate::{INVOKE_TIMEOUT, InvokeFunction, Invoked};

/// Invokes function versions through the AWS SDK.
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    client: aws_sdk_lambda::Client,
}

impl LambdaInvoker {
    /// A client from the shared AWS configuration (at `endpoint` when given: tests), whose
    /// attempts may last [`INVOKE_TIMEOUT`], long enough for a new version's cold start.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(runcrew_shared::app::AWS_CONNECT_TIMEOUT)
            .operation_attempt_timeout(INVOKE_TIMEOUT)
            .operation_timeout(INVOKE_TIMEOUT * 2)
            .build();
        let mut builder = aws_sdk_lambda::config::Builder::from(sdk).timeout_config(timeouts);
        if let Some(url) = endpoint {
            builder = builder.endpoint_url(url);
        }
        LambdaInvoker {
            client: aws_sdk_lambda::Client::from_conf(builder.build()),
        }
    }
}

#[async_trait]
impl InvokeFunction for LambdaInvoker {
    async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Invoked, String> {
        let out = self
            .client
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(&e).to_string())?;
        Ok(Invoked {
            function_error: out.function_error().map(str::to_owned),
            payload: out
                .payload()
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default(),
        })
    }
}
