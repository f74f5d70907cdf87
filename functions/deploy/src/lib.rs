//! The pre-traffic hook of a release: before CodeDeploy moves any `live` alias to the
//! versions a deploy just published, it invokes this function, which calls the new versions
//! of `healthz` and of a read route (`courses-list`) with their sample events and tells
//! CodeDeploy whether they answered 200. A version that does not answer stops the whole
//! deploy before a single user request reaches it; the aliases stay where they were.
//!
//! CodeDeploy waits (up to an hour) for the status this hook reports, so the hook reports
//! one in every case: a check that fails, a hook that is not configured, or a check that
//! panics all end as `Failed`, never as silence.

pub mod codedeploy;
pub mod lambda_invoke;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use serde::Deserialize;
use serde_json::Value;

/// What CodeDeploy sends a lifecycle hook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HookEvent {
    /// The deployment under way (`d-...`).
    pub deployment_id: String,
    /// This hook execution: the id the status is reported for.
    pub lifecycle_event_hook_execution_id: String,
}

/// The verdict reported to CodeDeploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStatus {
    /// The new versions answered: traffic may move.
    Succeeded,
    /// They did not (or the hook could not tell): the deploy stops and rolls back.
    Failed,
}

impl HookStatus {
    /// The name CodeDeploy's API takes.
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Succeeded => "Succeeded",
            HookStatus::Failed => "Failed",
        }
    }
}

/// What a synchronous Lambda invocation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoked {
    /// `Unhandled` (or a handled error's name) when the function failed instead of
    /// returning; its payload is then the error, not a response.
    pub function_error: Option<String>,
    /// The function's result: here an API Gateway response.
    pub payload: Vec<u8>,
}

/// Calls one version of a function and waits for its result.
#[async_trait]
pub trait InvokeFunction: Send + Sync {
    /// Invokes `function` (an ARN with its version) with `payload`; `Err` when Lambda
    /// itself refused or did not answer (the text says why).
    async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Invoked, String>;
}

/// Tells CodeDeploy how the hook went.
#[async_trait]
pub trait ReportHookStatus: Send + Sync {
    /// Reports `status` for `hook`; `Err` when CodeDeploy refused or did not answer.
    async fn report(&self, hook: &HookEvent, status: HookStatus) -> Result<(), String>;
}

/// One version to call and the request it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The function's ARN with the version number this deploy published.
    pub function: String,
    /// Its sample event, an API Gateway HTTP API request.
    pub event: Value,
}

/// Why a release may not go out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckFailure {
    /// The hook lacks a setting template.yaml gives it.
    #[error("{0} is not set: the hook does not know which version to check")]
    Unconfigured(&'static str),
    /// Lambda did not run the version.
    #[error("invoking {function}: {detail}")]
    Invoke {
        /// The version.
        function: String,
        /// What Lambda said.
        detail: String,
    },
    /// The version ran and failed (a panic, a timeout, a start-up refused).
    #[error("{function} failed with {kind}")]
    FunctionError {
        /// The version.
        function: String,
        /// Lambda's name for the failure (`Unhandled`).
        kind: String,
    },
    /// The version answered, but not 200.
    #[error("{function} answered {status}")]
    Status {
        /// The version.
        function: String,
        /// The status it answered (0 when the payload had none).
        status: u16,
    },
    /// The check itself panicked.
    #[error("the check panicked: {0}")]
    Panicked(String),
}

/// The sample event of `GET /healthz`.
pub const HEALTHZ_EVENT: &str = include_str!("../../../events/healthz.json");
/// The sample event of `GET /v1/courses` (a public read, through the table).
pub const COURSES_LIST_EVENT: &str = include_str!("../../../events/courses-list.json");

