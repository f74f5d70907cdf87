//! Error reports and traces to Sentry, built only when `SENTRY_DSN` is set.
//!
//! What is reported: every 5xx answer of an HTTP function, and every task item that failed
//! (a queue message, a stream record, a schedule tick, an S3 event), each with the
//! environment, the release and the request id (or the item's id), so a report leads to
//! its log lines and its X-Ray trace. Sampled requests and task invocations also become
//! Sentry transactions (`SENTRY_TRACES_SAMPLE_RATE`).
//!
//! What never is: a token or an e-mail address. Reports carry only what the function
//! wrote into them, after [`crate::telemetry::mask_secrets`]; no request headers, bodies,
//! cookies or user data are attached (`send_default_pii` stays off), and a last pass over
//! every event masks its message and tags again before it leaves.
//!
//! A Lambda execution environment is frozen as soon as the invocation returns, so events
//! queued but not sent would wait for the next invocation or be lost with the environment:
//! an invocation that reported anything waits for the sending (at most
//! [`FLUSH_TIMEOUT`]) before it returns. Without `SENTRY_DSN` none of this exists: no
//! client, no thread, no connection, and every call here is skipped by an `Option`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sentry::protocol::{Event, Level};

use crate::config::ErrorReportsConfig;
use crate::telemetry::mask_secrets;

/// The longest an invocation waits for its reports to be sent.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The Sentry client of one execution environment.
pub struct ErrorReports {
    hub: Arc<sentry::Hub>,
    client: Arc<sentry::Client>,
    /// Whether something was queued since the last flush.
    pending: AtomicBool,
}

impl std::fmt::Debug for ErrorReports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorReports").finish_non_exhaustive()
    }
}

/// A 5xx answer, as reported.
#[derive(Debug, Clone, Copy)]
pub struct FailedRequest<'a> {
    /// The function's binary (`courses-get`).
    pub function: &'a str,
    /// API Gateway's route key (`GET /v1/courses/{courseId}`).
    pub route: &'a str,
    /// The request id the client saw in the error envelope.
    pub request_id: &'a str,
    /// The status answered.
    pub status: u16,
    /// The envelope's error code (`internal`, `dependency_unavailable`).
    pub code: &'a str,
    /// What went wrong, as the log line says it (masked again here).
    pub detail: &'a str,
}

impl ErrorReports {
    /// A client for `config`'s DSN, filing events under `release`.
    pub fn new(config: &ErrorReportsConfig, release: &str) -> Self {
        let mut options = sentry::ClientOptions::new()
            .environment(config.environment.clone())
            .release(format!("runcrew@{release}"))
            .traces_sample_rate(config.traces_sample_rate)
            .send_default_pii(false)
            // Nothing of the machine or the process is attached: only what we put in.
            .default_integrations(false)
            .before_send(|event| Some(scrubbed(event)));
        options.dsn = Some(config.dsn.clone());
        let options = sentry::apply_defaults(options);
        let client = Arc::new(sentry::Client::from(options));
        let hub = Arc::new(sentry::Hub::new(
            Some(client.clone()),
            Arc::new(sentry::Scope::default()),
        ));
        ErrorReports {
            hub,
            client,
            pending: AtomicBool::new(false),
        }
    }

    /// Reports a 5xx answer.
    pub fn request_failed(&self, failed: &FailedRequest<'_>) {
        let mut event = Event {
            level: Level::Error,
            message: Some(format!(
                "{} {}: {}",
                failed.status, failed.code, failed.detail
            )),
            transaction: Some(failed.route.to_owned()),
            ..Event::default()
        };
        for (name, value) in [
            ("function", failed.function),
            ("route", failed.route),
            ("request_id", failed.request_id),
            ("code", failed.code),
        ] {
            event.tags.insert(name.into(), value.into());
        }
        event
            .tags
            .insert("status".into(), failed.status.to_string());
        self.capture(event);
    }

