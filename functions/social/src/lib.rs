//! The social graph: following runners, their followers and following lists, and the feed
//! of their runs.
//!
//! | item | pk / sk | indexes |
//! |---|---|---|
//! | follow | `USER#<follower>` / `FOLLOWS#<followee>` | gsi1 `FOLLOWERS#<followee>` / `<ms>#<follower>`, gsi2 `FOLLOWING#<follower>` / `<ms>#<followee>` |
//!
//! Counts live on both profiles and change in the follow's own transaction. The followee
//! hears of a new follower from the notifier, which reads the follow off the table's
//! stream once it has committed (`runcrew-notifications`).
//!
//! **The feed is fanned out on read.** A page reads who I follow (1 Query per 1,000
//! followed) and then, in parallel, each followed runner's feed index (`RUNFEED#<userId>`,
//! public runs that are not from Strava) for one page, merges newest first and reads the
//! authors' names and the runs' courses (1 BatchGetItem; a course id is shown only to a
//! viewer who may see the course). Cost: 0 extra writes per run; per feed page 2 + F
//! requests for F people followed, each Query returning at most one page. Why: a run
//! costs nothing more to write however many followers its runner has (fan-out on write
//! costs one write per follower per run, and a queue consumer to do it); unfollowing,
//! deleting a run or making it private shows at once with nothing to clean up; and
//! Strava's terms are kept by the index itself. The price grows with the number followed,
//! so the feed reads at most [`MAX_FEED_FOLLOWING`] of them; past that, fan-out on write
//! for heavy readers is the next step.

use futures::stream::{self, StreamExt, TryStreamExt};
use lambda_http::{Body, Request, Response};
use runcrew_model::author::Author;
use runcrew_model::follow::{
    count, follow_item, follow_key, followers_partition, following_partition,
};
use runcrew_model::profile::{account_closed, is_user_id, profile_key, user_partition};
use runcrew_model::run::{Run, course_keys, feed_partition, is_run_id, visible_courses};
use runcrew_shared::store::{Condition, Index, Item, Key, Query, SortRange, StoreError, Write};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};
use serde_json::{Value, json};

/// `PUT /v1/users/{userId}/follow`.
pub static FOLLOW: HttpFunction = HttpFunction {
    binary: "follow-put",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(follow(app, req)),
};

/// `DELETE /v1/users/{userId}/follow`.
pub static UNFOLLOW: HttpFunction = HttpFunction {
    binary: "follow-delete",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(unfollow(app, req)),
};

/// `GET /v1/users/{userId}/followers`.
pub static FOLLOWERS: HttpFunction = HttpFunction {
    binary: "followers-list",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(people(app, req, Direction::Followers)),
};

/// `GET /v1/users/{userId}/following`.
pub static FOLLOWING: HttpFunction = HttpFunction {
    binary: "following-list",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(people(app, req, Direction::Following)),
};

/// `GET /v1/feed`.
pub static FEED: HttpFunction = HttpFunction {
    binary: "feed-get",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(feed(app, req)),
};

/// Every function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[&FOLLOW, &UNFOLLOW, &FOLLOWERS, &FOLLOWING, &FEED];

/// Page size of lists unless `limit` says otherwise.
pub const DEFAULT_PAGE: usize = 20;
/// The largest `limit` of a list or the feed (422 above it); it also keeps a feed page's
/// authors and courses within one BatchGetItem (2 × 50 keys).
pub const MAX_LIST_PAGE: usize = 50;
/// The most followed runners a feed page reads.
pub const MAX_FEED_FOLLOWING: usize = 1_000;
/// Feed index reads in flight at once.
const FEED_CONCURRENCY: usize = 16;

fn user_not_found() -> ApiError {
    ApiError::not_found("user_not_found", "no such user")
}

fn target(req: &Request) -> Result<&str, ApiError> {
    let id = request::path_param(req, "userId")?;
    if is_user_id(id) {
        Ok(id)
    } else {
        Err(user_not_found())
    }
}

