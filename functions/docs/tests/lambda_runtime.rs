//! The real `api-description` binary, run as Lambda runs it against a loopback Lambda
//! Runtime API with its sample event.

use std::path::Path;

use runcrew_lambda_fake::{invoke_once, sample_event};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_api-description");

#[tokio::test]
async fn the_binary_answers_the_description_naming_the_deployment_that_serves_it() {
    let dir = tempfile::tempdir().expect("tempdir");

    let response = invoke_once(
        Path::new(BINARY),
        &sample_event("api-description"),
        dir.path(),
        &[],
    )
    .await;

    assert_eq!(response["statusCode"], 200, "{response}");
    let description: Value =
        serde_json::from_str(response["body"].as_str().expect("text body")).expect("json body");
    assert_eq!(description["openapi"], "3.1.0");
    assert_eq!(description["servers"][0]["url"], "http://127.0.0.1:3000");
    assert!(description["paths"]["/openapi.json"]["get"].is_object());
}

#[tokio::test]
async fn with_api_docs_off_the_route_reads_as_absent() {
    let dir = tempfile::tempdir().expect("tempdir");

    let response = invoke_once(
        Path::new(BINARY),
        &sample_event("api-description"),
        dir.path(),
        &[("API_DOCS", "false")],
    )
    .await;

    assert_eq!(response["statusCode"], 404, "{response}");
}
