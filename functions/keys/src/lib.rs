//! What API Gateway's JWT authorizer (and any other verifier) reads to trust our tokens:
//! the JWKS with the current and previous public keys, and the OpenID discovery document.

use lambda_http::{Body, Request, Response};
use runcrew_shared::{ApiError, App, HandlerFuture, HttpFunction, Needs, response};
use serde::Serialize;

/// `GET /.well-known/jwks.json`.
pub static JWKS: HttpFunction = HttpFunction {
    binary: "jwks",
    needs: Needs::NOTHING.keys(),
    handler: jwks_handler,
};

/// `GET /.well-known/openid-configuration`.
pub static OPENID_CONFIGURATION: HttpFunction = HttpFunction {
    binary: "openid-configuration",
    needs: Needs::NOTHING,
    handler: openid_configuration_handler,
};

/// Every function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[&JWKS, &OPENID_CONFIGURATION];

/// How long verifiers may cache the JWKS. Short enough that a rotation (which publishes
/// the new key a day before it signs) is picked up well in time.
pub const JWKS_MAX_AGE_SECONDS: u32 = 300;

fn jwks_handler(app: &App, req: Request) -> HandlerFuture<'_> {
    Box::pin(jwks(app, req))
}

fn openid_configuration_handler(app: &App, req: Request) -> HandlerFuture<'_> {
    Box::pin(openid_configuration(app, req))
}

/// The public keys, current first.
pub async fn jwks(app: &App, _req: Request) -> Result<Response<Body>, ApiError> {
    Ok(response::cache_public(
        response::ok(&app.keys()?.jwks())?,
        JWKS_MAX_AGE_SECONDS,
    ))
}

#[derive(Serialize)]
struct Discovery<'a> {
    issuer: &'a str,
    jwks_uri: String,
    id_token_signing_alg_values_supported: [&'a str; 1],
    subject_types_supported: [&'a str; 1],
    response_types_supported: [&'a str; 1],
}

/// The discovery document: `issuer` is the configured public base URL, exactly as the
/// tokens' `iss`; `jwks_uri` sits under it.
pub async fn openid_configuration(app: &App, _req: Request) -> Result<Response<Body>, ApiError> {
    let issuer = app.config.issuer();
    let body = Discovery {
        issuer,
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        id_token_signing_alg_values_supported: ["RS256"],
        subject_types_supported: ["public"],
        response_types_supported: ["token"],
    };
    Ok(response::cache_public(response::ok(&body)?, 3600))
}