/// `PUT /v1/users/{userId}/follow`: idempotent; both counts move once, in the same
/// transaction. The notifier tells the followee (from the table's stream).
pub async fn follow(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let followee = target(&req)?;
    if followee == caller.user_id {
        return Err(ApiError::invalid("userId", "you cannot follow yourself"));
    }
    let store = app.store()?;
    let writes = vec![
        Write::Put {
            item: follow_item(&caller.user_id, followee),
            condition: Condition::NotExists,
        },
        count(&caller.user_id, "following_count", 1),
        count(followee, "follower_count", 1),
    ];
    match store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&2) => {
            return Err(user_not_found());
        }
        // My own profile is missing: with our own tokens the account was closed (erased
        // while its access token still lives); with an external issuer it is not made yet.
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
            return Err(match app.config.auth.external_oidc {
                None => account_closed(),
                Some(_) => ApiError::Conflict {
                    code: "profile_missing",
                    message: "your profile does not exist yet; call GET /v1/users/me first".into(),
                },
            });
        }
        // Already following: nothing changes and nobody is notified twice.
        Err(StoreError::TransactionCanceled { .. }) => return Ok(response::no_content()),
        Err(other) => return Err(other.into()),
    }
    Ok(response::no_content())
}

/// `DELETE /v1/users/{userId}/follow`: idempotent.
pub async fn unfollow(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let followee = target(&req)?;
    // Nobody follows themselves (`follow` refuses it), so there is nothing to undo; the
    // transaction below would name the caller's profile twice, which the store refuses.
    if followee == caller.user_id {
        return Ok(response::no_content());
    }
    let writes = vec![
        Write::Delete {
            key: follow_key(&caller.user_id, followee),
            condition: Condition::Exists,
        },
        count(&caller.user_id, "following_count", -1),
        count(followee, "follower_count", -1),
    ];
    match app.store()?.transact(writes).await {
        Ok(()) => Ok(response::no_content()),
        Err(StoreError::TransactionCanceled { failed }) if failed == [2] => {
            // The other account is gone: drop the follow and my count alone.
            let store = app.store()?;
            store
                .transact(vec![
                    Write::Delete {
                        key: follow_key(&caller.user_id, followee),
                        condition: Condition::Exists,
                    },
                    count(&caller.user_id, "following_count", -1),
                ])
                .await
                .or_else(|e| match e {
                    StoreError::TransactionCanceled { .. } => Ok(()),
                    other => Err(other),
                })?;
            Ok(response::no_content())
        }
        // Not following: nothing to undo.
        Err(StoreError::TransactionCanceled { .. }) => Ok(response::no_content()),
        Err(other) => Err(other.into()),
    }
}

/// Which list of people [`people`] reads: each is an index of the same follow items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Who follows the user: gsi1 `FOLLOWERS#<userId>`.
    Followers,
    /// Whom the user follows: gsi2 `FOLLOWING#<userId>`.
    Following,
}

/// `GET /v1/users/{userId}/followers` and `/following`: newest first, with names.
pub async fn people(
    app: &App,
    req: Request,
    direction: Direction,
) -> Result<Response<Body>, ApiError> {
    let user_id = target(&req)?;
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let store = app.store()?;
    let query = match direction {
        Direction::Followers => Query::index(Index::Gsi1, followers_partition(user_id)),
        Direction::Following => Query::index(Index::Gsi2, following_partition(user_id)),
    };
    let page = store
        .query(
            &query
                .descending()
                .limit(limit)
                .after(request::page_cursor(&req)),
        )
        .await?;
    let other = |item: &Item| -> Option<String> {
        match direction {
            Direction::Followers => item.str("follower_id"),
            Direction::Following => item.str("followee_id"),
        }
        .map(str::to_owned)
    };
    let mut keys: Vec<Key> = page
        .items
        .iter()
        .filter_map(other)
        .map(|id| profile_key(&id))
        .collect();
    keys.push(profile_key(user_id));
    keys.dedup();
    let authors = Author::by_id(&store.get_many(&keys).await?);
    if !authors.contains_key(user_id) {
        return Err(user_not_found());
    }
    let items: Vec<Value> = page
        .items
        .iter()
        .filter_map(|item| {
            let id = other(item)?;
            let author = authors.get(&id)?;
            Some(json!({
                "user_id": id,
                "display_name": author.display_name,
                "avatar_url": author.avatar_url,
                "followed_at": item.str("followed_at"),
            }))
        })
        .collect();
    response::page(&items, page.cursor.as_deref())
}

