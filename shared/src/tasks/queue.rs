//! Consumers of an SQS queue (Lambda's SQS event source mapping, `ReportBatchItemFailures`).
//!
//! A [`QueueFunction`] handles every message of a batch on its own: one bad message never
//! fails the others. It answers with the ids of the messages that failed
//! (`batchItemFailures`); Lambda deletes the rest, and the failed ones come back after the
//! queue's visibility timeout until the queue's `RedrivePolicy` moves them to its
//! dead-letter queue (whose alarm pages). A body that is not JSON is a failed message too,
//! so it ends in the dead-letter queue where a person can read it: nothing is dropped.
//!
//! A handler may also put a message off on purpose ([`Handled::Later`]: quiet hours, a
//! service's `Retry-After`): it is reported like a failure, so Lambda keeps it, and its
//! visibility is set to the delay (`ChangeMessageVisibility`, at most 12 hours), so it comes
//! back then and not before; the function never waits. Each return counts as a receive, so
//! the queue's `maxReceiveCount` must leave room for the deferrals a handler makes.
//!
//! Handlers must be idempotent: SQS delivers at least once, and a batch whose function
//! timed out comes back whole.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_http::service_fn;
use serde_json::Value;

use super::{BatchCounts, emit_batch_metrics};
use crate::app::{App, Needs};
use crate::function::TaskError;
use crate::queue::QueueName;

/// One message as a handler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueMessage {
    /// SQS's `messageId`: what a failure is reported by, and a handler's idempotency key
    /// when the body carries none of its own.
    pub id: String,
    /// The JSON the producer sent.
    pub body: Value,
    /// How many times the message has been received, this time included
    /// (`ApproximateReceiveCount`): a handler may give up gently on the last try.
    pub receive_count: u32,
    /// When the producer sent it, epoch milliseconds (`SentTimestamp`).
    pub sent_ms: i64,
    /// The receipt of this delivery (`receiptHandle`), which a deferral needs.
    pub receipt: Option<String>,
}

/// What became of a message its handler did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Done: the message is deleted.
    Done,
    /// Not now: the message comes back after this long (capped at [`MAX_DEFERRAL`]).
    Later(Duration),
}

/// The longest a message can be put off at once. SQS keeps a message hidden at most 12
/// hours from when it was received, and the handler has already run for up to a function
/// timeout (5 minutes at most here); a longer visibility is refused. A handler that needs
/// longer puts the message off again when it comes back.
pub const MAX_DEFERRAL: Duration = Duration::from_secs(12 * 3600 - 15 * 60);

/// What a message handler returns.
pub type MessageFuture<'a> = Pin<Box<dyn Future<Output = Result<Handled, TaskError>> + Send + 'a>>;

/// A handler of one message, as a plain function pointer so a registry can list it.
pub type MessageHandler = for<'a> fn(&'a App, &'a QueueMessage) -> MessageFuture<'a>;

/// One queue-consuming Lambda function (e.g. `push`).
#[derive(Clone, Copy)]
pub struct QueueFunction {
    /// The `Binary` build property in template.yaml and the `src/bin/<binary>.rs` name.
    pub binary: &'static str,
    /// The queue it consumes: where a deferred message's visibility is changed.
    pub queue: QueueName,
    /// The ports [`run_queue`] builds before the first batch (with the queue, to defer).
    pub needs: Needs,
    /// Called once per message; an `Err` fails that message alone, which comes back later.
    pub handler: MessageHandler,
}

impl std::fmt::Debug for QueueFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueFunction")
            .field("binary", &self.binary)
            .field("needs", &self.needs)
            .finish()
    }
}

/// How a batch went: what to report, and what to count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueOutcome {
    /// The ids of the messages that failed or were put off, in batch order: SQS delivers
    /// them again.
    pub failed_ids: Vec<String>,
    /// The messages put off, by id, and for how long.
    pub deferred: Vec<(String, Duration)>,
    /// What the metrics say.
    pub counts: BatchCounts,
}

/// A message that could not be handed to the handler at all (its body is not JSON), by id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("queue message {id}: {reason}")]
pub struct UnreadableMessage {
    /// The message's id (empty when Lambda gave none).
    pub id: String,
    /// Why it cannot be read; never the body itself, which may hold personal data.
    pub reason: String,
}

