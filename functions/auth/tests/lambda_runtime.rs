//! The real `auth-login` and `auth-logout` binaries, run as Lambda runs them against a
//! loopback Lambda Runtime API with their sample events, over one data folder.

use std::path::Path;

use runcrew_lambda_fake::{invoke_once, sample_event};
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
