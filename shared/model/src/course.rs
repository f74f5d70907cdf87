//! A course: its item, its keys in the table and the bucket, and its public view.
//!
//! | item | pk / sk | indexes |
//! |---|---|---|
//! | course | `COURSE#<courseId>` / `META` | gsi1 `CREATOR#<userId>` (or `...#PRIVATE`) / id; public only: gsi2 `COURSES#PUBLIC` / id, gsi3 `GEO#<geohash3>` / `<geohash9>#<id>` |
//! | like | `COURSE#<courseId>` / `LIKE#<userId>` | gsi1 `LIKER#<userId>` / course id |
//! | favorite | `COURSE#<courseId>` / `FAVORITE#<userId>` | gsi1 `FAVORITES#<userId>` / `<ms>#<courseId>` |
//! | review | `COURSE#<courseId>` / `REVIEW#<userId>` | gsi1 `REVIEWS#<courseId>` / `<ms>#<userId>`, gsi2 `REVIEWER#<userId>` / course id |
//!
//! Course ids are UUIDv7 in hex, so sorting by id sorts by creation time: "newest first"
//! is a descending index query. Counters (likes, favorites, reviews, rating sum) live on
//! the course item and change only through [`Write::Increment`] in the transaction that
//! writes the like, favorite or review.
//!
//! Files follow the visibility: a public course's route and map are at public CDN keys
//! (`routes/<id>.geojson`, `thumbnails/courses/<id>.png`); a private course's are under the
//! bucket's private folder (`private/routes/...`, `private/thumbnails/courses/...`), which
//! the CDN does not serve, and its creator gets short-lived presigned URLs for them.

use std::collections::HashSet;
use std::time::Duration;

use runcrew_shared::blobs::Blobs;
use runcrew_shared::route::{BoundingBox, LatLng, Route, distance_between};
use runcrew_shared::store::{
    Condition, Index, Item, Key, MAX_TRANSACTION_WRITES, Query, Store, Write, from_body, to_body,
};
use runcrew_shared::text::{Shape, visible_text};
use runcrew_shared::{ApiError, App, blobs, geocell};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The most positions kept in the item's preview polyline: enough to draw the line on a
/// list card, few enough that a page of courses stays small; the full route is a file.
pub const PREVIEW_POINTS: usize = 200;

/// Who may see a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone: listed, searchable, open to likes and reviews.
    #[default]
    Public,
    /// Only its creator; everyone else gets 404.
    Private,
}

/// The course item's body: everything a list shows, so a page of courses needs no second
/// read; only the full route lives apart, in its file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Course {
    /// UUIDv7, 32 hex digits: time-ordered, so sorting by id sorts newest first.
    pub course_id: String,
    /// Who drew it: the one user who may change or delete it, or see it while private.
    pub creator_id: String,
    /// As a [`CourseName`] accepted it.
    pub name: String,
    /// As a [`CourseDescription`] accepted it.
    pub description: String,
    /// Decides its indexes (a private course is in no public list or geo cell) and where
    /// its files live.
    pub visibility: Visibility,
    /// Haversine length in metres, to 0.1 m.
    pub distance_m: f64,
    /// First position: what the geo index places and what a near search measures from.
    pub start: LatLng,
    /// Last position, kept so a card shows it without reading the route file.
    pub finish: LatLng,
    /// The smallest box holding the route, to frame a map without reading the route file.
    pub bbox: BoundingBox,
    /// 9-character geohash of the start: its geo index sort key.
    pub geohash: String,
    /// Positions in the full route file.
    pub point_count: usize,
    /// At most [`PREVIEW_POINTS`] positions, encoded (precision 5).
    pub preview_polyline: String,
    /// Likes, counted here (in each like's own transaction) so a list shows them without
    /// counting items.
    #[serde(default)]
    pub like_count: i64,
    /// Favorites, counted here for the same reason as likes.
    #[serde(default)]
    pub favorite_count: i64,
    /// Reviews, counted here (see [`crate::review::TallyChange`]) for the average.
    #[serde(default)]
    pub review_count: i64,
    /// Sum of review ratings (the average is sum / count).
    #[serde(default)]
    pub rating_sum: i64,
    /// Bucket key of the map thumbnail, once the thumbnails function made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_key: Option<String>,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// When its name, description or visibility last changed, RFC 3339.
    pub updated_at: String,
}

/// The longest course name, in characters: it must fit a list card.
pub const MAX_NAME: usize = 80;

/// The longest description, in characters: a few paragraphs about the route, so a course
/// item stays small in every list page that carries it.
pub const MAX_DESCRIPTION: usize = 2_000;

