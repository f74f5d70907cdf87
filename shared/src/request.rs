//! Reading a request: the caller's identity, path and query parameters, and JSON bodies.
//!
//! Every helper answers with an [`ApiError`] that names the field at fault, so a handler
//! never has to phrase a parsing error itself.

use std::collections::HashMap;
use std::str::FromStr;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::config::ClientIpSource;
use crate::error::ApiError;

/// The default cap on JSON bodies; routes with larger documents pass their own limit.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Who is calling, as the JWT authorizer established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Our user id (`sub`).
    pub user_id: String,
    /// The login session the token belongs to (`sid`), when our own tokens are used.
    pub session_id: Option<String>,
    /// The token id (`jti`), for revocation and audit.
    pub token_id: Option<String>,
}

/// The API Gateway request id, or the Lambda one, for logs and the error envelope.
pub fn request_id(req: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(id) = &ctx.request_id
    {
        return id.clone();
    }
    req.lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_else(|| "-".to_owned())
}

/// The route key API Gateway matched (`GET /v1/courses/{courseId}`), for logs and metrics.
pub fn route_key(req: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(key) = &ctx.route_key
    {
        return key.clone();
    }
    format!("{} {}", req.method(), req.uri().path())
}

/// The claims the authorizer verified; empty on unauthenticated routes.
pub fn claims(req: &Request) -> Option<&HashMap<String, String>> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => Some(&ctx.authorizer.as_ref()?.jwt.as_ref()?.claims),
        _ => None,
    }
}

/// The identity from `requestContext.authorizer.jwt.claims`, or 401.
///
/// Handlers trust these claims because API Gateway (or the local gateway) verified the
/// token before invoking the function; a route without the authorizer has no claims.
/// Handlers call [`crate::App::caller`], which also maps an external issuer's subjects to
/// our user ids; this is the raw reading underneath it.
pub fn caller(req: &Request) -> Result<Caller, ApiError> {
    let claims =
        claims(req).ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
    let user_id = claims
        .get("sub")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("the token has no subject".into()))?;
    Ok(Caller {
        user_id: user_id.clone(),
        session_id: claims.get("sid").cloned(),
        token_id: claims.get("jti").cloned(),
    })
}

/// A path parameter the route template declares, or 400 naming it.
pub fn path_param<'r>(req: &'r Request, name: &str) -> Result<&'r str, ApiError> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_parameter",
                Some(name),
                format!("path parameter {name} is missing"),
            )
        })
}

/// A query parameter parsed as `T`, `None` when absent, 400 naming it when unreadable.
pub fn query_param<T: FromStr>(req: &Request, name: &str) -> Result<Option<T>, ApiError> {
    let Some(raw) = req
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
    else {
        return Ok(None);
    };
    raw.parse::<T>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            Some(name),
            format!("query parameter {name}={raw:?} cannot be read"),
        )
    })
}

/// The bytes of a request or response body (empty for none).
pub fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    }
}

/// Whether `text` holds control characters (newlines allowed where `allow_newlines`), which
/// names and texts shown to other users must not.
pub fn has_control_chars(text: &str, allow_newlines: bool) -> bool {
    text.chars()
        .any(|c| c.is_control() && !(allow_newlines && c == '\n'))
}

/// The `limit` query parameter of a list: `default` when absent, 422 naming `limit` unless
/// it is 1 to `max`.
pub fn page_limit(req: &Request, default: usize, max: usize) -> Result<usize, ApiError> {
    match query_param::<usize>(req, "limit")? {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", format!("must be 1 to {max}"))),
    }
}

/// The `cursor` query parameter of a list (opaque; the store checks it).
pub fn page_cursor(req: &Request) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first("cursor"))
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

/// A JSON body of at most [`DEFAULT_BODY_LIMIT`] bytes as `T`; see [`json_body_limited`].
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    json_body_limited(req, DEFAULT_BODY_LIMIT)
}

/// A JSON body as `T`.
///
/// 413 past `limit` bytes; 415 unless the content type is JSON; 400 when the text is not
/// JSON; 422 naming the field when it is JSON of the wrong shape (a missing field, a wrong
/// type, or a field `T` does not know: types read here use `deny_unknown_fields`).
pub fn json_body_limited<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    let bytes = body_bytes(req.body());
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(ApiError::UnsupportedMediaType(
            "send the body as application/json".into(),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "missing_body",
            Some("body"),
            "a JSON body is required",
        ));
    }
    parse_json(bytes)
}

/// A JSON body that may be left out: `None` for an empty body, else as [`json_body`].
pub fn optional_json_body<T: DeserializeOwned>(req: &Request) -> Result<Option<T>, ApiError> {
    let empty = match req.body() {
        Body::Empty => true,
        Body::Text(t) => t.trim().is_empty(),
        Body::Binary(b) => b.iter().all(u8::is_ascii_whitespace),
        _ => true,
    };
    if empty {
        Ok(None)
    } else {
        json_body(req).map(Some)
    }
}

