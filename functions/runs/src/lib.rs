//! Run records, per-course leaderboards and personal statistics.
//!
//! Store round trips per route (DynamoDB):
//!
//! | route | reads | writes |
//! |---|---|---|
//! | `POST /v1/runs` | [1 GetItem course] + [1 GetItem best] + 1 GetItem records | [1 PutItem (idempotency claim)] + 1 transaction (run, path, 4 totals, open-account check [, idempotency answer]) + [1 transaction: best and its 2–4 rank counters] + [1 PutItem records] + [1 PutItem (final idempotency answer)] |
//! | `GET /v1/runs` | 1 Query | 0 |
//! | `GET /v1/runs/{id}` | 1 BatchGetItem (run, path) | 0 |
//! | `DELETE /v1/runs/{id}` | 1 GetItem + [1 GetItem best + 1 Query next best] + [1 GetItem records] | 1 transaction (with the open-account check) + [1 transaction best and its rank counters] + [records rebuilt: 1 Query per 1,000 runs + 1 PutItem] |
//! | `GET /v1/courses/{id}/leaderboard` | 1 Query page, then 1 BatchGetItem (course, names [, mine]) [∥ a later page's first rank: 2 Queries of rank counters ∥ 1 COUNT of ties] [+ the same for my rank off the page] | 0 |
//! | `GET /v1/users/me/stats` | 1 GetItem profile, then 1 BatchGetItem (4 totals + records) | 0 |

pub mod projector;

use lambda_http::{Body, Request, Response};
use runcrew_model::author::Author;
use runcrew_model::course::{
    Course, course_not_found, is_course_id, load_visible, load_visible_with,
};
use runcrew_model::leaderboard::{Best, best_key, board_partition, rank_of};
use runcrew_model::profile::{account_closed, load_profile, open_account_check, profile_key};
use runcrew_model::run::{
    NewRun, Run, RunInput, is_run_id, path_item, path_key, run_key, runs_of, unknown_course,
};
use runcrew_model::{idempotency, leaderboard, stats};
use runcrew_shared::clock::now_rfc3339;
use runcrew_shared::route::Route;
use runcrew_shared::store::{Condition, Index, Key, Query, Store, StoreError, Write};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// `POST /v1/runs`.
pub static CREATE: HttpFunction = HttpFunction {
    binary: "runs-create",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(create(app, req)),
};

/// `GET /v1/runs`.
pub static LIST: HttpFunction = HttpFunction {
    binary: "runs-list",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(list(app, req)),
};

/// `GET /v1/runs/{runId}`.
pub static GET: HttpFunction = HttpFunction {
    binary: "runs-get",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(get(app, req)),
};

/// `DELETE /v1/runs/{runId}`.
pub static DELETE: HttpFunction = HttpFunction {
    binary: "runs-delete",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(delete(app, req)),
};

/// `GET /v1/courses/{courseId}/leaderboard`.
pub static LEADERBOARD: HttpFunction = HttpFunction {
    binary: "leaderboard-get",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(leaderboard(app, req)),
};

/// `GET /v1/users/me/stats`.
pub static STATS: HttpFunction = HttpFunction {
    binary: "users-me-stats",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(my_stats(app, req)),
};

/// Every function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[&CREATE, &LIST, &GET, &DELETE, &LEADERBOARD, &STATS];

/// Page size of lists unless `limit` says otherwise.
pub const DEFAULT_PAGE: usize = 20;
/// The largest page of a list: a page is one Query, kept well under DynamoDB's 1 MB.
pub const MAX_LIST_PAGE: usize = 50;
/// The largest create body (a path of 10,000 positions fits).
pub const MAX_CREATE_BODY: usize = 1024 * 1024;

fn run_not_found() -> ApiError {
    ApiError::not_found("run_not_found", "no such run")
}