    /// Reports a task item that failed and will be delivered again (or dead-lettered).
    pub fn task_failed(&self, function: &str, item_id: &str, error: &str) {
        let mut event = Event {
            level: Level::Error,
            message: Some(format!("{function}: {error}")),
            transaction: Some(function.to_owned()),
            ..Event::default()
        };
        event.tags.insert("function".into(), function.into());
        event.tags.insert("item_id".into(), item_id.into());
        self.capture(event);
    }

    fn capture(&self, mut event: Event<'static>) {
        if let Ok(trace) = std::env::var("_X_AMZN_TRACE_ID") {
            event.tags.insert("xray_trace_id".into(), trace);
        }
        self.hub.capture_event(event);
        self.pending.store(true, Ordering::Release);
    }

    /// Starts the transaction of one request or task invocation named `name` (`op`:
    /// `http.server`, `queue.process`, ...); sampled at `SENTRY_TRACES_SAMPLE_RATE`.
    pub fn start_trace(&self, name: &str, op: &str) -> Trace {
        let transaction = self
            .hub
            .start_transaction(sentry::TransactionContext::new(name, op));
        Trace(transaction)
    }

    /// Ends `trace` with `status` (an HTTP status, or 200/500 for a task) and queues it
    /// when it was sampled.
    pub fn finish_trace(&self, trace: Trace, status: u16) {
        let Trace(transaction) = trace;
        #[expect(
            deprecated,
            reason = "true exactly when finishing sends the transaction: whether to flush"
        )]
        let sampled = transaction.is_sampled();
        if !sampled {
            return;
        }
        transaction.set_status(match status {
            0..=399 => sentry::protocol::SpanStatus::Ok,
            400..=499 => sentry::protocol::SpanStatus::InvalidArgument,
            _ => sentry::protocol::SpanStatus::InternalError,
        });
        transaction.set_data("http.response.status_code", status.into());
        transaction.finish();
        self.pending.store(true, Ordering::Release);
    }

    /// Waits (at most [`FLUSH_TIMEOUT`]) until what this invocation queued is sent: the
    /// environment may be frozen the moment it returns. Nothing queued, no wait.
    pub async fn flush(&self) {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return;
        }
        let client = self.client.clone();
        let sent = tokio::task::spawn_blocking(move || client.flush(Some(FLUSH_TIMEOUT)))
            .await
            .unwrap_or(false);
        if !sent {
            tracing::warn!("error reports were not all sent within the flush timeout");
        }
    }
}

/// One request's or task invocation's transaction (see [`ErrorReports::start_trace`]).
pub struct Trace(sentry::Transaction);

/// `event` with its message, tags and exception values masked, and nothing of a request
/// or user left on it: the last pass before an event leaves the function.
fn scrubbed(mut event: Event<'static>) -> Event<'static> {
    event.message = event.message.as_deref().map(mask_secrets);
    for value in event.tags.values_mut() {
        *value = mask_secrets(value);
    }
    for exception in event.exception.values.iter_mut() {
        exception.value = exception.value.as_deref().map(mask_secrets);
    }
    event.request = None;
    event.user = None;
    event.server_name = None;
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_leaves_without_tokens_e_mails_request_or_user() {
        let mut event = Event {
            message: Some("refresh failed for jane@example.com with Bearer abc.def".into()),
            request: Some(sentry::protocol::Request::default()),
            user: Some(sentry::protocol::User::default()),
            server_name: Some("ip-10-0-0-1".into()),
            ..Event::default()
        };
        event.tags.insert(
            "detail".into(),
            "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln".into(),
        );
        let sent = scrubbed(event);
        let text = serde_json::to_string(&sent).expect("json");
        assert!(!text.contains("jane@"), "{text}");
        assert!(!text.contains("abc.def"), "{text}");
        assert!(!text.contains("eyJzdWIiOiIxIn0"), "{text}");
        assert!(sent.request.is_none() && sent.user.is_none() && sent.server_name.is_none());
    }
}
