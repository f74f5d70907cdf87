//! The real `auth-login` and `auth-logout` binaries, run as Lambda runs them against a
//! loopback Lambda Runtime API with their sample events, over one data folder.

use std::path::Path;
use std::time::Duration;

use runcrew_lambda_fake::{FakeRuntimeApi, Outcome, lambda_env, spawn_function};
use serde_json::Value;

async fn invoke(binary: &str, path: &str, data_dir: &Path) -> Value {
    let sample = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../events/{binary}.json")),
    )
    .expect("sample");
    let runtime = FakeRuntimeApi::start().await;
    runtime.queue("req-1", &sample);
    let env = lambda_env(&runtime, data_dir);
    let _process = spawn_function(Path::new(path), &env);
    match runtime.outcome("req-1", Duration::from_secs(30)).await {
        Some(Outcome::Response(response)) => response,
        other => panic!("{binary} answered {other:?}"),
    }
}

#[tokio::test]
async fn the_login_binary_logs_alice_in_and_the_logout_binary_ends_a_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let login = invoke("auth-login", env!("CARGO_BIN_EXE_auth-login"), dir.path()).await;
    assert_eq!(login["statusCode"], 201, "{login}");
    let body: Value =
        serde_json::from_str(login["body"].as_str().expect("text body")).expect("json body");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() > 100));
    assert_eq!(login["headers"]["cache-control"], "no-store");

    let logout = invoke("auth-logout", env!("CARGO_BIN_EXE_auth-logout"), dir.path()).await;
    assert_eq!(logout["statusCode"], 204, "{logout}");
}
