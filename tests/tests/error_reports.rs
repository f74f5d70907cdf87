//! Error reports to a loopback Sentry (answering as Sentry's envelope endpoint does): what
//! a 5xx answer and a failed queue message send, what a 4xx does not, and that nothing is
//! built without `SENTRY_DSN`.

use std::sync::Arc;

use lambda_http::Request;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::tasks::queue::{Handled, MessageFuture, QueueFunction, QueueMessage};
use runcrew_shared::{ApiError, App, HandlerFuture, HttpFunction, Needs};
use serde_json::{Value, json};
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

/// Sentry's envelope endpoint for project 42.
async fn sentry() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/42/envelope/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "0"})))
        .mount(&server)
        .await;
    server
}

fn app(sentry: &MockServer, extra: &[(&str, &str)]) -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let dsn = format!("http://public@{}/42", sentry.address());
    let mut pairs = vec![("SENTRY_DSN", dsn.as_str())];
    pairs.extend_from_slice(extra);
    let config = runcrew_tests::config(dir.path(), &pairs);
    let store = Arc::new(EmbeddedStore::in_memory(runcrew_tests::codec()));
    (runcrew_tests::app_over(config, store), dir)
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

fn events(items: &[(String, Value)]) -> Vec<&Value> {
    items
        .iter()
        .filter(|(kind, _)| kind == "event")
        .map(|(_, payload)| payload)
        .collect()
}

#[tokio::test]
async fn a_5xx_is_reported_with_environment_release_and_request_id_but_no_token_or_e_mail() {
    // given Sentry configured
    let sentry = sentry().await;
    let (app, _dir) = app(&sentry, &[("SENTRY_TRACES_SAMPLE_RATE", "0")]);

    // when a route fails with an internal error
    let response = BREAKS
        .call(&app, runcrew_tests::sample("users-me-get"))
        .await;

    // then the client got the envelope, and Sentry one event it can be found by
    assert_eq!(response.status(), 500);
    let items = received(&sentry).await;
    let events = events(&items);
    assert_eq!(events.len(), 1, "{items:?}");
    let event = events[0];
    assert_eq!(event["environment"], "local");
    assert_eq!(
        event["release"],
        format!("runcrew@{}", env!("CARGO_PKG_VERSION"))
    );
    let request_id = runcrew_shared::request::request_id(&runcrew_tests::sample("users-me-get"));
    assert_eq!(event["tags"]["request_id"], request_id.as_str());
    assert_eq!(event["tags"]["function"], "breaks");
    // (Sentry's level "error" is the default, which the envelope leaves out)
    assert!(
        event["level"].is_null() || event["level"] == "error",
        "{event}"
    );
    let text = event.to_string();
    assert!(!text.contains("jane.doe"), "{text}");
    assert!(!text.contains("eyJzdWIiOiIxIn0"), "{text}");
}

#[tokio::test]
async fn a_4xx_is_the_client_s_mistake_and_is_not_reported() {
    let sentry = sentry().await;
    let (app, _dir) = app(&sentry, &[("SENTRY_TRACES_SAMPLE_RATE", "0")]);

    let response = REFUSES
        .call(&app, runcrew_tests::sample("users-me-get"))
        .await;

    assert_eq!(response.status(), 422);
    assert!(received(&sentry).await.is_empty());
}

#[tokio::test]
async fn a_failed_queue_message_is_reported_by_its_id_and_the_others_are_not() {
    let sentry = sentry().await;
    let (app, _dir) = app(&sentry, &[("SENTRY_TRACES_SAMPLE_RATE", "0")]);
    let message = |id: &str, fail: bool| QueueMessage {
        id: id.into(),
        body: json!({"fail": fail}),
        receive_count: 1,
        sent_ms: 0,
        receipt: None,
    };

    let outcome = CONSUMER
        .call(&app, &[message("m1", false), message("m2", true)])
        .await;

    assert_eq!(outcome.failed_ids, ["m2"]);
    let items = received(&sentry).await;
    let events = events(&items);
    assert_eq!(events.len(), 1, "{items:?}");
    assert_eq!(events[0]["tags"]["item_id"], "m2");
    assert_eq!(events[0]["tags"]["function"], "consumer");
    assert!(!events[0].to_string().contains("kim@"), "{}", events[0]);
}

#[tokio::test]
async fn traces_are_sent_at_the_configured_rate() {
    // given every request traced
    let sentry = sentry().await;
    let (all, _dir) = app(&sentry, &[("SENTRY_TRACES_SAMPLE_RATE", "1")]);
    let answered = ANSWERS
        .call(&all, runcrew_tests::sample("users-me-get"))
        .await;
    assert_eq!(answered.status(), 200);
    let items = received(&sentry).await;
    let traced: Vec<_> = items.iter().filter(|(k, _)| k == "transaction").collect();
    assert_eq!(traced.len(), 1, "{items:?}");
    assert_eq!(traced[0].1["transaction"], "GET /v1/users/me");
    assert_eq!(traced[0].1["contexts"]["trace"]["op"], "http.server");

    // and none
    let quiet = self::sentry().await;
    let (none, _dir) = app(&quiet, &[("SENTRY_TRACES_SAMPLE_RATE", "0")]);
    ANSWERS
        .call(&none, runcrew_tests::sample("users-me-get"))
        .await;
    assert!(received(&quiet).await.is_empty());
}

#[tokio::test]
async fn without_a_dsn_nothing_is_built_and_failures_are_only_logged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = App::build(runcrew_tests::config(dir.path(), &[]), Needs::NOTHING)
        .await
        .expect("local app");
    assert!(app.error_reports().is_none());
    let response = BREAKS
        .call(&app, runcrew_tests::sample("users-me-get"))
        .await;
    assert_eq!(response.status(), 500);
}
