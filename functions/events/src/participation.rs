//! Joining and leaving an event, and its participant list and waitlist.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use runcrew_model::author::Author;
use runcrew_model::event::roster::{self, Place};
use runcrew_model::event::{Role, load_visible};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};

use crate::now_ms;

/// `PUT /v1/events/{eventId}/participation`.
pub static JOIN: HttpFunction = HttpFunction {
    binary: "events-join",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(join(app, req)),
};

/// `DELETE /v1/events/{eventId}/participation`.
pub static LEAVE: HttpFunction = HttpFunction {
    binary: "events-leave",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(leave(app, req)),
};

/// `GET /v1/events/{eventId}/participants`.
pub static PARTICIPANTS: HttpFunction = HttpFunction {
    binary: "events-participants",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(participants(app, req)),
};

/// Page size of the participant list unless `limit` says otherwise.
pub const DEFAULT_PAGE: usize = 50;
/// The largest page: one BatchGetItem of profiles.
pub const MAX_PAGE: usize = 100;

/// `PUT /v1/events/{eventId}/participation`: joins, or waits when it is full; 200 with
/// the event and my status either way. Joining again changes nothing. 409 when it is
/// cancelled, over, mine, or its waitlist is full.
pub async fn join(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let event_id = request::path_param(&req, "eventId")?;
    let store = app.store()?;
    let seen = load_visible(store, event_id, Some(&caller.user_id)).await?;
    if seen.role == Some(Role::Host) {
        // The same refusal a join would give, without a write.
        return Err(ApiError::Conflict {
            code: "host_cannot_join",
            message: "you host this event; its capacity counts those who join".into(),
        });
    }
    let known = roster::Known {
        event: seen.item,
        member: seen.member,
    };
    let standing = roster::join(store, known, &caller.user_id, now_ms()).await?;
    let role = standing.place.map(|place| match place {
        Place::Going => Role::Going,
        Place::Waiting => Role::Waiting,
    });
    tracing::info!(event_id, place = ?standing.place, "joined");
    response::ok(&standing.event.view(seen.host.as_ref(), role))
}

/// `DELETE /v1/events/{eventId}/participation`: leaves (or leaves the waitlist); 204,
/// also when I was not in it. A seat freed while others wait goes to the first of them.
pub async fn leave(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let event_id = request::path_param(&req, "eventId")?;
    let store = app.store()?;
    let seen = load_visible(store, event_id, Some(&caller.user_id)).await?;
    let known = roster::Known {
        event: seen.item,
        member: seen.member,
    };
    roster::leave(store, event_id, &caller.user_id, Some(known)).await?;
    Ok(response::no_content())
}

/// `GET /v1/events/{eventId}/participants?status=going|waiting`: names and avatars in
/// order of arrival, paged. The waitlist is the host's to see (403 for others).
pub async fn participants(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_PAGE)?;
    let place = match request::query_param::<String>(&req, "status")?.as_deref() {
        None | Some("going") => Place::Going,
        Some("waiting") => Place::Waiting,
        Some(_) => return Err(ApiError::invalid("status", "must be going or waiting")),
    };
    let store = app.store()?;
    let (seen, _) = crate::seen_by_viewer(app, &req).await?;
    let event_id = seen.event.event_id.as_str();
    if place == Place::Waiting && seen.role != Some(Role::Host) {
        return Err(ApiError::Forbidden(
            "only the event's host sees its waitlist".into(),
        ));
    }
    let (users, cursor) =
        roster::page(store, event_id, place, limit, request::page_cursor(&req)).await?;
    let authors = Author::load(store, users.iter().map(String::as_str)).await?;
    let rows: Vec<Value> = users
        .iter()
        .map(|user| {
            let mut row = Author::summary(user, authors.get(user));
            row["status"] = json!(place);
            row
        })
        .collect();
    response::page(&rows, cursor.as_deref())
}
