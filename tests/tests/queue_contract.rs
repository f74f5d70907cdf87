//! The Queue port against both adapters (in process, and SQS through moto's server), and
//! what a producer does when the queue is down: the message waits as a dead letter.

use async_trait::async_trait;
use runcrew_shared::queue::memory::MemoryQueue;
use runcrew_shared::queue::sqs::SqsQueue;
use runcrew_shared::queue::{Queue, QueueError, QueueName, send_or_park};
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::{Query, Store};
use serde_json::json;

fn job(n: u32) -> serde_json::Value {
    json!({"type": "new_follower", "user_id": "u2", "follower_id": "u1", "n": n})
}

#[tokio::test]
async fn the_in_process_queue_keeps_messages_in_order_per_queue() {
    let queue = MemoryQueue::default();
    for n in 0..3 {
        queue.send(QueueName::Push, &job(n)).await.expect("send");
    }
    assert_eq!(queue.messages(QueueName::Push), [job(0), job(1), job(2)]);
    assert_eq!(queue.drain(QueueName::Push).len(), 3);
    assert!(queue.messages(QueueName::Push).is_empty());
}

#[tokio::test]
async fn sqs_delivers_the_json_message_as_sent() {
    // given a queue on the SQS test server
    let client = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&runcrew_tests::sdk_config())
            .endpoint_url(runcrew_tests::s3_endpoint())
            .build(),
    );
    let created = client
        .create_queue()
        .queue_name(format!("push-{}", uuid::Uuid::new_v4().simple()))
        .send()
        .await
        .expect("create queue");
    let url = created.queue_url().expect("url").to_owned();
    let queue = SqsQueue::new(client.clone(), Some(url.clone()));
    // when a job is sent
    queue.send(QueueName::Push, &job(7)).await.expect("send");
    // then a consumer receives exactly it
    let received = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive");
    let bodies: Vec<serde_json::Value> = received
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().expect("body")).expect("json"))
        .collect();
    assert_eq!(bodies, [job(7)]);
    // and a queue that is not configured is a clear error, not a silent drop
    let unconfigured = SqsQueue::new(client, None);
    assert_eq!(
        unconfigured.send(QueueName::Push, &job(8)).await,
        Err(QueueError::NotConfigured("push"))
    );
}

/// A queue service that is down.
struct Down;

#[async_trait]
impl Queue for Down {
    async fn send(&self, _: QueueName, _: &serde_json::Value) -> Result<(), QueueError> {
        Err(QueueError::Unavailable("503 Service Unavailable".into()))
    }
}

#[tokio::test]
async fn a_message_the_queue_refuses_waits_as_a_dead_letter() {
    let store = EmbeddedStore::in_memory(runcrew_tests::codec());
    // when a producer sends while the queue is down
    let sent = send_or_park(&Down, &store, QueueName::Push, &job(9)).await;
    // then it reports the failure and the message is parked in the table for redrive
    assert!(!sent);
    let parked = store
        .query(&Query::partition("DEADLETTER#push"))
        .await
        .expect("query");
    assert_eq!(parked.items.len(), 1);
    assert_eq!(parked.items[0].body["message"], job(9));
    assert!(parked.items[0].expires_at.is_some());
}
