//! Likes and favorites: one item per (course, user), so doing it twice is one like; the
//! course's counter changes in the same transaction as the item.

use lambda_http::{Body, Request, Response};
use runcrew_model::profile::{account_closed, open_account_check};
use runcrew_shared::store::{Condition, Index, Key, Query, StoreError, Write};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};
use serde_json::{Value, json};

use crate::{DEFAULT_PAGE, MAX_LIST_PAGE};
use runcrew_model::course::{Course, course_key, course_not_found, load_visible};
use runcrew_model::reaction::Reaction;

/// `PUT /v1/courses/{courseId}/like`.
pub static LIKE: HttpFunction = HttpFunction {
    binary: "courses-like-put",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(react(app, req, Reaction::Like, true)),
};

/// `DELETE /v1/courses/{courseId}/like`.
pub static UNLIKE: HttpFunction = HttpFunction {
    binary: "courses-like-delete",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(react(app, req, Reaction::Like, false)),
};

/// `PUT /v1/courses/{courseId}/favorite`.
pub static FAVORITE: HttpFunction = HttpFunction {
    binary: "courses-favorite-put",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(react(app, req, Reaction::Favorite, true)),
};

/// `DELETE /v1/courses/{courseId}/favorite`.
pub static UNFAVORITE: HttpFunction = HttpFunction {
    binary: "courses-favorite-delete",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(react(app, req, Reaction::Favorite, false)),
};

/// `GET /v1/users/me/favorites` (the bucket's addresses sign the file URLs of my own
/// private courses; it touches no file).
pub static MY_FAVORITES: HttpFunction = HttpFunction {
    binary: "users-me-favorites",
    needs: Needs::NOTHING.store().file_urls(),
    handler: |app, req| Box::pin(my_favorites(app, req)),
};

/// Adds (`on`) or removes the caller's reaction. Idempotent: a second like is no second
/// like, removing an absent one is fine. 204 either way; 401 when the caller's account is
/// closed (its token outlives it by up to 15 minutes), with nothing written.
pub async fn react(
    app: &App,
    req: Request,
    reaction: Reaction,
    on: bool,
) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let course_id = request::path_param(&req, "courseId")?;
    let store = app.store()?;
    let (course, _) = load_visible(store, course_id, Some(&caller.user_id)).await?;
    let id = &course.course_id;
    let first = if on {
        Write::Put {
            item: reaction.item(id, &caller.user_id),
            condition: Condition::NotExists,
        }
    } else {
        Write::Delete {
            key: reaction.key(id, &caller.user_id),
            condition: Condition::Exists,
        }
    };
    let count = Write::Increment {
        key: course_key(id),
        deltas: vec![(reaction.counter().into(), if on { 1 } else { -1 })],
        must_exist: true,
    };
    match store
        .transact(vec![first, count, open_account_check(&caller.user_id)])
        .await
    {
        Ok(()) => Ok(response::no_content()),
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&2) => {
            Err(account_closed())
        }
        // The course went away between the read and the write.
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
            Err(course_not_found())
        }
        // Already liked (or already not liked): nothing to change.
        Err(StoreError::TransactionCanceled { .. }) => Ok(response::no_content()),
        Err(other) => Err(other.into()),
    }
}

/// `GET /v1/users/me/favorites`: my favorites newest first, each with its course. Courses
/// that became private to someone else drop out, id and all: the page cursor is sealed by
/// the store, so a page that ends on such a favorite does not carry its course's id either.
pub async fn my_favorites(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let store = app.store()?;
    let page = store
        .query(
            &Query::index(
                Index::Gsi1,
                Reaction::Favorite.user_partition(&caller.user_id),
            )
            .descending()
            .limit(limit)
            .after(request::page_cursor(&req)),
        )
        .await?;
    let keys: Vec<Key> = page
        .items
        .iter()
        .filter_map(|f| f.str("course_id").map(course_key))
        .collect();
    let mut courses = std::collections::HashMap::new();
    for item in store.get_many(&keys).await? {
        let (course, _) = Course::from_item(&item)?;
        if course.visible_to(Some(&caller.user_id)) {
            courses.insert(course.course_id.clone(), course);
        }
    }
    let mut items: Vec<Value> = Vec::with_capacity(page.items.len());
    for favorite in &page.items {
        let Some(course) = favorite.str("course_id").and_then(|id| courses.get(id)) else {
            continue;
        };
        items.push(json!({"favorited_at": favorite.str("at"), "course": course.view(app).await?}));
    }
    let mut resp = response::page(&items, page.cursor.as_deref())?;
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}