impl QueueFunction {
    /// Handles each of `messages` independently; logs one line per message (never its
    /// body: it may hold personal data) and emits the batch's metrics.
    pub async fn call(&self, app: &App, messages: &[QueueMessage]) -> QueueOutcome {
        self.call_with_unreadable(app, messages, &[]).await
    }

    /// Makes `message` visible again only after `delay`. Returns whether the queue took
    /// it; when not, the message comes back at the end of its visibility timeout instead,
    /// which is sooner or later but never lost.
    async fn defer(&self, app: &App, message: &QueueMessage, delay: Duration) -> bool {
        let (Some(receipt), Some(inbox)) = (
            message.receipt.as_deref(),
            app.queue().ok().and_then(|q| q.inbox()),
        ) else {
            return false;
        };
        match inbox.retry_after(self.queue, receipt, delay).await {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(
                    function = self.binary,
                    message_id = %message.id,
                    error = %err,
                    "the queue did not take the deferral; the message comes back after its visibility timeout"
                );
                false
            }
        }
    }

    /// [`QueueFunction::call`] for a batch some of whose messages could not be read: they
    /// count and are reported as failed, after the readable ones.
    pub async fn call_with_unreadable(
        &self,
        app: &App,
        messages: &[QueueMessage],
        unreadable: &[UnreadableMessage],
    ) -> QueueOutcome {
        let now_ms = crate::clock::now_epoch_ms() as i64;
        let mut outcome = QueueOutcome {
            counts: BatchCounts {
                oldest_age_ms: messages
                    .iter()
                    .map(|m| now_ms - m.sent_ms)
                    .max()
                    .unwrap_or(0),
                ..BatchCounts::default()
            },
            ..QueueOutcome::default()
        };
        let trace = super::InvocationTrace::begin(
            app,
            self.binary,
            "queue.process",
            messages.first().map(|m| m.id.as_str()).unwrap_or_default(),
        );
        for message in messages {
            let age_ms = now_ms - message.sent_ms;
            match (self.handler)(app, message).await {
                Ok(Handled::Later(delay)) => {
                    let delay = delay.min(MAX_DEFERRAL);
                    outcome.counts.deferred += 1;
                    outcome.failed_ids.push(message.id.clone());
                    outcome.deferred.push((message.id.clone(), delay));
                    let set = self.defer(app, message, delay).await;
                    tracing::info!(
                        function = self.binary,
                        message_id = %message.id,
                        receive_count = message.receive_count,
                        age_ms,
                        delay_s = delay.as_secs(),
                        visibility_set = set,
                        "queue message put off; it comes back later"
                    );
                }
                Ok(Handled::Done) => {
                    outcome.counts.processed += 1;
                    tracing::info!(
                        function = self.binary,
                        message_id = %message.id,
                        receive_count = message.receive_count,
                        age_ms,
                        "queue message handled"
                    );
                }
                Err(err) => {
                    outcome.counts.failed += 1;
                    outcome.failed_ids.push(message.id.clone());
                    tracing::error!(
                        function = self.binary,
                        message_id = %message.id,
                        receive_count = message.receive_count,
                        age_ms,
                        error = %err,
                        "queue message failed; it will be delivered again, then dead-lettered"
                    );
                }
            }
        }
        for bad in unreadable {
            outcome.counts.failed += 1;
            outcome.failed_ids.push(bad.id.clone());
            tracing::error!(
                function = self.binary,
                message_id = %bad.id,
                error = %bad.reason,
                "queue message cannot be read; it will end in the dead-letter queue"
            );
        }
        emit_batch_metrics(self.binary, outcome.counts);
        trace.end(outcome.counts.failed > 0);
        outcome
    }
}

