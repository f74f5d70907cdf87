//! The course library: courses drawn on a map, found newest first, by creator or near a
//! point; liked, favorited and reviewed.
//!
//! Store round trips per route (DynamoDB):
//!
//! | route | reads | writes |
//! |---|---|---|
//! | `POST /v1/courses` | 0 | 1 PutItem + 1 S3 PUT (the route file) |
//! | `GET /v1/courses` (newest, creator) | 1 Query | 0 |
//! | `GET /v1/courses?near=` | up to 9 Queries in parallel (one per geohash cell the circle reaches) | 0 |
//! | `GET /v1/courses/{id}` | 1 GetItem | 0 |
//! | `PATCH /v1/courses/{id}` | 1 GetItem | 1 PutItem (version-conditioned) |
//! | `DELETE /v1/courses/{id}` | 1 GetItem + 1 Query per 100 children | 1 transaction per 100 + 2 S3 DELETEs + 1 DeleteItem |
//! | `PUT/DELETE .../like`, `.../favorite` | 1 GetItem | 1 transaction |
//! | `GET /v1/users/me/favorites` | 1 Query + 1 BatchGetItem | 0 |
//! | `POST .../reviews` | 2 GetItem | 1 transaction |
//! | `GET .../reviews` | 1 Query, then 1 BatchGetItem (the course and the authors) | 0 |

pub mod course;
pub mod erasure;
pub mod reactions;
pub mod reviews;

use std::collections::HashSet;

use futures::future::try_join_all;
use lambda_http::{Body, Request, Response};
use runcrew_shared::route::{LatLng, Route, distance_between};
use runcrew_shared::store::{Condition, Index, MAX_PAGE, Query, SortRange, StoreError};
use runcrew_shared::users::{is_user_id, now_rfc3339};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, geocell, request, response};
use serde::Deserialize;
use serde_json::Value;

use crate::course::{
    Course, PUBLIC_PARTITION, Visibility, course_not_found, creator_partition, load_owned,
    load_visible, route_blob_key,
};

/// `POST /v1/courses`.
pub static CREATE: HttpFunction = HttpFunction {
    binary: "courses-create",
    needs: Needs::NOTHING.store().blobs(),
    handler: |app, req| Box::pin(create(app, req)),
};

/// `GET /v1/courses`.
pub static LIST: HttpFunction = HttpFunction {
    binary: "courses-list",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(list(app, req)),
};

/// `GET /v1/courses/{courseId}`.
pub static GET: HttpFunction = HttpFunction {
    binary: "courses-get",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(get(app, req)),
};

/// `PATCH /v1/courses/{courseId}`.
pub static UPDATE: HttpFunction = HttpFunction {
    binary: "courses-update",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(update(app, req)),
};

