//! How a handler becomes a Lambda function, and how the local gateway calls the same one.
//!
//! A handler is a plain `async fn(&App, Request) -> Result<Response, ApiError>`. The
//! [`HttpFunction`] wrapper is the one place that turns errors into the envelope, adds the
//! security headers and writes the access log line, on AWS and on a laptop alike.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use lambda_http::{Body, Request, Response, service_fn};

use crate::app::{App, Needs};
use crate::error::ApiError;
use crate::{request, response, telemetry};

/// The CloudWatch namespace of the functions' own metrics.
pub const METRICS_NAMESPACE: &str = "RunCrew";

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// What a handler returns, boxed so the handler fits an [`HttpHandler`] pointer; an `Err`
/// becomes the envelope in [`HttpFunction::call`].
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>>;

/// A handler as a plain function pointer, so a registry can list them.
pub type HttpHandler = for<'a> fn(&'a App, Request) -> HandlerFuture<'a>;

/// One HTTP-triggered Lambda function: its cargo-lambda binary name, the ports it builds,
/// and its handler.
#[derive(Clone, Copy)]
pub struct HttpFunction {
    /// The `Binary` build property in template.yaml and the `src/bin/<binary>.rs` name.
    pub binary: &'static str,
    /// The ports [`run_http`] builds before the first request (the local gateway builds
    /// them all).
    pub needs: Needs,
    /// Called once per request through [`HttpFunction::call`], which turns its errors into
    /// the envelope.
    pub handler: HttpHandler,
}

impl std::fmt::Debug for HttpFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFunction")
            .field("binary", &self.binary)
            .field("needs", &self.needs)
            .finish()
    }
}

impl HttpFunction {
    /// Runs the handler: never fails, errors become the envelope, every response gets the
    /// security headers, and one access line is logged.
    pub async fn call(&self, app: &App, req: Request) -> Response<Body> {
        self.call_timed(app, req).await.0
    }

    /// [`HttpFunction::call`], also returning the handler's latency in milliseconds.
    async fn call_timed(&self, app: &App, req: Request) -> (Response<Body>, f64) {
        let started = Instant::now();
        let request_id = request::request_id(&req);
        let route = request::route_key(&req);
        let method = req.method().to_string();
        let outcome = match origin_verified(&app.config, &req) {
            Ok(()) => (self.handler)(app, req).await,
            Err(refused) => Err(refused),
        };
        let (mut resp, code, detail) = match outcome {
            Ok(resp) => (resp, None, None),
            Err(err) => {
                let resp = response::error(&err, &request_id);
                let detail = resp.status().is_server_error().then(|| match &err {
                    ApiError::Internal(detail) => detail.clone(),
                    other => other.to_string(),
                });
                (resp, Some(err.code()), detail)
            }
        };
        response::add_security_headers(resp.headers_mut());
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        telemetry::access_log(&telemetry::AccessLine {
            function: self.binary,
            request_id: &request_id,
            method: &method,
            route: &route,
            status: resp.status().as_u16(),
            latency_ms,
            code,
            detail: detail.as_deref(),
            traced: telemetry::sampled(&request_id, app.config.traces_sample_rate),
        });
        (resp, latency_ms)
    }
}

/// With `ORIGIN_VERIFY_SECRET` set, the request must carry it in `X-Origin-Verify` (the
/// header CloudFront adds), compared in constant time, or it is refused with 403: a caller
/// who found the API's own address cannot go around the edge's WAF and rate limit. The
/// public key documents under `/.well-known/` are exempt: API Gateway's JWT authorizer
/// fetches them from the issuer URL without the header, and they are public anyway.
pub fn origin_verified(config: &crate::config::Config, req: &Request) -> Result<(), ApiError> {
    use subtle::ConstantTimeEq as _;
    let Some(secret) = &config.origin_verify_secret else {
        return Ok(());
    };
    if req.uri().path().starts_with("/.well-known/") {
        return Ok(());
    }
    let sent = request::header(req, "x-origin-verify").unwrap_or_default();
    let expected = secrecy::ExposeSecret::expose_secret(secret);
    if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "requests reach this API through its public address only".into(),
        ))
    }
}

/// The first thing every function's `main` does, before it builds anything: name lookups
/// kept inside a statically linked binary (`runcrew_nss` says why), then logging. A lookup
/// configuration glibc refuses stops the start, logged once and naming the function.
pub fn begin(binary: &str) -> Result<(), lambda_http::Error> {
    let lookups = runcrew_nss::keep_lookups_inside_the_binary();
    telemetry::init();
    lookups.map_err(|err| {
        tracing::error!(function = binary, error = %err, "start-up refused");
        err.into()
    })
}

