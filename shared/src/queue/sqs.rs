//! SQS (aws-sdk-sqs): one queue URL per [`QueueName`], from the configuration.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use serde_json::Value;

use super::{Queue, QueueError, QueueName};

/// The SQS adapter.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    push_url: Option<String>,
}

impl SqsQueue {
    /// An adapter with an already-built client and the queue URLs.
    pub fn new(client: Client, push_url: Option<String>) -> Self {
        SqsQueue { client, push_url }
    }

    /// Builds the client from the shared AWS configuration, at `endpoint` when given.
    pub fn from_sdk_config(
        sdk: &aws_config::SdkConfig,
        endpoint: Option<&str>,
        push_url: Option<String>,
    ) -> Self {
        let mut builder = aws_sdk_sqs::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            builder = builder.endpoint_url(url);
        }
        Self::new(Client::from_conf(builder.build()), push_url)
    }

    /// The underlying client (queue set-up in tests).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, queue: QueueName, message: &Value) -> Result<(), QueueError> {
        let url = match queue {
            QueueName::Push => self.push_url.as_deref(),
        }
        .ok_or(QueueError::NotConfigured(queue.as_str()))?;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(message.to_string())
            .send()
            .await
            .map_err(|e| QueueError::Unavailable(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}
