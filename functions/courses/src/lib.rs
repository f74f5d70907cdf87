//! The course library: courses drawn on a map, found newest first, by creator or near a
//! point; liked, favorited and reviewed.
//!
//! Store round trips per route (DynamoDB):
//!
//! | route | reads | writes |
//! |---|---|---|
//! | `POST /v1/courses` | 0 | 1 transaction (the course, and a check that the account is open) + 1 S3 PUT (the route file) |
//! | `GET /v1/courses` (newest, creator) | 1 Query | 0 |
//! | `GET /v1/courses?near=` | up to 9 Queries in parallel (one per geohash cell the circle reaches) | 0 |
//! | `GET /v1/courses/{id}` | 1 GetItem | 0 |
//! | `PATCH /v1/courses/{id}` | 1 GetItem | 1 PutItem (version-conditioned); with `visibility`: 1 S3 HEAD [+ 1 GET + 1 PUT moving the route file] + 2 S3 DELETEs |
//! | `DELETE /v1/courses/{id}` | 1 GetItem | 1 transaction (the course and its deletion job) + 1 SendMessage; the children go in the job (`jobs-run`) |
//! | `PUT/DELETE .../like`, `.../favorite` | 1 GetItem | 1 transaction (with the account check) |
//! | `GET /v1/users/me/favorites` | 1 Query + 1 BatchGetItem | 0 |
//! | `POST .../reviews` | 2 GetItem | 1 transaction (with the account check) |
//! | `GET .../reviews` | 1 Query, then 1 BatchGetItem (the course and the authors) | 0 |
//!
//! Every write that creates or changes something of the caller's (a course, a like, a
//! favorite, a review) carries [`open_account_check`] in its transaction: an access token
//! outlives the account it was issued to by up to 15 minutes, and what it wrote after the
//! erasure would be found by no one. A private course's view signs its file URLs (no round
//! trip).

pub mod reactions;
pub mod reviews;

use futures::future::try_join_all;
use lambda_http::{Body, Request, Response};
use runcrew_model::idempotency::Completion;
use runcrew_model::job::{self, JobKind};
use runcrew_model::profile::{account_closed, is_user_id, open_account_check};
use runcrew_shared::clock::now_rfc3339;
use runcrew_shared::route::Route;
use runcrew_shared::store::versioned::{Change, Versioned, VersionedError};
use runcrew_shared::store::{Condition, Index, Query, StoreError, Write, read_pages};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};
use serde::Deserialize;
use serde_json::Value;

use runcrew_model::course::{
    Course, CourseDescription, CourseName, NearSearch, PUBLIC_PARTITION, Visibility, course_key,
    course_not_found, creator_partition, is_course_id, load_owned, load_visible, owned,
    place_files, thumbnail_file_key,
};

/// `POST /v1/courses`.
pub static CREATE: HttpFunction = HttpFunction {
    binary: "courses-create",
    needs: Needs::NOTHING.store().blobs(),
    handler: |app, req| Box::pin(create(app, req)),
};

/// `GET /v1/courses` (the bucket's addresses sign the file URLs of a creator's private
/// courses; it touches no file).
pub static LIST: HttpFunction = HttpFunction {
    binary: "courses-list",
    needs: Needs::NOTHING.store().file_urls(),
    handler: |app, req| Box::pin(list(app, req)),
};

/// `GET /v1/courses/{courseId}` (the bucket's addresses sign a private course's file URLs;
/// it touches no file).
pub static GET: HttpFunction = HttpFunction {
    binary: "courses-get",
    needs: Needs::NOTHING.store().file_urls(),
    handler: |app, req| Box::pin(get(app, req)),
};

/// `PATCH /v1/courses/{courseId}` (a visibility change moves the course's files).
pub static UPDATE: HttpFunction = HttpFunction {
    binary: "courses-update",
    needs: Needs::NOTHING.store().blobs(),
    handler: |app, req| Box::pin(update(app, req)),
};

/// `DELETE /v1/courses/{courseId}`.
pub static DELETE: HttpFunction = HttpFunction {
    binary: "courses-delete",
    needs: Needs::NOTHING.store().queue(),
    handler: |app, req| Box::pin(delete(app, req)),
};

