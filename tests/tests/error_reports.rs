//! Error reports, end to end through the logs: a function handles a request or a queue
//! message and writes its JSON lines (captured here as Lambda would ship them); the lines
//! reach the `error-reports` function as CloudWatch Logs delivers a subscription (gzip,
//! base64); it sends a loopback Sentry, answering as Sentry's envelope endpoint does, what
//! a 5xx, a failed message and a sampled request stand for, and nothing for a 4xx.

use std::io::Write;

use base64::Engine as _;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lambda_events::cloudwatch_logs::{LogData, LogEntry, LogsEvent};
use lambda_http::Request;
use runcrew_reports::{SentryConfig, SentrySink, forward};
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::tasks::queue::{Handled, MessageFuture, QueueFunction, QueueMessage};
use runcrew_shared::{ApiError, App, HandlerFuture, HttpFunction, Needs};
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";

fn breaks_handler(_: &App, _: Request) -> HandlerFuture<'_> {
    Box::pin(async move {
        Err(ApiError::Internal(format!(
            "the profile of jane.doe@example.com could not be read with Bearer {TOKEN}"
        )))
    })
}

fn refuses_handler(_: &App, _: Request) -> HandlerFuture<'_> {
    Box::pin(async move { Err(ApiError::invalid("name", "must not be empty")) })
}

fn answers_handler(_: &App, _: Request) -> HandlerFuture<'_> {
    Box::pin(async move {
        runcrew_shared::response::json(lambda_http::http::StatusCode::OK, &json!({"ok": true}))
    })
}

static BREAKS: HttpFunction = HttpFunction {
    binary: "breaks",
    needs: Needs::NOTHING,
    handler: breaks_handler,
};
static REFUSES: HttpFunction = HttpFunction {
    binary: "refuses",
    needs: Needs::NOTHING,
    handler: refuses_handler,
};
static ANSWERS: HttpFunction = HttpFunction {
    binary: "answers",
    needs: Needs::NOTHING,
    handler: answers_handler,
};

fn fails_message<'a>(_: &'a App, message: &'a QueueMessage) -> MessageFuture<'a> {
    Box::pin(async move {
        match message.body["fail"].as_bool() {
            Some(true) => Err(runcrew_shared::TaskError(
                "FCM refused the token of kim@example.com".into(),
            )),
            _ => Ok(Handled::Done),
        }
    })
}

static CONSUMER: QueueFunction = QueueFunction {
    binary: "consumer",
    queue: runcrew_shared::queue::QueueName::Push,
    needs: Needs::NOTHING,
    handler: fails_message,
};

/// Sentry's envelope endpoint for project 42, answering `status`.
async fn sentry_answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/42/envelope/"))
        .respond_with(ResponseTemplate::new(status).set_body_json(json!({"id": "0"})))
        .mount(&server)
        .await;
    server
}

fn app(extra: &[(&str, &str)]) -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = runcrew_tests::config(dir.path(), extra);
    let store = Arc::new(EmbeddedStore::in_memory(runcrew_tests::codec()));
    (runcrew_tests::app_over(config, store), dir)
}

/// The function's log, as its stdout would hold it on Lambda.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The lines `work` logs through the functions' own JSON format.
async fn logged<F: std::future::Future>(work: F) -> (F::Output, Vec<String>) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .event_format(runcrew_shared::telemetry::JsonLine)
            .with_writer(move || writer.clone()),
    );
    let guard = tracing::subscriber::set_default(subscriber);
    let output = work.await;
    drop(guard);
    let text = String::from_utf8(captured.0.lock().expect("log").clone()).expect("utf-8");
    (output, text.lines().map(str::to_owned).collect())
}

