//! `error-reports`: Sentry reports made from the functions' log lines, out of their process.
//!
//! Every function logs JSON lines to one log group (template.yaml, `FunctionLogs`). A
//! subscription filter hands this function the lines that matter, in batches:
//!
//! - an access line of a 5xx answer (level `ERROR`, target `access`) becomes an error
//!   event: the route, status, error code, request id and masked detail;
//! - any other `ERROR` line that names what failed (`error`) becomes an error event: a
//!   queue message, stream record, schedule tick or S3 event that will be retried, or a
//!   start-up refused;
//! - a line marked `"traced": true` (a request or task invocation sampled at
//!   `SENTRY_TRACES_SAMPLE_RATE`) becomes a transaction with its start, duration and
//!   status, under the trace id of its X-Ray trace.
//!
//! Why not a Sentry client in each function: it linked an HTTPS client and the Sentry crates
//! into all 74 binaries (up to 4.4 MB each, BENCHMARKS.md), built them at init when
//! reports were on, and made every invocation that queued a report wait for Sentry before
//! returning, since Lambda freezes the process once it does. Here the functions only write
//! the lines they wrote anyway, and the DSN lives in this one function.
//!
//! Nothing is dropped silently: a batch whose reports Sentry did not accept fails the
//! invocation, so Lambda retries it (an asynchronous invocation, twice) and then hands it to
//! this function's dead-letter queue, which has its alarm. Lines are masked by the
//! functions' logger already (tokens, e-mail addresses); every text is masked again here
//! before it leaves.

mod config;
mod sentry_sink;

use std::time::{Duration, SystemTime};

use aws_lambda_events::cloudwatch_logs::{LogData, LogsEvent};
use serde_json::{Map, Value};

pub use config::SentryConfig;
pub use sentry_sink::SentrySink;

/// How long one invocation waits for Sentry to accept its batch.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// One report, read from one log line.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// An HTTP function answered 5xx.
    RequestFailed(FailedRequest),
    /// A task item, a start-up or another unit of work failed.
    Failed(Failure),
    /// A sampled request or task invocation, as a transaction.
    Traced(TracedSpan),
}

/// A 5xx answer, from its access line.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedRequest {
    /// The function's binary (`courses-get`).
    pub function: String,
    /// API Gateway's route key (`GET /v1/courses/{courseId}`).
    pub route: String,
    /// The request id the client saw in the error envelope.
    pub request_id: String,
    /// The status answered.
    pub status: u16,
    /// The envelope's error code (`internal`, `dependency_unavailable`).
    pub code: String,
    /// What went wrong, as the function logged it.
    pub detail: String,
    /// The X-Ray trace of the invocation.
    pub xray_trace_id: Option<String>,
}

/// A failure that is not an answer: a task item to be retried, a refused start-up.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The function's binary, or `unknown` when the line does not say.
    pub function: String,
    /// The line's message (`queue message failed; it will be delivered again ...`).
    pub message: String,
    /// The error.
    pub error: String,
    /// The failed item: a queue message id, a stream sequence number, a schedule name.
    pub item_id: Option<String>,
    /// The X-Ray trace of the invocation.
    pub xray_trace_id: Option<String>,
}

/// A traced request or task invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct TracedSpan {
    /// The transaction's name: the route of a request, the function of a task.
    pub name: String,
    /// `http.server`, `queue.process`, `stream.process`, `schedule.tick`, `s3.process`.
    pub op: String,
    /// The function's binary.
    pub function: String,
    /// When it ended (the line's time).
    pub ended: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Whether it failed (a 5xx, or any item failed).
    pub failed: bool,
    /// The HTTP status, for a request.
    pub status: Option<u16>,
    /// The X-Ray trace of the invocation, which becomes the Sentry trace id.
    pub xray_trace_id: Option<String>,
}

