//! The local stand-in for DynamoDB Streams and Lambda's event source mapping: the store's
//! stream (the embedded store's outbox) is read in commit order and each record goes to
//! the consumers of template.yaml whose `FilterCriteria` match it, in batches of their
//! `BatchSize`.
//!
//! A consumer that reports a failed record gets it (and the records after it) again, up
//! to its `MaximumRetryAttempts`, with a short pause; a record that still fails is parked
//! (logged at error level and listed by `GET /_local/streams`), as AWS would hand it to the
//! on-failure destination, and delivery goes on with the next. Records are trimmed once
//! every consumer is past them, so a restart delivers again what was not finished
//! (consumers are idempotent).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use runcrew_shared::App;
use runcrew_shared::store::stream::{Change, TableStream};
use runcrew_shared::tasks::stream::StreamFunction;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::template::StreamTriggerSpec;

/// Records read from the stream per round.
const READ_LIMIT: usize = 100;
/// The pause before a failed record is delivered again, times the attempt: AWS's own
/// backoff is longer, which a developer watching a board would not sit through.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// The most parked records kept for `GET /_local/streams` (the log has them all).
const PARKED_KEPT: usize = 100;

/// Why a filter pattern cannot be honoured locally.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(String);

/// Checks that `pattern` uses only what [`matches`] understands: nested objects whose leaves
/// are lists of exact values or `{"prefix": "..."}`. Anything else is refused when the
/// template is read, rather than matched wrongly.
pub fn check_pattern(pattern: &Value) -> Result<(), PatternError> {
    let Some(fields) = pattern.as_object() else {
        return Err(PatternError("a pattern is a JSON object".into()));
    };
    for (name, rule) in fields {
        match rule {
            Value::Object(_) => check_pattern(rule)?,
            Value::Array(options) => {
                for option in options {
                    match option {
                        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {}
                        Value::Object(op)
                            if op.len() == 1 && op.get("prefix").is_some_and(Value::is_string) => {}
                        other => {
                            return Err(PatternError(format!(
                                "{name}: {other} is not supported locally (exact values and prefix only)"
                            )));
                        }
                    }
                }
            }
            other => {
                return Err(PatternError(format!(
                    "{name}: {other} must be an object or a list"
                )));
            }
        }
    }
    Ok(())
}

/// Whether `event` matches `pattern` as Lambda event filtering decides it: every field the
/// pattern names is present and, at a leaf, equal to one of the listed values or starting
/// with a listed prefix.
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        return false;
    };
    fields.iter().all(|(name, rule)| {
        let Some(value) = event.get(name) else {
            return false;
        };
        match rule {
            Value::Object(_) => matches(rule, value),
            Value::Array(options) => options.iter().any(|option| match option {
                Value::Object(op) => op
                    .get("prefix")
                    .and_then(Value::as_str)
                    .zip(value.as_str())
                    .is_some_and(|(prefix, text)| text.starts_with(prefix)),
                exact => exact == value,
            }),
            _ => false,
        }
    })
}

/// What one consumer has had delivered, for `GET /_local/streams` and the tests.
#[derive(Debug, Clone, Default)]
struct ConsumerState {
    delivered: u64,
    parked: Vec<Value>,
}

/// The delivery's shared state.
#[derive(Debug, Default)]
struct DeliveryState {
    /// The last record every consumer is past.
    position: Option<String>,
    /// A round is being delivered.
    busy: bool,
    consumers: Vec<(String, ConsumerState)>,
}

/// The running delivery: its task and what it has done.
#[derive(Debug, Clone)]
pub struct StreamDelivery {
    state: Arc<Mutex<DeliveryState>>,
}

/// One consumer: its template settings and its handler.
struct Consumer {
    trigger: StreamTriggerSpec,
    function: &'static StreamFunction,
}

impl StreamDelivery {
    /// `GET /_local/streams`: each consumer's deliveries and parked records.
    pub fn report(&self) -> Value {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        json!({
            "position": state.position,
            "consumers": state.consumers.iter().map(|(function, c)| json!({
                "function": function,
                "delivered": c.delivered,
                "parked": c.parked,
            })).collect::<Vec<_>>(),
        })
    }

