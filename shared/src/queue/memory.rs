//! The in-process queue: an emulated SQS queue per [`QueueName`], in memory. Messages are
//! kept in order; a received one is invisible until its visibility ends or it is deleted,
//! and each receipt counts. With a redrive policy ([`MemoryQueue::redrive_after`], set by
//! the local gateway from template.yaml), a message already received `maxReceiveCount`
//! times is moved to that queue's dead-letter list instead of being received again, as SQS
//! does. Tests and `GET /_local/queues` read the queue and its dead letters.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;

use super::{DeadLetter, Queue, QueueDepth, QueueError, QueueInbox, QueueName, Received};

/// One message in a queue.
#[derive(Debug, Clone)]
struct Stored {
    id: String,
    body: String,
    sent_ms: i64,
    receive_count: u32,
    /// Hidden until then, after a receipt.
    invisible_until: Option<Instant>,
    /// The latest receipt, the only one that deletes the message.
    receipt: Option<String>,
}

/// One queue: its messages, its redrive policy and its dead-letter list.
#[derive(Debug, Default)]
struct Lane {
    messages: VecDeque<Stored>,
    max_receive_count: Option<u32>,
    dead: Vec<DeadLetter>,
}

/// The in-process adapter.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    lanes: Mutex<BTreeMap<QueueName, Lane>>,
}

impl MemoryQueue {
    fn lanes(&self) -> MutexGuard<'_, BTreeMap<QueueName, Lane>> {
        self.lanes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The redrive policy of `queue`: a message received `max_receive_count` times without
    /// being deleted goes to the dead-letter list on its next receive. Without one, a
    /// failing message comes back forever, as in SQS.
    pub fn redrive_after(&self, queue: QueueName, max_receive_count: u32) {
        self.lanes().entry(queue).or_default().max_receive_count = Some(max_receive_count.max(1));
    }

    /// The messages of `queue` not yet deleted (waiting or in flight), oldest first, as
    /// JSON; a body that is not JSON reads as a JSON string.
    pub fn messages(&self, queue: QueueName) -> Vec<Value> {
        self.lanes()
            .get(&queue)
            .map(|lane| lane.messages.iter().map(|m| json_of(&m.body)).collect())
            .unwrap_or_default()
    }

    /// Takes every message of `queue`, oldest first, as JSON (a test's consumer that needs
    /// no receipts).
    pub fn drain(&self, queue: QueueName) -> Vec<Value> {
        self.lanes()
            .get_mut(&queue)
            .map(|lane| lane.messages.drain(..).map(|m| json_of(&m.body)).collect())
            .unwrap_or_default()
    }

    /// Sends a body as text, JSON or not (a test of what a consumer does with a garbled
    /// message, which SQS would carry just the same).
    pub fn send_text(&self, queue: QueueName, body: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.lanes()
            .entry(queue)
            .or_default()
            .messages
            .push_back(Stored {
                id: id.clone(),
                body: body.to_owned(),
                sent_ms: crate::clock::now_epoch_ms() as i64,
                receive_count: 0,
                invisible_until: None,
                receipt: None,
            });
        id
    }
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, queue: QueueName, message: &Value) -> Result<(), QueueError> {
        self.send_text(queue, &message.to_string());
        Ok(())
    }

    fn as_memory(&self) -> Option<&MemoryQueue> {
        Some(self)
    }

    fn inbox(&self) -> Option<&dyn QueueInbox> {
        Some(self)
    }
}

