//! The Queue port: work handed to a background consumer (SQS on AWS; in process locally).
//!
//! A producer whose own write has already committed must not lose the job when the queue
//! is down: [`send_or_park`] retries with backoff and then parks the message in the table
//! as a dead letter (`DEADLETTER#<queue>` items, kept 14 days, logged at error level) for
//! an operator to redrive. Nothing is dropped silently.
//!
//! Consumers on AWS never receive by hand: Lambda's event source mapping polls the queue
//! and calls the function. The narrow [`QueueInbox`] port is that poller's half of SQS, for
//! the local gateway, which stands in for the event source mapping on a laptop (over the
//! in-process queue, or over SQS itself when `QUEUES=sqs`).

pub mod memory;
pub mod sqs;

use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use serde_json::{Map, Value, json};

use crate::store::{Condition, Item, Key, Store};

/// The queues of the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueName {
    /// Push notifications (new follower, event reminders), consumed by `push`.
    Push,
    /// Strava imports (a sweep's, a sync-all, a webhook event), consumed by `strava-import`.
    Strava,
    /// Steps of jobs that grow with the data (erasure, course deletion), consumed by
    /// `jobs-run`.
    Jobs,
    /// Feed fan-out steps (a run to its runner's followers, a follow's backfill), consumed
    /// by `feed-writer`.
    Feed,
}

impl QueueName {
    /// The name in logs and dead-letter keys.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Push => "push",
            QueueName::Strava => "strava",
            QueueName::Jobs => "jobs",
            QueueName::Feed => "feed",
        }
    }
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue service cannot be reached or refuses service; another try may work.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// No queue is configured for this name (a wiring bug).
    #[error("no queue is configured for {0}")]
    NotConfigured(&'static str),
}

/// A queue service.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends one JSON message to `queue`.
    async fn send(&self, queue: QueueName, message: &Value) -> Result<(), QueueError>;

    /// The in-process adapter behind this port, whose messages tests and the local gateway
    /// read; `None` for SQS.
    fn as_memory(&self) -> Option<&memory::MemoryQueue> {
        None
    }

    /// The consumer's side of this queue service, for the local stand-in of Lambda's event
    /// source mapping; `None` for a service nobody polls here.
    fn inbox(&self) -> Option<&dyn QueueInbox> {
        None
    }
}

/// One received message: what the consumer gets, and the receipt that deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The handle of this one receipt: only the latest receipt of a message deletes it.
    pub receipt: String,
    /// The message's id, the same on every receipt.
    pub id: String,
    /// The body as sent. Text, not JSON: a body that is not JSON must still reach the
    /// consumer, which fails it, so that it ends in the dead-letter queue.
    pub body: String,
    /// How many times the message has been received, this receipt included.
    pub receive_count: u32,
    /// When it was sent, epoch milliseconds.
    pub sent_ms: i64,
}

/// How many messages a queue holds, as SQS approximates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepth {
    /// Waiting to be received (`ApproximateNumberOfMessages`).
    pub visible: u64,
    /// Received and neither deleted nor visible again yet
    /// (`ApproximateNumberOfMessagesNotVisible`).
    pub in_flight: u64,
}

/// A message its queue gave up on after `maxReceiveCount` receives.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The message's id.
    pub id: String,
    /// The body as sent.
    pub body: String,
    /// How many times it was received before it was moved.
    pub receive_count: u32,
    /// When it was sent, epoch milliseconds.
    pub sent_ms: i64,
}

/// The consumer's side of a queue: receive, then delete what was handled. A received
/// message is invisible to other receivers until its visibility ends or it is deleted;
/// one never deleted comes back, counted, until the queue's redrive policy moves it to the
/// dead-letter queue.
#[async_trait]
pub trait QueueInbox: Send + Sync {
    /// Receives up to `max` visible messages (SQS caps it at 10), hiding each for
    /// `visibility`.
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError>;

    /// Deletes a handled message by its latest receipt.
    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError>;

    /// Makes a received message visible again after `delay` instead of at the end of its
    /// visibility timeout (`ChangeMessageVisibility`): the local gateway retries failures
    /// sooner than AWS would, for a developer who is watching.
    async fn retry_after(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> Result<(), QueueError>;

    /// How many messages wait and how many are in flight.
    async fn depth(&self, queue: QueueName) -> Result<QueueDepth, QueueError>;

    /// What the queue's dead-letter queue holds, when this service can list it without
    /// taking anything (the in-process queue); `None` otherwise (SQS: read the dead-letter
    /// queue itself).
    fn dead_letters(&self, _queue: QueueName) -> Option<Vec<DeadLetter>> {
        None
    }
}

/// Tries before a message becomes a dead letter.
const SEND_ATTEMPTS: usize = 3;
/// The pauses between tries (50 ms, then 200 ms): a queue that blips is back within them,
/// and the request that produced the message is still waiting for its answer.
const SEND_BACKOFF: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_millis(50))
    .with_factor(4.0)
    .with_max_times(SEND_ATTEMPTS - 1);
/// How long a dead letter is kept for redrive.
const DEAD_LETTER_SECONDS: i64 = 14 * 24 * 3600;

/// Sends `message`, retrying with backoff; when every try failed, parks it in the table as
/// a dead letter and logs it. Returns whether it was sent.
pub async fn send_or_park(
    queue: &dyn Queue,
    store: &dyn Store,
    name: QueueName,
    message: &Value,
) -> bool {
    let sent = (|| queue.send(name, message))
        .retry(SEND_BACKOFF)
        .notify(|err, pause| {
            tracing::warn!(
                queue = name.as_str(),
                error = %err,
                retry_in_ms = pause.as_millis() as u64,
                "a message could not be queued; trying again"
            );
        })
        .await;
    let error = match sent {
        Ok(()) => return true,
        Err(err) => err.to_string(),
    };
    let now = time::OffsetDateTime::now_utc();
    let ms = now.unix_timestamp_nanos() / 1_000_000;
    let mut body = Map::new();
    body.insert("queue".into(), json!(name.as_str()));
    body.insert("message".into(), message.clone());
    body.insert("error".into(), json!(error));
    let item = Item::new(
        Key::new(
            format!("DEADLETTER#{}", name.as_str()),
            format!("{ms:013}#{}", uuid::Uuid::now_v7().simple()),
        ),
        body,
    )
    .expiring_at(now.unix_timestamp() + DEAD_LETTER_SECONDS);
    let parked = store.put(item, Condition::NotExists).await;
    tracing::error!(
        queue = name.as_str(),
        error = %error,
        parked = parked.is_ok(),
        "a message could not be queued; it waits as a dead letter for redrive"
    );
    false
}