/// Every function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[
    &CREATE,
    &LIST,
    &GET,
    &UPDATE,
    &DELETE,
    &reactions::LIKE,
    &reactions::UNLIKE,
    &reactions::FAVORITE,
    &reactions::UNFAVORITE,
    &reactions::MY_FAVORITES,
    &reviews::CREATE,
    &reviews::LIST,
];

/// The largest create body: 10,000 positions with altitude fit with room to spare.
pub const MAX_CREATE_BODY: usize = 1024 * 1024;
/// Page size of lists unless `limit` says otherwise.
pub const DEFAULT_PAGE: usize = 20;
/// The largest page of a list, so one request stays one bounded store read.
pub const MAX_LIST_PAGE: usize = 50;
/// Index pages read per geohash cell of a near search; a denser cell is read only in part
/// (`MAX_PAGE` courses a page), which the README notes.
const NEAR_PAGES_PER_CELL: usize = 3;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCourse {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    visibility: Visibility,
    route: Value,
}

/// `POST /v1/courses`: validates the route, computes distance, start, box and geohash,
/// writes the course (401 when the caller's account is closed), then its full route file
/// (which triggers the thumbnail), in the private folder for a private course. With an
/// `Idempotency-Key`, a retry within 24 hours gets the first answer and creates nothing.
pub async fn create(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    runcrew_model::idempotency::once_committed(app.store()?, &req, &caller.user_id, |completion| {
        create_course(app, &req, &caller.user_id, completion)
    })
    .await
}

async fn create_course(
    app: &App,
    req: &Request,
    user_id: &str,
    completion: Option<Completion>,
) -> Result<Response<Body>, ApiError> {
    let input: NewCourse = request::json_body_limited(req, MAX_CREATE_BODY)?;
    let name = CourseName::parse(&input.name)?;
    let description = CourseDescription::parse(&input.description)?;
    let route = Route::from_json(&input.route, "route")?;
    let store = app.store()?;
    let blobs = app.blobs()?;
    let course = Course::new(
        user_id,
        name.into(),
        description.into(),
        input.visibility,
        &route,
        &now_rfc3339(),
    );
    // The answer is known before the commit, so an Idempotency-Key's answer commits with
    // the course: a retry after any cut-off replays it instead of creating a second one.
    let mut resp = response::json(http::StatusCode::CREATED, &course.view(app).await?)?;
    if let Ok(location) = http::HeaderValue::from_str(&format!("/v1/courses/{}", course.course_id))
    {
        resp.headers_mut().insert(http::header::LOCATION, location);
    }
    // The item first: when the route file lands, its thumbnail event finds the course.
    // The account check rides in the same transaction, so a token outliving its erased
    // account writes nothing.
    let writes = vec![Write::Put {
        item: course.to_item(1)?,
        condition: Condition::NotExists,
    }];
    runcrew_model::idempotency::commit_create(
        store,
        writes,
        user_id,
        completion.as_ref().map(|c| (c, &resp)),
    )
    .await?;
    let file = serde_json::to_vec(&route.to_geojson())
        .map_err(|e| ApiError::Internal(format!("route file: {e}")))?;
    if let Err(err) = blobs
        .put(&course.route_key(), file, "application/geo+json")
        .await
    {
        // Without its route the course is not usable: take it back (and the answer that
        // said it was created, so a retry runs anew), then report.
        let mut undo = vec![Write::Delete {
            key: runcrew_model::course::course_key(&course.course_id),
            condition: Condition::None,
        }];
        undo.extend(completion.as_ref().map(Completion::retract));
        if let Err(undo) = store.transact(undo).await {
            tracing::error!(course_id = %course.course_id, error = %undo, "a course without its route file remains");
        }
        return Err(err.into());
    }
    tracing::info!(course_id = %course.course_id, points = route.len(), "course created");
    Ok(resp)
}