/// A request header as text.
pub fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The client's address for per-client limits and the audit trail.
///
/// API Gateway's `sourceIp` is whoever connected to it; behind CloudFront (or another
/// trusted proxy) that is the proxy, and the viewer's address is in the header the proxy
/// sets, which [`ClientIpSource`] names. Headers are trusted only in that configuration,
/// since a client can send any header it likes to an API without a proxy.
pub fn client_ip(req: &Request, source: ClientIpSource) -> String {
    let forwarded = match source {
        ClientIpSource::SourceIp => None,
        ClientIpSource::CloudFront => header(req, "cloudfront-viewer-address").and_then(|v| {
            // `198.51.100.10:46532` or `2001:db8::1:46532`: the port follows the last colon.
            let (ip, _port) = v.trim().rsplit_once(':')?;
            Some(ip.trim_matches(['[', ']']).to_owned())
        }),
        ClientIpSource::ForwardedFor => header(req, "x-forwarded-for")
            .and_then(|v| v.rsplit(',').next())
            .map(|ip| ip.trim().to_owned()),
    };
    forwarded
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
        .or_else(|| match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
            _ => None,
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Parses JSON text as `T`, naming the failing field. Shared with non-HTTP inputs (events).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => ApiError::bad_request(
                "malformed_json",
                Some("body"),
                format!(
                    "the body is not valid JSON (line {}, column {})",
                    inner.line(),
                    inner.column()
                ),
            ),
            serde_json::error::Category::Data => {
                let message = strip_position(&inner.to_string());
                let field = field_name(&path, &message);
                ApiError::invalid(field, message)
            }
        }
    })?;
    de.end().map_err(|_| {
        ApiError::bad_request(
            "malformed_json",
            Some("body"),
            "unexpected text after the JSON value",
        )
    })?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the field name already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The dotted path of the field at fault; for an unknown field, the field itself.
fn field_name(path: &str, message: &str) -> String {
    let base = if path == "." {
        String::new()
    } else {
        path.to_owned()
    };
    let quoted = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("unknown field") || message.starts_with("missing field"));
    match (quoted, base.is_empty()) {
        (Some(name), true) => name.to_owned(),
        (Some(name), false) if !base.ends_with(name) => format!("{base}.{name}"),
        _ if base.is_empty() => "body".to_owned(),
        _ => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Profile {
        display_name: String,
        home: Home,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Home {
        lat: f64,
    }

    fn err_of(body: &str) -> ApiError {
        parse_json::<Profile>(body.as_bytes()).expect_err("should fail")
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        match err_of(r#"{"display_name":"a","home":{"lat":"north"}}"#) {
            ApiError::Invalid { field, .. } => assert_eq!(field, "home.lat"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_field_is_refused_by_name() {
        match err_of(r#"{"display_name":"a","home":{"lat":1},"admin":true}"#) {
            ApiError::Invalid { field, message } => {
                assert_eq!(field, "admin", "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_field_is_named() {
        match err_of(r#"{"home":{"lat":1}}"#) {
            ApiError::Invalid { field, .. } => assert_eq!(field, "display_name"),
            other => panic!("{other:?}"),
        }
    }

    fn post(body: &str, content_type: &str, query: &str) -> Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /v1/things",
            "rawPath": "/v1/things",
            "rawQueryString": query,
            "headers": {"content-type": content_type},
            "requestContext": {"http": {"method": "POST", "path": "/v1/things"}, "requestId": "r-1"},
            "body": body,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("event")
    }

    #[test]
    fn a_body_over_the_limit_is_413_before_it_is_parsed() {
        let req = post(
            &format!(r#"{{"display_name":"{}"}}"#, "a".repeat(200)),
            "application/json",
            "",
        );
        assert!(matches!(
            json_body_limited::<Profile>(&req, 100),
            Err(ApiError::PayloadTooLarge { limit: 100 })
        ));
    }

    #[test]
    fn a_body_in_another_media_type_is_415_and_an_empty_one_400() {
        assert!(matches!(
            json_body::<Profile>(&post("{}", "text/plain", "")),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            json_body::<Profile>(&post("", "application/json; charset=utf-8", "")),
            Err(ApiError::BadRequest {
                code: "missing_body",
                ..
            })
        ));
    }

    #[test]
    fn query_parameters_parse_or_name_themselves() {
        let req = post("", "application/json", "limit=20&radius_km=north");
        assert_eq!(query_param::<u32>(&req, "limit").expect("reads"), Some(20));
        assert_eq!(query_param::<u32>(&req, "cursor").expect("absent"), None);
        match query_param::<f64>(&req, "radius_km") {
            Err(ApiError::BadRequest { field, .. }) => {
                assert_eq!(field.as_deref(), Some("radius_km"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_caller_comes_from_the_authorizer_claims_or_is_401() {
        assert!(matches!(
            caller(&post("", "application/json", "")),
            Err(ApiError::Unauthorized(_))
        ));
        let event = serde_json::json!({
            "version": "2.0", "routeKey": "GET /v1/users/me", "rawPath": "/v1/users/me", "rawQueryString": "",
            "headers": {},
            "requestContext": {"http": {"method": "GET", "path": "/v1/users/me"}, "requestId": "r-2",
                "authorizer": {"jwt": {"claims": {"sub": "user-7", "sid": "s-1", "jti": "t-1"}, "scopes": null}}},
            "isBase64Encoded": false
        });
        let req = lambda_http::request::from_str(&event.to_string()).expect("event");
        assert_eq!(
            caller(&req).expect("caller"),
            Caller {
                user_id: "user-7".into(),
                session_id: Some("s-1".into()),
                token_id: Some("t-1".into())
            }
        );
        assert_eq!(request_id(&req), "r-2");
        assert_eq!(route_key(&req), "GET /v1/users/me");
    }

    #[test]
    fn broken_json_is_a_400() {
        assert!(matches!(
            err_of(r#"{"display_name": "#),
            ApiError::BadRequest {
                code: "malformed_json",
                ..
            }
        ));
    }
}
