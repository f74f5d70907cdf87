//! SQS (aws-sdk-sqs): one queue URL per [`QueueName`], from the configuration. Sends on
//! every environment; receives only where the local gateway stands in for Lambda's event
//! source mapping over a real or emulated SQS (`QUEUES=sqs` on a laptop, moto in tests).

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::Value;

use super::{Queue, QueueDepth, QueueError, QueueInbox, QueueName, Received};

/// SQS's most messages per receive.
const MAX_PER_RECEIVE: usize = 10;

fn unavailable<E: std::error::Error>(err: E) -> QueueError {
    QueueError::Unavailable(DisplayErrorContext(&err).to_string())
}

/// A duration as SQS's whole seconds, rounded up so a visibility is never shorter than
/// asked (SQS allows at most 12 hours).
fn whole_seconds(duration: Duration) -> i32 {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    seconds.min(12 * 3600) as i32
}

/// The SQS adapter.
///
/// The client is built on first use, as the S3 adapter's is: building an SQS client costs
/// a few tenths of a millisecond of a cold start (BENCHMARKS.md, `floor-aws-lean-sqs`
/// beside `floor-aws-lean`), and the functions that hold the queue send only on their
/// success path (a refused or missing course queues nothing).
#[derive(Debug, Clone)]
pub struct SqsQueue {
    config: aws_sdk_sqs::Config,
    client: OnceLock<Client>,
    urls: std::collections::BTreeMap<QueueName, String>,
}

impl SqsQueue {
    /// An adapter with an already-built client and the push queue's URL.
    pub fn new(client: Client, push_url: Option<String>) -> Self {
        Self::with_config(client.config().clone(), OnceLock::from(client), push_url)
    }

    fn with_config(
        config: aws_sdk_sqs::Config,
        client: OnceLock<Client>,
        push_url: Option<String>,
    ) -> Self {
        let queue = SqsQueue {
            config,
            client,
            urls: Default::default(),
        };
        match push_url {
            Some(url) => queue.with_url(QueueName::Push, url),
            None => queue,
        }
    }

    /// The same adapter knowing `queue`'s URL too.
    pub fn with_url(mut self, queue: QueueName, url: String) -> Self {
        self.urls.insert(queue, url);
        self
    }

    /// An adapter whose client is built from the shared AWS configuration (at `endpoint`
    /// when given) when a call first needs it.
    pub fn from_sdk_config(
        sdk: &aws_config::SdkConfig,
        endpoint: Option<&str>,
        push_url: Option<String>,
    ) -> Self {
        let mut builder = aws_sdk_sqs::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            builder = builder.endpoint_url(url);
        }
        Self::with_config(builder.build(), OnceLock::new(), push_url)
    }

    /// The underlying client, built now if no call has needed it yet (queue set-up in
    /// tests).
    pub fn client(&self) -> &Client {
        self.client
            .get_or_init(|| Client::from_conf(self.config.clone()))
    }

    /// The URL of `queue`, or why there is none.
    fn url(&self, queue: QueueName) -> Result<&str, QueueError> {
        self.urls
            .get(&queue)
            .map(String::as_str)
            .ok_or(QueueError::NotConfigured(queue.as_str()))
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, queue: QueueName, message: &Value) -> Result<(), QueueError> {
        self.client()
            .send_message()
            .queue_url(self.url(queue)?)
            .message_body(message.to_string())
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn inbox(&self) -> Option<&dyn QueueInbox> {
        Some(self)
    }
}

#[async_trait]
impl QueueInbox for SqsQueue {
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let output = self
            .client()
            .receive_message()
            .queue_url(self.url(queue)?)
            .max_number_of_messages(max.clamp(1, MAX_PER_RECEIVE) as i32)
            .visibility_timeout(whole_seconds(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output
            .messages()
            .iter()
            .filter_map(|message| {
                let attribute = |name: &MessageSystemAttributeName| {
                    message
                        .attributes()
                        .and_then(|a| a.get(name))
                        .map(String::as_str)
                };
                Some(Received {
                    // Without a receipt a message cannot be deleted: it comes back by itself.
                    receipt: message.receipt_handle()?.to_owned(),
                    id: message.message_id().unwrap_or_default().to_owned(),
                    body: message.body().unwrap_or_default().to_owned(),
                    receive_count: attribute(&MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1),
                    sent_ms: attribute(&MessageSystemAttributeName::SentTimestamp)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or_else(|| crate::clock::now_epoch_ms() as i64),
                })
            })
            .collect())
    }

    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        self.client()
            .delete_message()
            .queue_url(self.url(queue)?)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn retry_after(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> Result<(), QueueError> {
        self.client()
            .change_message_visibility()
            .queue_url(self.url(queue)?)
            .receipt_handle(receipt)
            .visibility_timeout(whole_seconds(delay))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn depth(&self, queue: QueueName) -> Result<QueueDepth, QueueError> {
        let output = self
            .client()
            .get_queue_attributes()
            .queue_url(self.url(queue)?)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(unavailable)?;
        let count = |name: &QueueAttributeName| {
            output
                .attributes()
                .and_then(|a| a.get(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(QueueDepth {
            visible: count(&QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        })
    }
}