    /// Waits until every record written so far has been delivered (or parked): tests call
    /// it before they look at what the consumers made. Gives up after `timeout`.
    pub async fn settle(&self, stream: &dyn TableStream, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (busy, position) = {
                let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                (state.busy, state.position.clone())
            };
            let pending = stream
                .read_after(position.as_deref(), 1)
                .await
                .map(|records| !records.is_empty())
                .unwrap_or(true);
            if !busy && !pending {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Starts delivering the app's table stream to the consumers `triggers` name; `None` when
/// the store keeps no stream here (DynamoDB, whose stream Lambda reads on AWS).
pub fn wire(
    app: Arc<App>,
    triggers: &[StreamTriggerSpec],
    functions: &[&'static StreamFunction],
) -> Option<(StreamDelivery, JoinHandle<()>)> {
    app.store().ok()?.stream()?;
    let consumers: Vec<Consumer> = triggers
        .iter()
        .filter_map(|trigger| {
            functions
                .iter()
                .find(|f| f.binary == trigger.binary)
                .map(|function| Consumer {
                    trigger: trigger.clone(),
                    function,
                })
        })
        .collect();
    let delivery = StreamDelivery {
        state: Arc::new(Mutex::new(DeliveryState {
            consumers: consumers
                .iter()
                .map(|c| (c.trigger.function.clone(), ConsumerState::default()))
                .collect(),
            ..DeliveryState::default()
        })),
    };
    let state = delivery.state.clone();
    let task = tokio::spawn(async move {
        loop {
            let round = deliver_round(&app, &consumers, &state).await;
            if !round {
                match app.store().ok().and_then(|s| s.stream()) {
                    Some(stream) => stream.changed().await,
                    None => return,
                }
            }
        }
    });
    Some((delivery, task))
}

/// Reads the next records and delivers them; returns whether there were any.
async fn deliver_round(app: &App, consumers: &[Consumer], state: &Mutex<DeliveryState>) -> bool {
    let Some(stream) = app.store().ok().and_then(|s| s.stream()) else {
        return false;
    };
    let position = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        state.busy = true;
        state.position.clone()
    };
    let records = match stream.read_after(position.as_deref(), READ_LIMIT).await {
        Ok(records) => records,
        Err(err) => {
            tracing::warn!(target: "gateway", error = %err, "reading the table's stream failed; trying again");
            state.lock().unwrap_or_else(|e| e.into_inner()).busy = false;
            tokio::time::sleep(RETRY_PAUSE).await;
            return false;
        }
    };
    let Some(last) = records.last().map(|r| r.sequence.clone()) else {
        state.lock().unwrap_or_else(|e| e.into_inner()).busy = false;
        return false;
    };
    for (index, consumer) in consumers.iter().enumerate() {
        let wanted: Vec<Change> = records
            .iter()
            .filter(|record| {
                consumer.trigger.filters.is_empty()
                    || consumer
                        .trigger
                        .filters
                        .iter()
                        .any(|p| matches(p, &record.filter_view()))
            })
            .cloned()
            .collect();
        for batch in wanted.chunks(consumer.trigger.batch_size) {
            let (delivered, parked) = deliver_batch(app, consumer, batch).await;
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            let entry = &mut state.consumers[index].1;
            entry.delivered += delivered;
            entry.parked.extend(parked);
            let excess = entry.parked.len().saturating_sub(PARKED_KEPT);
            entry.parked.drain(..excess);
        }
    }
    if let Err(err) = stream.trim_through(&last).await {
        tracing::warn!(target: "gateway", error = %err, "trimming the table's stream failed");
    }
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.position = Some(last);
    state.busy = false;
    true
}

/// Delivers `batch` until every record is handled or parked, as Lambda's retries and
/// bisection end up doing: the failing record is retried (with those after it) up to the
/// consumer's retries, then parked alone, and the rest go on. Returns how many records
/// were handled and the parked ones.
async fn deliver_batch(app: &App, consumer: &Consumer, batch: &[Change]) -> (u64, Vec<Value>) {
    let mut start = 0;
    let mut retries = 0;
    let mut delivered = 0;
    let mut parked = Vec::new();
    while start < batch.len() {
        let rest = &batch[start..];
        let outcome = consumer.function.call(app, rest).await;
        let Some(failed) = outcome.first_failed else {
            delivered += rest.len() as u64;
            break;
        };
        let at = rest.iter().position(|r| r.sequence == failed).unwrap_or(0);
        delivered += at as u64;
        start += at;
        if retries < consumer.trigger.max_retries {
            retries += 1;
            tokio::time::sleep(RETRY_PAUSE * retries as u32).await;
            continue;
        }
        let record = &batch[start];
        tracing::error!(
            target: "gateway",
            function = %consumer.trigger.function,
            sequence = %record.sequence,
            event = record.kind.as_str(),
            sk = %record.key.sk,
            retries,
            "a stream record kept failing; parked (on AWS: the on-failure destination)"
        );
        parked.push(json!({
            "sequence": record.sequence,
            "event": record.kind.as_str(),
            "pk": record.key.pk,
            "sk": record.key.sk,
            "retries": retries,
        }));
        start += 1;
        retries = 0;
    }
    (delivered, parked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event: &str, sk: &str) -> Value {
        json!({"eventName": event, "dynamodb": {"Keys": {"pk": {"S": "USER#1"}, "sk": {"S": sk}}}})
    }

    #[test]
    fn a_prefix_pattern_lets_only_its_items_through() {
        let pattern = json!({"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "RUN#"}]}}}});
        check_pattern(&pattern).expect("supported");
        assert!(matches(&pattern, &record("INSERT", "RUN#01")));
        assert!(!matches(&pattern, &record("INSERT", "RUNPATH#01")));
        assert!(!matches(&pattern, &record("INSERT", "PROFILE")));
    }

    #[test]
    fn exact_values_match_any_listed() {
        let pattern = json!({"eventName": ["INSERT", "REMOVE"]});
        assert!(matches(&pattern, &record("REMOVE", "RUN#01")));
        assert!(!matches(&pattern, &record("MODIFY", "RUN#01")));
        assert!(!matches(
            &json!({"missing": ["x"]}),
            &record("INSERT", "RUN#01")
        ));
    }

    #[test]
    fn an_operator_the_gateway_does_not_know_is_refused() {
        let pattern = json!({"eventName": [{"anything-but": ["REMOVE"]}]});
        let err = check_pattern(&pattern).expect_err("unsupported");
        assert!(err.to_string().contains("not supported locally"), "{err}");
    }
}
