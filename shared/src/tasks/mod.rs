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

use crate::App;
use crate::error_reports::Trace;
use crate::function::METRICS_NAMESPACE;
use crate::telemetry::{self, Unit};

/// The error reports of one task invocation (nothing without `SENTRY_DSN`): its trace,
/// each failed item, and the wait for the sending before the invocation returns.
pub struct Reporting<'a> {
    app: &'a App,
    function: &'a str,
    trace: Option<Trace>,
}

impl<'a> Reporting<'a> {
    /// Starts the invocation's trace (`op`: `queue.process`, `stream.process`, ...).
    pub fn begin(app: &'a App, function: &'a str, op: &str) -> Self {
        let trace = app
            .error_reports()
            .map(|reports| reports.start_trace(function, op));
        Reporting {
            app,
            function,
            trace,
        }
    }

    /// Reports the item `item_id` as failed with `error`.
    pub fn failed(&self, item_id: &str, error: &dyn std::fmt::Display) {
        if let Some(reports) = self.app.error_reports() {
            reports.task_failed(self.function, item_id, &error.to_string());
        }
    }

    /// Ends the trace (failed when any item failed) and waits for the reports to be sent.
    pub async fn end(self, any_failed: bool) {
        let (Some(reports), Some(trace)) = (self.app.error_reports(), self.trace) else {
            return;
        };
        reports.finish_trace(trace, if any_failed { 500 } else { 200 });
        reports.flush().await;
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
