//! Sentry as the [`SendReports`] port: events through the Sentry client (so its release,
//! environment and `before_send` apply), sent to the project's envelope endpoint by our own
//! HTTPS client, which tells an accepted envelope from a refused one.
//!
//! Sentry's bundled transports send in the background and drop what fails; a batch must
//! fail instead, so Lambda retries it. So the client's transport only queues envelopes,
//! and [`SendReports::flush`] posts them and checks each answer.

use std::str::FromStr as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use sentry::protocol::{
    Context, Envelope, Event, Level, SpanStatus, TraceContext, TraceId, Transaction,
};

use crate::{FailedRequest, Failure, Report, SEND_TIMEOUT, SendReports, SentryConfig, TracedSpan};
use runcrew_shared::telemetry::mask_secrets;

/// The envelopes the client produced, waiting for [`SendReports::flush`].
#[derive(Default)]
struct Queued(Mutex<Vec<Envelope>>);

impl Queued {
    fn take(&self) -> Vec<Envelope> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

struct QueueTransport(Arc<Queued>);

impl sentry::Transport for QueueTransport {
    fn send_envelope(&self, envelope: Envelope) {
        self.0
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(envelope);
    }
}

/// Sentry, for one project.
pub struct SentrySink {
    client: sentry::Client,
    queued: Arc<Queued>,
    http: Option<reqwest::Client>,
    config: SentryConfig,
}

impl std::fmt::Debug for SentrySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentrySink")
            .field("environment", &self.config.environment)
            .field("release", &self.config.release)
            .finish_non_exhaustive()
    }
}

impl SentrySink {
    /// A sink for `config`'s project.
    pub fn new(config: &SentryConfig) -> Self {
        let queued = Arc::new(Queued::default());
        let transport: Arc<dyn sentry::Transport> = Arc::new(QueueTransport(queued.clone()));
        let mut options = sentry::ClientOptions::new()
            .environment(config.environment.clone())
            .release(config.release.clone())
            .send_default_pii(false)
            // Nothing of this machine or process is attached: only what the line said.
            .default_integrations(false)
            .before_send(|event| Some(scrubbed(event)));
        options.dsn = Some(config.dsn.clone());
        options.transport = Some(Arc::new(move |_: &sentry::ClientOptions| transport.clone()));
        let http = runcrew_shared::outbound::https_client(Duration::from_secs(2), SEND_TIMEOUT)
            .map_err(|err| tracing::error!(error = %err, "no HTTPS client for Sentry"))
            .ok();
        SentrySink {
            client: sentry::Client::from(options),
            queued,
            http,
            config: config.clone(),
        }
    }

    fn request_failed(&self, failed: FailedRequest) {
        let mut event = Event {
            level: Level::Error,
            message: Some(format!(
                "{} {}: {}",
                failed.status, failed.code, failed.detail
            )),
            transaction: Some(failed.route.clone()),
            ..Event::default()
        };
        let status = failed.status.to_string();
        for (name, value) in [
            ("function", failed.function.as_str()),
            ("route", failed.route.as_str()),
            ("request_id", failed.request_id.as_str()),
            ("code", failed.code.as_str()),
            ("status", status.as_str()),
        ] {
            event.tags.insert(name.into(), value.into());
        }
        self.capture(event, failed.xray_trace_id);
    }

    fn failed(&self, failure: Failure) {
        let mut event = Event {
            level: Level::Error,
            message: Some(format!(
                "{}: {} ({})",
                failure.function, failure.error, failure.message
            )),
            transaction: Some(failure.function.clone()),
            ..Event::default()
        };
        event.tags.insert("function".into(), failure.function);
        if let Some(item) = failure.item_id {
            event.tags.insert("item_id".into(), item);
        }
        self.capture(event, failure.xray_trace_id);
    }

    /// Hands `event`, tagged with its X-Ray trace, to the client (release, environment and
    /// the scrubbing `before_send` apply there).
    fn capture(&self, mut event: Event<'static>, xray_trace_id: Option<String>) {
        if let Some(trace) = xray_trace_id {
            event.tags.insert("xray_trace_id".into(), trace);
        }
        self.client.capture_event(event, None);
    }