/// `lines` as CloudWatch Logs hands them to a subscribed function: the JSON event with the
/// batch gzipped and base64-encoded, read back as the runtime would.
fn delivered(lines: &[String]) -> LogData {
    let mut data = LogData::default();
    data.owner = "123456789012".into();
    data.log_group = "/runcrew/dev/functions".into();
    data.log_stream = "2026/12/02/[1]abc".into();
    data.message_type = "DATA_MESSAGE".into();
    data.subscription_filters = vec!["error-reports".into()];
    data.log_events = lines
        .iter()
        .enumerate()
        .map(|(n, line)| {
            let mut entry = LogEntry::default();
            entry.id = n.to_string();
            entry.timestamp = 1_764_669_600_000 + n as i64;
            entry.message = line.clone();
            entry
        })
        .collect();
    // (aws_lambda_events writes this field without base64 padding, which its own reader
    // and CloudWatch's format refuse: the event is built here as CloudWatch builds it)
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    serde_json::to_writer(&mut gzip, &data).expect("gzip");
    let gzipped = gzip.finish().expect("gzip");
    let wire =
        json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(gzipped)}})
            .to_string();
    serde_json::from_str::<LogsEvent>(&wire)
        .expect("the subscription event reads back")
        .aws_logs
        .data
}

fn sink(sentry: &MockServer) -> SentrySink {
    let dsn = format!("http://public@{}/42", sentry.address());
    SentrySink::new(
        &SentryConfig::read(&|name| match name {
            "SENTRY_DSN" => Some(dsn.clone()),
            "ENVIRONMENT" => Some("stage".into()),
            _ => None,
        })
        .expect("config"),
    )
}

/// Every item Sentry received, as (item type, payload).
async fn received(sentry: &MockServer) -> Vec<(String, Value)> {
    let mut items = Vec::new();
    for request in sentry.received_requests().await.expect("recorded") {
        let text = String::from_utf8(request.body).expect("utf-8 envelope");
        let mut lines = text.lines().skip(1);
        while let (Some(header), Some(payload)) = (lines.next(), lines.next()) {
            let header: Value = serde_json::from_str(header).expect("item header");
            let payload: Value = serde_json::from_str(payload).expect("item payload");
            items.push((header["type"].as_str().unwrap_or("").to_owned(), payload));
        }
    }
    items
}

fn of_kind<'a>(items: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    items
        .iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, payload)| payload)
        .collect()
}

#[tokio::test]
async fn a_5xx_reaches_sentry_from_its_log_line_with_environment_release_and_request_id_but_no_token_or_e_mail()
 {
    // given a function whose route fails, and Sentry behind the error-reports function
    let sentry = sentry_answering(200).await;
    let (app, _dir) = app(&[("SENTRY_TRACES_SAMPLE_RATE", "0")]);

    // when the route fails with an internal error and its log reaches error-reports
    let (response, lines) = logged(BREAKS.call(&app, runcrew_tests::sample("users-me-get"))).await;
    let forwarded = forward(&delivered(&lines), &sink(&sentry)).await;

    // then the client got the envelope, and Sentry one event it can be found by
    assert_eq!(response.status(), 500);
    assert_eq!(forwarded.expect("accepted"), 1, "{lines:?}");
    let items = received(&sentry).await;
    let events = of_kind(&items, "event");
    assert_eq!(events.len(), 1, "{items:?}");
    let event = events[0];
    assert_eq!(event["environment"], "stage");
    assert_eq!(
        event["release"],
        format!("runcrew@{}", env!("CARGO_PKG_VERSION"))
    );
    let request_id = runcrew_shared::request::request_id(&runcrew_tests::sample("users-me-get"));
    assert_eq!(event["tags"]["request_id"], request_id.as_str());
    assert_eq!(event["tags"]["function"], "breaks");
    assert_eq!(event["tags"]["status"], "500");
    assert!(
        event["level"].is_null() || event["level"] == "error",
        "{event}"
    );
    let text = event.to_string();
    assert!(text.contains("could not be read"), "{text}");
    assert!(!text.contains("jane.doe"), "{text}");
    assert!(!text.contains("eyJzdWIiOiIxIn0"), "{text}");
}

