//! The real `followers-list` binary, run as Lambda runs it against a loopback Lambda Runtime API
//! with its sample event.

use std::path::Path;

use runcrew_lambda_fake::{invoke_once, sample_event};
use serde_json::Value;

#[tokio::test]
async fn the_followers_list_binary_answers_404_in_the_envelope_for_an_unknown_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let response = invoke_once(
        Path::new(env!("CARGO_BIN_EXE_followers-list")),
        &sample_event("followers-list"),
        dir.path(),
        &[],
    )
    .await;
    assert_eq!(response["statusCode"], 404, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().expect("text")).expect("json");
    assert_eq!(body["error"]["code"], "user_not_found");
}