/// A course name the API accepts: trimmed, 1 to [`MAX_NAME`] characters, showing something
/// and unable to reorder or hide the text around it in a list ([`visible_text`]). Only
/// [`CourseName::parse`] makes one, so neither a create nor a rename can skip the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseName(String);

impl CourseName {
    /// `raw` without its surrounding spaces, if that is a name; 422 naming `name` otherwise.
    /// The limit counts the text as sent, spaces and all: one rule a client (and the API
    /// description's `maxLength`) can check before sending.
    pub fn parse(raw: &str) -> Result<CourseName, ApiError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || raw.chars().count() > MAX_NAME {
            return Err(ApiError::invalid(
                "name",
                format!("must be 1 to {MAX_NAME} characters"),
            ));
        }
        visible_text("name", trimmed, Shape::Line)?;
        Ok(CourseName(trimmed.to_owned()))
    }

    /// The accepted text, for a test or a log line.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<CourseName> for String {
    fn from(name: CourseName) -> String {
        name.0
    }
}

/// A description the API accepts: at most [`MAX_DESCRIPTION`] characters, empty or showing
/// something, with no bidirectional controls or hidden tag text. Kept as written (not
/// trimmed): its line breaks are the writer's layout.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CourseDescription(String);

impl CourseDescription {
    /// `raw` as it is, if it is a description; 422 naming `description` otherwise.
    pub fn parse(raw: &str) -> Result<CourseDescription, ApiError> {
        if raw.chars().count() > MAX_DESCRIPTION {
            return Err(ApiError::invalid(
                "description",
                format!("must be at most {MAX_DESCRIPTION} characters"),
            ));
        }
        visible_text("description", raw, Shape::Paragraph)?;
        Ok(CourseDescription(raw.to_owned()))
    }

    /// The accepted text, for a test or a log line.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<CourseDescription> for String {
    fn from(description: CourseDescription) -> String {
        description.0
    }
}

/// The table key of a course.
pub fn course_key(course_id: &str) -> Key {
    Key::new(course_partition(course_id), "META")
}

/// The partition holding a course and its likes, favorites and reviews.
pub fn course_partition(course_id: &str) -> String {
    format!("COURSE#{course_id}")
}

/// Where the full route of a public course lives in the bucket (served by the CDN).
pub fn route_blob_key(course_id: &str) -> String {
    route_file_key(course_id, Visibility::Public)
}

/// Where the map thumbnail of a public course lives in the bucket (served by the CDN).
pub fn thumbnail_blob_key(course_id: &str) -> String {
    thumbnail_file_key(course_id, Visibility::Public)
}

/// The folder of a course's files: the CDN's public one, or the private one it never serves.
fn files_folder(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Public => "",
        Visibility::Private => blobs::PRIVATE_PREFIX,
    }
}

/// Where the full route of a course of `visibility` lives in the bucket.
pub fn route_file_key(course_id: &str, visibility: Visibility) -> String {
    format!("{}routes/{course_id}.geojson", files_folder(visibility))
}

/// Where the map thumbnail of a course of `visibility` lives in the bucket.
pub fn thumbnail_file_key(course_id: &str, visibility: Visibility) -> String {
    format!(
        "{}thumbnails/courses/{course_id}.png",
        files_folder(visibility)
    )
}

/// The course id of a route file key (`routes/<id>.geojson` or
/// `private/routes/<id>.geojson`) and the visibility its place stands for, if it is one.
pub fn course_of_route_key(key: &str) -> Option<(&str, Visibility)> {
    let (rest, visibility) = match key.strip_prefix(blobs::PRIVATE_PREFIX) {
        Some(rest) => (rest, Visibility::Private),
        None => (key, Visibility::Public),
    };
    rest.strip_prefix("routes/")
        .and_then(|rest| rest.strip_suffix(".geojson"))
        .filter(|id| is_course_id(id))
        .map(|id| (id, visibility))
}

/// How long the presigned URLs of a private course's files work: long enough to load the
/// map and route of a screen, short enough that a URL passed on stops working soon.
pub const PRIVATE_FILE_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The gsi1 partition of a creator's courses of one visibility.
pub fn creator_partition(user_id: &str, visibility: Visibility) -> String {
    match visibility {
        Visibility::Public => format!("CREATOR#{user_id}"),
        Visibility::Private => format!("CREATOR#{user_id}#PRIVATE"),
    }
}

/// The gsi2 partition of every public course.
pub const PUBLIC_PARTITION: &str = "COURSES#PUBLIC";

/// Whether `id` has the shape of our ids, so other path values are a 404 without a read.
pub fn is_course_id(id: &str) -> bool {
    runcrew_shared::ids::has_id_shape(id)
}

/// A new time-ordered id.
pub fn new_course_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