    fn traced(&self, span: TracedSpan) {
        let status = match (span.failed, span.status) {
            (true, _) => SpanStatus::InternalError,
            (false, Some(400..=499)) => SpanStatus::InvalidArgument,
            (false, _) => SpanStatus::Ok,
        };
        let mut trace = TraceContext {
            trace_id: span
                .xray_trace_id
                .as_deref()
                .and_then(sentry_trace_id)
                .unwrap_or_default(),
            op: Some(span.op),
            status: Some(status),
            ..TraceContext::default()
        };
        if let Some(code) = span.status {
            trace
                .data
                .insert("http.response.status_code".into(), code.into());
        }
        let mut transaction = Transaction {
            name: Some(mask_secrets(&span.name)),
            release: Some(self.config.release.clone().into()),
            environment: Some(self.config.environment.clone().into()),
            start_timestamp: span
                .ended
                .checked_sub(span.duration)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            timestamp: Some(span.ended),
            ..Transaction::default()
        };
        transaction.tags.insert("function".into(), span.function);
        if let Some(xray) = span.xray_trace_id {
            transaction.tags.insert("xray_trace_id".into(), xray);
        }
        transaction
            .contexts
            .insert("trace".into(), Context::Trace(Box::new(trace)));
        let mut envelope = Envelope::new();
        envelope.add_item(transaction);
        self.client.send_envelope(envelope);
    }

    /// Posts one envelope; `false` unless Sentry answered 2xx.
    async fn post(&self, http: &reqwest::Client, envelope: &Envelope) -> bool {
        let mut body = Vec::new();
        if envelope.to_writer(&mut body).is_err() {
            return false;
        }
        let dsn = &self.config.dsn;
        let auth = dsn.to_auth(Some(concat!("runcrew-reports/", env!("CARGO_PKG_VERSION"))));
        let sent = http
            .post(dsn.envelope_api_url().as_str())
            .header("X-Sentry-Auth", auth.to_string())
            .header("Content-Type", "application/x-sentry-envelope")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => true,
            Ok(answer) => {
                tracing::warn!(status = answer.status().as_u16(), "Sentry refused a report");
                false
            }
            Err(err) => {
                let error = runcrew_shared::outbound::error_chain(&err);
                tracing::warn!(error = %error, "Sentry did not answer");
                false
            }
        }
    }
}

/// A Sentry trace id from an X-Ray trace id (`1-<8 hex>-<24 hex>`: 128 bits, as Sentry's),
/// so a transaction and the X-Ray trace of the same invocation share one id.
fn sentry_trace_id(xray: &str) -> Option<TraceId> {
    let hex: String = xray.strip_prefix("1-")?.split('-').collect();
    (hex.len() == 32)
        .then(|| TraceId::from_str(&hex).ok())
        .flatten()
}

#[async_trait::async_trait]
impl SendReports for SentrySink {
    fn send(&self, report: Report) {
        match report {
            Report::RequestFailed(failed) => self.request_failed(failed),
            Report::Failed(failure) => self.failed(failure),
            Report::Traced(span) => self.traced(span),
        }
    }

    async fn flush(&self) -> bool {
        let envelopes = self.queued.take();
        if envelopes.is_empty() {
            return true;
        }
        let Some(http) = &self.http else {
            return false;
        };
        let mut all = true;
        for envelope in &envelopes {
            all &= self.post(http, envelope).await;
        }
        all
    }
}

/// `event` with its message, tags and exception values masked, and nothing of a request
/// or user left on it: the last pass before an event leaves.
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

    #[test]
    fn an_x_ray_trace_id_becomes_the_same_128_bits_in_sentry() {
        let id = sentry_trace_id("1-6750a3c0-3f9a2b1c4d5e6f7081920a1b").expect("id");
        assert_eq!(id.to_string(), "6750a3c03f9a2b1c4d5e6f7081920a1b");
        assert_eq!(sentry_trace_id("not-a-trace"), None);
    }
}
