//! The local stand-in for API Gateway (HTTP API, payload 2.0).
//!
//! For each request it does what API Gateway does before and after a function: answer CORS
//! preflight from the template's CorsConfiguration, match the route, apply the route's
//! throttling (429), run the JWT authorizer (401), build the payload 2.0 event with the
//! verified claims in `requestContext.authorizer.jwt.claims`, invoke the function's handler
//! in process, and add CORS headers to the response. Gateway-made errors have API Gateway's
//! own `{"message": ...}` body, so clients see locally what they will see on AWS.
//!
//! It also stands in for S3 and CloudFront: `/_cdn/<key>` serves files, and
//! `/_local/uploads/<key>` accepts the presigned PUTs of the filesystem blobs adapter.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use aws_lambda_events::query_map::QueryMap;
use axum::Router;
use axum::body::{Body as AxumBody, Bytes, to_bytes};
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request as AxumRequest, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, any, get, on, put};
use base64::Engine as _;
use runcrew_shared::blobs::filesystem::{PresignedQuery, UPLOAD_PATH};
use runcrew_shared::identity::http_client;
use runcrew_shared::identity::jwks::JwksCache;
use runcrew_shared::response::add_security_headers;
use runcrew_shared::telemetry;
use runcrew_shared::tokens::stringify_claims;
use runcrew_shared::{ApiError, App, HttpFunction};
use serde_json::{Map, Value, json};

use crate::template::{ApiSpec, CorsSpec, RouteSpec, ThrottleSpec};

/// The largest request body API Gateway accepts (10 MB).
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// A disagreement between template.yaml and the handlers compiled in.
#[derive(Debug, thiserror::Error)]
#[error("template.yaml and the handler registry disagree:\n{}", .0.join("\n"))]
pub struct RegistryMismatch(pub Vec<String>);

/// Compares the template's binaries with the registry, in both directions.
pub fn check_registry(
    spec: &ApiSpec,
    registry: &[&'static HttpFunction],
) -> Result<(), RegistryMismatch> {
    let mut problems = Vec::new();
    for route in &spec.routes {
        if !registry.iter().any(|f| f.binary == route.binary) {
            problems.push(format!(
                "  - {} ({}) names Binary {:?}, which no function crate registers",
                route.route_key(),
                route.function,
                route.binary
            ));
        }
    }
    for function in registry {
        if !spec.binaries.iter().any(|b| b == function.binary) {
            problems.push(format!(
                "  - handler {:?} is registered but template.yaml has no function with that Binary",
                function.binary
            ));
        }
    }
    RegistryMismatch::from_problems(problems)
}

impl RegistryMismatch {
    /// `Ok` when there is nothing to report.
    pub fn from_problems(problems: Vec<String>) -> Result<(), RegistryMismatch> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RegistryMismatch(problems))
        }
    }
}

/// One line per template function triggered `how` (e.g. "is triggered by S3") whose
/// Binary is not among `registered`, the binaries of that kind of task compiled in: the
/// same check for every kind of task, so each says the same thing the same way.
pub fn unregistered<'a>(
    triggers: impl IntoIterator<Item = (&'a str, &'a str, String)>,
    registered: &[&str],
    kind: &str,
) -> Vec<String> {
    triggers
        .into_iter()
        .filter(|(_, binary, _)| !registered.contains(binary))
        .map(|(function, binary, how)| {
            format!(
                "  - {function} {how} with Binary {binary:?}, which no function crate registers as a {kind}"
            )
        })
        .collect()
}