/// `DELETE /v1/courses/{courseId}`.
pub static DELETE: HttpFunction = HttpFunction {
    binary: "courses-delete",
    needs: Needs::NOTHING.store().blobs(),
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

/// The longest course name, in characters.
pub const MAX_NAME: usize = 80;
/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 2_000;
/// The largest create body: 10,000 positions with altitude fit with room to spare.
pub const MAX_CREATE_BODY: usize = 1024 * 1024;
/// The widest near search, in kilometres.
pub const MAX_RADIUS_KM: f64 = 50.0;
/// The radius of a near search that names none, in kilometres.
pub const DEFAULT_RADIUS_KM: f64 = 5.0;
/// Page size of lists unless `limit` says otherwise.
pub const DEFAULT_PAGE: usize = 20;
/// The largest page of a list.
pub const MAX_LIST_PAGE: usize = 50;
/// Index pages read per geohash cell of a near search; a denser cell is read only in part
/// (`MAX_PAGE` courses a page), which the README notes.
const NEAR_PAGES_PER_CELL: usize = 3;

/// A name of 1 to [`MAX_NAME`] characters, trimmed; 422 naming `name` otherwise.
fn checked_name(name: &str) -> Result<String, ApiError> {
    let trimmed = name.trim();
    let count = trimmed.chars().count();
    if count == 0 || count > MAX_NAME {
        return Err(ApiError::invalid(
            "name",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    if request::has_control_chars(trimmed, false) {
        return Err(ApiError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// A description of at most [`MAX_DESCRIPTION`] characters; 422 naming `description`.
fn checked_description(text: &str) -> Result<String, ApiError> {
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    if request::has_control_chars(text, true) {
        return Err(ApiError::invalid(
            "description",
            "must not contain control characters other than newlines",
        ));
    }
    Ok(text.to_owned())
}

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
/// writes the course, then its full route file (which triggers the thumbnail). With an
/// `Idempotency-Key`, a retry within 24 hours gets the first answer and creates nothing.
pub async fn create(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    runcrew_shared::idempotency::once(app.store()?, &req, &caller.user_id, || {
        create_course(app, &req, &caller.user_id)
    })
    .await
}

async fn create_course(
    app: &App,
    req: &Request,
    user_id: &str,
) -> Result<Response<Body>, ApiError> {
    let input: NewCourse = request::json_body_limited(req, MAX_CREATE_BODY)?;
    let name = checked_name(&input.name)?;
    let description = checked_description(&input.description)?;
    let route = Route::from_json(&input.route, "route")?;
    let store = app.store()?;
    let blobs = app.blobs()?;
    let course = Course::new(
        user_id,
        name,
        description,
        input.visibility,
        &route,
        &now_rfc3339(),
    );
    // The item first: when the route file lands, its thumbnail event finds the course.
    store.put(course.to_item(1)?, Condition::NotExists).await?;
    let file = serde_json::to_vec(&route.to_geojson())
        .map_err(|e| ApiError::Internal(format!("route file: {e}")))?;
    if let Err(err) = blobs
        .put(
            &route_blob_key(&course.course_id),
            file,
            "application/geo+json",
        )
        .await
    {
        // Without its route the course is not usable: take it back, then report.
        if let Err(undo) = store
            .delete(&course::course_key(&course.course_id), Condition::None)
            .await
        {
            tracing::error!(course_id = %course.course_id, error = %undo, "a course without its route file remains");
        }
        return Err(err.into());
    }
    tracing::info!(course_id = %course.course_id, points = route.len(), "course created");
    let mut resp = response::json(http::StatusCode::CREATED, &course.view(app))?;
    if let Ok(location) = http::HeaderValue::from_str(&format!("/v1/courses/{}", course.course_id))
    {
        resp.headers_mut().insert(http::header::LOCATION, location);
    }
    Ok(resp)
}

/// `near=lat,lng` as a point; 422 naming `near` otherwise.
fn parse_near(raw: &str) -> Result<LatLng, ApiError> {
    let bad = || {
        ApiError::invalid(
            "near",
            "must be latitude,longitude in degrees, e.g. 37.5665,126.9780",
        )
    };
    let (lat, lng) = raw.split_once(',').ok_or_else(bad)?;
    let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
    let lng: f64 = lng.trim().parse().map_err(|_| bad())?;
    if !(lat.is_finite() && lng.is_finite() && lat.abs() <= 90.0 && lng.abs() <= 180.0) {
        return Err(bad());
    }
    Ok(LatLng { lat, lng })
}

/// `GET /v1/courses`: public courses newest first; `creator=` a creator's (their own
/// private ones with `visibility=private`); `near=lat,lng&radius_km=` nearest first with
/// each result's distance from the point.
pub async fn list(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let near: Option<String> = request::query_param(&req, "near")?;
    let creator: Option<String> = request::query_param(&req, "creator")?;
    if let Some(near) = near {
        if creator.is_some() {
            return Err(ApiError::invalid(
                "creator",
                "cannot be combined with near; choose one",
            ));
        }
        return list_near(app, &req, parse_near(&near)?, limit).await;
    }
    let visibility = match request::query_param::<String>(&req, "visibility")?.as_deref() {
        None | Some("public") => Visibility::Public,
        Some("private") => Visibility::Private,
        Some(_) => {
            return Err(ApiError::invalid("visibility", "must be public or private"));
        }
    };
    let query = match creator {
        Some(creator) => {
            if !is_user_id(&creator) {
                return Err(ApiError::invalid("creator", "is not a user id"));
            }
            if visibility == Visibility::Private {
                let viewer = app.viewer(&req).await?;
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
                .after(request::page_cursor(&req)),
        )
        .await?;
    let mut views = Vec::with_capacity(page.items.len());
    for item in &page.items {
        views.push(Course::from_item(item)?.0.view(app));
    }
    response::page(&views, page.cursor.as_deref())
}

async fn list_near(
    app: &App,
    req: &Request,
    center: LatLng,
    limit: usize,
) -> Result<Response<Body>, ApiError> {
    if request::page_cursor(req).is_some() {
        return Err(ApiError::invalid(
            "cursor",
            "a near search answers in one page; widen radius_km or raise limit",
        ));
    }
    let radius_km = request::query_param::<f64>(req, "radius_km")?.unwrap_or(DEFAULT_RADIUS_KM);
    if !(radius_km.is_finite() && radius_km > 0.0 && radius_km <= MAX_RADIUS_KM) {
        return Err(ApiError::invalid(
            "radius_km",
            format!("must be more than 0 and at most {MAX_RADIUS_KM}"),
        ));
    }
    let radius_m = radius_km * 1000.0;
    let cells = geocell::search_cells(center, radius_m)
        .map_err(|e| ApiError::invalid("radius_km", e.to_string()))?;
    let store = app.store()?;
    let reads = cells.iter().map(|cell| async move {
        let mut query = Query::index(Index::Gsi3, format!("GEO#{}", cell.partition))
            .limit(MAX_PAGE)
            .range(match &cell.prefix {
                Some(prefix) => SortRange::BeginsWith(prefix.clone()),
                None => SortRange::All,
            });
        let mut items = Vec::new();
        for _ in 0..NEAR_PAGES_PER_CELL {
            let page = store.query(&query).await?;
            items.extend(page.items);
            match page.cursor {
                Some(next) => query = query.after(Some(next)),
                None => break,
            }
        }
        Ok::<_, StoreError>(items)
    });
    let mut seen = HashSet::new();
    let mut found: Vec<(f64, Course)> = Vec::new();
    for item in try_join_all(reads).await?.into_iter().flatten() {
        let (course, _) = Course::from_item(&item)?;
        let away = distance_between(center, course.start);
        if away <= radius_m && seen.insert(course.course_id.clone()) {
            found.push((away, course));
        }
    }
    found.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then_with(|| a.1.course_id.cmp(&b.1.course_id))
    });
    let views: Vec<Value> = found
        .into_iter()
        .take(limit)
        .map(|(away, course)| {
            let mut view = course.view(app);
            view["distance_away_m"] = Value::from((away * 10.0).round() / 10.0);
            view
        })
        .collect();
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
    response::ok(&course.view(app))
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
const UPDATE_ATTEMPTS: usize = 3;

/// `PATCH /v1/courses/{courseId}`: name, description and visibility, by the creator only.
/// The route cannot change: runs and leaderboards refer to it.
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
    let name = change.name.as_deref().map(checked_name).transpose()?;
    let description = change
        .description
        .as_deref()
        .map(checked_description)
        .transpose()?;
    let store = app.store()?;
    for _ in 0..UPDATE_ATTEMPTS {
        let (mut course, version) = load_owned(store, course_id, &caller.user_id).await?;
        if let Some(name) = &name {
            course.name = name.clone();
        }
        if let Some(description) = &description {
            course.description = description.clone();
        }
        if let Some(visibility) = change.visibility {
            course.visibility = visibility;
        }
        course.updated_at = now_rfc3339();
        match store
            .put(course.to_item(version + 1)?, Condition::VersionIs(version))
            .await
        {
            Ok(()) => return response::ok(&course.view(app)),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict {
        code: "course_busy",
        message: "the course changed while it was being updated; try again".into(),
    })
}

/// `DELETE /v1/courses/{courseId}`: the course, its route and thumbnail files, and its
/// likes, favorites and reviews; by the creator only.
pub async fn delete(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let course_id = request::path_param(&req, "courseId")?;
    let store = app.store()?;
    let (course, _) = load_owned(store, course_id, &caller.user_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound { .. } => course_not_found(),
            other => other,
        })?;
    erasure::delete_course(store, app.blobs()?, &course.course_id).await?;
    tracing::info!(course_id = %course.course_id, "course deleted");
    Ok(response::no_content())
}