fn text(line: &Map<String, Value>, key: &str) -> Option<String> {
    match line.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl Report {
    /// The reports `message` (one log line, logged at `at_ms` since the epoch) stands for:
    /// none for the lines that are not reports (info lines, metrics, Lambda's own platform
    /// lines, text that is not JSON), two for a traced 5xx (its transaction and its error).
    pub fn from_line(message: &str, at_ms: i64) -> Vec<Report> {
        let Ok(Value::Object(line)) = serde_json::from_str::<Value>(message.trim()) else {
            return Vec::new();
        };
        let mut reports = Vec::new();
        let is_error = line.get("level").and_then(Value::as_str) == Some("ERROR");
        let is_access = line.get("target").and_then(Value::as_str) == Some("access");
        let function = text(&line, "function").unwrap_or_else(|| "unknown".into());
        let xray_trace_id = text(&line, "xray_trace_id");
        let status = line
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok());
        if line.get("traced") == Some(&Value::Bool(true)) {
            let latency_ms = line
                .get("latency_ms")
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
                .max(0.0);
            let (name, op) = if is_access {
                let route = text(&line, "route").unwrap_or_else(|| function.clone());
                (route, "http.server".to_owned())
            } else {
                let op = text(&line, "op").unwrap_or_else(|| "task".into());
                (function.clone(), op)
            };
            reports.push(Report::Traced(TracedSpan {
                name,
                op,
                function: function.clone(),
                ended: SystemTime::UNIX_EPOCH
                    + Duration::from_millis(u64::try_from(at_ms).unwrap_or(0)),
                duration: Duration::from_secs_f64(latency_ms / 1000.0),
                failed: status.is_some_and(|s| s >= 500)
                    || line.get("failed") == Some(&Value::Bool(true)),
                status,
                xray_trace_id: xray_trace_id.clone(),
            }));
        }
        if !is_error {
            return reports;
        }
        if is_access {
            if let Some(status) = status.filter(|s| *s >= 500) {
                reports.push(Report::RequestFailed(FailedRequest {
                    function,
                    route: text(&line, "route").unwrap_or_default(),
                    request_id: text(&line, "request_id").unwrap_or_default(),
                    status,
                    code: text(&line, "code").unwrap_or_else(|| "internal".into()),
                    detail: text(&line, "detail").unwrap_or_default(),
                    xray_trace_id,
                }));
            }
        } else if let Some(error) = text(&line, "error") {
            let item_id = ["message_id", "sequence", "schedule", "item_id"]
                .iter()
                .find_map(|key| text(&line, key));
            reports.push(Report::Failed(Failure {
                function,
                message: text(&line, "message").unwrap_or_default(),
                error,
                item_id,
                xray_trace_id,
            }));
        }
        reports
    }
}

/// Where reports go: Sentry ([`SentrySink`]), or what a test collects.
#[async_trait::async_trait]
pub trait SendReports: Send + Sync {
    /// Queues `report` to be sent.
    fn send(&self, report: Report);
    /// Waits until everything queued has been accepted; `false` when it was not within
    /// [`SEND_TIMEOUT`].
    async fn flush(&self) -> bool;
}

/// Why a batch was not forwarded; the invocation fails and Lambda retries it.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// Sentry did not accept the batch's reports in time.
    #[error("Sentry did not accept {0} report(s) within the send timeout; the batch is retried")]
    NotSent(usize),
}

/// Sends the reports of one batch of log lines and waits for them to be accepted. A
/// subscription's first message (`CONTROL_MESSAGE`) holds no lines.
pub async fn forward(logs: &LogData, sink: &dyn SendReports) -> Result<usize, ForwardError> {
    if logs.message_type != "DATA_MESSAGE" {
        return Ok(0);
    }
    let mut sent = 0;
    for entry in &logs.log_events {
        for report in Report::from_line(&entry.message, entry.timestamp) {
            sink.send(report);
            sent += 1;
        }
    }
    if sent > 0 && !sink.flush().await {
        return Err(ForwardError::NotSent(sent));
    }
    Ok(sent)
}

