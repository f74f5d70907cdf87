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
//! **The feed is fanned out on write** ([`runcrew_model::feed`], [`fanout`]). A run that
//! may be in feeds is written, off the request, into the feed of each follower of its
//! runner; a page of the feed is then one Query of my own entries and one read of the runs
//! they name, whoever and however many I follow.
//!
//! Why, in numbers (on-demand prices, 2026: a write unit $1.25 per million, a read unit
//! $0.25 per million). Fanned out on read, a page costs one Query per person followed:
//! 2 + F requests and F half-units, so a reader following 1,000 runners paid 1,000 Queries
//! (601 read units, 1.8 s on DynamoDB Local) for every page, and the feed had to stop
//! reading after the first 1,000 followed. Fanned out on write, a page is 2 rounds and 42
//! read units whoever one follows (BENCHMARKS.md, "Cost at scale"), and a run costs per
//! follower one small entry (2 write units: the table and its index) and one consistent
//! read of the follow (1 read unit, the check that takes back entries of readers who have
//! just left): a runner with 200 followers (a busy club member) about $0.0006 a run, one
//! with 100,000 followers about $0.28 a run, written in 400 steps of 250 (10,000 followers
//! took 40 steps and 21 s on DynamoDB Local). Feeds are read far more often than runs are
//! recorded, and the cost of a page no longer depends on the reader. Accounts with millions
//! of followers would be merged on read instead; a running-club app has none, so there is
//! one path, which the benchmark measures.
//!
//! What keeps it right: a run's deletion takes its entries out of every feed (by the same
//! steps), an unfollow takes the runner's entries out of the reader's (and a page already
//! hides them: it reads my follows of its runners with the runs), a new follow copies the
//! runner's latest runs in, private and Strava runs are never fanned out, and erasure
//! removes a runner's entries everywhere (gsi1 `FEEDBY#`).

pub mod fanout;

use std::collections::HashSet;

use lambda_http::{Body, Request, Response};
use runcrew_model::author::Author;
use runcrew_model::course::course_key;
use runcrew_model::feed::feed_of;
use runcrew_model::follow::{
    count, follow_item, follow_key, followers_partition, following_partition,
};
use runcrew_model::profile::{account_closed, is_user_id, profile_key};
use runcrew_model::run::{Run, is_run_id, run_key, visible_courses};
use runcrew_shared::store::{Condition, Index, Item, Key, Query, StoreError, Write, get_all};
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

/// `GET /v1/feed`: recent public runs of the people I follow, newest first. The cursor is
/// the id of the last run shown (run ids order by start time).
///
/// Two rounds whoever I follow: a page of my feed entries, then one read (in parallel
/// BatchGetItems of at most 100 keys) of the runs, my follows of their runners, the
/// runners' names and the courses. A run deleted, or a runner I no longer follow, is left
/// out at once (the entries go in the background); a page may then hold fewer than
/// `limit` runs, and `next_cursor` still says whether more follow.
pub async fn feed(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let me = caller.user_id.as_str();
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
    // One more than the page (and the bound itself, on a later page): whether more follow.
    let page = store
        .query(&feed_of(me, before.as_deref()).limit(limit + 2))
        .await?;
    let mut entries: Vec<(String, String, Option<String>)> = page
        .items
        .iter()
        .filter_map(|item| {
            Some((
                item.str("author_id")?.to_owned(),
                item.str("run_id")?.to_owned(),
                item.str("course_id").map(str::to_owned),
            ))
        })
        .filter(|(_, run_id, _)| before.as_deref() != Some(run_id.as_str()))
        .collect();
    let more = entries.len() > limit || page.cursor.is_some();
    entries.truncate(limit);
    let mut authors: Vec<&str> = entries.iter().map(|(a, _, _)| a.as_str()).collect();
    authors.sort_unstable();
    authors.dedup();
    let mut keys: Vec<Key> = entries
        .iter()
        .map(|(author, run_id, _)| run_key(author, run_id))
        .collect();
    keys.extend(authors.iter().map(|author| follow_key(me, author)));
    keys.extend(authors.iter().map(|author| profile_key(author)));
    let mut courses: Vec<&str> = entries
        .iter()
        .filter_map(|(_, _, course)| course.as_deref())
        .collect();
    courses.sort_unstable();
    courses.dedup();
    keys.extend(courses.into_iter().map(course_key));
    let found = get_all(store, &keys).await?;
    let followed: HashSet<&str> = found
        .iter()
        .filter(|item| item.key.sk.starts_with("FOLLOWS#"))
        .filter_map(|item| item.str("followee_id"))
        .collect();
    let mut runs: Vec<Run> = found
        .iter()
        .filter(|item| item.key.sk.starts_with("RUN#"))
        .map(Run::from_item)
        .collect::<Result<_, _>>()?;
    // The entries hold only public runs that are not from Strava; check again all the same.
    runs.retain(|run| run.in_feed() && followed.contains(run.user_id.as_str()));
    runs.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    // A course id is shown only when I may see the course (not private to someone else,
    // not deleted): the id of a course I cannot see is not mine to have.
    let courses = visible_courses(&found, Some(me));
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
    // The last entry read, shown or not, so a page of hidden runs still moves on.
    let next = if more {
        entries.last().map(|(_, run_id, _)| run_id.clone())
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