#[async_trait]
impl QueueInbox for MemoryQueue {
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let now = Instant::now();
        let mut lanes = self.lanes();
        let Some(lane) = lanes.get_mut(&queue) else {
            return Ok(Vec::new());
        };
        let mut received = Vec::new();
        let mut index = 0;
        while index < lane.messages.len() && received.len() < max {
            let message = &mut lane.messages[index];
            if message.invisible_until.is_some_and(|until| until > now) {
                index += 1;
                continue;
            }
            if lane
                .max_receive_count
                .is_some_and(|max| message.receive_count >= max)
            {
                if let Some(dead) = lane.messages.remove(index) {
                    lane.dead.push(DeadLetter {
                        id: dead.id,
                        body: dead.body,
                        receive_count: dead.receive_count,
                        sent_ms: dead.sent_ms,
                    });
                }
                continue;
            }
            let receipt = uuid::Uuid::new_v4().simple().to_string();
            message.receive_count += 1;
            message.invisible_until = Some(now + visibility);
            message.receipt = Some(receipt.clone());
            received.push(Received {
                receipt,
                id: message.id.clone(),
                body: message.body.clone(),
                receive_count: message.receive_count,
                sent_ms: message.sent_ms,
            });
            index += 1;
        }
        Ok(received)
    }

    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        if let Some(lane) = self.lanes().get_mut(&queue) {
            lane.messages
                .retain(|m| m.receipt.as_deref() != Some(receipt));
        }
        Ok(())
    }

    async fn retry_after(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> Result<(), QueueError> {
        if let Some(lane) = self.lanes().get_mut(&queue)
            && let Some(message) = lane
                .messages
                .iter_mut()
                .find(|m| m.receipt.as_deref() == Some(receipt))
        {
            message.invisible_until = Some(Instant::now() + delay);
        }
        Ok(())
    }

    async fn depth(&self, queue: QueueName) -> Result<QueueDepth, QueueError> {
        let now = Instant::now();
        let lanes = self.lanes();
        let mut depth = QueueDepth::default();
        for message in lanes.get(&queue).map(|l| &l.messages).into_iter().flatten() {
            if message.invisible_until.is_some_and(|until| until > now) {
                depth.in_flight += 1;
            } else {
                depth.visible += 1;
            }
        }
        Ok(depth)
    }

    fn dead_letters(&self, queue: QueueName) -> Option<Vec<DeadLetter>> {
        Some(
            self.lanes()
                .get(&queue)
                .map(|lane| lane.dead.clone())
                .unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LONG: Duration = Duration::from_secs(60);

    async fn queue_with(n: usize) -> MemoryQueue {
        let queue = MemoryQueue::default();
        for i in 0..n {
            queue
                .send(QueueName::Push, &json!({"n": i}))
                .await
                .expect("send");
        }
        queue
    }

    #[tokio::test]
    async fn a_received_message_is_hidden_until_deleted() {
        // given two messages, one received
        let queue = queue_with(2).await;
        let first = queue
            .receive(QueueName::Push, 1, LONG)
            .await
            .expect("receive");
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].receive_count, 1);
        // then the next receive gets the other one only
        let second = queue
            .receive(QueueName::Push, 10, LONG)
            .await
            .expect("receive");
        assert_eq!(second.len(), 1);
        assert_ne!(first[0].id, second[0].id);
        assert_eq!(
            queue.depth(QueueName::Push).await.expect("depth"),
            QueueDepth {
                visible: 0,
                in_flight: 2
            }
        );
        // and a deleted message is gone for good
        queue
            .delete(QueueName::Push, &first[0].receipt)
            .await
            .expect("delete");
        assert_eq!(queue.messages(QueueName::Push), [json!({"n": 1})]);
    }

    #[tokio::test]
    async fn a_message_not_deleted_comes_back_counted_when_its_visibility_ends() {
        let queue = queue_with(1).await;
        let first = queue
            .receive(QueueName::Push, 10, Duration::ZERO)
            .await
            .expect("receive");
        let again = queue
            .receive(QueueName::Push, 10, LONG)
            .await
            .expect("receive");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, first[0].id);
        assert_eq!(again[0].receive_count, 2);
        // and only the latest receipt deletes it
        queue
            .delete(QueueName::Push, &first[0].receipt)
            .await
            .expect("delete");
        assert_eq!(queue.messages(QueueName::Push).len(), 1);
        queue
            .delete(QueueName::Push, &again[0].receipt)
            .await
            .expect("delete");
        assert!(queue.messages(QueueName::Push).is_empty());
    }

    #[tokio::test]
    async fn a_message_failing_max_receive_count_times_lands_in_the_dead_letter_list() {
        // given a queue that gives up after three receives
        let queue = queue_with(1).await;
        queue.redrive_after(QueueName::Push, 3);
        // when a consumer fails the message three times
        for attempt in 1..=3 {
            let got = queue
                .receive(QueueName::Push, 10, LONG)
                .await
                .expect("receive");
            assert_eq!(got.len(), 1, "attempt {attempt}");
            queue
                .retry_after(QueueName::Push, &got[0].receipt, Duration::ZERO)
                .await
                .expect("retry");
        }
        // then the next receive finds nothing and the message waits as a dead letter
        assert!(
            queue
                .receive(QueueName::Push, 10, LONG)
                .await
                .expect("receive")
                .is_empty()
        );
        let dead = queue.dead_letters(QueueName::Push).expect("listed");
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].receive_count, 3);
        assert_eq!(json_of(&dead[0].body), json!({"n": 0}));
        assert!(queue.messages(QueueName::Push).is_empty());
    }

    #[tokio::test]
    async fn messages_and_drain_read_what_was_sent_in_order() {
        let queue = queue_with(3).await;
        assert_eq!(
            queue.messages(QueueName::Push),
            [json!({"n": 0}), json!({"n": 1}), json!({"n": 2})]
        );
        assert_eq!(queue.drain(QueueName::Push).len(), 3);
        assert!(queue.messages(QueueName::Push).is_empty());
    }
}