/// Whom `user_id` follows (at most [`MAX_FEED_FOLLOWING`]).
async fn followed_by(
    store: &dyn runcrew_shared::store::Store,
    user_id: &str,
) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    let mut query = Query::partition(user_partition(user_id))
        .range(SortRange::BeginsWith("FOLLOWS#".into()))
        .limit(MAX_FEED_FOLLOWING);
    while ids.len() < MAX_FEED_FOLLOWING {
        let page = store.query(&query).await?;
        ids.extend(
            page.items
                .iter()
                .filter_map(|i| i.str("followee_id").map(str::to_owned)),
        );
        match page.cursor {
            Some(next) => query = query.after(Some(next)),
            None => break,
        }
    }
    ids.truncate(MAX_FEED_FOLLOWING);
    Ok(ids)
}

/// `GET /v1/feed`: recent public runs of the people I follow, newest first. The cursor is
/// the id of the last run shown (run ids order by start time).
pub async fn feed(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let before = request::page_cursor(&req);
    if before.as_deref().is_some_and(|c| !is_run_id(c)) {
        return Err(ApiError::bad_request(
            "invalid_cursor",
            Some("cursor"),
            "the cursor is not valid for this list",
        ));
    }
    let store = app.store()?;
    let followed = followed_by(store, &caller.user_id).await?;
    let range = match &before {
        Some(last) => SortRange::AtMost(last.clone()),
        None => SortRange::All,
    };
    let pages: Vec<Vec<Item>> = stream::iter(followed)
        .map(|followee| {
            let query = Query::index(Index::Gsi1, feed_partition(&followee))
                .range(range.clone())
                .descending()
                .limit(limit + 1);
            async move { store.query(&query).await.map(|p| p.items) }
        })
        .buffer_unordered(FEED_CONCURRENCY)
        .try_collect()
        .await?;
    let mut runs: Vec<Run> = Vec::new();
    for item in pages.iter().flatten() {
        let run = Run::from_item(item)?;
        // The index holds only public, non-Strava runs; check again all the same.
        if run.in_feed() && before.as_deref() != Some(run.run_id.as_str()) {
            runs.push(run);
        }
    }
    runs.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    let more = runs.len() > limit;
    runs.truncate(limit);
    // One BatchGetItem: the page's authors (at most one per run) and the courses its runs
    // name (as many), at most 2 × MAX_LIST_PAGE = 100 keys.
    let keys: Vec<Key> = {
        let mut ids: Vec<&str> = runs.iter().map(|r| r.user_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut keys: Vec<Key> = ids.into_iter().map(profile_key).collect();
        keys.extend(course_keys(&runs));
        keys
    };
    let found = if keys.is_empty() {
        Vec::new()
    } else {
        store.get_many(&keys).await?
    };
    // A course id is shown only when I may see the course (not private to someone else,
    // not deleted): the id of a course I cannot see is not mine to have.
    let courses = visible_courses(&found, Some(&caller.user_id));
    let authors = Author::by_id(&found);
    let items: Vec<Value> = runs
        .iter()
        .map(|run| {
            let course_visible = run
                .course_id
                .as_ref()
                .is_some_and(|id| courses.contains(id));
            let mut view = run.public_view(course_visible);
            view["author"] = Author::summary(&run.user_id, authors.get(&run.user_id));
            view
        })
        .collect();
    let next = if more {
        runs.last().map(|r| r.run_id.clone())
    } else {
        None
    };
    let mut resp = response::page(&items, next.as_deref())?;
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}