/// The versions to check, from `HEALTH_FUNCTION_VERSION` and `READ_FUNCTION_VERSION`; with
/// `ORIGIN_VERIFY_SECRET` set each event carries it in `x-origin-verify`, as CloudFront
/// adds it, or the functions would refuse the check.
pub fn targets(get: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Target>, CheckFailure> {
    let origin_verify = get("ORIGIN_VERIFY_SECRET").filter(|s| !s.trim().is_empty());
    [
        ("HEALTH_FUNCTION_VERSION", HEALTHZ_EVENT),
        ("READ_FUNCTION_VERSION", COURSES_LIST_EVENT),
    ]
    .into_iter()
    .map(|(variable, sample)| {
        let function = get(variable)
            .filter(|v| !v.trim().is_empty())
            .ok_or(CheckFailure::Unconfigured(variable))?;
        let mut event: Value = serde_json::from_str(sample).expect("the samples are JSON");
        if let (Some(secret), Some(headers)) = (&origin_verify, event["headers"].as_object_mut()) {
            headers.insert("x-origin-verify".into(), Value::String(secret.clone()));
        }
        Ok(Target { function, event })
    })
    .collect()
}

/// Calls every target and checks that each answered 200; the first failure is the verdict.
pub async fn check(invoker: &dyn InvokeFunction, targets: &[Target]) -> Result<(), CheckFailure> {
    for target in targets {
        let function = target.function.clone();
        let payload = serde_json::to_vec(&target.event).expect("a JSON value serializes");
        let invoked =
            invoker
                .invoke(&function, payload)
                .await
                .map_err(|detail| CheckFailure::Invoke {
                    function: function.clone(),
                    detail,
                })?;
        if let Some(kind) = invoked.function_error {
            return Err(CheckFailure::FunctionError { function, kind });
        }
        let status = serde_json::from_slice::<Value>(&invoked.payload)
            .ok()
            .and_then(|response| response["statusCode"].as_u64())
            .and_then(|code| u16::try_from(code).ok())
            .unwrap_or(0);
        if status != 200 {
            return Err(CheckFailure::Status { function, status });
        }
        tracing::info!(function = %target.function, "the new version answered 200");
    }
    Ok(())
}

/// Tries to report a status this many times in all.
const REPORT_ATTEMPTS: usize = 4;

/// Runs the check on `targets` (or takes the configuration's failure) and reports the
/// verdict for `hook`, whatever happened, retrying the report with backoff. `Err` only when
/// CodeDeploy never took the report: the invocation then fails and Lambda retries it.
pub async fn handle(
    hook: &HookEvent,
    targets: Result<Vec<Target>, CheckFailure>,
    invoker: Arc<dyn InvokeFunction>,
    reporter: &dyn ReportHookStatus,
) -> Result<HookStatus, String> {
    let verdict = match targets {
        Err(unconfigured) => Err(unconfigured),
        // On a task of its own, so a panic in the check is a failed release, not a lost
        // report.
        Ok(targets) => tokio::spawn(async move { check(invoker.as_ref(), &targets).await })
            .await
            .unwrap_or_else(|joined| Err(CheckFailure::Panicked(joined.to_string()))),
    };
    let status = match &verdict {
        Ok(()) => HookStatus::Succeeded,
        Err(failure) => {
            tracing::error!(deployment_id = %hook.deployment_id, error = %failure, "pre-traffic check failed: the deploy stops");
            HookStatus::Failed
        }
    };
    (|| reporter.report(hook, status))
        .retry(
            ExponentialBuilder::new()
                .with_min_delay(Duration::from_millis(200))
                .with_max_times(REPORT_ATTEMPTS - 1),
        )
        .notify(|error, pause| {
            tracing::warn!(error = %error, retry_in_ms = pause.as_millis() as u64, "CodeDeploy did not take the hook's status; trying again");
        })
        .await?;
    tracing::info!(deployment_id = %hook.deployment_id, status = status.as_str(), "hook status reported");
    Ok(status)
}

/// The longest one invocation of a new version may take: a cold start and one table read,
/// with room to spare (the functions' own timeout is 10 s).
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(20);

/// The `main` of `pre-traffic-check`: the two clients, then one [`handle`] per event.
pub async fn run() -> Result<(), lambda_http::Error> {
    runcrew_shared::function::begin("pre-traffic-check")?;
    let sdk = runcrew_shared::aws::sdk_config(
        runcrew_shared::app::aws_timeouts(),
        runcrew_shared::aws::AwsTrust::AmazonRoots,
    )
    .await;
    let invoker: Arc<dyn InvokeFunction> =
        Arc::new(lambda_invoke::LambdaInvoker::from_sdk_config(&sdk, None));
    let reporter = codedeploy::CodeDeployReporter::from_sdk_config(&sdk, None);
    let reporter = &reporter;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::lambda_runtime::LambdaEvent<HookEvent>| {
            let invoker = invoker.clone();
            async move {
                let targets = targets(&|name| std::env::var(name).ok());
                handle(&event.payload, targets, invoker, reporter)
                    .await
                    .map(|status| serde_json::json!({ "status": status.as_str() }))
            }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const VERSIONS: &[(&str, &str)] = &[
        (
            "HEALTH_FUNCTION_VERSION",
            "arn:aws:lambda:us-east-1:1:function:h:7",
        ),
        (
            "READ_FUNCTION_VERSION",
            "arn:aws:lambda:us-east-1:1:function:r:7",
        ),
    ];

    #[test]
    fn the_checked_versions_get_the_healthz_and_course_list_samples() {
        let targets = targets(&env(VERSIONS)).expect("configured");
        assert_eq!(targets[0].function, VERSIONS[0].1);
        assert_eq!(targets[0].event["rawPath"], "/healthz");
        assert_eq!(targets[1].event["rawPath"], "/v1/courses");
        assert!(targets[0].event["headers"].get("x-origin-verify").is_none());
    }

    #[test]
    fn behind_the_edge_the_samples_carry_the_origin_verify_header() {
        let targets = targets(&env(&[
            ("HEALTH_FUNCTION_VERSION", "h:7"),
            ("READ_FUNCTION_VERSION", "r:7"),
            (
                "ORIGIN_VERIFY_SECRET",
                "origin-verify-secret-of-32-bytes-or-more",
            ),
        ]))
        .expect("configured");
        for target in targets {
            assert_eq!(
                target.event["headers"]["x-origin-verify"],
                "origin-verify-secret-of-32-bytes-or-more"
            );
        }
    }

    #[test]
    fn a_missing_version_names_its_variable() {
        let failure =
            targets(&env(&[("HEALTH_FUNCTION_VERSION", "h:7")])).expect_err("unconfigured");
        assert_eq!(failure, CheckFailure::Unconfigured("READ_FUNCTION_VERSION"));
        assert!(failure.to_string().contains("READ_FUNCTION_VERSION"));
    }
}