/// `POST /v1/runs`: a run of the caller. With an `Idempotency-Key`, a repeat within 24
/// hours returns the first answer and creates nothing: the answer is committed in the
/// run's own transaction, so a retry after any cut-off replays it. A replay after a
/// cut-off between that commit and the leaderboard update may say
/// `"personal_best_on_course": false` where the first answer would have said `true` (the
/// best is known only after the commit; the stored answer is refreshed best-effort).
/// A closed account (a token that outlives its erasure) is refused with 401.
pub async fn create(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    idempotency::once_committed(app.store()?, &req, &caller.user_id, |completion| {
        create_run(app, &req, &caller.user_id, completion)
    })
    .await
}

/// The 201 of a new run.
fn created(run: &Run, personal_best: bool) -> Result<Response<Body>, ApiError> {
    let mut view = run.owner_view();
    view["personal_best_on_course"] = json!(personal_best);
    let mut resp = response::json(http::StatusCode::CREATED, &view)?;
    if let Ok(location) = http::HeaderValue::from_str(&format!("/v1/runs/{}", run.run_id)) {
        resp.headers_mut().insert(http::header::LOCATION, location);
    }
    Ok(resp)
}

/// The rules ([`NewRun`]) in the model; here only the course lookup, the writes and the
/// projections that follow them.
async fn create_run(
    app: &App,
    req: &Request,
    user_id: &str,
    completion: Option<idempotency::Completion>,
) -> Result<Response<Body>, ApiError> {
    let input: RunInput = request::json_body_limited(req, MAX_CREATE_BODY)?;
    let new = NewRun::parse(input, OffsetDateTime::now_utc())?;
    let store = app.store()?;
    let course = named_course(store, new.course_id(), user_id).await?;
    let (run, path) = new.record(user_id, course.as_ref(), &app.config.runs, now_rfc3339());
    save(store, &run, path.as_ref(), completion.as_ref()).await?;
    let best = project(store, &run).await;
    created(&run, best)
}

/// The course `course_id` names, if the runner may see it; one they may not is the same
/// "no such course" as a missing one, so a private course's existence is not told.
async fn named_course(
    store: &dyn Store,
    course_id: Option<&str>,
    user_id: &str,
) -> Result<Option<Course>, ApiError> {
    let Some(id) = course_id else {
        return Ok(None);
    };
    match load_visible(store, id, Some(user_id)).await {
        Ok((course, _)) => Ok(Some(course)),
        Err(ApiError::NotFound { .. }) => Err(unknown_course()),
        Err(other) => Err(other),
    }
}

/// Writes `run`, its path and its part of the totals in one transaction, so the totals
/// never count a run that is not there. With an `Idempotency-Key`, the answer a retry
/// replays commits with the run (before the best is known).
async fn save(
    store: &dyn Store,
    run: &Run,
    path: Option<&Route>,
    completion: Option<&idempotency::Completion>,
) -> Result<(), ApiError> {
    let mut writes = vec![Write::Put {
        item: run.to_item()?,
        condition: Condition::NotExists,
    }];
    if let Some(path) = path {
        writes.push(Write::Put {
            item: path_item(&run.user_id, &run.run_id, path),
            condition: Condition::NotExists,
        });
    }
    writes.extend(stats::tally(run, 1)?);
    let answer = completion
        .map(|completion| created(run, false).map(|response| (completion, response)))
        .transpose()?;
    idempotency::commit_create(
        store,
        writes,
        &run.user_id,
        answer
            .as_ref()
            .map(|(completion, response)| (*completion, response)),
    )
    .await
}

