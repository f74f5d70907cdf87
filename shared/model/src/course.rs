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

use std::time::Duration;

use runcrew_shared::blobs::Blobs;
use runcrew_shared::route::{BoundingBox, LatLng, Route};
use runcrew_shared::store::{
    Condition, Index, Item, Key, MAX_TRANSACTION_WRITES, Query, Store, Write, from_body, to_body,
};
use runcrew_shared::{ApiError, App, blobs, geocell};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The most positions kept in the item's preview polyline.
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

/// The course item's body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Course {
    /// UUIDv7, 32 hex digits.
    pub course_id: String,
    /// Who drew it.
    pub creator_id: String,
    /// 1 to 80 characters.
    pub name: String,
    /// Up to 2,000 characters.
    pub description: String,
    /// Public or private.
    pub visibility: Visibility,
    /// Haversine length in metres, to 0.1 m.
    pub distance_m: f64,
    /// First position.
    pub start: LatLng,
    /// Last position.
    pub finish: LatLng,
    /// Bounding box.
    pub bbox: BoundingBox,
    /// 9-character geohash of the start.
    pub geohash: String,
    /// Positions in the full route file.
    pub point_count: usize,
    /// At most [`PREVIEW_POINTS`] positions, encoded (precision 5).
    pub preview_polyline: String,
    /// Likes.
    #[serde(default)]
    pub like_count: i64,
    /// Favorites.
    #[serde(default)]
    pub favorite_count: i64,
    /// Reviews.
    #[serde(default)]
    pub review_count: i64,
    /// Sum of review ratings (the average is sum / count).
    #[serde(default)]
    pub rating_sum: i64,
    /// Bucket key of the map thumbnail, once the thumbnails function made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_key: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
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
    /// The other one.
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
    /// A new course of `creator_id` over `route`.
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
                    format!("GEO#{}", geocell::partition_of(&self.geohash)),
                    format!("{}#{}", self.geohash, self.course_id),
                );
        }
        Ok(item)
    }

    /// Reads a course item.
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
                let files = app.blobs()?;
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
    if course.creator_id != user_id {
        return Err(ApiError::Forbidden(
            "only the course's creator may change or delete it".into(),
        ));
    }
    Ok((course, version))
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
