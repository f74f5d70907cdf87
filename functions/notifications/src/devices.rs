//! `POST` / `DELETE /v1/notifications/token`: the caller's devices, which the `push`
//! consumer sends to. The rules (one owner per token, at most 20 devices, tokens never
//! printed) live in `runcrew_model::notification::device`.

use lambda_http::{Body, Request, Response};
use runcrew_model::notification::device::{self, NewDevice, parse_token};
use runcrew_shared::clock::now_epoch_ms;
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};
use serde_json::Value;

/// `POST /v1/notifications/token`.
pub static REGISTER: HttpFunction = HttpFunction {
    binary: "notifications-token-create",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(register(app, req)),
};

/// `DELETE /v1/notifications/token`.
pub static UNREGISTER: HttpFunction = HttpFunction {
    binary: "notifications-token-delete",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(unregister(app, req)),
};

/// Registers (or refreshes, or moves here) the caller's device: 204.
pub async fn register(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let device = NewDevice::parse(&request::json_body::<Value>(&req)?)?;
    device::register(
        app.store()?,
        &caller.user_id,
        &device,
        now_epoch_ms() as i64,
    )
    .await?;
    Ok(response::no_content())
}

/// Removes the caller's device: 204, also when it was not theirs or not there.
pub async fn unregister(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let token = parse_token(&request::json_body::<Value>(&req)?)?;
    device::remove(app.store()?, &caller.user_id, &token.digest()).await?;
    Ok(response::no_content())
}
