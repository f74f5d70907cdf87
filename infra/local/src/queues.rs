//! The local stand-in for Lambda's SQS event source mapping: each `Type: SQS` event of
//! template.yaml gets a poller that receives from its queue (the in-process queue, or SQS
//! itself with `QUEUES=sqs`), calls the consumer with the real Lambda event shape, deletes
//! the messages it handled and leaves the ones it reported failed to come back.
//!
//! What the queue does is the queue's own: visibility, receive counts and the redrive to
//! the dead-letter queue after `RedrivePolicy.maxReceiveCount` (the in-process queue is
//! told the template's policy; SQS applies its own). One thing is shortened locally: a
//! failed message comes back after [`Polling::retry_delay`] (1 s) instead of at the end of
//! the queue's `VisibilityTimeout` (60 s for the push queue), so a developer sees the
//! retries and the dead letter within seconds. Messages are still received with the
//! template's visibility timeout, so a slow handler is never handed its own message twice.
//!
//! `GET /_local/queues` shows each queue: depth, in flight, what its consumers did, and the
//! dead letters.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use runcrew_shared::App;
use runcrew_shared::queue::{QueueName, Received};
use runcrew_shared::tasks::queue::QueueFunction;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::gateway::RegistryMismatch;
use crate::template::{ApiSpec, QueueSpec, QueueTriggerSpec};

/// The queues of template.yaml the code knows, by logical id: the one table a new queue is
/// added to (beside its [`QueueName`]).
pub const QUEUE_NAMES: &[(&str, QueueName)] = &[
    ("PushQueue", QueueName::Push),
    ("StravaQueue", QueueName::Strava),
    ("JobsQueue", QueueName::Jobs),
    ("FeedQueue", QueueName::Feed),
];

/// The [`QueueName`] of a template queue.
pub fn queue_name(logical_id: &str) -> Option<QueueName> {
    QUEUE_NAMES
        .iter()
        .find(|(id, _)| *id == logical_id)
        .map(|(_, name)| *name)
}

/// The most pollers a consumer gets locally, whatever its `MaximumConcurrency`: enough to
/// show that batches overlap, without a laptop running a fleet.
const LOCAL_MAX_POLLERS: u32 = 2;

/// How the local delivery paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// How soon a failed message comes back (AWS: the queue's whole visibility timeout).
    pub retry_delay: Duration,
    /// The pause before polling an empty queue again.
    pub idle_pause: Duration,
}

impl Default for Polling {
    fn default() -> Self {
        Polling {
            retry_delay: Duration::from_secs(1),
            idle_pause: Duration::from_millis(200),
        }
    }
}

/// Checks that every queue consumer of the template can be delivered to as AWS would: its
/// binary is a registered queue task, its queue is a queue of the template that the code
/// knows ([`QUEUE_NAMES`]), it reports batch item failures (without them Lambda deletes
/// the failed messages with the rest), and its queue has a dead-letter queue.
pub fn check(spec: &ApiSpec, tasks: &[&'static QueueFunction]) -> Result<(), RegistryMismatch> {
    let registered: Vec<&str> = tasks.iter().map(|t| t.binary).collect();
    let mut problems = crate::gateway::unregistered(
        spec.queue_triggers.iter().map(|t| {
            (
                t.function.as_str(),
                t.binary.as_str(),
                format!("consumes {}", t.queue),
            )
        }),
        &registered,
        "queue task",
    );
    for trigger in &spec.queue_triggers {
        let who = &trigger.function;
        if !trigger.report_batch_item_failures {
            problems.push(format!(
                "  - {who} consumes {} without FunctionResponseTypes: [ReportBatchItemFailures]: Lambda would delete the messages it reports failed",
                trigger.queue
            ));
        }
        match spec.queues.iter().find(|q| q.logical_id == trigger.queue) {
            None => problems.push(format!(
                "  - {who} consumes {}, which is not an AWS::SQS::Queue of the template",
                trigger.queue
            )),
            Some(queue) if queue.max_receive_count.is_none() => problems.push(format!(
                "  - {who} consumes {}, which has no RedrivePolicy: a message that always fails would come back forever",
                trigger.queue
            )),
            Some(_) => {}
        }
        if queue_name(&trigger.queue).is_none() {
            problems.push(format!(
                "  - {who} consumes {}, which infra/local/src/queues.rs QUEUE_NAMES does not map to a QueueName",
                trigger.queue
            ));
        }
    }
    RegistryMismatch::from_problems(problems)
}

/// What one consumer has done, for `GET /_local/queues`.
#[derive(Debug, Clone, Copy, Default)]
struct ConsumerState {
    batches: u64,
    handled: u64,
    failed: u64,
}

/// One consumer with its settings.
#[derive(Clone)]
struct Consumer {
    trigger: QueueTriggerSpec,
    queue: QueueSpec,
    name: QueueName,
    function: &'static QueueFunction,
}

/// The running delivery: its pollers and what they have done.
#[derive(Clone)]
pub struct QueueDelivery {
    app: Arc<App>,
    /// The template's queues the code knows, with their names.
    queues: Vec<(QueueSpec, QueueName)>,
    /// Each consumer's function logical id and queue logical id, in template order.
    consumers: Vec<(String, String)>,
    state: Arc<Mutex<BTreeMap<String, ConsumerState>>>,
    pollers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for QueueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueDelivery")
            .field("consumers", &self.consumers)
            .finish_non_exhaustive()
    }
}