/// The function's `main`: logging, the Sentry client from `SENTRY_DSN` (a refused
/// configuration stops the start, saying why), then the runtime.
pub async fn run() -> Result<(), lambda_http::Error> {
    runcrew_shared::function::begin("error-reports")?;
    let config = SentryConfig::from_env().map_err(|err| {
        tracing::error!(function = "error-reports", error = %err, "start-up refused");
        lambda_http::Error::from(err.to_string())
    })?;
    let sink = std::sync::Arc::new(SentrySink::new(&config));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<LogsEvent>| {
            let sink = sink.clone();
            async move {
                let logs = &event.payload.aws_logs.data;
                let sent = forward(logs, sink.as_ref()).await?;
                tracing::info!(
                    log_group = %logs.log_group,
                    lines = logs.log_events.len(),
                    reports = sent,
                    "log batch forwarded"
                );
                Ok::<_, lambda_http::Error>(())
            }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: i64 = 1_764_000_000_000;

    #[test]
    fn a_5xx_access_line_is_a_failed_request_with_its_ids() {
        let line = r#"{"timestamp":"2026-12-02T10:00:00Z","level":"ERROR","target":"access","xray_trace_id":"1-6750a3c0-3f9a2b1c4d5e6f7081920a1b","function":"courses-get","request_id":"req-1","method":"GET","route":"GET /v1/courses/{courseId}","status":503,"latency_ms":12.5,"code":"dependency_unavailable","detail":"the table did not answer","traced":false,"message":"request"}"#;
        let [Report::RequestFailed(failed)] = &Report::from_line(line, AT)[..] else {
            panic!("not a failed request");
        };
        assert_eq!(failed.function, "courses-get");
        assert_eq!(failed.status, 503);
        assert_eq!(failed.code, "dependency_unavailable");
        assert_eq!(failed.request_id, "req-1");
        assert_eq!(
            failed.xray_trace_id.as_deref(),
            Some("1-6750a3c0-3f9a2b1c4d5e6f7081920a1b")
        );
    }

    #[test]
    fn info_lines_metrics_and_platform_lines_are_not_reports() {
        for line in [
            r#"{"level":"INFO","target":"access","status":200,"traced":false,"message":"request"}"#,
            r#"{"level":"INFO","target":"runcrew","message":"queue message handled"}"#,
            r#"{"_aws":{"CloudWatchMetrics":[]},"Latency":3}"#,
            r#"{"time":"2026-12-02T10:00:00Z","type":"platform.report","record":{}}"#,
            "START RequestId: 1 Version: $LATEST",
        ] {
            assert_eq!(Report::from_line(line, AT), Vec::new(), "{line}");
        }
    }

    #[test]
    fn a_failed_queue_message_is_a_failure_naming_the_message() {
        let line = r#"{"level":"ERROR","target":"runcrew_shared::tasks::queue","function":"push","message_id":"m-9","error":"FCM answered 503","message":"queue message failed; it will be delivered again, then dead-lettered"}"#;
        let [Report::Failed(failure)] = &Report::from_line(line, AT)[..] else {
            panic!("not a failure");
        };
        assert_eq!(failure.function, "push");
        assert_eq!(failure.item_id.as_deref(), Some("m-9"));
        assert_eq!(failure.error, "FCM answered 503");
    }

    #[test]
    fn a_traced_line_is_a_transaction_that_ends_at_the_line_and_lasts_its_latency() {
        let line = r#"{"level":"INFO","target":"access","function":"users-get","route":"GET /v1/users/{userId}","status":200,"latency_ms":250.0,"traced":true,"message":"request"}"#;
        let [Report::Traced(span)] = &Report::from_line(line, AT)[..] else {
            panic!("not traced");
        };
        assert_eq!(span.name, "GET /v1/users/{userId}");
        assert_eq!(span.op, "http.server");
        assert_eq!(span.duration, Duration::from_millis(250));
        assert!(!span.failed);
        let task = r#"{"level":"INFO","target":"invocation","function":"projector","op":"stream.process","latency_ms":40.0,"failed":true,"traced":true,"message":"invocation"}"#;
        let [Report::Traced(span)] = &Report::from_line(task, AT)[..] else {
            panic!("not traced");
        };
        assert_eq!(
            (span.name.as_str(), span.op.as_str()),
            ("projector", "stream.process")
        );
        assert!(span.failed);
    }

    #[test]
    fn a_traced_5xx_is_both_a_transaction_and_an_error() {
        let line = r#"{"level":"ERROR","target":"access","function":"runs-create","route":"POST /v1/runs","request_id":"req-7","status":500,"latency_ms":9.0,"code":"internal","detail":"boom","traced":true,"message":"request"}"#;
        let reports = Report::from_line(line, AT);
        assert!(
            matches!(&reports[..], [Report::Traced(span), Report::RequestFailed(failed)] if span.failed && failed.request_id == "req-7"),
            "{reports:?}"
        );
    }

    #[test]
    fn the_sample_subscription_event_reads_as_cloudwatch_sends_it() {
        // events/subscription.json: gzip and padded base64, as CloudWatch Logs delivers
        let event: LogsEvent = serde_json::from_str(include_str!("../events/subscription.json"))
            .expect("the sample reads");
        let logs = &event.aws_logs.data;
        assert_eq!(logs.message_type, "DATA_MESSAGE");
        let reports: Vec<Report> = logs
            .log_events
            .iter()
            .flat_map(|entry| Report::from_line(&entry.message, entry.timestamp))
            .collect();
        assert!(
            matches!(&reports[..], [Report::RequestFailed(failed), Report::Traced(span)]
                if failed.status == 503 && failed.function == "courses-get"
                    && span.name == "GET /v1/users/{userId}"),
            "{reports:?}"
        );
    }
}
