//! The in-process queue: messages kept in memory, in order, per queue. The local gateway
//! and tests read them; a consumer function drains them when one exists.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use super::{Queue, QueueError, QueueName};

/// The in-process adapter.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    messages: Mutex<BTreeMap<QueueName, Vec<Value>>>,
}

impl MemoryQueue {
    /// The messages sent to `queue` so far, oldest first.
    pub fn messages(&self, queue: QueueName) -> Vec<Value> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&queue)
            .cloned()
            .unwrap_or_default()
    }

    /// Takes every message of `queue`, oldest first (a consumer's receive).
    pub fn drain(&self, queue: QueueName) -> Vec<Value> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&queue)
            .unwrap_or_default()
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, queue: QueueName, message: &Value) -> Result<(), QueueError> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(queue)
            .or_default()
            .push(message.clone());
        Ok(())
    }

    fn as_memory(&self) -> Option<&MemoryQueue> {
        Some(self)
    }
}