#[tokio::test]
async fn a_4xx_is_the_client_s_mistake_and_nothing_reaches_sentry() {
    let sentry = sentry_answering(200).await;
    let (app, _dir) = app(&[("SENTRY_TRACES_SAMPLE_RATE", "0")]);

    let (response, lines) = logged(REFUSES.call(&app, runcrew_tests::sample("users-me-get"))).await;
    let forwarded = forward(&delivered(&lines), &sink(&sentry)).await;

    assert_eq!(response.status(), 422);
    assert_eq!(forwarded.expect("nothing to send"), 0);
    assert!(received(&sentry).await.is_empty());
}

#[tokio::test]
async fn a_failed_queue_message_is_reported_by_its_id_and_the_others_are_not() {
    let sentry = sentry_answering(200).await;
    let (app, _dir) = app(&[("SENTRY_TRACES_SAMPLE_RATE", "0")]);
    let message = |id: &str, fail: bool| QueueMessage {
        id: id.into(),
        body: json!({"fail": fail}),
        receive_count: 1,
        sent_ms: 0,
        receipt: None,
    };
    let batch = [message("m1", false), message("m2", true)];

    let (outcome, lines) = logged(CONSUMER.call(&app, &batch)).await;
    forward(&delivered(&lines), &sink(&sentry))
        .await
        .expect("accepted");

    assert_eq!(outcome.failed_ids, ["m2"]);
    let items = received(&sentry).await;
    let events = of_kind(&items, "event");
    assert_eq!(events.len(), 1, "{items:?}");
    assert_eq!(events[0]["tags"]["item_id"], "m2");
    assert_eq!(events[0]["tags"]["function"], "consumer");
    assert!(!events[0].to_string().contains("kim@"), "{}", events[0]);
}

#[tokio::test]
async fn sampled_requests_become_transactions_and_unsampled_ones_send_nothing() {
    // given every request traced
    let sentry = sentry_answering(200).await;
    let (all, _dir) = app(&[("SENTRY_TRACES_SAMPLE_RATE", "1")]);
    let (answered, lines) = logged(ANSWERS.call(&all, runcrew_tests::sample("users-me-get"))).await;
    forward(&delivered(&lines), &sink(&sentry))
        .await
        .expect("accepted");
    assert_eq!(answered.status(), 200);
    let items = received(&sentry).await;
    let traced = of_kind(&items, "transaction");
    assert_eq!(traced.len(), 1, "{items:?}");
    assert_eq!(traced[0]["transaction"], "GET /v1/users/me");
    assert_eq!(traced[0]["contexts"]["trace"]["op"], "http.server");
    assert_eq!(traced[0]["contexts"]["trace"]["status"], "ok");
    assert_eq!(traced[0]["environment"], "stage");
    let started = traced[0]["start_timestamp"].as_f64().expect("start");
    assert!(started <= 1_764_669_600.1, "{}", traced[0]);

    // and none
    let quiet = sentry_answering(200).await;
    let (none, _dir) = app(&[("SENTRY_TRACES_SAMPLE_RATE", "0")]);
    let (_, lines) = logged(ANSWERS.call(&none, runcrew_tests::sample("users-me-get"))).await;
    forward(&delivered(&lines), &sink(&quiet))
        .await
        .expect("nothing to send");
    assert!(received(&quiet).await.is_empty());
}

#[tokio::test]
async fn a_batch_sentry_refuses_fails_so_lambda_retries_it() {
    // given Sentry refusing (rate limited)
    let sentry = sentry_answering(429).await;
    let (app, _dir) = app(&[("SENTRY_TRACES_SAMPLE_RATE", "0")]);
    let (_, lines) = logged(BREAKS.call(&app, runcrew_tests::sample("users-me-get"))).await;

    // when the batch is forwarded
    let forwarded = forward(&delivered(&lines), &sink(&sentry)).await;

    // then the invocation fails, so Lambda delivers the batch again (then dead-letters it)
    let err = forwarded.expect_err("refused");
    assert!(err.to_string().contains("retried"), "{err}");
    assert_eq!(received(&sentry).await.len(), 1);
}