/// After `run` is saved: a first attempt at its place on the course's leaderboard and its
/// personal records, for the answer's `personal_best_on_course`. Failures are logged, never
/// returned: the run is saved (an error would make the client retry a run that exists),
/// and the [`projector`] applies the run again from the table's stream, so a failure here
/// is repaired there.
async fn project(store: &dyn Store, run: &Run) -> bool {
    let best = match leaderboard::offer(store, run).await {
        Ok(best) => best,
        Err(err) => {
            tracing::warn!(run_id = %run.run_id, error = %err, "leaderboard not updated yet; the projector will");
            false
        }
    };
    if let Err(err) = stats::offer_records(store, run).await {
        tracing::warn!(run_id = %run.run_id, error = %err, "records not updated yet; the projector will");
    }
    best
}

/// `GET /v1/runs`: my runs, newest first.
pub async fn list(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let page = app
        .store()?
        .query(
            &runs_of(&caller.user_id)
                .descending()
                .limit(limit)
                .after(request::page_cursor(&req)),
        )
        .await?;
    let mut views = Vec::with_capacity(page.items.len());
    for item in &page.items {
        views.push(Run::from_item(item)?.owner_view());
    }
    let mut resp = response::page(&views, page.cursor.as_deref())?;
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

fn run_id_param(req: &Request) -> Result<&str, ApiError> {
    let id = request::path_param(req, "runId")?;
    if is_run_id(id) {
        Ok(id)
    } else {
        Err(run_not_found())
    }
}

/// `GET /v1/runs/{runId}`: one of my runs with its path; anyone else's is 404.
pub async fn get(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let run_id = run_id_param(&req)?;
    let store = app.store()?;
    let (run_key, path_key) = (
        run_key(&caller.user_id, run_id),
        path_key(&caller.user_id, run_id),
    );
    // One BatchGetItem: the run and its path.
    let items = store.get_many(&[run_key.clone(), path_key.clone()]).await?;
    let found = |key: &Key| items.iter().find(|item| item.key == *key);
    let run = found(&run_key).ok_or_else(run_not_found)?;
    let mut view = Run::from_item(run)?.owner_view();
    view["path_polyline"] = found(&path_key)
        .and_then(|p| p.str("polyline").map(|s| json!(s)))
        .unwrap_or(Value::Null);
    response::no_store(http::StatusCode::OK, &view)
}

/// `DELETE /v1/runs/{runId}`: the run, its path and its part of the totals; if it held my
/// place on a leaderboard, my next best run takes it; records are rebuilt if it held one
/// (at once where possible, and by the [`projector`] in any case).
pub async fn delete(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let run_id = run_id_param(&req)?;
    let store = app.store()?;
    let item = store
        .get(&run_key(&caller.user_id, run_id))
        .await?
        .ok_or_else(run_not_found)?;
    let run = Run::from_item(&item)?;
    let mut writes = vec![
        Write::Delete {
            key: item.key.clone(),
            condition: Condition::Exists,
        },
        Write::Delete {
            key: path_key(&caller.user_id, run_id),
            condition: Condition::None,
        },
    ];
    writes.extend(stats::tally(&run, -1)?);
    let account_at = writes.len();
    writes.push(open_account_check(&caller.user_id));
    match store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&account_at) => {
            return Err(account_closed());
        }
        // Deleted by a concurrent request: the outcome the client wants.
        Err(StoreError::TransactionCanceled { .. }) => {
            return Err(run_not_found());
        }
        Err(other) => return Err(other.into()),
    }
    // The delete is committed: the answer is 204 whatever happens next. The board and the
    // records are repaired here at once when they can be, and by the projector from the
    // table's stream in any case.
    if let Err(err) = leaderboard::withdraw(store, &run).await {
        tracing::warn!(run_id = %run.run_id, error = %err, "leaderboard not repaired yet; the projector will");
    }
    if let Err(err) = stats::withdraw_records(store, &run).await {
        tracing::warn!(run_id = %run.run_id, error = %err, "records not repaired yet; the projector will");
    }
    Ok(response::no_content())
}

