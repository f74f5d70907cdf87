//! The pre-traffic hook against loopback fakes of Lambda's Invoke API and CodeDeploy: what
//! a release sees when its new versions answer, fail, or cannot be checked at all.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use runcrew_deploy::codedeploy::CodeDeployReporter;
use runcrew_deploy::lambda_invoke::LambdaInvoker;
use runcrew_deploy::{HookEvent, HookStatus, InvokeFunction, Invoked, Target, handle, targets};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HEALTH: &str = "arn:aws:lambda:us-east-1:123456789012:function:runcrew-dev-healthz:7";
const READ: &str = "arn:aws:lambda:us-east-1:123456789012:function:runcrew-dev-courses-list:7";

fn sdk_config() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "tests",
        )))
        .build()
}

fn hook() -> HookEvent {
    serde_json::from_value(json!({
        "DeploymentId": "d-4XJ2K9Q7B",
        "LifecycleEventHookExecutionId": "eyJlbmNyeXB0ZWREYXRhIjoiYWJjIn0="
    }))
    .expect("CodeDeploy's hook event")
}

fn versions(name: &str) -> Option<String> {
    match name {
        "HEALTH_FUNCTION_VERSION" => Some(HEALTH.into()),
        "READ_FUNCTION_VERSION" => Some(READ.into()),
        _ => None,
    }
}

/// Lambda answering `function` (matched in the request path) with an API Gateway response
/// of `status`, or failing with `function_error`.
async fn lambda_answers(lambda: &MockServer, function: &str, status: u16, function_error: bool) {
    let mut reply = ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .insert_header("x-amz-executed-version", "7")
        .set_body_json(json!({"statusCode": status, "headers": {}, "body": "{}"}));
    if function_error {
        reply = ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .insert_header("x-amz-function-error", "Unhandled")
            .set_body_json(json!({"errorType": "Runtime.ExitError", "errorMessage": "exited"}));
    }
    Mock::given(method("POST"))
        .and(path_regex(format!(
            "^/2015-03-31/functions/.*{function}.*/invocations$"
        )))
        .respond_with(reply)
        .mount(lambda)
        .await;
}

async fn codedeploy() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header(
            "x-amz-target",
            "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-amz-json-1.1")
                .set_body_json(
                    json!({"lifecycleEventHookExecutionId": "eyJlbmNyeXB0ZWREYXRhIjoiYWJjIn0="}),
                ),
        )
        .mount(&server)
        .await;
    server
}

/// The statuses CodeDeploy was told, in order.
async fn reported(codedeploy: &MockServer) -> Vec<Value> {
    codedeploy
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON 1.1 body"))
        .collect()
}

async fn run_hook(lambda: &MockServer, codedeploy: &MockServer) -> Result<HookStatus, String> {
    let invoker = Arc::new(LambdaInvoker::from_sdk_config(
        &sdk_config(),
        Some(&lambda.uri()),
    ));
    let reporter = CodeDeployReporter::from_sdk_config(&sdk_config(), Some(&codedeploy.uri()));
    handle(&hook(), targets(&versions), invoker, &reporter).await
}

#[tokio::test]
async fn a_release_whose_new_versions_answer_200_is_let_through() {
    // given new healthz and courses-list versions that answer 200
    let lambda = MockServer::start().await;
    lambda_answers(&lambda, "healthz", 200, false).await;
    lambda_answers(&lambda, "courses-list", 200, false).await;
    let codedeploy = codedeploy().await;

    // when CodeDeploy runs the hook
    let status = run_hook(&lambda, &codedeploy).await.expect("reported");

    // then both versions got their sample request, and CodeDeploy heard Succeeded
    assert_eq!(status, HookStatus::Succeeded);
    let invoked = lambda.received_requests().await.expect("recorded");
    assert_eq!(invoked.len(), 2);
    let first: Value = serde_json::from_slice(&invoked[0].body).expect("event");
    assert_eq!(first["rawPath"], "/healthz");
    let second: Value = serde_json::from_slice(&invoked[1].body).expect("event");
    assert_eq!(second["routeKey"], "GET /v1/courses");
    assert_eq!(
        reported(&codedeploy).await,
        [json!({
            "deploymentId": "d-4XJ2K9Q7B",
            "lifecycleEventHookExecutionId": "eyJlbmNyeXB0ZWREYXRhIjoiYWJjIn0=",
            "status": "Succeeded"
        })]
    );
}