/// The start of every function's `main`, whatever its kind: logging, then the ports it
/// needs, built once per container. A refused configuration stops the start with every
/// problem listed (and logged once, naming the function).
pub async fn start(binary: &str, needs: Needs) -> Result<Arc<App>, lambda_http::Error> {
    begin(binary)?;
    App::from_env(needs).await.map(Arc::new).map_err(|err| {
        tracing::error!(function = binary, error = %err, "start-up refused");
        err.into()
    })
}

/// The `main` of an HTTP function: logging, the ports (once), then the Lambda runtime.
/// A refused configuration stops the start with every problem listed.
pub async fn run_http(function: &'static HttpFunction) -> Result<(), lambda_http::Error> {
    let app = crate::function::start(function.binary, function.needs).await?;
    lambda_http::run(service_fn(move |req: Request| {
        let app = app.clone();
        async move {
            let (response, latency_ms) = function.call_timed(&app, req).await;
            // On Lambda, CloudWatch turns these lines into per-function latency and error
            // metrics with no API call; alarms on 5xx and p99 latency read them.
            let class = status_class(response.status().as_u16());
            let dimensions = [("Function", function.binary), ("StatusClass", class)];
            telemetry::emit_metric(
                METRICS_NAMESPACE,
                "Latency",
                latency_ms,
                telemetry::Unit::Milliseconds,
                &dimensions,
            );
            Ok::<_, std::convert::Infallible>(response)
        }
    }))
    .await
}

/// Why a background task did not finish. The invocation fails, so Lambda retries it (an
/// asynchronous S3 event twice, with backoff) and then hands it to the dead-letter queue;
/// nothing is dropped silently. Inputs that can never succeed are not errors: the task
/// logs why it refused them and returns `Ok`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TaskError(pub String);

impl From<ApiError> for TaskError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Internal(detail) => TaskError(detail),
            other => TaskError(other.to_string()),
        }
    }
}

/// What an S3-triggered task returns.
pub type TaskFuture<'a> = Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send + 'a>>;

/// An S3 event handler as a plain function pointer, so a registry can list them.
pub type S3Handler = for<'a> fn(&'a App, aws_lambda_events::s3::S3Event) -> TaskFuture<'a>;

/// One S3-triggered Lambda function (e.g. `thumbnails`): its binary, ports and handler.
/// The local gateway calls the same handler after it stores a file.
#[derive(Clone, Copy)]
pub struct S3Function {
    /// The `Binary` build property in template.yaml and the `src/bin/<binary>.rs` name.
    pub binary: &'static str,
    /// The ports [`run_s3`] builds before the first event.
    pub needs: Needs,
    /// Called once per event, which may hold several records; an `Err` fails the invocation
    /// so Lambda retries it.
    pub handler: S3Handler,
}

impl std::fmt::Debug for S3Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Function")
            .field("binary", &self.binary)
            .field("needs", &self.needs)
            .finish()
    }
}

impl S3Function {
    /// Runs the handler and logs the outcome once.
    pub async fn call(
        &self,
        app: &App,
        event: aws_lambda_events::s3::S3Event,
    ) -> Result<(), TaskError> {
        let started = Instant::now();
        let records = event.records.len();
        let trace = crate::tasks::InvocationTrace::begin(
            app,
            self.binary,
            "s3.process",
            &event_key(&event),
        );
        let result = (self.handler)(app, event).await;
        trace.end(result.is_err());
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(()) => tracing::info!(
                function = self.binary,
                records,
                latency_ms,
                "s3 event handled"
            ),
            Err(err) => tracing::error!(
                function = self.binary,
                records,
                latency_ms,
                error = %err,
                "s3 event failed; it will be retried"
            ),
        }
        result
    }
}

/// What decides whether an S3 event is traced: its first object's key and sequencer.
fn event_key(event: &aws_lambda_events::s3::S3Event) -> String {
    event
        .records
        .first()
        .map(|record| {
            format!(
                "{}{}",
                record.s3.object.key.as_deref().unwrap_or_default(),
                record.s3.object.sequencer.as_deref().unwrap_or_default()
            )
        })
        .unwrap_or_default()
}

/// The `main` of an S3-triggered function: logging, the ports (once), then the runtime.
pub async fn run_s3(function: &'static S3Function) -> Result<(), lambda_http::Error> {
    let app = crate::function::start(function.binary, function.needs).await?;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: lambda_http::LambdaEvent<aws_lambda_events::s3::S3Event>| {
            let app = app.clone();
            async move {
                function
                    .call(&app, event.payload)
                    .await
                    .map_err(lambda_http::Error::from)
            }
        },
    ))
    .await
}