impl Visibility {
    /// The other visibility: the place a course's files must leave when it changes.
    pub fn other(self) -> Visibility {
        match self {
            Visibility::Public => Visibility::Private,
            Visibility::Private => Visibility::Public,
        }
    }
}

/// The 404 every invisible or missing course gets.
pub fn course_not_found() -> ApiError {
    ApiError::not_found("course_not_found", "no such course")
}

impl Course {
    /// A new course of `creator_id` over `route`, with what lists show of the route
    /// (length, ends, box, geohash, preview) worked out once, here. The API passes a
    /// [`CourseName`] and a [`CourseDescription`]; tests and samples pass plain text.
    pub fn new(
        creator_id: &str,
        name: String,
        description: String,
        visibility: Visibility,
        route: &Route,
        now: &str,
    ) -> Self {
        let start = route.start();
        Course {
            course_id: new_course_id(),
            creator_id: creator_id.to_owned(),
            name,
            description,
            visibility,
            distance_m: (route.distance_m() * 10.0).round() / 10.0,
            start,
            finish: route.finish(),
            bbox: route.bbox(),
            geohash: geocell::encode(start),
            point_count: route.len(),
            preview_polyline: route.simplified(PREVIEW_POINTS).to_polyline(),
            like_count: 0,
            favorite_count: 0,
            review_count: 0,
            rating_sum: 0,
            thumbnail_key: None,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        }
    }

    /// The item, with index keys that follow the visibility: a private course is in no
    /// public list and no geo cell.
    pub fn to_item(&self, version: u64) -> Result<Item, ApiError> {
        let mut item = Item::new(course_key(&self.course_id), to_body(self)?)
            .with_version(version)
            .with_index(
                Index::Gsi1,
                creator_partition(&self.creator_id, self.visibility),
                &self.course_id,
            );
        if self.visibility == Visibility::Public {
            item = item
                .with_index(Index::Gsi2, PUBLIC_PARTITION, &self.course_id)
                .with_index(
                    Index::Gsi3,
                    geo_partition(geocell::partition_of(&self.geohash)),
                    format!("{}#{}", self.geohash, self.course_id),
                );
        }
        Ok(item)
    }

    /// Reads a course item, with the version a conditioned write back must name.
    pub fn from_item(item: &Item) -> Result<(Course, u64), ApiError> {
        Ok((from_body(item)?, item.version))
    }

    /// Whether `user_id` may see it.
    pub fn visible_to(&self, user_id: Option<&str>) -> bool {
        self.visibility == Visibility::Public || user_id == Some(self.creator_id.as_str())
    }

    /// The average rating to two decimals, `None` without reviews.
    pub fn average_rating(&self) -> Option<f64> {
        (self.review_count > 0)
            .then(|| (self.rating_sum as f64 / self.review_count as f64 * 100.0).round() / 100.0)
    }

    /// Where its route file is, for its visibility.
    pub fn route_key(&self) -> String {
        route_file_key(&self.course_id, self.visibility)
    }

    /// What the API shows. A public course's files have CDN URLs; a private course's are
    /// presigned GETs valid for [`PRIVATE_FILE_URL_LIFETIME`] (only its creator ever sees
    /// this view), since the CDN does not serve the private folder.
    pub async fn view(&self, app: &App) -> Result<Value, ApiError> {
        let cdn = &app.config.cdn_base_url;
        let (route_url, thumbnail_url) = match self.visibility {
            Visibility::Public => (
                blobs::join_url(cdn, &self.route_key()),
                self.thumbnail_key
                    .as_deref()
                    .map(|k| blobs::join_url(cdn, k)),
            ),
            Visibility::Private => {
                let files = app.file_urls()?;
                let route = files
                    .presign_get(&self.route_key(), PRIVATE_FILE_URL_LIFETIME)
                    .await?;
                let thumbnail = match self.thumbnail_key.as_deref() {
                    Some(key) => Some(files.presign_get(key, PRIVATE_FILE_URL_LIFETIME).await?),
                    None => None,
                };
                (route, thumbnail)
            }
        };
        Ok(json!({
            "course_id": self.course_id,
            "creator_id": self.creator_id,
            "name": self.name,
            "description": self.description,
            "visibility": self.visibility,
            "distance_m": self.distance_m,
            "start": self.start,
            "finish": self.finish,
            "bbox": self.bbox,
            "geohash": self.geohash,
            "point_count": self.point_count,
            "preview_polyline": self.preview_polyline,
            "like_count": self.like_count,
            "favorite_count": self.favorite_count,
            "review_count": self.review_count,
            "average_rating": self.average_rating(),
            "route_url": route_url,
            "thumbnail_url": thumbnail_url,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }))
    }
}

/// The gsi3 partition of the public courses starting in one 3-character geohash cell.
fn geo_partition(cell: &str) -> String {
    format!("GEO#{cell}")
}

