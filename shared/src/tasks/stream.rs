//! Consumers of the table's stream (DynamoDB Streams, `NEW_AND_OLD_IMAGES`).
//!
//! A [`StreamFunction`] handles a batch's records in order, one at a time. At the first
//! record that fails it stops and reports that record's sequence number
//! (`batchItemFailures`, with `ReportBatchItemFailures` on the event source): Lambda then
//! delivers that record and every later one again, so the records of one item are never
//! applied out of order, and the ones before it are not applied twice. With bisect on error
//! and bounded retries in template.yaml, a record that keeps failing ends in the on-failure
//! queue. Handlers must be idempotent: a record may arrive more than once.

use std::future::Future;
use std::pin::Pin;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_http::service_fn;
use serde_json::{Map, Value};

use super::{BatchCounts, emit_batch_metrics};
use crate::app::{App, Needs};
use crate::function::TaskError;
use crate::store::stream::{Change, ChangeKind, item_from_attributes};
use crate::store::{Item, Key};

/// What a record handler returns.
pub type ChangeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send + 'a>>;

/// A handler of one stream record, as a plain function pointer so a registry can list it.
pub type ChangeHandler = for<'a> fn(&'a App, &'a Change) -> ChangeFuture<'a>;

/// One stream-consuming Lambda function (e.g. `projector`).
#[derive(Clone, Copy)]
pub struct StreamFunction {
    /// The `Binary` build property in template.yaml and the `src/bin/<binary>.rs` name.
    pub binary: &'static str,
    /// The ports [`run_stream`] builds before the first batch.
    pub needs: Needs,
    /// Called once per record, in order; an `Err` stops the batch there.
    pub handler: ChangeHandler,
}

impl std::fmt::Debug for StreamFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamFunction")
            .field("binary", &self.binary)
            .field("needs", &self.needs)
            .finish()
    }
}

/// How a batch went: what to report, and what to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOutcome {
    /// The sequence number of the first record that failed: it and every later record of
    /// the batch are delivered again. `None` when the whole batch is done.
    pub first_failed: Option<String>,
    /// What the metrics say.
    pub counts: BatchCounts,
}

impl StreamFunction {
    /// Handles `changes` in order until one fails; logs one line per record and emits the
    /// batch's metrics.
    pub async fn call(&self, app: &App, changes: &[Change]) -> StreamOutcome {
        let now_ms = crate::clock::now_epoch_ms() as i64;
        let mut counts = BatchCounts {
            oldest_age_ms: changes
                .iter()
                .map(|c| now_ms - c.created_ms)
                .max()
                .unwrap_or(0),
            ..BatchCounts::default()
        };
        let mut first_failed = None;
        let trace = super::InvocationTrace::begin(
            app,
            self.binary,
            "stream.process",
            changes
                .first()
                .map(|c| c.sequence.as_str())
                .unwrap_or_default(),
        );
        for (position, change) in changes.iter().enumerate() {
            match (self.handler)(app, change).await {
                Ok(()) => {
                    counts.processed += 1;
                    tracing::info!(
                        function = self.binary,
                        sequence = %change.sequence,
                        event = change.kind.as_str(),
                        sk = %change.key.sk,
                        "stream record handled"
                    );
                }
                Err(err) => {
                    counts.failed = changes.len() - position;
                    tracing::error!(
                        function = self.binary,
                        sequence = %change.sequence,
                        event = change.kind.as_str(),
                        sk = %change.key.sk,
                        error = %err,
                        redelivered = counts.failed,
                        "stream record failed; it and the records after it will be delivered again"
                    );
                    first_failed = Some(change.sequence.clone());
                    break;
                }
            }
        }
        emit_batch_metrics(self.binary, counts);
        trace.end(counts.failed > 0);
        StreamOutcome {
            first_failed,
            counts,
        }
    }
}

/// Why a Lambda record could not become a [`Change`].
#[derive(Debug, thiserror::Error)]
#[error("stream record {sequence}: {reason}")]
pub struct RecordError {
    /// The record's sequence number (empty when it had none).
    pub sequence: String,
    /// What was wrong with it.
    pub reason: String,
}

/// A DynamoDB Streams record as Lambda delivers it, as a [`Change`].
pub fn change_from_lambda(record: EventRecord) -> Result<Change, RecordError> {
    let sequence = record.change.sequence_number.clone().unwrap_or_default();
    let fail = |reason: String| RecordError {
        sequence: sequence.clone(),
        reason,
    };
    let kind = match record.event_name.as_str() {
        "INSERT" => ChangeKind::Insert,
        "MODIFY" => ChangeKind::Modify,
        "REMOVE" => ChangeKind::Remove,
        other => return Err(fail(format!("unknown eventName {other:?}"))),
    };
    let image = |image: serde_dynamo::Item| -> Result<Option<Item>, RecordError> {
        if image.is_empty() {
            return Ok(None);
        }
        let attributes: Map<String, Value> =
            serde_dynamo::from_item(image).map_err(|e| fail(format!("image: {e}")))?;
        item_from_attributes(attributes)
            .map(Some)
            .map_err(|e| fail(e.to_string()))
    };
    let keys: Map<String, Value> =
        serde_dynamo::from_item(record.change.keys).map_err(|e| fail(format!("keys: {e}")))?;
    let key_part = |name: &str| {
        keys.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| fail(format!("Keys without {name}")))
    };
    let key = Key::new(key_part("pk")?, key_part("sk")?);
    Ok(Change {
        kind,
        key,
        old: image(record.change.old_image)?,
        new: image(record.change.new_image)?,
        created_ms: record
            .change
            .approximate_creation_date_time
            .timestamp_millis(),
        sequence,
    })
}

/// The `main` of a stream consumer: logging, the ports (once), then the Lambda runtime,
/// answering each batch with the first record to deliver again.
pub async fn run_stream(function: &'static StreamFunction) -> Result<(), lambda_http::Error> {
    let app = crate::function::start(function.binary, function.needs).await?;
    lambda_http::lambda_runtime::run(service_fn(move |event: lambda_http::LambdaEvent<Event>| {
        let app = app.clone();
        async move { Ok::<_, lambda_http::Error>(handle_event(function, &app, event.payload).await) }
    }))
    .await
}

/// One Lambda batch: decoded in order, handled until the first failure. A record that does
/// not decode fails where it stands, like a record whose handler failed.
pub async fn handle_event(
    function: &StreamFunction,
    app: &App,
    event: Event,
) -> DynamoDbEventResponse {
    let mut changes = Vec::with_capacity(event.records.len());
    let mut undecodable = None;
    for record in event.records {
        match change_from_lambda(record) {
            Ok(change) => changes.push(change),
            Err(err) => {
                tracing::error!(function = function.binary, error = %err, "stream record cannot be read");
                undecodable = Some(err.sequence);
                break;
            }
        }
    }
    let outcome = function.call(app, &changes).await;
    let first_failed = outcome.first_failed.or(undecodable);
    let mut response = DynamoDbEventResponse::default();
    if let Some(sequence) = first_failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence);
        response.batch_item_failures.push(failure);
    }
    response
}
