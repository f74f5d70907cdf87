//! `GET` / `PATCH /v1/users/me/notification-settings`: which types may push, and quiet
//! hours in the caller's zone. The rules live in `runcrew_model::notification::settings`.

use lambda_http::{Body, Request, Response};
use runcrew_model::notification::settings::{self, SettingsPatch};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};
use serde_json::Value;

/// `GET /v1/users/me/notification-settings`.
pub static GET: HttpFunction = HttpFunction {
    binary: "notification-settings-get",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(get(app, req)),
};

/// `PATCH /v1/users/me/notification-settings`.
pub static UPDATE: HttpFunction = HttpFunction {
    binary: "notification-settings-update",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(update(app, req)),
};

/// The caller's settings (the defaults until they change one).
pub async fn get(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let settings = settings::load(app.store()?, &caller.user_id).await?;
    response::no_store(http::StatusCode::OK, &settings)
}

/// Changes what the body names; answers the settings as saved.
pub async fn update(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let patch = SettingsPatch::parse(&request::json_body::<Value>(&req)?)?;
    let settings = settings::update(app.store()?, &caller.user_id, patch).await?;
    response::no_store(http::StatusCode::OK, &settings)
}