/// Starts a poller (or two, with a `MaximumConcurrency`) per queue consumer of `spec`
/// whose task is in `functions`, over the app's queue service, and tells the in-process
/// queue the template's redrive policies.
pub fn wire(
    app: Arc<App>,
    spec: &ApiSpec,
    functions: &[&'static QueueFunction],
    polling: Polling,
) -> QueueDelivery {
    let queues: Vec<(QueueSpec, QueueName)> = spec
        .queues
        .iter()
        .filter_map(|q| Some((q.clone(), queue_name(&q.logical_id)?)))
        .collect();
    if let Some(memory) = app.queue().ok().and_then(|q| q.as_memory()) {
        for (queue, name) in &queues {
            if let Some(max) = queue.max_receive_count {
                memory.redrive_after(*name, max);
            }
        }
    }
    let consumers: Vec<Consumer> = spec
        .queue_triggers
        .iter()
        .filter_map(|trigger| {
            let function = functions.iter().find(|f| f.binary == trigger.binary)?;
            let (queue, name) = queues.iter().find(|(q, _)| q.logical_id == trigger.queue)?;
            Some(Consumer {
                trigger: trigger.clone(),
                queue: queue.clone(),
                name: *name,
                function,
            })
        })
        .collect();
    let delivery = QueueDelivery {
        app: app.clone(),
        queues,
        consumers: consumers
            .iter()
            .map(|c| (c.trigger.function.clone(), c.trigger.queue.clone()))
            .collect(),
        state: Arc::new(Mutex::new(
            consumers
                .iter()
                .map(|c| (c.trigger.function.clone(), ConsumerState::default()))
                .collect(),
        )),
        pollers: Arc::default(),
    };
    let polls = app.queue().ok().and_then(|q| q.inbox()).is_some();
    if !polls && !consumers.is_empty() {
        tracing::warn!(target: "gateway", "the queue port has no inbox here: queue consumers are not delivered to");
        return delivery;
    }
    let mut pollers = Vec::new();
    for consumer in consumers {
        let count = consumer
            .trigger
            .max_concurrency
            .unwrap_or(1)
            .clamp(1, LOCAL_MAX_POLLERS);
        for _ in 0..count {
            let (app, consumer, state) = (app.clone(), consumer.clone(), delivery.state.clone());
            pollers.push(tokio::spawn(async move {
                poll(&app, &consumer, &state, polling).await;
            }));
        }
    }
    *delivery.pollers.lock().unwrap_or_else(|e| e.into_inner()) = pollers;
    delivery
}

impl QueueDelivery {
    /// Stops every poller (a batch being handled is abandoned: its messages come back).
    pub fn stop(&self) {
        for poller in self
            .pollers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            poller.abort();
        }
    }

    /// One line per queue for the start-up banner.
    pub fn banner(&self) -> Vec<String> {
        self.queues
            .iter()
            .map(|(queue, _)| {
                let consumers: Vec<&str> = self
                    .consumers
                    .iter()
                    .filter(|(_, q)| *q == queue.logical_id)
                    .map(|(f, _)| f.as_str())
                    .collect();
                let consumers = if consumers.is_empty() {
                    "no consumer yet (messages wait)".to_owned()
                } else {
                    format!("consumed by {}", consumers.join(", "))
                };
                let redrive = match (&queue.dead_letter_queue, queue.max_receive_count) {
                    (Some(dlq), Some(max)) => {
                        format!("; dead letters to {dlq} after {max} receives")
                    }
                    _ => String::new(),
                };
                format!("{}: {consumers}{redrive}", queue.logical_id)
            })
            .collect()
    }

    /// `GET /_local/queues`: per queue, its depth and messages in flight, its settings, what
    /// each consumer did, and its dead letters (bodies included: this is a laptop).
    pub async fn report(&self) -> Value {
        let inbox = self.app.queue().ok().and_then(|q| q.inbox());
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut queues = Vec::new();
        for (queue, name) in &self.queues {
            let (depth, error) = match inbox {
                Some(inbox) => match inbox.depth(*name).await {
                    Ok(depth) => (Some(depth), None),
                    Err(err) => (None, Some(err.to_string())),
                },
                None => (None, Some("the queue port has no inbox here".to_owned())),
            };
            let dead_letters = inbox.and_then(|i| i.dead_letters(*name)).map(|letters| {
                letters
                    .iter()
                    .map(|d| {
                        json!({
                            "id": d.id,
                            "receive_count": d.receive_count,
                            "sent_ms": d.sent_ms,
                            "body": serde_json::from_str::<Value>(&d.body)
                                .unwrap_or_else(|_| Value::String(d.body.clone())),
                        })
                    })
                    .collect::<Vec<_>>()
            });
            let consumers: Vec<Value> = self
                .consumers
                .iter()
                .filter(|(_, q)| *q == queue.logical_id)
                .map(|(function, _)| {
                    let c = state.get(function).copied().unwrap_or_default();
                    json!({"function": function, "batches": c.batches, "handled": c.handled, "failed": c.failed})
                })
                .collect();
            let mut entry = json!({
                "queue": queue.logical_id,
                "name": name.as_str(),
                "visibility_timeout_seconds": queue.visibility_timeout_seconds,
                "max_receive_count": queue.max_receive_count,
                "dead_letter_queue": queue.dead_letter_queue,
                "depth": depth.map(|d| d.visible),
                "in_flight": depth.map(|d| d.in_flight),
                "consumers": consumers,
                "dead_letters": dead_letters,
            });
            if let Some(error) = error {
                entry["error"] = json!(error);
            }
            if dead_letters.is_none() {
                entry["dead_letters_note"] =
                    json!("kept by SQS in the dead-letter queue: read it there");
            }
            queues.push(entry);
        }
        json!({ "queues": queues })
    }
}

