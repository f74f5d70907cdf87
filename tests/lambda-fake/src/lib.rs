//! A loopback stand-in for the Lambda Runtime API, so a function's real binary can be run
//! as Lambda runs it: the binary polls `GET /2018-06-01/runtime/invocation/next`, gets the
//! queued event, and posts its answer to `.../invocation/{id}/response` (or `.../error`).
//!
//! The fake hands out each queued event once, records every answer, and then keeps the next
//! poll waiting (as Lambda freezes an idle environment) until the test stops the process.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::Notify;

/// What the binary posted back for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST .../response`: the function's answer.
    Response(Value),
    /// `POST .../error`: the function failed the invocation.
    Error(Value),
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<(String, String)>>,
    outcomes: Mutex<Vec<(String, Outcome, Instant)>>,
    first_poll: Mutex<Option<Instant>>,
    init_errors: Mutex<Vec<Value>>,
    posted: Notify,
}

/// The fake Runtime API, listening on 127.0.0.1.
pub struct FakeRuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared
        .first_poll
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(Instant::now);
    let event = shared
        .queue
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop_front();
    let Some((id, body)) = event else {
        // Nothing queued: hold the poll, as an idle Lambda environment would be frozen.
        std::future::pending::<()>().await;
        return StatusCode::NO_CONTENT.into_response();
    };
    let mut headers = HeaderMap::new();
    let deadline = (time::OffsetDateTime::now_utc().unix_timestamp() + 30) * 1000;
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id.clone()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:000000000000:function:test".into(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
        ),
        ("content-type", "application/json".into()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    (StatusCode::OK, headers, body).into_response()
}

/// A posted body as JSON, or as a string when it is not JSON.
fn json_or_text(body: String) -> Value {
    serde_json::from_str(&body).unwrap_or(Value::String(body))
}

fn record(shared: &Shared, id: String, outcome: Outcome) -> StatusCode {
    shared
        .outcomes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, outcome, Instant::now()));
    shared.posted.notify_waiters();
    StatusCode::ACCEPTED
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> StatusCode {
    record(&shared, id, Outcome::Response(json_or_text(body)))
}

async fn error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> StatusCode {
    record(&shared, id, Outcome::Error(json_or_text(body)))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: String) -> StatusCode {
    shared
        .init_errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(serde_json::from_str(&body).unwrap_or(Value::String(body)));
    shared.posted.notify_waiters();
    StatusCode::ACCEPTED
}

impl FakeRuntimeApi {
    /// Starts the fake on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the fake runtime API");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeRuntimeApi { addr, shared, task }
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the binary: `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues one invocation with `event` as its payload.
    pub fn queue(&self, request_id: &str, event: &str) {
        self.shared
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back((request_id.to_owned(), event.to_owned()));
    }

    /// Waits up to `timeout` for the answer to `request_id`.
    pub async fn outcome(&self, request_id: &str, timeout: Duration) -> Option<Outcome> {
        self.outcome_at(request_id, timeout)
            .await
            .map(|(outcome, _)| outcome)
    }

    /// When the binary first asked for an invocation: the end of its init (cold-start
    /// benchmarks).
    pub fn first_poll_at(&self) -> Option<Instant> {
        *self
            .shared
            .first_poll
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// [`FakeRuntimeApi::outcome`] with the moment the answer arrived.
    pub async fn outcome_at(
        &self,
        request_id: &str,
        timeout: Duration,
    ) -> Option<(Outcome, Instant)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.posted.notified();
            if let Some((_, outcome, at)) = self
                .shared
                .outcomes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .find(|(id, _, _)| id == request_id)
            {
                return Some((outcome.clone(), *at));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// What the binary reported as init errors.
    pub fn init_errors(&self) -> Vec<Value> {
        self.shared
            .init_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for FakeRuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The environment Lambda gives a function process, pointed at `runtime`.
pub fn lambda_env(runtime: &FakeRuntimeApi, data_dir: &Path) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", "test-function".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "test".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test".into()),
        ("RUNCREW_DATA_DIR", data_dir.display().to_string()),
        ("RUST_LOG", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Starts the function binary at `binary` with `env` (on top of a clean environment but for
/// PATH), its output captured; killed when dropped.
pub fn spawn_function(binary: &Path, env: &[(String, String)]) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(binary);
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command.spawn().expect("start the function binary")
}

/// Starts the function binary at `binary` with `env`, expecting it to refuse to start: waits
/// (30 s at most) for it to exit by itself, checks that it failed, and returns its logs
/// (standard output and error) for the test to read the reason in.
pub async fn refused_start(binary: &Path, env: &[(String, String)]) -> String {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        spawn_function(binary, env).wait_with_output(),
    )
    .await
    .expect("the process ends by itself")
    .expect("output");
    assert!(!output.status.success(), "the start was not refused");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The sample event `events/<binary>.json` of the repository, as text.
pub fn sample_event(binary: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../events/{binary}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the function binary at `binary` as Lambda would, with `event` as its one invocation,
/// `data_dir` as its data folder and `extra_env` on top of [`lambda_env`]; returns what it
/// answered in API Gateway's response format. Panics if it fails the invocation or does not
/// answer within 30 seconds.
pub async fn invoke_once(
    binary: &Path,
    event: &str,
    data_dir: &Path,
    extra_env: &[(&str, &str)],
) -> Value {
    let runtime = FakeRuntimeApi::start().await;
    runtime.queue("req-1", event);
    let mut env = lambda_env(&runtime, data_dir);
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let _process = spawn_function(binary, &env);
    match runtime.outcome("req-1", Duration::from_secs(30)).await {
        Some(Outcome::Response(response)) => response,
        other => panic!("{} answered {other:?}", binary.display()),
    }
}

/// Runs the function binary at `binary` once with `events/<sample>.json` over an empty data
/// folder, as Lambda would; returns the status and the JSON body of its answer.
pub async fn answer_to_sample(binary: &Path, sample: &str) -> (u64, Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let response = invoke_once(binary, &sample_event(sample), dir.path(), &[]).await;
    let status = response["statusCode"].as_u64().unwrap_or_default();
    let body = response["body"]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    (status, body)
}
