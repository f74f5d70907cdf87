//! Health checks: liveness without dependencies, readiness against the table and bucket.

use lambda_http::{Body, Request, Response};
use runcrew_shared::error::DEPENDENCY_RETRY_AFTER_SECONDS;
use runcrew_shared::{ApiError, App, HandlerFuture, HttpFunction, Needs, response};
use serde::Serialize;

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

fn check(ok: bool) -> Check {
    if ok {
        Check {
            status: "ok",
            error: None,
        }
    } else {
        Check {
            status: "unavailable",
            error: Some("unreachable"),
        }
    }
}

/// Readiness: 200 when the table and the bucket both answer; otherwise 503 with
/// Retry-After and which of them failed. Both are checked at once.
pub async fn readyz(app: &App, _req: Request) -> Result<Response<Body>, ApiError> {
    let store = app.store()?;
    let blobs = app.blobs()?;
    let (table, bucket) = tokio::join!(store.ping(), blobs.ping());
    if let Err(err) = &table {
        tracing::warn!(dependency = "table", error = %err, "readiness check failed");
    }
    if let Err(err) = &bucket {
        tracing::warn!(dependency = "bucket", error = %err, "readiness check failed");
    }
    let ready = table.is_ok() && bucket.is_ok();
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" },
        version: &app.config.version,
        environment: app.config.environment.as_str(),
        checks: Checks {
            table: check(table.is_ok()),
            bucket: check(bucket.is_ok()),
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
