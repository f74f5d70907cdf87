//! A stalled table, not a dead one: DynamoDB Local frozen with SIGSTOP while requests are
//! in flight. A dead table refuses connections at once; a frozen one accepts them and never
//! answers, which is what a network partition or an overloaded dependency looks like.
//!
//! The test freezes its own DynamoDB Local (`RUNCREW_TEST_STALL_DYNAMODB_ENDPOINT` and
//! `_PID`, started by `infra/scripts/test`), so no other test ever shares a frozen table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use runcrew_shared::app::{AWS_OPERATION_TIMEOUT, App, aws_timeouts};
use runcrew_shared::store::dynamodb::DynamoStore;
use runcrew_tests::{app_over, bearer, call, codec, config, dev_login, http, serve_app};
use serde_json::{Value, json};

/// The stall instance's endpoint and the PID to freeze; fails (never skips) without them.
fn stall_instance() -> (String, i32) {
    let read = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the tests through infra/scripts/test")
        })
    };
    let pid = read("RUNCREW_TEST_STALL_DYNAMODB_PID")
        .parse()
        .expect("a process id");
    (read("RUNCREW_TEST_STALL_DYNAMODB_ENDPOINT"), pid)
}

fn signal(pid: i32, which: &str) {
    let status = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {which} {pid}");
}

/// DynamoDB Local frozen while this lives; thawed on drop, even when an assertion fails.
struct Frozen(i32);

impl Frozen {
    fn freeze(pid: i32) -> Self {
        signal(pid, "-STOP");
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

/// The answer to one request: status, `Retry-After`, body and how long it took.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
    took: Duration,
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let response = request.send().await.expect("the gateway answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let text = response.text().await.expect("body");
    Answer {
        status,
        retry_after,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        took: started.elapsed(),
    }
}

fn new_run(url: &str, token: &str, key: &str, minutes: i64) -> reqwest::RequestBuilder {
    http()
        .post(format!("{url}/v1/runs"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&json!({
            "started_at": "2026-11-01T07:30:00+09:00",
            "duration_s": minutes * 60,
            "distance_m": 5000.0
        }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_table_answers_503_in_bounded_time_and_recovers_without_duplicates() {
    // given the API over a table of its own DynamoDB Local, and a runner with one run
    let (endpoint, pid) = stall_instance();
    let table = format!("runcrew-stall-{}", uuid::Uuid::new_v4().simple());
    // with the timeouts every function's AWS configuration carries (`Init::sdk`)
    let sdk = runcrew_tests::sdk_config()
        .into_builder()
        .timeout_config(aws_timeouts())
        .build();
    // (the table is created without them: creating one may take longer than an attempt)
    DynamoStore::from_sdk_config(
        &runcrew_tests::sdk_config(),
        Some(&endpoint),
        table.clone(),
        codec(),
    )
    .create_table()
    .await
    .expect("create the table");
    let store = DynamoStore::from_sdk_config(&sdk, Some(&endpoint), table, codec());
    let dir = tempfile::tempdir().expect("tempdir");
    let app: App = app_over(config(dir.path(), &[]), Arc::new(store));
    let api = serve_app(app).await;
    let url = api.url();
    let token = bearer(&dev_login(&api, "mina").await);
    let first = send(new_run(&url, &token, "run-0", 30)).await;
    assert_eq!(first.status, 201, "{}", first.body);

    // when the table freezes under a few concurrent requests
    let frozen = Frozen::freeze(pid);
    let (ready, a, b, c, list) = tokio::join!(
        send(http().get(format!("{url}/readyz"))),
        send(new_run(&url, &token, "run-1", 31)),
        send(new_run(&url, &token, "run-2", 32)),
        send(new_run(&url, &token, "run-3", 33)),
        send(http().get(format!("{url}/v1/runs")).bearer_auth(&token)),
    );

    // then readiness says the table stalled within its budget, and every request is a 503
    // with Retry-After within the AWS operation timeout (plus scheduling slack), not a hang
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.body["checks"]["table"]["error"], "timed_out");
    assert_eq!(ready.body["checks"]["bucket"]["status"], "ok");
    assert!(
        ready.took < Duration::from_secs(3),
        "readyz took {:?}",
        ready.took
    );
    let bound = AWS_OPERATION_TIMEOUT + Duration::from_secs(3);
    for (what, answer) in [("run-1", &a), ("run-2", &b), ("run-3", &c), ("list", &list)] {
        assert_eq!(answer.status, 503, "{what}: {}", answer.body);
        assert_eq!(
            answer.body["error"]["code"], "dependency_unavailable",
            "{what}"
        );
        assert!(answer.retry_after.is_some(), "{what}: no Retry-After");
        assert!(answer.took < bound, "{what} took {:?}", answer.took);
    }

    // when the table resumes
    drop(frozen);
    // then readiness recovers with no restart
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = send(http().get(format!("{url}/readyz"))).await;
        if ready.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still not ready: {}", ready.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // and a client retrying each key as told (Retry-After) ends with exactly one run per key
    for (key, minutes) in [("run-1", 31), ("run-2", 32), ("run-3", 33)] {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let answer = send(new_run(&url, &token, key, minutes)).await;
            match answer.status {
                200 | 201 => break,
                409 | 503 => {
                    let wait = answer
                        .retry_after
                        .unwrap_or_else(|| panic!("{key}: {} without Retry-After", answer.status));
                    assert!(Instant::now() < deadline, "{key}: {}", answer.body);
                    tokio::time::sleep(Duration::from_secs(wait.max(1))).await;
                }
                other => panic!("{key}: {other} {}", answer.body),
            }
        }
    }
    let (status, runs) = call(
        http()
            .get(format!("{url}/v1/runs?limit=50"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, 200, "{runs}");
    let mut minutes: Vec<i64> = runs["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|run| run["duration_s"].as_i64().expect("duration") / 60)
        .collect();
    minutes.sort_unstable();
    assert_eq!(minutes, vec![30, 31, 32, 33], "one run per key, none twice");
}
