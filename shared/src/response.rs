//! Building responses: JSON bodies, the security headers every response carries, and the
//! error envelope.

use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::error::ApiError;

/// The headers every response of ours carries, whatever its status.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
];

/// Adds [`SECURITY_HEADERS`] where they are not set yet.
pub fn add_security_headers(headers: &mut HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(*name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
}

/// A JSON response with `status`.
pub fn json<T: Serialize + ?Sized>(
    status: StatusCode,
    body: &T,
) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body)
        .map_err(|e| ApiError::Internal(format!("serializing response: {e}")))?;
    Ok(json_text(status, text))
}

/// A 200 JSON response with no `Cache-Control`; tokens and anything personal go through
/// [`no_store`] instead.
pub fn ok<T: Serialize + ?Sized>(body: &T) -> Result<Response<Body>, ApiError> {
    json(StatusCode::OK, body)
}

/// A JSON response that caches must not keep: tokens, anything personal.
pub fn no_store<T: Serialize + ?Sized>(
    status: StatusCode,
    body: &T,
) -> Result<Response<Body>, ApiError> {
    let mut response = json(status, body)?;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// A 204: no body, so no `Content-Type` either.
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    add_security_headers(response.headers_mut());
    response
}

/// A JSON response from already-serialized text.
pub fn json_text(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    add_security_headers(response.headers_mut());
    response
}

/// The envelope response of `err`, with Retry-After where the client may retry.
pub fn error(err: &ApiError, request_id: &str) -> Response<Body> {
    let text = serde_json::to_string(&err.envelope(request_id)).unwrap_or_else(|_| {
        r#"{"error":{"code":"internal_error","message":"internal error"}}"#.to_owned()
    });
    let mut response = json_text(err.status(), text);
    if let Some(seconds) = err.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Sets a cache lifetime on a public, shareable response (JWKS, discovery).
pub fn cache_public(mut response: Response<Body>, max_age_seconds: u32) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age_seconds}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// One page of a list: `{"items": [...], "next_cursor": "..." | null}`.
pub fn page<T: Serialize>(
    items: &[T],
    next_cursor: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    ok(&serde_json::json!({"items": items, "next_cursor": next_cursor}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_response_carries_retry_after_and_security_headers() {
        let response = error(&ApiError::unavailable("bucket"), "req-9");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "5");
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        assert_eq!(response.headers()["content-type"], "application/json");
    }

    #[test]
    fn a_token_response_is_never_cached() {
        let response =
            no_store(StatusCode::OK, &serde_json::json!({"access_token": "x"})).expect("json");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
}
