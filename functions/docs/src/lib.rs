//! The API's contract, served to the people and tools that build clients: `openapi.yaml`
//! at the repository's root, turned into JSON at build time and answered by
//! `GET /openapi.json`.
//!
//! Only outside production: the template creates this function in dev and stage only, and
//! the handler also answers 404 unless `API_DOCS` is on, which production refuses at
//! start-up.

use std::sync::LazyLock;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use runcrew_shared::{ApiError, App, HandlerFuture, HttpFunction, Needs, response};
use serde_json::{Value, json};

/// `GET /openapi.json`.
pub static API_DESCRIPTION: HttpFunction = HttpFunction {
    binary: "api-description",
    needs: Needs::NOTHING,
    handler: api_description_handler,
};

/// Every function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[&API_DESCRIPTION];

/// The description as written: YAML, so people can review and diff it (tests read it).
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

/// The same description as JSON, converted by `build.rs`: what the function serves.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// How long browsers and the CDN may keep the description: a deploy is picked up within
/// minutes, and a docs page reloading it does not cost an invocation each time.
pub const MAX_AGE_SECONDS: u32 = 300;

/// [`OPENAPI_JSON`] as a value, read once per container.
static DESCRIPTION: LazyLock<Result<Value, String>> =
    LazyLock::new(|| serde_json::from_str(OPENAPI_JSON).map_err(|e| e.to_string()));

/// The description with `servers` set to `public_base_url`, so a docs page's "try it"
/// calls the API that served it rather than the laptop default written in the file.
pub fn description_for(public_base_url: &str) -> Result<Value, ApiError> {
    let mut description = DESCRIPTION
        .as_ref()
        .map_err(|e| ApiError::Internal(format!("openapi.yaml does not parse: {e}")))?
        .clone();
    description
        .as_object_mut()
        .ok_or_else(|| ApiError::Internal("openapi.yaml is not a mapping".into()))?
        .insert(
            "servers".into(),
            json!([{"url": public_base_url, "description": "this deployment"}]),
        );
    Ok(description)
}

fn api_description_handler(app: &App, req: Request) -> HandlerFuture<'_> {
    Box::pin(api_description(app, req))
}

/// The description, unless `API_DOCS` is off: then the route reads as absent.
pub async fn api_description(app: &App, _req: Request) -> Result<Response<Body>, ApiError> {
    if !app.config.api_docs {
        return Err(ApiError::not_found(
            "not_found",
            "the API description is not served here",
        ));
    }
    let body = description_for(&app.config.public_base_url)?;
    Ok(response::cache_public(
        response::json(StatusCode::OK, &body)?,
        MAX_AGE_SECONDS,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_is_openapi_3_1_and_names_the_serving_deployment() {
        let description = description_for("https://api.dev.runcrew.example").expect("parses");
        assert_eq!(description["openapi"], "3.1.0");
        assert_eq!(
            description["servers"][0]["url"],
            "https://api.dev.runcrew.example"
        );
        assert!(description["paths"]["/v1/courses"]["post"].is_object());
    }
}