/// `GET /v1/courses`: public courses newest first; `creator=` a creator's (their own
/// private ones with `visibility=private`); `near=lat,lng&radius_km=` nearest first with
/// each result's distance from the point.
pub async fn list(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let near: Option<String> = request::query_param(&req, "near")?;
    let radius_km: Option<String> = request::query_param(&req, "radius_km")?;
    let creator: Option<String> = request::query_param(&req, "creator")?;
    let visibility = match request::query_param::<String>(&req, "visibility")?.as_deref() {
        None | Some("public") => Visibility::Public,
        Some("private") => Visibility::Private,
        Some(_) => {
            return Err(ApiError::invalid("visibility", "must be public or private"));
        }
    };
    let Some(near) = near else {
        // Ignoring it would answer a list the client did not ask for.
        if radius_km.is_some() {
            return Err(ApiError::invalid("radius_km", "is read only with near"));
        }
        return list_by_creator_or_newest(app, &req, limit, creator, visibility).await;
    };
    if creator.is_some() {
        return Err(ApiError::invalid(
            "creator",
            "cannot be combined with near; choose one",
        ));
    }
    if visibility == Visibility::Private {
        return Err(ApiError::invalid(
            "visibility",
            "a near search finds public courses only",
        ));
    }
    let search = NearSearch::parse(
        &near,
        radius_km.as_deref(),
        request::page_cursor(&req).as_deref(),
    )?;
    list_near(app, search, limit).await
}

/// [`list`] without `near`: a creator's courses, or every public course, newest first.
async fn list_by_creator_or_newest(
    app: &App,
    req: &Request,
    limit: usize,
    creator: Option<String>,
    visibility: Visibility,
) -> Result<Response<Body>, ApiError> {
    let query = match creator {
        Some(creator) => {
            if !is_user_id(&creator) {
                return Err(ApiError::invalid("creator", "is not a user id"));
            }
            if visibility == Visibility::Private {
                let viewer = app.viewer(req).await?;
                if viewer.map(|v| v.user_id) != Some(creator.clone()) {
                    return Err(ApiError::Forbidden(
                        "only the creator lists their private courses".into(),
                    ));
                }
            }
            Query::index(Index::Gsi1, creator_partition(&creator, visibility))
        }
        None if visibility == Visibility::Private => {
            return Err(ApiError::invalid(
                "visibility",
                "private courses are listed only with creator=<your user id>",
            ));
        }
        None => Query::index(Index::Gsi2, PUBLIC_PARTITION),
    };
    let page = app
        .store()?
        .query(
            &query
                .descending()
                .limit(limit)
                .after(request::page_cursor(req)),
        )
        .await?;
    let mut views = Vec::with_capacity(page.items.len());
    for item in &page.items {
        views.push(Course::from_item(item)?.0.view(app).await?);
    }
    response::page(&views, page.cursor.as_deref())
}

/// The near search of [`list`]: every cell the circle reaches read in parallel (up to
/// [`NEAR_PAGES_PER_CELL`] pages each), then [`NearSearch::nearest`] picks the answer.
async fn list_near(
    app: &App,
    search: NearSearch,
    limit: usize,
) -> Result<Response<Body>, ApiError> {
    let queries = search.queries()?;
    let store = app.store()?;
    let reads = queries
        .into_iter()
        .map(|query| read_pages(store, query, NEAR_PAGES_PER_CELL));
    let courses = try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .map(|item| Course::from_item(&item).map(|(course, _)| course))
        .collect::<Result<Vec<_>, _>>()?;
    let found = search.nearest(courses, limit);
    let mut views: Vec<Value> = Vec::with_capacity(found.len());
    for nearby in &found {
        let mut view = nearby.course.view(app).await?;
        view["distance_away_m"] = Value::from(nearby.shown_away_m());
        views.push(view);
    }
    response::page(&views, None)
}

