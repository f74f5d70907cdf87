//! The real `users-get` binary, run as Lambda runs it against a loopback Lambda Runtime API
//! with its sample event.

use std::path::Path;
use std::time::Duration;

use runcrew_lambda_fake::{FakeRuntimeApi, Outcome, lambda_env, spawn_function};
use serde_json::Value;

#[tokio::test]
async fn the_users_get_binary_answers_404_in_the_envelope_for_an_unknown_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/users-get.json"),
    )
    .expect("sample");
    let runtime = FakeRuntimeApi::start().await;
    runtime.queue("req-1", &sample);
    let env = lambda_env(&runtime, dir.path());
    let _process = spawn_function(Path::new(env!("CARGO_BIN_EXE_users-get")), &env);
    let response = match runtime.outcome("req-1", Duration::from_secs(30)).await {
        Some(Outcome::Response(response)) => response,
        other => panic!("users-get answered {other:?}"),
    };
    assert_eq!(response["statusCode"], 404, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().expect("text")).expect("json");
    assert_eq!(body["error"]["code"], "user_not_found");
    assert_eq!(body["error"]["request_id"], "Zx1bQhJ7oAMEbKw=");
}
