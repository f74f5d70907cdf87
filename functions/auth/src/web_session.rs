//! Web sessions: a browser keeps its refresh token in a cookie script cannot read.
//!
//! Apps keep the refresh token in the platform's secure storage and send it in the body.
//! A web page has no such place: anything its script can read, an injected script can
//! steal. So a web login asks for `"refresh_token_delivery": "cookie"` and gets the refresh
//! token only as `runcrew_refresh`, `HttpOnly` (no script reads it), `Secure` (never over
//! plain HTTP; off only on a laptop, which has no TLS), `SameSite=Strict` (no other site's
//! page makes the browser send it) and scoped to `/v1/auth` (no other route ever sees it).
//! The access token stays in the body and lives 15 minutes in memory.
//!
//! A refresh by cookie must also carry the header `X-RunCrew-CSRF`: a cross-site form
//! cannot set a header, and a cross-site script may only after a CORS preflight that only
//! the environment's exact origins pass. Either alone would stop a forged refresh; both
//! together also hold where a browser does not honour `SameSite`.

use cookie::{Cookie, SameSite};
use http::HeaderValue;
use lambda_http::Request;
use runcrew_shared::ApiError;
use serde::Deserialize;

/// The cookie holding a web session's refresh token.
pub const COOKIE_NAME: &str = "runcrew_refresh";
/// The routes the cookie is sent to: login, refresh and logout.
pub const COOKIE_PATH: &str = "/v1/auth";
/// The header a refresh by cookie must carry (any non-empty value).
pub const CSRF_HEADER: &str = "x-runcrew-csrf";

/// Where a login or refresh hands the refresh token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// In the JSON body (apps).
    #[default]
    Body,
    /// In the `runcrew_refresh` cookie, and not in the body (web pages).
    Cookie,
}

/// The `Set-Cookie` value that hands a browser `token` for `max_age_s` seconds; `secure`
/// everywhere but on a laptop.
pub fn set_cookie(token: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    header_value(
        Cookie::build((COOKIE_NAME, token))
            .path(COOKIE_PATH)
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Strict)
            .max_age(cookie::time::Duration::seconds(max_age_s))
            .build(),
    )
}

/// The `Set-Cookie` value that makes a browser forget the refresh cookie (logout).
pub fn clear_cookie(secure: bool) -> HeaderValue {
    header_value(
        Cookie::build((COOKIE_NAME, ""))
            .path(COOKIE_PATH)
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Strict)
            .max_age(cookie::time::Duration::ZERO)
            .build(),
    )
}

fn header_value(cookie: Cookie<'_>) -> HeaderValue {
    // A refresh token is `<hex>.<hex>.<base64url>`: always a valid header value.
    HeaderValue::from_str(&cookie.to_string()).expect("a refresh cookie is visible ASCII")
}

/// The refresh token in the request's `runcrew_refresh` cookie, if it sent one.
pub fn cookie_token(req: &Request) -> Option<String> {
    req.headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| Cookie::split_parse(header.to_owned()))
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == COOKIE_NAME && !cookie.value().is_empty())
        .map(|cookie| cookie.value().to_owned())
}

/// Refuses a refresh by cookie that lacks [`CSRF_HEADER`] (a form post from another site).
pub fn require_csrf_header(req: &Request) -> Result<(), ApiError> {
    match runcrew_shared::request::header(req, CSRF_HEADER) {
        Some(value) if !value.trim().is_empty() => Ok(()),
        _ => Err(ApiError::Forbidden(format!(
            "a refresh by cookie must carry the {CSRF_HEADER} header"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "9abf35084b4364dbea7b4b9994a2165a.019aa5c0d2f07c3e9b8a1c2d3e4f5a6b.q3Xk0bV2m7Z9yT1uR5wE8pL4nH6jG0fD2sA9cK7xM1o";

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri("/v1/auth/refresh");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(lambda_http::Body::Empty).expect("a request")
    }

    #[test]
    fn the_refresh_cookie_is_http_only_strict_and_scoped_to_the_auth_routes() {
        let deployed = set_cookie(TOKEN, 2_592_000, true);
        let text = deployed.to_str().expect("ascii");
        for part in [
            "runcrew_refresh=",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/v1/auth",
            "Max-Age=2592000",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        let laptop = set_cookie(TOKEN, 60, false);
        assert!(!laptop.to_str().expect("ascii").contains("Secure"));
    }

    #[test]
    fn logging_out_expires_the_cookie_now() {
        let text = clear_cookie(true).to_str().expect("ascii").to_owned();
        assert!(text.starts_with("runcrew_refresh=;"), "{text}");
        assert!(text.contains("Max-Age=0"), "{text}");
    }

    #[test]
    fn the_token_is_found_among_other_cookies() {
        let req = request(&[(
            "cookie",
            &format!("theme=dark; runcrew_refresh={TOKEN}; a=b"),
        )]);
        assert_eq!(cookie_token(&req).as_deref(), Some(TOKEN));
        assert_eq!(
            cookie_token(&request(&[("cookie", "runcrew_refresh=")])),
            None
        );
        assert_eq!(cookie_token(&request(&[])), None);
    }

    #[test]
    fn a_refresh_by_cookie_without_the_custom_header_is_forbidden() {
        let refused = require_csrf_header(&request(&[])).expect_err("no header");
        assert_eq!(refused.status().as_u16(), 403);
        assert!(require_csrf_header(&request(&[(CSRF_HEADER, "1")])).is_ok());
    }
}
