//! Health checks: liveness without dependencies, readiness against the table and bucket.

use lambda_http::{Body, Request, Response};
use runcrew_shared::error::DEPENDENCY_RETRY_AFTER_SECONDS;
use runcrew_shared::{ApiError, App, HandlerFuture, HttpFunction, Needs, response};
use serde::Serialize;

/// How long readiness waits for each dependency: a stalled table or bucket makes the check
/// fail fast (and says which one stalled) instead of hanging until it resumes, which would
/// hide the stall from a load balancer or a deploy's smoke test.
pub const CHECK_BUDGET: std::time::Duration = std::time::Duration::from_secs(1);

/// `GET /healthz`: builds nothing, so it answers even when every dependency is down.
pub static HEALTHZ: HttpFunction = HttpFunction {
    binary: "healthz",
    needs: Needs::NOTHING,
    handler: healthz_handler,
};

/// `GET /readyz`: one round trip each to the table and the bucket.
pub static READYZ: HttpFunction = HttpFunction {
    binary: "readyz",
    needs: Needs::NOTHING.store().blobs(),
    handler: readyz_handler,
};

/// Every function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[&HEALTHZ, &READYZ];

#[derive(Serialize)]
struct Health<'a> {
    status: &'a str,
    version: &'a str,
    environment: &'a str,
}

fn healthz_handler(app: &App, req: Request) -> HandlerFuture<'_> {
    Box::pin(healthz(app, req))
}

fn readyz_handler(app: &App, req: Request) -> HandlerFuture<'_> {
    Box::pin(readyz(app, req))
}

/// Liveness: `{status, version, environment}`.
pub async fn healthz(app: &App, _req: Request) -> Result<Response<Body>, ApiError> {
    let mut resp = response::ok(&Health {
        status: "ok",
        version: &app.config.version,
        environment: app.config.environment.as_str(),
    })?;
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

#[derive(Serialize)]
struct Check {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

#[derive(Serialize)]
struct Readiness<'a> {
    status: &'static str,
    version: &'a str,
    environment: &'a str,
    checks: Checks,
}

#[derive(Serialize)]
struct Checks {
    table: Check,
    bucket: Check,
}

/// What one dependency's check came to.
enum Outcome {
    Ok,
    Failed,
    Stalled,
}

impl Outcome {
    fn view(&self) -> Check {
        match self {
            Outcome::Ok => Check {
                status: "ok",
                error: None,
            },
            Outcome::Failed => Check {
                status: "unavailable",
                error: Some("unreachable"),
            },
            Outcome::Stalled => Check {
                status: "unavailable",
                error: Some("timed_out"),
            },
        }
    }
}

/// Runs one check within [`CHECK_BUDGET`], logging a failure with the dependency's name.
async fn bounded<E: std::fmt::Display>(
    dependency: &'static str,
    check: impl std::future::Future<Output = Result<(), E>>,
) -> Outcome {
    match tokio::time::timeout(CHECK_BUDGET, check).await {
        Ok(Ok(())) => Outcome::Ok,
        Ok(Err(err)) => {
            tracing::warn!(dependency, error = %err, "readiness check failed");
            Outcome::Failed
        }
        Err(_) => {
            tracing::warn!(
                dependency,
                budget_ms = CHECK_BUDGET.as_millis() as u64,
                "readiness check timed out"
            );
            Outcome::Stalled
        }
    }
}

/// Readiness: 200 when the table and the bucket both answer within [`CHECK_BUDGET`];
/// otherwise 503 with Retry-After and which of them failed (`unreachable`) or stalled
/// (`timed_out`). Both are checked at once.
pub async fn readyz(app: &App, _req: Request) -> Result<Response<Body>, ApiError> {
    let store = app.store()?;
    let blobs = app.blobs()?;
    let (table, bucket) = tokio::join!(
        bounded("table", store.ping()),
        bounded("bucket", blobs.ping())
    );
    let ready = matches!((&table, &bucket), (Outcome::Ok, Outcome::Ok));
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" },
        version: &app.config.version,
        environment: app.config.environment.as_str(),
        checks: Checks {
            table: table.view(),
            bucket: bucket.view(),
        },
    };
    if ready {
        return response::ok(&body);
    }
    let mut resp = response::json(http::StatusCode::SERVICE_UNAVAILABLE, &body)?;
    resp.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from(DEPENDENCY_RETRY_AFTER_SECONDS),
    );
    Ok(resp)
}
