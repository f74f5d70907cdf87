//! The real `auth-login` and `auth-logout` binaries, run as Lambda runs them against a
//! loopback Lambda Runtime API with their sample events, over one data folder; and a login
//! function that cannot build its providers' HTTPS client refuses to start.

use std::path::Path;
use std::time::Duration;

use runcrew_lambda_fake::{FakeRuntimeApi, invoke_once, lambda_env, refused_start, sample_event};
use serde_json::Value;

#[tokio::test]
async fn the_login_binary_logs_alice_in_and_the_logout_binary_ends_a_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let login = invoke_once(
        Path::new(env!("CARGO_BIN_EXE_auth-login")),
        &sample_event("auth-login"),
        dir.path(),
        &[],
    )
    .await;
    assert_eq!(login["statusCode"], 201, "{login}");
    let body: Value =
        serde_json::from_str(login["body"].as_str().expect("text body")).expect("json body");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() > 100));
    assert_eq!(login["headers"]["cache-control"], "no-store");

    let logout = invoke_once(
        Path::new(env!("CARGO_BIN_EXE_auth-logout")),
        &sample_event("auth-logout"),
        dir.path(),
        &[],
    )
    .await;
    assert_eq!(logout["statusCode"], 204, "{logout}");
}

#[tokio::test]
async fn a_login_function_without_ca_certificates_refuses_to_start() {
    // given Kakao login enabled, but no CA certificate to build an HTTPS client with
    let runtime = FakeRuntimeApi::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let empty_bundle = dir.path().join("empty-bundle.pem");
    std::fs::write(&empty_bundle, "").expect("empty bundle");
    let empty_dir = dir.path().join("no-certs");
    std::fs::create_dir(&empty_dir).expect("empty folder");
    runtime.queue("req-1", &sample_event("auth-login"));
    let mut env = lambda_env(&runtime, dir.path());
    env.extend(
        [
            ("KAKAO_APP_ID", "1111".to_owned()),
            ("SSL_CERT_FILE", empty_bundle.display().to_string()),
            ("SSL_CERT_DIR", empty_dir.display().to_string()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    // when it starts, then it exits saying why, rather than serving logins with a client
    // stripped of its timeouts (or none at all)
    let logs = refused_start(Path::new(env!("CARGO_BIN_EXE_auth-login")), &env).await;
    assert!(logs.contains("start-up refused"), "{logs}");
    assert!(
        logs.contains("HTTPS client of the login providers cannot be built"),
        "{logs}"
    );
    assert!(!logs.contains("panicked"), "{logs}");
    assert_eq!(
        runtime.outcome("req-1", Duration::from_millis(100)).await,
        None
    );
}