/// Checks that every S3 trigger of the template has a task compiled in.
pub fn check_tasks(
    spec: &ApiSpec,
    tasks: &[&'static runcrew_shared::S3Function],
) -> Result<(), RegistryMismatch> {
    let registered: Vec<&str> = tasks.iter().map(|t| t.binary).collect();
    RegistryMismatch::from_problems(unregistered(
        spec.s3_triggers.iter().map(|t| {
            (
                t.function.as_str(),
                t.binary.as_str(),
                "is triggered by S3".to_owned(),
            )
        }),
        &registered,
        "task",
    ))
}

/// Checks that every stream consumer of the template has a task compiled in.
pub fn check_stream_tasks(
    spec: &ApiSpec,
    tasks: &[&'static runcrew_shared::tasks::stream::StreamFunction],
) -> Result<(), RegistryMismatch> {
    let registered: Vec<&str> = tasks.iter().map(|t| t.binary).collect();
    RegistryMismatch::from_problems(unregistered(
        spec.stream_triggers.iter().map(|t| {
            (
                t.function.as_str(),
                t.binary.as_str(),
                "consumes the table's stream".to_owned(),
            )
        }),
        &registered,
        "stream task",
    ))
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The gateway: the app, the template's API, the handlers, and throttling state.
pub struct Gateway {
    app: Arc<App>,
    spec: ApiSpec,
    registry: HashMap<&'static str, &'static HttpFunction>,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// External OIDC mode: the issuer's keys, found through its discovery document (`None`
    /// when no HTTP client could be built: every token is refused).
    external_keys: Option<(String, Option<JwksCache>)>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("routes", &self.spec.routes.len())
            .finish_non_exhaustive()
    }
}

fn gateway_error(status: StatusCode, message: &str) -> Response {
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

fn is_textual(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.is_empty()
        || ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("javascript")
        || ct.starts_with("application/x-www-form-urlencoded")
}

/// API Gateway request ids look like this; any unique text would do.
fn new_request_id() -> String {
    let id = uuid::Uuid::new_v4();
    format!(
        "{}=",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&id.as_bytes()[..12])
    )
}

/// The request id the edge middleware assigned.
#[derive(Clone)]
struct RequestId(String);

impl Gateway {
    /// A gateway over `app`, serving `spec` with the handlers of `registry`.
    pub fn new(
        app: Arc<App>,
        spec: ApiSpec,
        registry: &[&'static HttpFunction],
    ) -> Result<Self, RegistryMismatch> {
        check_registry(&spec, registry)?;
        let external_keys = app.config.auth.external_oidc.as_ref().map(|oidc| {
            let ttl =
                std::time::Duration::from_secs(app.config.auth.providers.jwks_cache_ttl_seconds);
            // Without a client the issuer's keys cannot be fetched: every token is refused,
            // as API Gateway refuses them when it cannot reach the issuer.
            let jwks = http_client()
                .map(|client| JwksCache::discover(client, &oidc.issuer, ttl))
                .inspect_err(|err| tracing::error!(target: "gateway", error = %err, "external issuer keys unavailable"))
                .ok();
            (oidc.issuer.clone(), jwks)
        });
        Ok(Gateway {
            app,
            spec,
            registry: registry.iter().map(|f| (f.binary, *f)).collect(),
            buckets: Mutex::new(HashMap::new()),
            external_keys,
        })
    }

    /// What this gateway serves, as read from template.yaml.
    pub fn spec(&self) -> &ApiSpec {
        &self.spec
    }

    /// The axum router of every template route plus the CDN and upload stand-ins.
    pub fn router(self: Arc<Self>) -> Router {
        let mut by_path: BTreeMap<String, MethodRouter> = BTreeMap::new();
        for route in &self.spec.routes {
            let axum_path = route
                .path
                .split('/')
                .map(
                    |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
                        Some(name) => format!("{{*{name}}}"),
                        None => seg.to_owned(),
                    },
                )
                .collect::<Vec<_>>()
                .join("/");
            let gateway = self.clone();
            let spec = Arc::new(route.clone());
            let handler =
                move |ConnectInfo(addr): ConnectInfo<SocketAddr>,
                      params: Result<Option<Path<HashMap<String, String>>>, PathRejection>,
                      req: AxumRequest| {
                    let gateway = gateway.clone();
                    let spec = spec.clone();
                    let params = params
                        .map(|p| p.map(|p| p.0).unwrap_or_default())
                        .map_err(|rejection| undecodable_parameter(&rejection));
                    async move { gateway.dispatch(&spec, addr, params, req).await }
                };
            let method_router = if route.method == "ANY" {
                any(handler)
            } else {
                let method = Method::from_bytes(route.method.as_bytes()).unwrap_or(Method::GET);
                match MethodFilter::try_from(method) {
                    Ok(filter) => on(filter, handler),
                    Err(_) => continue,
                }
            };
            let merged = match by_path.remove(&axum_path) {
                Some(existing) => existing.merge(method_router),
                None => method_router,
            };
            by_path.insert(axum_path, merged);
        }
        let mut router = Router::new();
        for (path, method_router) in by_path {
            router = router.route(
                &path,
                method_router
                    .fallback(|| async { gateway_error(StatusCode::NOT_FOUND, "Not Found") }),
            );
        }
        if self.app.config.api_docs {
            router = router
                .route("/docs", get(crate::docs::page))
                .route("/docs/{asset}", get(crate::docs::asset));
        }
        let blobs_state = self.clone();
        router
            .route(
                "/_cdn/{*key}",
                get(serve_blob).with_state(blobs_state.clone()),
            )
            .route(
                &format!("{UPLOAD_PATH}/{{*key}}"),
                put(accept_upload).with_state(blobs_state),
            )
            .fallback(|| async { gateway_error(StatusCode::NOT_FOUND, "Not Found") })
    }

    fn throttle(&self, route_key: &str) -> bool {
        let limit: Option<ThrottleSpec> = self
            .spec
            .route_throttles
            .get(route_key)
            .copied()
            .or(self.spec.default_throttle);
        let Some(limit) = limit else { return true };
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(route_key.to_owned()).or_insert(Bucket {
            tokens: limit.burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.rate).min(limit.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The claims of a valid token, as API Gateway's JWT authorizer checks it: our own
    /// keys for our issuer, the external issuer's published keys in external OIDC mode.
    async fn authorize(
        &self,
        authorizer: &str,
        headers: &HeaderMap,
    ) -> Option<HashMap<String, String>> {
        let spec = self.spec.authorizers.get(authorizer)?;
        let raw = headers.get(spec.header.as_str())?.to_str().ok()?.trim();
        let token = raw
            .strip_prefix("Bearer ")
            .or_else(|| raw.strip_prefix("bearer "))
            .unwrap_or(raw)
            .trim();
        let audiences: Vec<&str> = spec.audience.iter().map(String::as_str).collect();
        let verified = match &self.external_keys {
            Some((issuer, jwks)) if *issuer == spec.issuer => match jwks {
                Some(jwks) => jwks.verify_claims(token, &spec.issuer, &audiences).await,
                None => Err("the issuer's keys cannot be fetched".to_owned()),
            },
            _ => self
                .app
                .keys()
                .ok()?
                .verify::<Map<String, Value>>(token, &spec.issuer, &audiences)
                .map_err(|e| e.to_string()),
        };
        match verified {
            Ok(claims) => Some(stringify_claims(claims)),
            Err(err) => {
                tracing::info!(target: "gateway", authorizer, reason = %err, "token refused");
                None
            }
        }
    }

    /// Serves one request of `route`; `path_params` is the name of the parameter that could
    /// not be decoded when one could not.
    async fn dispatch(
        &self,
        route: &RouteSpec,
        addr: SocketAddr,
        path_params: Result<HashMap<String, String>, String>,
        req: AxumRequest,
    ) -> Response {
        let route_key = route.route_key();
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(new_request_id);
        if !self.throttle(&route_key) {
            gateway_refused(
                &request_id,
                req.method().as_str(),
                &route_key,
                429,
                Some("throttled"),
            );
            return gateway_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        }
        let claims = match &route.authorizer {
            None => None,
            Some(name) => match self.authorize(name, req.headers()).await {
                Some(claims) => Some(claims),
                None => {
                    gateway_refused(
                        &request_id,
                        req.method().as_str(),
                        &route_key,
                        401,
                        Some("unauthorized"),
                    );
                    return gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized");
                }
            },
        };
        let path_params = match path_params {
            Ok(params) => params,
            Err(name) => {
                let err = ApiError::bad_request(
                    "malformed_path",
                    Some(&name),
                    format!("path parameter {name} is not valid percent-encoded UTF-8"),
                );
                gateway_refused(
                    &request_id,
                    req.method().as_str(),
                    &route_key,
                    400,
                    Some(err.code()),
                );
                return into_axum(runcrew_shared::response::error(&err, &request_id));
            }
        };
        let Some(function) = self.registry.get(route.binary.as_str()) else {
            return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        };
        let (parts, body) = req.into_parts();
        let Ok(body) = to_bytes(body, MAX_PAYLOAD_BYTES).await else {
            return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        };
        let event = api_gateway_event(
            &parts,
            &body,
            addr,
            &route_key,
            &request_id,
            path_params,
            claims,
        );
        let request = match event {
            Ok(ev) => lambda_http::http::Request::from(
                lambda_http::request::LambdaRequest::ApiGatewayV2(ev),
            ),
            Err(err) => {
                tracing::error!(target: "gateway", error = %err, "could not build the API Gateway event");
                return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        };
        let response = function.call(&self.app, request).await;
        into_axum(response)
    }

    fn cors(&self) -> Option<&CorsSpec> {
        self.spec.cors.as_ref()
    }
}

/// The name of the path parameter axum could not percent-decode into UTF-8 (`%ff%fe`).
///
/// The route matched (a `{courseId}` segment takes any bytes), so this is not the gateway's
/// own `{"message":"Not Found"}`: the request reached the API and cannot be read, which the
/// API answers as every unreadable request, a 400 envelope with a code (`malformed_path`)
/// and the parameter named, never axum's plain-text rejection.
fn undecodable_parameter(rejection: &PathRejection) -> String {
    match rejection {
        PathRejection::FailedToDeserializePathParams(err) => match err.kind() {
            ErrorKind::InvalidUtf8InPathParam { key } => key.clone(),
            _ => "path".to_owned(),
        },
        _ => "path".to_owned(),
    }
}

/// The payload 2.0 event API Gateway would send for this request, built as the type the
/// function's runtime reads that JSON into, so a misspelt field is a compile error rather
/// than a key silently dropped. Fails only when a header cannot be carried (its name and
/// value come from a valid request, so in practice never); the gateway answers 500.
fn api_gateway_event(
    parts: &axum::http::request::Parts,
    body: &Bytes,
    addr: SocketAddr,
    route_key: &str,
    request_id: &str,
    path_params: HashMap<String, String>,
    claims: Option<HashMap<String, String>>,
) -> Result<ApiGatewayV2httpRequest, axum::http::Error> {
    let (headers, cookies) = event_headers(&parts.headers);
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let content_type = headers.get("content-type").map_or("", String::as_str);
    let (body, is_base64_encoded) = event_body(body, content_type);
    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some(route_key.to_owned());
    event.raw_path = Some(parts.uri.path().to_owned());
    event.query_string_parameters = query_parameters(&raw_query);
    event.raw_query_string = Some(raw_query);
    event.cookies = (!cookies.is_empty()).then_some(cookies);
    event.path_parameters = path_params;
    event.request_context = request_context(
        parts,
        &headers,
        addr,
        route_key,
        request_id,
        claims,
        time::OffsetDateTime::now_utc(),
    );
    event.headers = header_map(headers)?;
    event.body = body;
    event.is_base64_encoded = is_base64_encoded;
    Ok(event)
}

/// The headers as API Gateway passes them, by lower-case name with repeated headers joined
/// by commas, and the `Cookie` header split into the separate `cookies` list payload 2.0
/// has for it.
fn event_headers(request: &HeaderMap) -> (BTreeMap<String, String>, Vec<String>) {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in request {
        // API Gateway passes a header with bytes outside ASCII on (an `Idempotency-Key` of
        // `café-1`); dropping it here would hide it from the function.
        let value = String::from_utf8_lossy(value.as_bytes());
        let value = value.as_ref();
        if name == header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    (headers, cookies)
}

/// The joined headers as the event's `HeaderMap`, one value per name, as a function on AWS
/// sees them (a repeated header arrives as one comma-joined value).
fn header_map(headers: BTreeMap<String, String>) -> Result<HeaderMap, axum::http::Error> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        map.insert(
            header::HeaderName::from_bytes(name.as_bytes())?,
            HeaderValue::from_str(&value)?,
        );
    }
    Ok(map)
}

/// `queryStringParameters`: API Gateway joins a repeated parameter's values with commas and
/// the payload's reader splits every value on commas again (so `a=x%2Cy` reads as two
/// values, as on AWS). Handlers see the query lambda_http parses from `rawQueryString`,
/// which keeps them apart.
fn query_parameters(raw_query: &str) -> QueryMap {
    let mut joined: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        joined
            .entry(k.into_owned())
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    let split: HashMap<String, Vec<String>> = joined
        .into_iter()
        .map(|(k, v)| (k, v.split(',').map(str::to_owned).collect()))
        .collect();
    QueryMap::from(split)
}

/// The body as API Gateway passes it: absent when empty, text when the content type is
/// textual and the bytes are UTF-8, else base64 with `isBase64Encoded`.
fn event_body(body: &Bytes, content_type: &str) -> (Option<String>, bool) {
    if body.is_empty() {
        (None, false)
    } else if is_textual(content_type) && std::str::from_utf8(body).is_ok() {
        (Some(String::from_utf8_lossy(body).into_owned()), false)
    } else {
        (
            Some(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        )
    }
}

/// `requestContext`: where the request came from, when, and, behind an authorizer, the
/// verified claims in `authorizer.jwt.claims`, where `caller(&req)` reads them on AWS.
fn request_context(
    parts: &axum::http::request::Parts,
    headers: &BTreeMap<String, String>,
    addr: SocketAddr,
    route_key: &str,
    request_id: &str,
    claims: Option<HashMap<String, String>>,
    now: time::OffsetDateTime,
) -> ApiGatewayV2httpRequestContext {
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = parts.method.clone();
    http.path = Some(parts.uri.path().to_owned());
    http.protocol = Some("HTTP/1.1".into());
    http.source_ip = Some(addr.ip().to_string());
    http.user_agent = Some(headers.get("user-agent").cloned().unwrap_or_default());

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.account_id = Some("000000000000".into());
    context.apiid = Some("local".into());
    context.domain_name = Some(
        headers
            .get("host")
            .cloned()
            .unwrap_or_else(|| "127.0.0.1".into()),
    );
    context.domain_prefix = Some("local".into());
    context.http = http;
    context.request_id = Some(request_id.to_owned());
    context.route_key = Some(route_key.to_owned());
    context.stage = Some("$default".into());
    context.time = Some(
        now.format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default(),
    );
    context.time_epoch = now.unix_timestamp() * 1000 + i64::from(now.millisecond());
    context.authorizer = claims.map(|claims| {
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims;
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        authorizer
    });
    context
}

fn into_axum(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, AxumBody::from(bytes))
}

/// Wraps `router` so that [`edge`] sees every request before routing: the outer router
/// has nothing but the inner one as its fallback, so its layer runs first.
pub fn with_edge(gateway: Arc<Gateway>, router: Router) -> Router {
    Router::new()
        .fallback_service(router)
        .layer(middleware::from_fn_with_state(gateway, edge))
}

/// CORS preflight and headers, security headers and the request id on every response.
async fn edge(State(gateway): State<Arc<Gateway>>, mut req: AxumRequest, next: Next) -> Response {
    let request_id = new_request_id();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let cors = gateway.cors();
    let allowed_origin = match (cors, &origin) {
        (Some(cors), Some(origin))
            if cors.allow_origins.iter().any(|o| o == "*" || o == origin) =>
        {
            Some(origin.clone())
        }
        _ => None,
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let preflight_cors = cors.filter(|_| preflight);
    let mut response = if let Some(cors) = preflight_cors {
        preflight_response(cors, allowed_origin.as_deref(), req.headers())
    } else {
        let mut response = next.run(req).await;
        if let (Some(cors), Some(origin)) = (cors, &allowed_origin) {
            let headers = response.headers_mut();
            // Functions do not set CORS headers: with a CorsConfiguration the gateway owns them.
            insert(
                headers,
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                origin_value(cors, origin),
            );
            if cors.allow_credentials {
                insert(
                    headers,
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    "true".into(),
                );
            }
            if !cors.expose_headers.is_empty() {
                insert(
                    headers,
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    cors.expose_headers.join(","),
                );
            }
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
        response
    };
    add_security_headers(response.headers_mut());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("apigw-requestid", value);
    }
    response
}

fn origin_value(cors: &CorsSpec, origin: &str) -> String {
    if cors.allow_origins.iter().any(|o| o == "*") && !cors.allow_credentials {
        "*".into()
    } else {
        origin.to_owned()
    }
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(name, v);
    }
}

/// API Gateway answers preflight itself: 204, with the CORS headers only for an allowed
/// origin and an allowed method.
fn preflight_response(
    cors: &CorsSpec,
    allowed_origin: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let method = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_uppercase();
    let method_ok = cors.allow_methods.iter().any(|m| m == "*" || *m == method);
    let Some(origin) = allowed_origin.filter(|_| method_ok) else {
        return response;
    };
    let out = response.headers_mut();
    insert(
        out,
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        origin_value(cors, origin),
    );
    insert(
        out,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        cors.allow_methods.join(","),
    );
    if !cors.allow_headers.is_empty() {
        insert(
            out,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            cors.allow_headers.join(","),
        );
    }
    if cors.allow_credentials {
        insert(out, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true".into());
    }
    if let Some(age) = cors.max_age {
        insert(out, header::ACCESS_CONTROL_MAX_AGE, age.to_string());
    }
    out.append(header::VARY, HeaderValue::from_static("origin"));
    response
}

/// `GET /_cdn/<key>`: what CloudFront would serve from the bucket. The private folder is
/// not served (CloudFront may read only the public folders); a presigned GET of the
/// filesystem adapter (`?expires=&signature=`) reads one file there until it expires, as
/// an S3 presigned URL would.
async fn serve_blob(
    State(gateway): State<Arc<Gateway>>,
    Path(key): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let Ok(blobs) = gateway.app.blobs() else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let private = runcrew_shared::blobs::is_private_key(&key);
    if private {
        let signed = signed_get_query(query.as_deref().unwrap_or(""));
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let accepted = match (blobs.as_filesystem(), signed) {
            (Some(local), Some(signed)) => local.accept_presigned_get(&key, &signed, now),
            _ => Err(runcrew_shared::blobs::BlobError::Signature(
                "a private file is read through a presigned URL".into(),
            )),
        };
        if let Err(err) = accepted {
            return s3_error(StatusCode::FORBIDDEN, "AccessDenied", &err.to_string());
        }
    }
    match blobs.get(&key).await {
        Ok(Some(blob)) => {
            let mut response = (StatusCode::OK, blob.bytes).into_response();
            insert(
                response.headers_mut(),
                header::CONTENT_TYPE,
                blob.meta.content_type,
            );
            let cache = if private {
                "private, no-store"
            } else {
                "public, max-age=60"
            };
            insert(response.headers_mut(), header::CACHE_CONTROL, cache.into());
            response
        }
        Ok(None) | Err(runcrew_shared::blobs::BlobError::InvalidKey(_)) => {
            gateway_error(StatusCode::NOT_FOUND, "Not Found")
        }
        Err(err) => {
            tracing::warn!(target: "gateway", error = %err, "serving a file failed");
            gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
    }
}

/// `PUT /_local/uploads/<key>?...`: what S3 does with a presigned PUT.
async fn accept_upload(
    State(gateway): State<Arc<Gateway>>,
    Path(key): Path<String>,
    req: AxumRequest,
) -> Response {
    let Ok(blobs) = gateway.app.blobs() else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(local) = blobs.as_filesystem() else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let query: PresignedQuery = match presigned_query(req.uri().query().unwrap_or("")) {
        Some(q) => q,
        None => {
            return s3_error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Query-string authentication requires the signed parameters",
            );
        }
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = usize::try_from(query.content_length)
        .unwrap_or(usize::MAX)
        .min(MAX_PAYLOAD_BYTES * 10);
    let Ok(body) = to_bytes(req.into_body(), limit).await else {
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "Content-Length differs from the signed one",
        );
    };
    if declared_len.is_some_and(|l| l != body.len() as u64) {
        return s3_error(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            "The body is shorter than Content-Length",
        );
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(err) = local.accept_presigned_put(
        &key,
        &query,
        content_type.as_deref(),
        body.len() as u64,
        now,
    ) {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", &err.to_string());
    }
    match blobs.put(&key, body.to_vec(), &query.content_type).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(err) => {
            tracing::warn!(target: "gateway", error = %err, "storing an upload failed");
            s3_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "try again",
            )
        }
    }
}

/// The signed values of a presigned GET of the filesystem adapter.
fn signed_get_query(raw: &str) -> Option<runcrew_shared::blobs::filesystem::SignedGetQuery> {
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    Some(runcrew_shared::blobs::filesystem::SignedGetQuery {
        expires: pairs.get("expires")?.parse().ok()?,
        signature: pairs.get("signature")?.clone(),
    })
}

fn presigned_query(raw: &str) -> Option<PresignedQuery> {
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    Some(PresignedQuery {
        content_type: pairs.get("content_type")?.clone(),
        content_length: pairs.get("content_length")?.parse().ok()?,
        expires: pairs.get("expires")?.parse().ok()?,
        signature: pairs.get("signature")?.clone(),
    })
}

/// S3 answers errors in XML; so does its stand-in.
fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// The access line of a request the gateway itself refused, as API Gateway would log it
/// (no function ran, so nothing is traced).
fn gateway_refused(request_id: &str, method: &str, route: &str, status: u16, code: Option<&str>) {
    telemetry::access_log(&telemetry::AccessLine {
        function: "local-gateway",
        request_id,
        method,
        route,
        status,
        latency_ms: 0.0,
        code,
        detail: None,
        traced: false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_triggered_function_without_its_task_is_named_with_how_it_is_triggered() {
        let problems = unregistered(
            [
                ("Thumbs", "thumbnails", "is triggered by S3".to_owned()),
                ("Ghost", "ghost", "consumes the table's stream".to_owned()),
            ],
            &["thumbnails"],
            "stream task",
        );
        assert_eq!(
            problems,
            [
                "  - Ghost consumes the table's stream with Binary \"ghost\", which no function crate registers as a stream task"
            ]
        );
        assert!(RegistryMismatch::from_problems(problems).is_err());
        assert!(RegistryMismatch::from_problems(Vec::new()).is_ok());
    }

    fn parts(request: axum::http::request::Builder) -> axum::http::request::Parts {
        request.body(()).expect("a valid request").into_parts().0
    }

    fn address() -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 7], 5555))
    }

    /// Every non-null value of `expected` is in `actual` at the same place; a null may be
    /// absent (the typed event leaves out what it does not have).
    fn assert_carries(expected: &Value, actual: &Value, at: &str) {
        match expected {
            Value::Object(fields) => {
                for (name, value) in fields {
                    let inner = actual.get(name).unwrap_or(&Value::Null);
                    assert_carries(value, inner, &format!("{at}.{name}"));
                }
            }
            Value::Null => assert!(actual.is_null(), "{at}: {actual} instead of nothing"),
            _ => assert_eq!(expected, actual, "{at}"),
        }
    }

    /// Checks `event` against `old`, the JSON the gateway built before the event was typed:
    /// the handler gets the same request, and the event serializes every field `old` set
    /// with the same value.
    fn assert_same_as_old(event: &ApiGatewayV2httpRequest, mut old: Value) {
        // The clock is read inside; take its reading into the expected JSON.
        old["requestContext"]["time"] = json!(event.request_context.time);
        old["requestContext"]["timeEpoch"] = json!(event.request_context.time_epoch);
        let read_back: ApiGatewayV2httpRequest =
            serde_json::from_value(old.clone()).expect("the old event reads");
        assert_eq!(event, &read_back);
        let serialized = serde_json::to_value(event).expect("the event serializes");
        assert_carries(&old, &serialized, "event");
        assert_eq!(
            serialized,
            serde_json::to_value(&read_back).expect("serializes"),
            "the fields the type always writes hold what the old event meant"
        );
    }

    #[test]
    fn an_authorized_text_request_is_the_event_the_json_builder_made() {
        let parts = parts(
            axum::http::Request::post("/v1/courses/abc%20d?b=2&a=1&a=x%2Cy")
                .header("host", "127.0.0.1:3000")
                .header("user-agent", "test/1.0")
                .header("content-type", "application/json")
                .header("cookie", "a=1; b=2")
                .header("x-dup", "one")
                .header("x-dup", "two")
                .header(
                    "idempotency-key",
                    HeaderValue::from_bytes("café-1".as_bytes())
                        .expect("bytes over 0x7f are valid"),
                ),
        );
        let body = Bytes::from_static(br#"{"name":"x"}"#);
        let claims = HashMap::from([
            ("sub".to_owned(), "u1".to_owned()),
            ("scope".to_owned(), "a b".to_owned()),
        ]);
        let event = api_gateway_event(
            &parts,
            &body,
            address(),
            "POST /v1/courses/{courseId}",
            "req-1=",
            HashMap::from([("courseId".to_owned(), "abc d".to_owned())]),
            Some(claims),
        )
        .expect("the event builds");
        assert_same_as_old(
            &event,
            json!({
                "version": "2.0",
                "routeKey": "POST /v1/courses/{courseId}",
                "rawPath": "/v1/courses/abc%20d",
                "rawQueryString": "b=2&a=1&a=x%2Cy",
                "cookies": ["a=1", "b=2"],
                "headers": {
                    "content-type": "application/json",
                    "host": "127.0.0.1:3000",
                    "idempotency-key": "café-1",
                    "user-agent": "test/1.0",
                    "x-dup": "one,two",
                },
                "queryStringParameters": { "a": "1,x,y", "b": "2" },
                "pathParameters": { "courseId": "abc d" },
                "requestContext": {
                    "accountId": "000000000000",
                    "apiId": "local",
                    "domainName": "127.0.0.1:3000",
                    "domainPrefix": "local",
                    "http": {
                        "method": "POST",
                        "path": "/v1/courses/abc%20d",
                        "protocol": "HTTP/1.1",
                        "sourceIp": "10.0.0.7",
                        "userAgent": "test/1.0",
                    },
                    "requestId": "req-1=",
                    "routeKey": "POST /v1/courses/{courseId}",
                    "stage": "$default",
                    "authorizer": { "jwt": { "claims": { "sub": "u1", "scope": "a b" }, "scopes": null } },
                },
                "isBase64Encoded": false,
                "body": r#"{"name":"x"}"#,
            }),
        );
        let time = event.request_context.time.as_deref().unwrap_or_default();
        assert!(
            time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc2822)
                .is_ok(),
            "{time}"
        );
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        assert!((now_ms - event.request_context.time_epoch).abs() < 60_000);
    }

    #[test]
    fn a_public_binary_request_leaves_out_what_it_does_not_have() {
        let parts =
            parts(axum::http::Request::put("/v1/things").header("content-type", "image/png"));
        let body = Bytes::from_static(&[0x89, b'P', b'N', b'G', 0xff]);
        let event = api_gateway_event(
            &parts,
            &body,
            address(),
            "PUT /v1/things",
            "req-2=",
            HashMap::new(),
            None,
        )
        .expect("the event builds");
        assert_same_as_old(
            &event,
            json!({
                "version": "2.0",
                "routeKey": "PUT /v1/things",
                "rawPath": "/v1/things",
                "rawQueryString": "",
                "headers": { "content-type": "image/png" },
                "requestContext": {
                    "accountId": "000000000000",
                    "apiId": "local",
                    "domainName": "127.0.0.1",
                    "domainPrefix": "local",
                    "http": {
                        "method": "PUT",
                        "path": "/v1/things",
                        "protocol": "HTTP/1.1",
                        "sourceIp": "10.0.0.7",
                        "userAgent": "",
                    },
                    "requestId": "req-2=",
                    "routeKey": "PUT /v1/things",
                    "stage": "$default",
                },
                "isBase64Encoded": true,
                "body": "iVBOR/8=",
            }),
        );
        let serialized = serde_json::to_value(&event).expect("serializes");
        for absent in ["cookies", "queryStringParameters", "pathParameters"] {
            assert!(serialized.get(absent).is_none(), "{absent}: {serialized}");
        }
        assert!(serialized["requestContext"].get("authorizer").is_none());
    }

    #[test]
    fn an_empty_body_is_absent_and_not_base64() {
        let parts = parts(axum::http::Request::get("/healthz"));
        let event = api_gateway_event(
            &parts,
            &Bytes::new(),
            address(),
            "GET /healthz",
            "req-3=",
            HashMap::new(),
            None,
        )
        .expect("the event builds");
        assert_eq!(event.body, None);
        assert!(!event.is_base64_encoded);
        assert!(event.headers.is_empty());
    }
}