/// An SQS message as Lambda delivers it, as a [`QueueMessage`]. A missing receive count
/// reads as 1 and a missing sent time as `now_ms`: neither decides anything but logs.
pub fn message_from_lambda(
    message: &SqsMessage,
    now_ms: i64,
) -> Result<QueueMessage, UnreadableMessage> {
    let id = message.message_id.clone().unwrap_or_default();
    let fail = |reason: String| UnreadableMessage {
        id: id.clone(),
        reason,
    };
    if id.is_empty() {
        return Err(fail("no messageId".into()));
    }
    let text = message
        .body
        .as_deref()
        .ok_or_else(|| fail("no body".into()))?;
    // serde_json's message names a line and column, never the text it read.
    let body: Value =
        serde_json::from_str(text).map_err(|e| fail(format!("the body is not JSON: {e}")))?;
    let attribute = |name: &str| message.attributes.get(name).map(String::as_str);
    Ok(QueueMessage {
        id: id.clone(),
        body,
        receive_count: attribute("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        sent_ms: attribute("SentTimestamp")
            .and_then(|v| v.parse().ok())
            .unwrap_or(now_ms),
        receipt: message.receipt_handle.clone(),
    })
}

/// One Lambda batch: every message decoded and handled on its own; the answer lists the
/// ids of those that failed or were put off, unreadable ones included.
pub async fn handle_event(
    function: &QueueFunction,
    app: &App,
    event: SqsEvent,
) -> SqsBatchResponse {
    handle_event_with_outcome(function, app, event).await.0
}

/// [`handle_event`], also returning what happened to each message: the local stand-in of
/// the event source mapping must not bring a deferred message back early.
pub async fn handle_event_with_outcome(
    function: &QueueFunction,
    app: &App,
    event: SqsEvent,
) -> (SqsBatchResponse, QueueOutcome) {
    let now_ms = crate::clock::now_epoch_ms() as i64;
    let mut messages = Vec::with_capacity(event.records.len());
    let mut unreadable = Vec::new();
    for record in &event.records {
        match message_from_lambda(record, now_ms) {
            Ok(message) => messages.push(message),
            Err(bad) => unreadable.push(bad),
        }
    }
    let outcome = function
        .call_with_unreadable(app, &messages, &unreadable)
        .await;
    let mut response = SqsBatchResponse::default();
    for id in &outcome.failed_ids {
        response.add_failure(id.clone());
    }
    (response, outcome)
}

/// The `main` of a queue consumer: logging, the ports (once), then the Lambda runtime,
/// answering each batch with the messages to deliver again. Needs
/// `FunctionResponseTypes: [ReportBatchItemFailures]` on the event source: without it
/// Lambda ignores the answer and deletes the failed messages with the rest.
pub async fn run_queue(function: &'static QueueFunction) -> Result<(), lambda_http::Error> {
    let app = crate::function::start(function.binary, function.needs).await?;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: lambda_http::LambdaEvent<SqsEvent>| {
            let app = app.clone();
            async move {
                Ok::<_, lambda_http::Error>(handle_event(function, &app, event.payload).await)
            }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::queue::Queue;
    use serde_json::json;

    fn app() -> App {
        App::from_parts(
            Config::from_lookup(|_| None).expect("local defaults"),
            None,
            None,
            None,
        )
    }

    /// Fails the messages whose body says `"fail": true`.
    fn picky<'a>(_: &'a App, message: &'a QueueMessage) -> MessageFuture<'a> {
        Box::pin(async move {
            if message.body["fail"] == json!(true) {
                Err(TaskError(format!("refused {}", message.body["n"])))
            } else if let Some(seconds) = message.body["later"].as_u64() {
                Ok(Handled::Later(Duration::from_secs(seconds)))
            } else {
                Ok(Handled::Done)
            }
        })
    }

    static PICKY: QueueFunction = QueueFunction {
        binary: "picky",
        queue: QueueName::Push,
        needs: Needs::NOTHING,
        handler: picky,
    };

    fn record(id: &str, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.to_owned());
        message.receipt_handle = Some(format!("r-{id}"));
        message.body = Some(body.to_owned());
        message
            .attributes
            .insert("ApproximateReceiveCount".into(), "2".into());
        message
            .attributes
            .insert("SentTimestamp".into(), "1700000000000".into());
        message
    }

    fn event(records: Vec<SqsMessage>) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = records;
        event
    }

    fn failed(response: &SqsBatchResponse) -> Vec<String> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect()
    }

    #[tokio::test]
    async fn one_failing_message_fails_alone_and_the_others_are_done() {
        // given a batch of three whose middle message the handler refuses
        let batch = event(vec![
            record("m1", r#"{"n": 1}"#),
            record("m2", r#"{"n": 2, "fail": true}"#),
            record("m3", r#"{"n": 3}"#),
        ]);
        // when the batch is handled
        let response = handle_event(&PICKY, &app(), batch).await;
        // then only the refused one is reported, so SQS deletes the other two
        assert_eq!(failed(&response), ["m2"]);
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_a_failed_message_not_a_dropped_one() {
        let batch = event(vec![
            record("good", r#"{"n": 1}"#),
            record("garbled", "not json {"),
        ]);
        let response = handle_event(&PICKY, &app(), batch).await;
        assert_eq!(failed(&response), ["garbled"]);
    }

    #[tokio::test]
    async fn the_answer_has_the_shape_lambda_reads() {
        let batch = event(vec![record("m9", r#"{"fail": true}"#)]);
        let response = handle_event(&PICKY, &app(), batch).await;
        assert_eq!(
            serde_json::to_value(&response).expect("json"),
            json!({"batchItemFailures": [{"itemIdentifier": "m9"}]})
        );
        let all_good = handle_event(&PICKY, &app(), event(vec![record("m1", "{}")])).await;
        assert_eq!(
            serde_json::to_value(&all_good).expect("json"),
            json!({"batchItemFailures": []})
        );
    }

    #[tokio::test]
    async fn the_counts_say_what_happened_to_the_batch() {
        let messages: Vec<QueueMessage> = (0..4)
            .map(|n| QueueMessage {
                id: format!("m{n}"),
                body: json!({"n": n, "fail": n == 3}),
                receive_count: 1,
                sent_ms: crate::clock::now_epoch_ms() as i64 - 5_000,
                receipt: None,
            })
            .collect();
        let outcome = PICKY.call(&app(), &messages).await;
        assert_eq!(outcome.failed_ids, ["m3"]);
        assert_eq!(outcome.counts.processed, 3);
        assert_eq!(outcome.counts.failed, 1);
        assert!(outcome.counts.oldest_age_ms >= 5_000, "{outcome:?}");
    }

    #[tokio::test]
    async fn a_message_put_off_comes_back_after_its_delay_not_before() {
        // given an in-process queue holding one message the handler puts off for an hour
        let queue = std::sync::Arc::new(crate::queue::memory::MemoryQueue::default());
        queue
            .send(QueueName::Push, &json!({"later": 3600}))
            .await
            .expect("sent");
        let inbox = queue.inbox().expect("inbox");
        let got = inbox
            .receive(QueueName::Push, 10, Duration::from_millis(1))
            .await
            .expect("received");
        let mut lambda = record(&got[0].id, &got[0].body);
        lambda.receipt_handle = Some(got[0].receipt.clone());
        let app = app().with_queue(queue.clone());
        // when the batch is handled
        let (response, outcome) =
            handle_event_with_outcome(&PICKY, &app, event(vec![lambda])).await;
        // then Lambda keeps it, the metrics call it deferred, and it stays hidden well past
        // the receive's own 1 ms visibility
        assert_eq!(failed(&response), [got[0].id.clone()]);
        assert_eq!(outcome.counts.deferred, 1);
        assert_eq!(outcome.counts.failed, 0);
        assert_eq!(
            outcome.deferred,
            [(got[0].id.clone(), Duration::from_secs(3600))]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        let again = inbox
            .receive(QueueName::Push, 10, Duration::from_secs(1))
            .await
            .expect("received");
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(
            inbox.depth(QueueName::Push).await.expect("depth").in_flight,
            1
        );
    }

    #[test]
    fn lambda_attributes_become_the_receive_count_and_sent_time() {
        let message = message_from_lambda(&record("m1", r#"{"a": 1}"#), 0).expect("readable");
        assert_eq!(
            message,
            QueueMessage {
                id: "m1".into(),
                body: json!({"a": 1}),
                receive_count: 2,
                sent_ms: 1_700_000_000_000,
                receipt: Some("r-m1".into()),
            }
        );
    }

    #[test]
    fn an_unreadable_body_is_not_repeated_in_the_reason() {
        let err =
            message_from_lambda(&record("m1", "secret@example.com"), 0).expect_err("not JSON");
        assert_eq!(err.id, "m1");
        assert!(!err.reason.contains("secret"), "{err}");
    }
}