/// `GET /v1/courses/{courseId}`: 404 for a private course of someone else.
pub async fn get(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let viewer = app.viewer(&req).await?;
    let course_id = request::path_param(&req, "courseId")?;
    let (course, _) = load_visible(
        app.store()?,
        course_id,
        viewer.as_ref().map(|c| c.user_id.as_str()),
    )
    .await?;
    response::ok(&course.view(app).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CourseChange {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    visibility: Option<Visibility>,
    #[serde(default)]
    route: Option<Value>,
}

/// Attempts at a read-modify-write before giving up on a busy course.
const UPDATE_ATTEMPTS: u32 = 3;

/// `PATCH /v1/courses/{courseId}`: name, description and visibility, by the creator only.
/// The route cannot change: runs and leaderboards refer to it. A request naming the
/// visibility puts the course's files where it says ([`place_files`]) after the item is
/// written: made private, its route and map leave the public CDN keys. The map is drawn
/// again in its new place, so `thumbnail_url` is null until then.
pub async fn update(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let course_id = request::path_param(&req, "courseId")?;
    let change: CourseChange = request::json_body(&req)?;
    if change.route.is_some() {
        return Err(ApiError::invalid(
            "route",
            "cannot change: runs and the leaderboard refer to it; create a new course",
        ));
    }
    let name = change.name.as_deref().map(CourseName::parse).transpose()?;
    let description = change
        .description
        .as_deref()
        .map(CourseDescription::parse)
        .transpose()?;
    if !is_course_id(course_id) {
        return Err(course_not_found());
    }
    let store = app.store()?;
    let user_id = caller.user_id.as_str();
    let (name, description, visibility) = (&name, &description, change.visibility);
    let course = Versioned::new(course_key(course_id))
        .attempts(UPDATE_ATTEMPTS)
        .apply(store, |current| async move {
            let mut course = owned(current.as_ref(), user_id)?;
            if let Some(name) = name {
                course.name = name.clone().into();
            }
            if let Some(description) = description {
                course.description = description.clone().into();
            }
            if let Some(visibility) = visibility {
                course.visibility = visibility;
                // A map in the other place is about to go; the new one is recorded when drawn.
                let here = thumbnail_file_key(&course.course_id, visibility);
                if course
                    .thumbnail_key
                    .as_ref()
                    .is_some_and(|key| *key != here)
                {
                    course.thumbnail_key = None;
                }
            }
            course.updated_at = now_rfc3339();
            // The account check rides along: an erasure running meanwhile has not yet
            // reached this course, and must not find it changed (or its files moved) after.
            Ok(Change::put(course.to_item(0)?, course).with(open_account_check(user_id)))
        })
        .await
        .map_err(|err| match err {
            VersionedError::ExtraFailed { .. } => account_closed(),
            other => other.or_conflict(|| {
                ApiError::busy(
                    "course_busy",
                    "the course changed while it was being updated; try again",
                    BUSY_RETRY_AFTER_SECONDS,
                )
            }),
        })?;
    if visibility.is_some() {
        place_files(app.blobs()?, &course.course_id, course.visibility).await?;
    }
    response::ok(&course.view(app).await?)
}

/// Seconds a client waits before trying again a write that lost a race with other writes
/// of the same item (`course_busy`, `review_busy`): those races last milliseconds.
pub const BUSY_RETRY_AFTER_SECONDS: u64 = 1;

/// `DELETE /v1/courses/{courseId}`, by the creator only: the course goes from every list
/// and view at once (its item, in one transaction with the deletion job), and the job
/// deletes its likes, favorites, reviews, board and files in bounded steps (`jobs-run`).
/// Answers 202 with the job's status URL.
pub async fn delete(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let course_id = request::path_param(&req, "courseId")?;
    let store = app.store()?;
    let (course, version) = load_owned(store, course_id, &caller.user_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound { .. } => course_not_found(),
            other => other,
        })?;
    let job = job::asked(
        app,
        JobKind::DeleteCourse,
        &course.course_id,
        &caller.user_id,
    )
    .await?;
    store
        .transact(vec![
            Write::Delete {
                key: course_key(&course.course_id),
                condition: Condition::VersionIs(version),
            },
            job.create()?,
        ])
        .await
        .map_err(|err| match err {
            StoreError::TransactionCanceled { .. } => ApiError::busy(
                "course_busy",
                "the course changed while it was being deleted; try again",
                1,
            ),
            other => other.into(),
        })?;
    job::queue_step(app, &job.job_id).await?;
    tracing::info!(course_id = %course.course_id, job_id = %job.job_id, "course removed; deletion queued");
    job::accepted(app, &job)
}