/// Receives and delivers batches until stopped.
async fn poll(
    app: &App,
    consumer: &Consumer,
    state: &Mutex<BTreeMap<String, ConsumerState>>,
    polling: Polling,
) {
    let visibility = Duration::from_secs(consumer.queue.visibility_timeout_seconds);
    loop {
        let Some(inbox) = app.queue().ok().and_then(|q| q.inbox()) else {
            return;
        };
        let received = match inbox
            .receive(consumer.name, consumer.trigger.batch_size, visibility)
            .await
        {
            Ok(received) => received,
            Err(err) => {
                tracing::warn!(target: "gateway", queue = %consumer.trigger.queue, error = %err, "receiving failed; polling again");
                tokio::time::sleep(polling.idle_pause * 5).await;
                continue;
            }
        };
        if received.is_empty() {
            tokio::time::sleep(polling.idle_pause).await;
            continue;
        }
        let (handled, failed) = deliver(app, consumer, &received, polling).await;
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let entry = state.entry(consumer.trigger.function.clone()).or_default();
        entry.batches += 1;
        entry.handled += handled;
        entry.failed += failed;
    }
}

/// The Lambda event of `received`, as the event source mapping builds it.
fn event_of(consumer: &Consumer, received: &[Received]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = received
        .iter()
        .map(|r| {
            let mut message = SqsMessage::default();
            message.message_id = Some(r.id.clone());
            message.receipt_handle = Some(r.receipt.clone());
            message.body = Some(r.body.clone());
            message.attributes = [
                ("ApproximateReceiveCount", r.receive_count.to_string()),
                ("SentTimestamp", r.sent_ms.to_string()),
                ("SenderId", "local".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            message.event_source = Some("aws:sqs".into());
            message.event_source_arn = Some(format!(
                "arn:aws:sqs:local:000000000000:{}",
                consumer.queue.logical_id
            ));
            message.aws_region = Some("local".into());
            message
        })
        .collect();
    event
}

/// Calls the consumer with one batch; deletes what it handled and lets what failed come
/// back after [`Polling::retry_delay`]. Returns how many were handled and failed.
async fn deliver(
    app: &App,
    consumer: &Consumer,
    received: &[Received],
    polling: Polling,
) -> (u64, u64) {
    let (response, outcome) = runcrew_shared::tasks::queue::handle_event_with_outcome(
        consumer.function,
        app,
        event_of(consumer, received),
    )
    .await;
    let Some(inbox) = app.queue().ok().and_then(|q| q.inbox()) else {
        return (0, 0);
    };
    let (mut handled, mut failed) = (0, 0);
    for message in received {
        let failed_now = response
            .batch_item_failures
            .iter()
            .any(|f| f.item_identifier == message.id);
        let deferred = outcome
            .deferred
            .iter()
            .find(|(id, _)| *id == message.id)
            .map(|(_, delay)| *delay);
        let done = if let Some(delay) = deferred {
            // Put off on purpose (quiet hours, Retry-After): back when the consumer said.
            inbox
                .retry_after(consumer.name, &message.receipt, delay)
                .await
        } else if failed_now {
            failed += 1;
            if consumer
                .queue
                .max_receive_count
                .is_some_and(|max| message.receive_count >= max)
            {
                tracing::error!(
                    target: "gateway",
                    function = %consumer.trigger.function,
                    queue = %consumer.trigger.queue,
                    message_id = %message.id,
                    receive_count = message.receive_count,
                    dead_letter_queue = consumer.queue.dead_letter_queue.as_deref().unwrap_or(""),
                    "a queue message failed its last receive; it moves to the dead-letter queue"
                );
            }
            inbox
                .retry_after(consumer.name, &message.receipt, polling.retry_delay)
                .await
        } else {
            handled += 1;
            inbox.delete(consumer.name, &message.receipt).await
        };
        if let Err(err) = done {
            tracing::warn!(target: "gateway", queue = %consumer.trigger.queue, message_id = %message.id, error = %err, "the queue did not take the outcome; the message comes back after its visibility timeout");
        }
    }
    (handled, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_queue_name_has_one_template_queue() {
        for (id, name) in QUEUE_NAMES {
            assert_eq!(queue_name(id), Some(*name));
        }
        assert_eq!(queue_name("PushDeadLetterQueue"), None);
    }

    fn spec(report: bool, redrive: bool) -> ApiSpec {
        ApiSpec {
            queues: vec![QueueSpec {
                logical_id: "PushQueue".into(),
                visibility_timeout_seconds: 60,
                max_receive_count: redrive.then_some(5),
                dead_letter_queue: redrive.then(|| "PushDeadLetterQueue".into()),
            }],
            queue_triggers: vec![QueueTriggerSpec {
                function: "PushFunction".into(),
                binary: "push".into(),
                queue: "PushQueue".into(),
                batch_size: 10,
                max_concurrency: None,
                report_batch_item_failures: report,
            }],
            ..ApiSpec::default()
        }
    }

    fn nothing<'a>(
        _: &'a App,
        _: &'a runcrew_shared::tasks::queue::QueueMessage,
    ) -> runcrew_shared::tasks::queue::MessageFuture<'a> {
        Box::pin(async { Ok(runcrew_shared::tasks::queue::Handled::Done) })
    }

    static PUSH: QueueFunction = QueueFunction {
        binary: "push",
        queue: QueueName::Push,
        needs: runcrew_shared::Needs::NOTHING,
        handler: nothing,
    };

    #[test]
    fn a_consumer_that_could_lose_messages_is_refused_with_the_reason() {
        assert!(check(&spec(true, true), &[&PUSH]).is_ok());
        let unregistered = check(&spec(true, true), &[]).expect_err("no task");
        assert!(unregistered.0[0].contains("no function crate registers"));
        let ignored = check(&spec(false, true), &[&PUSH]).expect_err("no partial failures");
        assert!(ignored.0[0].contains("ReportBatchItemFailures"));
        let forever = check(&spec(true, false), &[&PUSH]).expect_err("no dead-letter queue");
        assert!(forever.0[0].contains("RedrivePolicy"));
    }
}