/// The widest near search, in kilometres: it answers in one page, nearest first, so it is
/// a search of the runner's surroundings, not of a region.
pub const MAX_RADIUS_KM: f64 = 50.0;

/// The radius of a near search that names none, in kilometres.
pub const DEFAULT_RADIUS_KM: f64 = 5.0;

/// A search for the public courses starting near a point (`near=lat,lng&radius_km=`):
/// read from the query string by [`NearSearch::parse`], so the handler never sees a point
/// off the map or a radius it cannot search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearSearch {
    /// The point searched around.
    pub centre: LatLng,
    /// More than 0, at most [`MAX_RADIUS_KM`]; [`DEFAULT_RADIUS_KM`] when not named.
    pub radius_km: f64,
}

/// A course found by a [`NearSearch`] and how far its start is from the centre.
#[derive(Debug, Clone)]
pub struct Nearby {
    /// The course, shown as any list shows it.
    pub course: Course,
    /// Haversine metres from the centre to its start, unrounded so sorting is exact.
    pub away_m: f64,
}

impl Nearby {
    /// The distance as the API shows it (`distance_away_m`): to 0.1 m, like a course's
    /// length, since a finer figure is noise.
    pub fn shown_away_m(&self) -> f64 {
        (self.away_m * 10.0).round() / 10.0
    }
}

