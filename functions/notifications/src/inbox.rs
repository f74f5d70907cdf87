//! `GET /v1/notifications` and `POST /v1/notifications/read`: the caller's inbox, newest
//! first, and marking it read. A page costs the same whatever the inbox holds: two
//! queries, one read of the read-up-to mark and one batch read of the people named.

use lambda_http::{Body, Request, Response};
use runcrew_model::author::Author;
use runcrew_model::notification::inbox::{self, MAX_MARK_IDS, Notification, NotificationId};
use runcrew_shared::clock::now_epoch_ms;
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};
use serde_json::{Value, json};

/// `GET /v1/notifications`.
pub static LIST: HttpFunction = HttpFunction {
    binary: "notifications-list",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(list(app, req)),
};

/// `POST /v1/notifications/read`.
pub static MARK_READ: HttpFunction = HttpFunction {
    binary: "notifications-read",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(mark_read(app, req)),
};

/// Page size unless `limit` says otherwise.
pub const DEFAULT_PAGE: usize = 20;
/// The largest `limit`.
pub const MAX_PAGE: usize = 50;

/// The caller's inbox page, with the people named in it as they are now.
pub async fn list(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_PAGE)?;
    let store = app.store()?;
    let page = inbox::page(store, &caller.user_id, limit, request::page_cursor(&req)).await?;
    let people = Author::load(
        store,
        page.items.iter().filter_map(|n| n.actor_id.as_deref()),
    )
    .await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|n| {
            shown(
                n,
                n.actor_id
                    .as_deref()
                    .map(|id| Author::summary(id, people.get(id))),
            )
        })
        .collect();
    response::no_store(
        http::StatusCode::OK,
        &json!({
            "items": items,
            "next_cursor": page.cursor,
            "unread_count": page.unread_count,
            "unread_more": page.unread_more,
        }),
    )
}

/// A notification as the API shows it.
fn shown(notification: &Notification, actor: Option<Value>) -> Value {
    json!({
        "id": notification.id,
        "type": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "actor": actor,
        "course_id": notification.course_id,
        "event_id": notification.event_id,
        "job_id": notification.job_id,
        "created_at": notification.created_at(),
        "read": notification.read,
    })
}

/// What to mark read: some notifications, or everything so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkRead {
    /// These ids.
    Ids(Vec<NotificationId>),
    /// Everything up to now.
    All,
}

impl MarkRead {
    /// Reads `{ids: [...]}` or `{all: true}`; anything else is a 422 naming the field.
    pub fn parse(body: &Value) -> Result<MarkRead, ApiError> {
        let object = body
            .as_object()
            .ok_or_else(|| ApiError::invalid("body", "must be {ids: [...]} or {all: true}"))?;
        if let Some(other) = object.keys().find(|k| !matches!(k.as_str(), "ids" | "all")) {
            return Err(ApiError::invalid(
                other.as_str(),
                "is not read here; send ids or all",
            ));
        }
        match (object.get("ids"), object.get("all")) {
            (Some(_), Some(_)) => Err(ApiError::invalid("all", "send either ids or all, not both")),
            (None, Some(Value::Bool(true))) => Ok(MarkRead::All),
            (None, Some(_)) => Err(ApiError::invalid("all", "must be true (or send ids)")),
            (Some(ids), None) => {
                let ids = ids.as_array().ok_or_else(|| {
                    ApiError::invalid("ids", "must be an array of notification ids")
                })?;
                if ids.is_empty() || ids.len() > MAX_MARK_IDS {
                    return Err(ApiError::invalid(
                        "ids",
                        format!("must hold 1 to {MAX_MARK_IDS} notification ids"),
                    ));
                }
                let mut parsed = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        id.as_str().and_then(NotificationId::parse).ok_or_else(|| {
                            ApiError::invalid(format!("ids[{i}]"), "is not a notification id")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                parsed.sort();
                parsed.dedup();
                Ok(MarkRead::Ids(parsed))
            }
            (None, None) => Err(ApiError::invalid("ids", "send ids: [...] or all: true")),
        }
    }
}

/// Marks the caller's notifications read: 204. Ids that are not (or no longer) in the
/// inbox are skipped: marking is idempotent.
pub async fn mark_read(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let what = MarkRead::parse(&request::json_body::<Value>(&req)?)?;
    let store = app.store()?;
    match what {
        MarkRead::All => {
            inbox::mark_all_read(store, &caller.user_id, now_epoch_ms() as i64).await?
        }
        MarkRead::Ids(ids) => {
            inbox::mark_read(store, &caller.user_id, &ids).await?;
        }
    }
    Ok(response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_read_takes_ids_or_all_and_names_what_is_wrong() {
        let id = NotificationId::new(1_764_547_200_000, "x");
        assert_eq!(
            MarkRead::parse(&json!({"ids": [id.as_str(), id.as_str()]})).expect("valid"),
            MarkRead::Ids(vec![id.clone()])
        );
        assert_eq!(
            MarkRead::parse(&json!({"all": true})).expect("valid"),
            MarkRead::All
        );
        let too_many: Vec<&str> = (0..=MAX_MARK_IDS).map(|_| id.as_str()).collect();
        for (body, field) in [
            (json!({}), "ids"),
            (json!({"ids": []}), "ids"),
            (json!({"ids": too_many}), "ids"),
            (json!({"ids": [id.as_str(), "nope"]}), "ids[1]"),
            (json!({"ids": "all"}), "ids"),
            (json!({"all": false}), "all"),
            (json!({"all": true, "ids": [id.as_str()]}), "all"),
            (json!({"every": true}), "every"),
            (json!([1]), "body"),
        ] {
            assert_eq!(
                MarkRead::parse(&body).expect_err("refused").field(),
                Some(field),
                "{body}"
            );
        }
    }
}