#[tokio::test]
async fn a_read_route_that_answers_500_stops_the_release() {
    let lambda = MockServer::start().await;
    lambda_answers(&lambda, "healthz", 200, false).await;
    lambda_answers(&lambda, "courses-list", 500, false).await;
    let codedeploy = codedeploy().await;

    let status = run_hook(&lambda, &codedeploy).await.expect("reported");

    assert_eq!(status, HookStatus::Failed);
    assert_eq!(reported(&codedeploy).await[0]["status"], "Failed");
}

#[tokio::test]
async fn a_version_that_crashes_stops_the_release_before_the_next_is_called() {
    let lambda = MockServer::start().await;
    lambda_answers(&lambda, "healthz", 200, true).await;
    lambda_answers(&lambda, "courses-list", 200, false).await;
    let codedeploy = codedeploy().await;

    let status = run_hook(&lambda, &codedeploy).await.expect("reported");

    assert_eq!(status, HookStatus::Failed);
    assert_eq!(lambda.received_requests().await.expect("recorded").len(), 1);
    assert_eq!(reported(&codedeploy).await[0]["status"], "Failed");
}

#[tokio::test]
async fn a_hook_without_its_versions_configured_still_reports_failed() {
    let codedeploy = codedeploy().await;
    let reporter = CodeDeployReporter::from_sdk_config(&sdk_config(), Some(&codedeploy.uri()));
    let lambda = MockServer::start().await;
    let invoker = Arc::new(LambdaInvoker::from_sdk_config(
        &sdk_config(),
        Some(&lambda.uri()),
    ));

    let status = handle(&hook(), targets(&|_| None), invoker, &reporter)
        .await
        .expect("reported");

    assert_eq!(status, HookStatus::Failed);
    assert_eq!(reported(&codedeploy).await[0]["status"], "Failed");
    assert!(
        lambda
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}

struct Panics;

#[async_trait]
impl InvokeFunction for Panics {
    async fn invoke(&self, _function: &str, _payload: Vec<u8>) -> Result<Invoked, String> {
        panic!("a bug in the check");
    }
}

#[tokio::test]
async fn a_check_that_panics_is_reported_as_failed_not_left_to_time_out() {
    let codedeploy = codedeploy().await;
    let reporter = CodeDeployReporter::from_sdk_config(&sdk_config(), Some(&codedeploy.uri()));
    let target = Target {
        function: HEALTH.into(),
        event: json!({}),
    };

    let status = handle(&hook(), Ok(vec![target]), Arc::new(Panics), &reporter)
        .await
        .expect("reported");

    assert_eq!(status, HookStatus::Failed);
    assert_eq!(reported(&codedeploy).await[0]["status"], "Failed");
}

#[tokio::test]
async fn when_codedeploy_is_unreachable_the_invocation_fails_so_lambda_retries_it() {
    let lambda = MockServer::start().await;
    lambda_answers(&lambda, "healthz", 200, false).await;
    lambda_answers(&lambda, "courses-list", 200, false).await;
    let invoker = Arc::new(LambdaInvoker::from_sdk_config(
        &sdk_config(),
        Some(&lambda.uri()),
    ));
    let reporter = CodeDeployReporter::from_sdk_config(&sdk_config(), Some("http://127.0.0.1:9"));

    let outcome = handle(&hook(), targets(&versions), invoker, &reporter).await;

    assert!(outcome.is_err(), "{outcome:?}");
}