/// `GET /v1/courses/{courseId}/leaderboard`: each runner's best, fastest first, with names
/// and ranks; with a token also my own rank and time.
pub async fn leaderboard(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let viewer = app.viewer(&req).await?;
    let viewer_id = viewer.as_ref().map(|v| v.user_id.as_str());
    let course_id = request::path_param(&req, "courseId")?;
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let cursor = request::page_cursor(&req);
    let later_page = cursor.is_some();
    let store = app.store()?;
    if !is_course_id(course_id) {
        return Err(course_not_found());
    }
    let query = Query::index(Index::Gsi1, board_partition(course_id))
        .limit(limit)
        .after(cursor);
    // Two round trips for a first page: the page, then one BatchGetItem of the course (may
    // the viewer see it?), my own entry and the page's runners. A later page's first rank
    // is read alongside ([`rank_of`]: rank counters and ties, whatever the board's size).
    let page = store.query(&query).await?;
    let entries: Vec<Best> = page
        .items
        .iter()
        .map(Best::from_item)
        .collect::<Result<_, _>>()?;
    let mine_key = viewer_id.map(|me| best_key(course_id, me));
    let mut keys: Vec<Key> = entries.iter().map(|e| profile_key(&e.user_id)).collect();
    keys.extend(mine_key.clone());
    let (course, first_rank) = tokio::join!(
        load_visible_with(store, course_id, viewer_id, keys),
        async {
            match (later_page, entries.first()) {
                (true, Some(first)) => rank_of(store, first).await,
                _ => Ok(1),
            }
        }
    );
    let (_, _, items) = course?;
    let first_rank = first_rank?;
    let authors = Author::by_id(&items);
    let mine = mine_key.and_then(|key| items.into_iter().find(|item| item.key == key));
    let rows: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let author = authors.get(&e.user_id);
            json!({
                "rank": first_rank + i,
                "user_id": e.user_id,
                "display_name": author.map_or("", |a| a.display_name.as_str()),
                "avatar_url": author.map_or(Value::Null, |a| a.avatar_url.clone()),
                "duration_s": e.duration_s,
                "distance_m": e.distance_m,
                "run_id": e.run_id,
                "started_at": e.started_at,
            })
        })
        .collect();
    let me = match mine {
        Some(item) => {
            let best = Best::from_item(&item)?;
            let rank = match entries.iter().position(|e| e.user_id == best.user_id) {
                Some(i) => first_rank + i,
                None => rank_of(store, &best).await?,
            };
            json!({"rank": rank, "duration_s": best.duration_s, "run_id": best.run_id, "started_at": best.started_at})
        }
        _ => Value::Null,
    };
    response::ok(&json!({"items": rows, "next_cursor": page.cursor, "me": me}))
}

/// `GET /v1/users/me/stats`: distance, time and runs this week, month and year and in all,
/// in my time zone; personal records at 1 km, 5 km, 10 km, half and full marathon.
pub async fn my_stats(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let store = app.store()?;
    let zone = load_profile(store, &caller.user_id)
        .await?
        .map(|(p, _)| p.time_zone)
        .unwrap_or_else(|| "UTC".into());
    let today = stats::today_in(&zone, OffsetDateTime::now_utc());
    let buckets = stats::bucket_keys(&caller.user_id, today);
    let mut keys = buckets.to_vec();
    keys.push(stats::records_key(&caller.user_id));
    let items = store.get_many(&keys).await?;
    let find = |key: &Key| items.iter().find(|i| i.key == *key);
    let monday = stats::week_start(today);
    response::no_store(
        http::StatusCode::OK,
        &json!({
            "time_zone": zone,
            "today": today.to_string(),
            "week": {"starts_on": monday.to_string(), "totals": stats::totals_view(find(&buckets[0]))},
            "month": {"totals": stats::totals_view(find(&buckets[1]))},
            "year": {"totals": stats::totals_view(find(&buckets[2]))},
            "all_time": {"totals": stats::totals_view(find(&buckets[3]))},
            "records": stats::records_view(find(&keys[4])),
        }),
    )
}
