//! `Idempotency-Key` on POSTs that create: a client that retries after a timeout gets the
//! first answer again instead of a second course or run.
//!
//! The first request with a key claims it with a conditional write (a `pending` item that
//! lives a minute, so a crashed attempt frees the key), runs, and stores its answer for 24
//! hours. A repeat within that time replays the stored answer (`Idempotent-Replayed: true`);
//! a repeat while the first still runs is 409 with Retry-After; the same key with another
//! body is 422. Failed attempts release the key so the client may retry. Keys are per user
//! and route, kept in the user's partition (`USER#<userId>` / `IDEMPOTENCY#<digest>`), so
//! erasing the account erases them.

use std::future::Future;

use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::store::{Condition, Item, Key, Store, StoreError};
use crate::users::user_partition;
use crate::{digest, request};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// How long an answer is replayed.
pub const WINDOW_SECONDS: i64 = 24 * 3600;
/// How long a claim holds while its request runs.
const PENDING_SECONDS: i64 = 60;
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The item of `user_id`'s `key` on `route`.
pub fn item_key(user_id: &str, route: &str, key: &str) -> Key {
    let hashed = digest::sha256_hex(&[route.as_bytes(), b"\n", key.as_bytes()]);
    Key::new(user_partition(user_id), format!("IDEMPOTENCY#{hashed}"))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Runs `create` at most once per (`user_id`, route, `Idempotency-Key`) within
/// [`WINDOW_SECONDS`]; without the header it just runs.
pub async fn once<F, Fut>(
    store: &dyn Store,
    req: &Request,
    user_id: &str,
    create: F,
) -> Result<Response<Body>, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let Some(key) = request::header(req, HEADER) else {
        return create().await;
    };
    if key.is_empty()
        || key.len() > MAX_KEY_LEN
        || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY_LEN} printable ASCII characters"),
        ));
    }
    let route = request::route_key(req);
    let item_key = item_key(user_id, &route, key);
    let fingerprint = digest::sha256_hex(&[request::body_bytes(req.body())]);
    let mut pending = Map::new();
    pending.insert("state".into(), json!("pending"));
    pending.insert("fingerprint".into(), json!(fingerprint));
    let claim = Item::new(item_key.clone(), pending).expiring_at(now() + PENDING_SECONDS);
    match store.put(claim, Condition::NotExists).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            return replay(store, &item_key, &fingerprint).await;
        }
        Err(other) => return Err(other.into()),
    }
    let outcome = create().await;
    match &outcome {
        Ok(response) if response.status().is_success() => {
            let mut done = Map::new();
            done.insert("state".into(), json!("done"));
            done.insert("fingerprint".into(), json!(fingerprint));
            done.insert("status".into(), json!(response.status().as_u16()));
            done.insert(
                "body".into(),
                json!(String::from_utf8_lossy(request::body_bytes(
                    response.body()
                ))),
            );
            if let Some(location) = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
            {
                done.insert("location".into(), json!(location));
            }
            let record = Item::new(item_key, done).expiring_at(now() + WINDOW_SECONDS);
            if let Err(err) = store.put(record, Condition::None).await {
                // The work is done; only the replay is lost, and the claim expires soon.
                tracing::warn!(error = %err, "could not keep the answer of an idempotent request");
            }
        }
        _ => {
            // Nothing was created: free the key so the client may try again.
            if let Err(err) = store.delete(&item_key, Condition::None).await {
                tracing::warn!(error = %err, "could not release an idempotency key");
            }
        }
    }
    outcome
}

async fn replay(
    store: &dyn Store,
    item_key: &Key,
    fingerprint: &str,
) -> Result<Response<Body>, ApiError> {
    let busy = || ApiError::Conflict {
        code: "idempotent_request_in_progress",
        message: "a request with this Idempotency-Key is still running; retry shortly".into(),
    };
    let Some(item) = store.get(item_key).await? else {
        // It expired between the two reads: the first attempt failed and let go.
        return Err(busy());
    };
    if item.str("fingerprint") != Some(fingerprint) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "was already used with a different request body",
        ));
    }
    if item.str("state") != Some("done") {
        return Err(busy());
    }
    let status = item
        .i64("status")
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| http::StatusCode::from_u16(s).ok())
        .unwrap_or(http::StatusCode::OK);
    let mut response =
        crate::response::json_text(status, item.str("body").unwrap_or_default().to_owned());
    let headers = response.headers_mut();
    headers.insert(
        "idempotent-replayed",
        http::HeaderValue::from_static("true"),
    );
    if let Some(location) = item
        .body
        .get("location")
        .and_then(Value::as_str)
        .and_then(|l| http::HeaderValue::from_str(l).ok())
    {
        headers.insert(http::header::LOCATION, location);
    }
    Ok(response)
}
