//! Run records, per-course leaderboards and personal statistics.
//!
//! Store round trips per route (DynamoDB):
//!
//! | route | reads | writes |
//! |---|---|---|
//! | `POST /v1/runs` | [1 GetItem course] + [1 GetItem best] + 1 GetItem records | [1 PutItem (idempotency claim)] + 1 transaction (run, path, 4 totals, open-account check [, idempotency answer]) + [1 PutItem best] + [1 PutItem records] + [1 PutItem (final idempotency answer)] |
//! | `GET /v1/runs` | 1 Query | 0 |
//! | `GET /v1/runs/{id}` | 1 BatchGetItem (run, path) | 0 |
//! | `DELETE /v1/runs/{id}` | 1 GetItem + [1 GetItem best + 1 Query next best] + [1 GetItem records] | 1 transaction (with the open-account check) + [1 write best] + [records rebuilt: 1 Query per 1,000 runs + 1 PutItem] |
//! | `GET /v1/courses/{id}/leaderboard` | 1 Query page, then 1 BatchGetItem (course, names [, mine]) [∥ 1 COUNT for a later page's first rank] [+ 1 COUNT for my rank off the page] | 0 |
//! | `GET /v1/users/me/stats` | 1 GetItem profile, then 1 BatchGetItem (4 totals + records) | 0 |

use lambda_http::{Body, Request, Response};
use runcrew_model::author::Author;
use runcrew_model::course::{course_not_found, is_course_id, load_visible, load_visible_with};
use runcrew_model::profile::{account_closed, load_profile, open_account_check, profile_key};
use runcrew_model::{idempotency, leaderboard, stats};
use runcrew_shared::clock::now_rfc3339;
use runcrew_shared::route::Route;
use runcrew_shared::store::{Condition, Index, Key, Query, StoreError, Write};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use runcrew_model::leaderboard::{Best, best_key, board_partition, rank_of};
use runcrew_model::run::{
    Flag, MAX_DISTANCE_M, MAX_DURATION_S, Run, RunVisibility, Source, is_run_id, new_run_id,
    path_item, path_key, round_distance, run_key, runs_of,
};

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
/// The largest page of a list.
pub const MAX_LIST_PAGE: usize = 50;
/// The largest create body (a path of 10,000 positions fits).
pub const MAX_CREATE_BODY: usize = 1024 * 1024;
/// How far in the future a start may lie (clock skew of a phone).
const FUTURE_SKEW_SECONDS: i64 = 10 * 60;

