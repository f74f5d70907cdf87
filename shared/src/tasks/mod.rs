//! Background task kinds beside the HTTP functions: each a binary of a few lines, like
//! `runcrew_shared::run_http`, over the same [`App`] of ports.
//!
//! - [`crate::S3Function`]: an S3 event (thumbnails);
//! - [`stream::StreamFunction`]: a consumer of the table's stream (the projector), which
//!   reports the first record it could not handle so Lambda retries from there;
//! - [`queue::QueueFunction`]: a consumer of an SQS queue (push), which handles each
//!   message on its own and reports the ones that failed, so only they come back and, after
//!   the queue's `maxReceiveCount`, land in its dead-letter queue;
//! - [`schedule::ScheduleFunction`]: a function EventBridge Scheduler runs (sweeps,
//!   reminders), whose failed tick fails the invocation so the schedule retries it.
//!
//! Every kind logs one JSON line per item and emits EMF metrics (`Processed`, `Failed`,
//! `OldestRecordAgeMs`) per invocation; an error becomes a failed item that is retried and
//! then handed to the dead-letter destination, never a silent drop.

pub mod queue;
pub mod schedule;
pub mod stream;

use std::time::Instant;

use crate::App;
use crate::function::METRICS_NAMESPACE;
use crate::telemetry::{self, Unit};

/// The trace of one task invocation: sampled at `SENTRY_TRACES_SAMPLE_RATE` by its first
/// item's id, and logged as one `traced` line at its end, which the error-reports function
/// turns into a Sentry transaction. Failed items need nothing here: their ERROR lines are
/// the reports.
pub struct InvocationTrace<'a> {
    function: &'a str,
    op: &'static str,
    started: Option<Instant>,
}

impl<'a> InvocationTrace<'a> {
    /// Starts timing when the invocation keyed by `key` is sampled (`op`: `queue.process`,
    /// `stream.process`, ...).
    pub fn begin(app: &App, function: &'a str, op: &'static str, key: &str) -> Self {
        let sampled = telemetry::sampled(key, app.config.traces_sample_rate);
        InvocationTrace {
            function,
            op,
            started: sampled.then(Instant::now),
        }
    }

    /// Logs the traced line, when sampled.
    pub fn end(self, any_failed: bool) {
        if let Some(started) = self.started {
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            telemetry::invocation_traced(self.function, self.op, latency_ms, any_failed);
        }
    }
}

/// What one invocation of a task did, for its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchCounts {
    /// Items handled (including those that needed nothing).
    pub processed: usize,
    /// Items that failed and will be delivered again.
    pub failed: usize,
    /// Items put off on purpose, to come back at a set time (quiet hours, `Retry-After`).
    pub deferred: usize,
    /// Age of the oldest item when the batch started, milliseconds.
    pub oldest_age_ms: i64,
}

/// Emits the batch's EMF metrics, dimensioned by function: alarms and dashboards read them
/// from the log with no API call.
pub fn emit_batch_metrics(function: &str, counts: BatchCounts) {
    let dimensions = [("Function", function)];
    telemetry::emit_metric(
        METRICS_NAMESPACE,
        "Processed",
        counts.processed as f64,
        Unit::Count,
        &dimensions,
    );
    telemetry::emit_metric(
        METRICS_NAMESPACE,
        "Failed",
        counts.failed as f64,
        Unit::Count,
        &dimensions,
    );
    if counts.deferred > 0 {
        telemetry::emit_metric(
            METRICS_NAMESPACE,
            "Deferred",
            counts.deferred as f64,
            Unit::Count,
            &dimensions,
        );
    }
    telemetry::emit_metric(
        METRICS_NAMESPACE,
        "OldestRecordAgeMs",
        counts.oldest_age_ms.max(0) as f64,
        Unit::Milliseconds,
        &dimensions,
    );
}