impl NearSearch {
    /// The search the query string's `near`, `radius_km` and `cursor` values ask for.
    /// Checked in this order, each failure naming its parameter: `near` must be
    /// `latitude,longitude` on the map (422); a `cursor` is refused, since a near search
    /// answers in one page (422); `radius_km` must be a number (400, as for any unreadable
    /// parameter) of more than 0 and at most [`MAX_RADIUS_KM`] (422).
    pub fn parse(
        near: &str,
        radius_km: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<NearSearch, ApiError> {
        let centre = parse_point(near)?;
        if cursor.is_some_and(|c| !c.is_empty()) {
            return Err(ApiError::invalid(
                "cursor",
                "a near search answers in one page; widen radius_km or raise limit",
            ));
        }
        let radius_km = match radius_km {
            None => DEFAULT_RADIUS_KM,
            Some(raw) => raw.parse::<f64>().map_err(|_| {
                ApiError::bad_request(
                    "invalid_parameter",
                    Some("radius_km"),
                    format!("query parameter radius_km={raw:?} cannot be read"),
                )
            })?,
        };
        if !(radius_km.is_finite() && radius_km > 0.0 && radius_km <= MAX_RADIUS_KM) {
            return Err(ApiError::invalid(
                "radius_km",
                format!("must be more than 0 and at most {MAX_RADIUS_KM}"),
            ));
        }
        Ok(NearSearch { centre, radius_km })
    }

    /// The radius in the metres distances are measured in.
    pub fn radius_m(&self) -> f64 {
        self.radius_km * 1000.0
    }

    /// The index queries (one per geohash cell the circle reaches, at most 9) that find
    /// every public course starting within the radius, and some beyond it for
    /// [`NearSearch::nearest`] to drop. 422 naming `radius_km` where the circle is wider
    /// than a cell and its neighbours (near the poles).
    pub fn queries(&self) -> Result<Vec<Query>, ApiError> {
        geocell::index_queries(self.centre, self.radius_m(), Index::Gsi3, geo_partition)
            .map_err(|e| ApiError::invalid("radius_km", e.to_string()))
    }

    /// Of `courses` (what the cells held, in any order, a course possibly twice), those
    /// starting within the radius, each once, nearest first, at most `limit`. Equally far
    /// courses come in id order, so the same search answers the same way every time.
    pub fn nearest(&self, courses: impl IntoIterator<Item = Course>, limit: usize) -> Vec<Nearby> {
        let radius_m = self.radius_m();
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for course in courses {
            let away_m = distance_between(self.centre, course.start);
            if away_m <= radius_m && seen.insert(course.course_id.clone()) {
                found.push(Nearby { course, away_m });
            }
        }
        found.sort_by(|a, b| {
            a.away_m
                .total_cmp(&b.away_m)
                .then_with(|| a.course.course_id.cmp(&b.course.course_id))
        });
        found.truncate(limit);
        found
    }
}

/// `near=lat,lng` as a point on the map; 422 naming `near` otherwise.
fn parse_point(raw: &str) -> Result<LatLng, ApiError> {
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

/// The course `course_id` as `viewer` may see it, with its version; 404 when it does not
/// exist or is private to someone else.
pub async fn load_visible(
    store: &dyn Store,
    course_id: &str,
    viewer: Option<&str>,
) -> Result<(Course, u64), ApiError> {
    if !is_course_id(course_id) {
        return Err(course_not_found());
    }
    let item = store
        .get(&course_key(course_id))
        .await?
        .ok_or_else(course_not_found)?;
    visible(&item, viewer)
}

/// The course in `item` if `viewer` may see it; 404 otherwise, as if it did not exist.
fn visible(item: &Item, viewer: Option<&str>) -> Result<(Course, u64), ApiError> {
    let (course, version) = Course::from_item(item)?;
    if !course.visible_to(viewer) {
        return Err(course_not_found());
    }
    Ok((course, version))
}

/// [`load_visible`] for a list route: the course is read in the same BatchGetItem as
/// `also` (the page's authors or runners, known only once the page is read), so the route
/// makes two store round trips (its page, then this) instead of three. Returns the items of
/// `also` that exist, in no particular order.
///
/// The page is read before the course is checked; a caller that may not see the course
/// gets the same 404 and nothing of the page.
pub async fn load_visible_with(
    store: &dyn Store,
    course_id: &str,
    viewer: Option<&str>,
    also: Vec<Key>,
) -> Result<(Course, u64, Vec<Item>), ApiError> {
    if !is_course_id(course_id) {
        return Err(course_not_found());
    }
    let wanted = course_key(course_id);
    let mut keys = also;
    keys.push(wanted.clone());
    let mut items = store.get_many(&keys).await?;
    let at = items
        .iter()
        .position(|item| item.key == wanted)
        .ok_or_else(course_not_found)?;
    let (course, version) = visible(&items.swap_remove(at), viewer)?;
    Ok((course, version, items))
}

/// The course `course_id` for a write by `user_id`: 404 as for reading, 403 when the caller
/// can see it but does not own it.
pub async fn load_owned(
    store: &dyn Store,
    course_id: &str,
    user_id: &str,
) -> Result<(Course, u64), ApiError> {
    let (course, version) = load_visible(store, course_id, Some(user_id)).await?;
    Ok((owned_by(course, user_id)?, version))
}

/// The course in `item` if `user_id` created it: 404 when it is gone or not theirs to see,
/// 403 when they may see it but not change it. For a read-change-write whose read is done
/// by [`runcrew_shared::store::versioned`].
pub fn owned(item: Option<&Item>, user_id: &str) -> Result<Course, ApiError> {
    let (course, _) = visible(item.ok_or_else(course_not_found)?, Some(user_id))?;
    owned_by(course, user_id)
}

fn owned_by(course: Course, user_id: &str) -> Result<Course, ApiError> {
    if course.creator_id != user_id {
        return Err(ApiError::Forbidden(
            "only the course's creator may change or delete it".into(),
        ));
    }
    Ok(course)
}

/// Puts a course's files where `visibility` says: the route file is copied from the other
/// place when it is not here yet (its arrival raises the thumbnails task, which draws the
/// map in the same place), then the other place's route and map are removed, so a course
/// made private leaves nothing at its public CDN keys. Safe to repeat: a retried change
/// finishes a move that failed part-way.
pub async fn place_files(
    files: &dyn blobs::Blobs,
    course_id: &str,
    visibility: Visibility,
) -> Result<(), ApiError> {
    let here = route_file_key(course_id, visibility);
    let there = route_file_key(course_id, visibility.other());
    if files.head(&here).await?.is_none()
        && let Some(file) = files.get(&there).await?
    {
        files
            .put(&here, file.bytes, &file.meta.content_type)
            .await?;
    }
    // Last, so a failure above leaves the only copy where it was for the retry.
    files.delete(&there).await?;
    files
        .delete(&thumbnail_file_key(course_id, visibility.other()))
        .await?;
    Ok(())
}

/// Deletes a course: its likes, favorites and reviews (100 per transaction), its route and
/// thumbnail files in both places (public and private: a visibility change interrupted
/// part-way may have left a copy in either), and last the course item, so a retry after a
/// failure part-way finds the course and finishes. Returns the items deleted.
pub async fn delete_course(
    store: &dyn Store,
    blobs: &dyn Blobs,
    course_id: &str,
) -> Result<usize, ApiError> {
    let mut deleted = 0;
    loop {
        // Always the first page: what the last round deleted is gone from it.
        let page = store
            .query(&Query::partition(course_partition(course_id)).limit(MAX_TRANSACTION_WRITES + 1))
            .await?;
        let children: Vec<Write> = page
            .items
            .into_iter()
            .filter(|item| item.key.sk != "META")
            .take(MAX_TRANSACTION_WRITES)
            .map(|item| Write::Delete {
                key: item.key,
                condition: Condition::None,
            })
            .collect();
        if children.is_empty() {
            break;
        }
        deleted += children.len();
        store.transact(children).await?;
    }
    let files: Vec<String> = [Visibility::Public, Visibility::Private]
        .into_iter()
        .flat_map(|v| {
            [
                route_file_key(course_id, v),
                thumbnail_file_key(course_id, v),
            ]
        })
        .collect();
    futures::future::try_join_all(files.iter().map(|key| blobs.delete(key))).await?;
    store
        .delete(&course_key(course_id), Condition::None)
        .await?;
    Ok(deleted + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field a 422 names, or a description of what came instead.
    fn refused_field<T: std::fmt::Debug>(result: Result<T, ApiError>) -> String {
        refusal(result).0
    }

    /// The field and message of a 422, or a description of what came instead.
    fn refusal<T: std::fmt::Debug>(result: Result<T, ApiError>) -> (String, String) {
        match result {
            Err(ApiError::Invalid { field, message }) => (field, message),
            other => (format!("not a 422: {other:?}"), String::new()),
        }
    }

    const CITY_HALL: LatLng = LatLng {
        lat: 37.5665,
        lng: 126.978,
    };

    /// Degrees of latitude per kilometre on the haversine sphere.
    const DEGREES_PER_KM: f64 = 1.0 / 111.195;

    /// A public course with id `id` starting `km` north of City Hall.
    fn course_north(id: &str, km: f64) -> Course {
        let lat = CITY_HALL.lat + km * DEGREES_PER_KM;
        let route = Route::from_json(
            &serde_json::json!({
                "type": "LineString",
                "coordinates": [[CITY_HALL.lng, lat], [CITY_HALL.lng + 0.001, lat]],
            }),
            "route",
        )
        .expect("a two-point route");
        let mut course = Course::new(
            "creator",
            "Loop".into(),
            String::new(),
            Visibility::Public,
            &route,
            "2025-01-01T00:00:00Z",
        );
        course.course_id = id.to_owned();
        course
    }

    fn around_city_hall(radius_km: &str) -> NearSearch {
        NearSearch::parse("37.5665,126.978", Some(radius_km), None).expect("a search")
    }

    // --- names ---

    #[test]
    fn a_name_is_kept_without_its_surrounding_spaces() {
        // given a name typed with spaces around it
        // when it is parsed
        let name = CourseName::parse("  Riverside loop \n").expect("a name");
        // then the name is what shows, without the spaces
        assert_eq!(name.as_str(), "Riverside loop");
        assert_eq!(String::from(name), "Riverside loop");
    }

    #[test]
    fn a_name_of_only_spaces_is_refused_naming_name() {
        // given a name that is nothing but spaces
        // when it is parsed
        let parsed = CourseName::parse("   ");
        // then it is refused as empty, naming the field
        assert_eq!(
            refusal(parsed),
            ("name".into(), "must be 1 to 80 characters".into())
        );
    }

    #[test]
    fn a_name_is_measured_in_characters_not_bytes() {
        // given names of 80 and of 81 Hangul syllables (three bytes each)
        let eighty = "길".repeat(MAX_NAME);
        let eighty_one = "길".repeat(MAX_NAME + 1);
        // when they are parsed
        // then 80 characters are a name and 81 are one too many
        assert_eq!(
            CourseName::parse(&eighty).map(String::from).ok(),
            Some(eighty)
        );
        assert_eq!(refused_field(CourseName::parse(&eighty_one)), "name");
    }

    #[test]
    fn a_name_is_measured_as_sent_spaces_and_all() {
        // given a one-letter name padded to 81 characters with spaces
        let padded = format!("A{}", " ".repeat(MAX_NAME));
        // when it is parsed
        // then it is refused: the limit counts what was sent, as the API description says
        assert_eq!(refused_field(CourseName::parse(&padded)), "name");
        assert!(CourseName::parse(&padded[..MAX_NAME]).is_ok());
    }

    #[test]
    fn a_name_that_draws_nothing_is_refused_naming_name() {
        // given names of zero-width characters and of a Hangul filler
        for invisible in ["\u{200B}\u{200C}\u{200D}", "\u{2060}\u{FEFF}", "\u{3164}"] {
            // when one is parsed
            let parsed = CourseName::parse(invisible);
            // then it is refused: a list would show an empty name
            assert_eq!(refused_field(parsed), "name", "{invisible:?}");
        }
    }

    #[test]
    fn a_name_that_reorders_or_hides_text_is_refused_naming_name() {
        // given a right-to-left override, an isolate, tag characters and a newline
        for sneaky in [
            "Loop \u{202E}gnp.exe",
            "Loop \u{2066}x\u{2069}",
            "Loop\u{E0041}\u{E0042}",
            "Loop\nline two",
        ] {
            // when one is parsed
            let parsed = CourseName::parse(sneaky);
            // then it is refused, naming the field
            assert_eq!(refused_field(parsed), "name", "{sneaky:?}");
        }
    }

    // --- descriptions ---

    #[test]
    fn an_empty_description_is_accepted() {
        // given no description at all
        // when it is parsed
        let description = CourseDescription::parse("").expect("a description");
        // then it is empty, as a course without one is
        assert_eq!(description, CourseDescription::default());
    }

    #[test]
    fn a_description_keeps_its_spaces_and_line_breaks() {
        // given a description laid out over lines
        let written = "  Flat.\n\nWater at the 3 km bench.  ";
        // when it is parsed
        let description = CourseDescription::parse(written).expect("a description");
        // then it is kept exactly as written
        assert_eq!(description.as_str(), written);
    }

    #[test]
    fn a_description_over_two_thousand_characters_is_refused_naming_description() {
        // given descriptions of 2,000 and 2,001 characters
        let longest = "d".repeat(MAX_DESCRIPTION);
        let too_long = "d".repeat(MAX_DESCRIPTION + 1);
        // when they are parsed
        // then the first is accepted and the second refused with the limit in the message
        assert!(CourseDescription::parse(&longest).is_ok());
        assert_eq!(
            refusal(CourseDescription::parse(&too_long)),
            (
                "description".into(),
                "must be at most 2000 characters".into()
            )
        );
    }

    #[test]
    fn a_description_that_shows_nothing_or_reverses_text_is_refused_naming_description() {
        // given a lone zero-width space and a text with an override in it
        for sneaky in ["\u{200B}", "fine \u{202D}reversed"] {
            // when one is parsed
            let parsed = CourseDescription::parse(sneaky);
            // then it is refused, naming the field
            assert_eq!(refused_field(parsed), "description", "{sneaky:?}");
        }
    }

    // --- near searches: reading the query string ---

    #[test]
    fn a_search_that_names_no_radius_reaches_five_kilometres() {
        // given near=City Hall and no radius_km
        // when the search is read
        let search = NearSearch::parse("37.5665,126.978", None, None).expect("a search");
        // then it is centred there with the default radius
        assert_eq!(search.centre, CITY_HALL);
        assert_eq!(search.radius_km, DEFAULT_RADIUS_KM);
        assert_eq!(search.radius_m(), 5_000.0);
    }

    #[test]
    fn spaces_around_the_numbers_of_a_point_are_tolerated() {
        // given a point typed with spaces after the comma and around the numbers
        // when the search is read
        let search = NearSearch::parse(" 37.5665 , 126.978 ", None, None).expect("a search");
        // then the point is the same
        assert_eq!(search.centre, CITY_HALL);
    }

    #[test]
    fn a_point_on_the_edge_of_the_map_is_a_point() {
        // given the north pole on the antimeridian
        // when the search is read
        let search = NearSearch::parse("90,-180", None, None).expect("a search");
        // then it is accepted as it is
        assert_eq!(
            search.centre,
            LatLng {
                lat: 90.0,
                lng: -180.0
            }
        );
    }

    #[test]
    fn a_point_that_is_not_latitude_comma_longitude_on_the_map_is_refused_naming_near() {
        // given a lone number, words, a latitude past the pole, a longitude past the
        // antimeridian, the order swapped out of range, and numbers that are not finite
        for bad in [
            "37.5",
            "",
            "a,b",
            "91,0",
            "0,181",
            "126.9,37.5",
            "NaN,0",
            "0,inf",
            "1,2,3",
        ] {
            // when the search is read
            let parsed = NearSearch::parse(bad, None, None);
            // then it is refused, naming near, with an example of the right shape
            assert_eq!(
                refusal(parsed),
                (
                    "near".into(),
                    "must be latitude,longitude in degrees, e.g. 37.5665,126.9780".into()
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_radius_of_fifty_kilometres_is_the_widest_accepted() {
        // given radii of a few metres and of exactly 50 km
        for radius in ["0.001", "50", "5e1"] {
            // when the search is read
            let search = NearSearch::parse("37.5665,126.978", Some(radius), None);
            // then it is accepted
            assert!(search.is_ok(), "{radius}");
        }
    }

    #[test]
    fn a_radius_of_zero_negative_or_over_fifty_kilometres_is_refused_naming_radius_km() {
        // given radii that search nothing, too much, or no number at all
        for radius in ["0", "-1", "50.01", "51", "NaN", "inf", "-inf"] {
            // when the search is read
            let parsed = NearSearch::parse("37.5665,126.978", Some(radius), None);
            // then it is refused naming radius_km, with the limits in the message
            assert_eq!(
                refusal(parsed),
                (
                    "radius_km".into(),
                    "must be more than 0 and at most 50".into()
                ),
                "{radius}"
            );
        }
    }

    #[test]
    fn a_radius_that_is_not_a_number_is_a_bad_request_naming_radius_km() {
        // given radius_km=wide
        // when the search is read
        let parsed = NearSearch::parse("37.5665,126.978", Some("wide"), None);
        // then it is a 400 like any unreadable query parameter, naming it
        match parsed {
            Err(ApiError::BadRequest {
                code,
                field,
                message,
            }) => {
                assert_eq!(code, "invalid_parameter");
                assert_eq!(field.as_deref(), Some("radius_km"));
                assert_eq!(
                    message,
                    r#"query parameter radius_km="wide" cannot be read"#
                );
            }
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn a_near_search_refuses_a_cursor_since_it_answers_in_one_page() {
        // given a search that carries a cursor from some other list
        // when it is read
        let parsed = NearSearch::parse("37.5665,126.978", None, Some("abc"));
        // then it is refused naming the cursor; an empty cursor is no cursor
        assert_eq!(refused_field(parsed), "cursor");
        assert!(NearSearch::parse("37.5665,126.978", None, Some("")).is_ok());
    }

    #[test]
    fn a_bad_point_is_reported_before_a_cursor_and_a_cursor_before_a_bad_radius() {
        // given a search wrong in all three ways, then in the last two
        // when each is read
        // then the point is named first, then the cursor
        assert_eq!(
            refused_field(NearSearch::parse("x", Some("wide"), Some("abc"))),
            "near"
        );
        assert_eq!(
            refused_field(NearSearch::parse("1,2", Some("wide"), Some("abc"))),
            "cursor"
        );
    }

    // --- near searches: what they read and what they answer ---

    #[test]
    fn a_search_reads_at_most_the_nine_cells_around_its_centre() {
        // given the widest search around City Hall
        // when its index reads are planned
        let queries = around_city_hall("50").queries().expect("queries");
        // then there are one to nine, all of the geo index
        assert!((1..=9).contains(&queries.len()), "{}", queries.len());
        assert!(queries.iter().all(|q| q.index == Some(Index::Gsi3)));
    }

    #[test]
    fn near_the_pole_a_wide_radius_is_refused_naming_radius_km() {
        // given a 50 km search next to the north pole, where cells are narrow
        let search = NearSearch::parse("89.9,0", Some("50"), None).expect("a search");
        // when its index reads are planned
        let planned = search.queries();
        // then the radius is refused with the widest that works there
        assert_eq!(refused_field(planned), "radius_km");
    }

    #[test]
    fn only_courses_within_the_radius_come_back_nearest_first() {
        // given courses 4.2, 0.8, 7 and 2.5 km north of City Hall
        let courses = [
            course_north("c", 4.2),
            course_north("a", 0.8),
            course_north("d", 7.0),
            course_north("b", 2.5),
        ];
        // when a 5 km search picks among them
        let found = around_city_hall("5").nearest(courses, 50);
        // then the three within 5 km come back, nearest first, with their distances
        let ids: Vec<&str> = found.iter().map(|n| n.course.course_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        for (nearby, km) in found.iter().zip([0.8, 2.5, 4.2]) {
            assert!(
                (nearby.away_m - km * 1000.0).abs() < 1.0,
                "{}",
                nearby.away_m
            );
        }
    }

    #[test]
    fn a_course_read_from_two_cells_comes_back_once() {
        // given the same course read twice (two cells' pages overlapped)
        let courses = [course_north("a", 1.0), course_north("a", 1.0)];
        // when the search picks among them
        let found = around_city_hall("5").nearest(courses, 50);
        // then it is listed once
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn equally_far_courses_come_back_in_id_order() {
        // given two courses starting at the same place, read in either order
        let courses = [course_north("z", 1.0), course_north("m", 1.0)];
        // when the search picks among them
        let found = around_city_hall("5").nearest(courses, 50);
        // then the smaller id comes first, so every answer is the same
        let ids: Vec<&str> = found.iter().map(|n| n.course.course_id.as_str()).collect();
        assert_eq!(ids, ["m", "z"]);
    }

    #[test]
    fn a_search_answers_at_most_limit_courses_the_nearest_ones() {
        // given four courses within the radius
        let courses = [
            course_north("d", 4.0),
            course_north("c", 3.0),
            course_north("b", 2.0),
            course_north("a", 1.0),
        ];
        // when the search asks for two
        let found = around_city_hall("5").nearest(courses, 2);
        // then the two nearest come back
        let ids: Vec<&str> = found.iter().map(|n| n.course.course_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn the_distance_shown_is_to_ten_centimetres() {
        // given a course found 812.3456 m away
        let nearby = Nearby {
            course: course_north("a", 0.8),
            away_m: 812.3456,
        };
        // when its distance is shown
        // then it is rounded to 0.1 m
        assert_eq!(nearby.shown_away_m(), 812.3);
    }
}