fn run_not_found() -> ApiError {
    ApiError::not_found("run_not_found", "no such run")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRun {
    started_at: String,
    duration_s: i64,
    distance_m: f64,
    #[serde(default)]
    course_id: Option<String>,
    #[serde(default)]
    path: Option<Value>,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    visibility: RunVisibility,
    #[serde(default)]
    time_zone: Option<String>,
}

/// `m:ss` of a pace in seconds per kilometre.
fn pace_text(seconds_per_km: f64) -> String {
    let total = seconds_per_km.round() as i64;
    format!("{}:{:02} min/km", total / 60, total % 60)
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

async fn create_run(
    app: &App,
    req: &Request,
    user_id: &str,
    completion: Option<idempotency::Completion>,
) -> Result<Response<Body>, ApiError> {
    let input: NewRun = request::json_body_limited(req, MAX_CREATE_BODY)?;
    let started = OffsetDateTime::parse(&input.started_at, &Rfc3339).map_err(|_| {
        ApiError::invalid(
            "started_at",
            "must be RFC 3339 with an offset, e.g. 2026-11-22T07:30:00+09:00",
        )
    })?;
    let now = OffsetDateTime::now_utc();
    if started.unix_timestamp() > now.unix_timestamp() + FUTURE_SKEW_SECONDS {
        return Err(ApiError::invalid("started_at", "is in the future"));
    }
    if started.year() < 2000 {
        return Err(ApiError::invalid("started_at", "is before the year 2000"));
    }
    if !(1..=MAX_DURATION_S).contains(&input.duration_s) {
        return Err(ApiError::invalid(
            "duration_s",
            format!("must be 1 to {MAX_DURATION_S} seconds"),
        ));
    }
    // To the 0.1 m a distance means, before anything checks or stores it.
    let distance_m = round_distance(input.distance_m);
    if !(distance_m.is_finite() && distance_m > 0.0 && distance_m <= MAX_DISTANCE_M) {
        return Err(ApiError::invalid(
            "distance_m",
            "must be at least 0.1 and at most 1,000,000 metres",
        ));
    }
    let source = input.source.unwrap_or_default();
    if source == Source::Strava {
        return Err(ApiError::invalid(
            "source",
            "strava runs come only from the Strava import",
        ));
    }
    if let Some(zone) = &input.time_zone
        && jiff::tz::db().get(zone).is_err()
    {
        return Err(ApiError::invalid(
            "time_zone",
            "must be an IANA time zone such as Asia/Seoul",
        ));
    }
    let path = input
        .path
        .as_ref()
        .map(|p| Route::from_json(p, "path"))
        .transpose()?;
    let store = app.store()?;
    let course = match &input.course_id {
        None => None,
        Some(id) => {
            let not_found = || ApiError::invalid("course_id", "no such course");
            if !is_course_id(id) {
                return Err(not_found());
            }
            match load_visible(store, id, Some(user_id)).await {
                Ok((course, _)) => Some(course),
                Err(ApiError::NotFound { .. }) => return Err(not_found()),
                Err(other) => return Err(other),
            }
        }
    };

    let rules = &app.config.runs;
    let pace = input.duration_s as f64 / (distance_m / 1000.0);
    let flag = if pace < rules.pace_floor_seconds_per_km {
        Some(Flag {
            reason: "too_fast".into(),
            detail: format!(
                "an average pace of {} is faster than the plausible floor of {}",
                pace_text(pace),
                pace_text(rules.pace_floor_seconds_per_km)
            ),
        })
    } else if let Some(course) = &course {
        let off = (distance_m - course.distance_m).abs() / course.distance_m;
        (off > rules.course_distance_tolerance).then(|| Flag {
            reason: "distance_mismatch".into(),
            detail: format!(
                "{:.0} m differs from the course's {:.0} m by {:.0}% (more than {:.0}%)",
                distance_m,
                course.distance_m,
                off * 100.0,
                rules.course_distance_tolerance * 100.0
            ),
        })
    } else {
        None
    };

    let started_ms = (started.unix_timestamp_nanos() / 1_000_000) as i64;
    let utc = started.to_offset(time::UtcOffset::UTC);
    let run = Run {
        run_id: new_run_id(started_ms),
        user_id: user_id.to_owned(),
        started_at: utc
            .replace_nanosecond(utc.millisecond() as u32 * 1_000_000)
            .unwrap_or(utc)
            .format(&Rfc3339)
            .unwrap_or_default(),
        started_ms,
        utc_offset_minutes: i32::from(started.offset().whole_minutes()),
        time_zone: input.time_zone.clone(),
        local_date: started.date().to_string(),
        duration_s: input.duration_s,
        distance_m,
        course_id: course.as_ref().map(|c| c.course_id.clone()),
        source,
        visibility: input.visibility,
        flag,
        path_points: path.as_ref().map(Route::len),
        created_at: now_rfc3339(),
    };
    let mut writes = vec![Write::Put {
        item: run.to_item()?,
        condition: Condition::NotExists,
    }];
    if let Some(path) = &path {
        writes.push(Write::Put {
            item: path_item(user_id, &run.run_id, path),
            condition: Condition::NotExists,
        });
    }
    writes.extend(stats::tally(&run, 1)?);
    // Nothing is written for an erased account whose access token still lives.
    let account_at = writes.len();
    writes.push(open_account_check(user_id));
    // The answer a retry replays commits with the run (before the best is known).
    let answer_at = match &completion {
        Some(completion) => {
            writes.push(completion.answer(&created(&run, false)?));
            Some(writes.len() - 1)
        }
        None => None,
    };
    match store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::TransactionCanceled { failed }) => {
            if failed.contains(&account_at) {
                return Err(account_closed());
            }
            if let (Some(completion), Some(at)) = (&completion, answer_at)
                && failed.contains(&at)
            {
                // The claim expired and another request holds the key: nothing was written.
                return Err(completion.claim_lost());
            }
            return Err(StoreError::TransactionCanceled { failed }.into());
        }
        Err(other) => return Err(other.into()),
    }

    // The run is saved: what follows must not turn it into an error the client retries.
    let best = match leaderboard::offer(store, &run).await {
        Ok(best) => best,
        Err(err) => {
            tracing::error!(run_id = %run.run_id, error = %err, "leaderboard not updated; the run is saved");
            false
        }
    };
    if let Err(err) = stats::offer_records(store, &run).await {
        tracing::error!(run_id = %run.run_id, error = %err, "records not updated; the run is saved");
    }
    created(&run, best)
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
/// place on a leaderboard, my next best run takes it; records are rebuilt if it held one.
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
    leaderboard::withdraw(store, &run).await?;
    stats::withdraw_records(store, &run).await?;
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
    // is a COUNT, read alongside.
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
                (true, Some(first)) => rank_of(store, course_id, &first.board_key()).await,
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
                None => rank_of(store, course_id, &best.board_key()).await?,
            };
            json!({"rank": rank, "duration_s": best.duration_s, "run_id": best.run_id, "started_at": best.started_at})
        }
        _ => Value::Null,
    };
    response::ok(&json!({"items": rows, "next_cursor": page.cursor, "me": me}))
}

/// Today's date in `zone` (UTC when unknown).
fn today_in(zone: &str) -> time::Date {
    let tz = jiff::tz::db().get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let date = jiff::Timestamp::now().to_zoned(tz).date();
    time::Month::try_from(date.month() as u8)
        .ok()
        .and_then(|m| {
            time::Date::from_calendar_date(i32::from(date.year()), m, date.day() as u8).ok()
        })
        .unwrap_or_else(|| OffsetDateTime::now_utc().date())
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
    let today = today_in(&zone);
    let buckets = stats::bucket_keys(&caller.user_id, today);
    let mut keys = buckets.to_vec();
    keys.push(stats::records_key(&caller.user_id));
    let items = store.get_many(&keys).await?;
    let find = |key: &Key| items.iter().find(|i| i.key == *key);
    let monday = today
        .checked_sub(time::Duration::days(i64::from(
            today.weekday().number_days_from_monday(),
        )))
        .unwrap_or(today);
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
