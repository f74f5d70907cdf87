//! The `thumbnails` task: S3 ObjectCreated events under `routes/`, `private/routes/` and
//! `uploads/`.
//!
//! Every record is handled on its own and is safe to handle twice (the same outputs are
//! written again), since S3 may deliver an event more than once. A record that can never
//! succeed (a text file posing as a photo, a key we never issue, a route file whose course
//! is gone or has moved) is refused and logged; one that failed for a dependency fails the
//! invocation so Lambda retries it, then dead-letters it.
//!
//! A course's map goes beside its route: `routes/<id>.geojson` gives the public
//! `thumbnails/courses/<id>.png`, `private/routes/<id>.geojson` the private
//! `private/thumbnails/courses/<id>.png`, and only while the course still has that
//! visibility, so a late event never puts a private course's map where the CDN serves it.

use std::sync::LazyLock;

use aws_lambda_events::s3::S3Event;
use runcrew_model::course::{
    Course, Visibility, course_key, course_of_route_key, thumbnail_file_key,
};
use runcrew_model::profile::profile_key;
use runcrew_shared::blobs::{BlobError, validate_key};
use runcrew_shared::route::Route;
use runcrew_shared::store::versioned::{Change, Versioned, VersionedError};
use runcrew_shared::store::{Item, StoreError};
use runcrew_shared::{App, TaskError};
use tokio::sync::Semaphore;

use crate::photos::{self, Refusal};
use crate::route_maps::{self, MAX_MAP_POINTS, MapError, drawn};

/// Photos decoded at once in one process. Lambda hands an execution environment one event
/// at a time, but the local gateway runs every upload's task in one process: without a
/// bound, six large photos decoding together took it to 2 GB. Each decode stays within
/// [`photos::MAX_DECODED_BYTES`], so this bounds the process at about twice that.
pub const MAX_PARALLEL_DECODES: usize = 2;

static DECODES: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(MAX_PARALLEL_DECODES));

/// Handles one S3 event.
pub async fn handle(app: &App, event: S3Event) -> Result<(), TaskError> {
    let mut failures = Vec::new();
    for record in event.records {
        let created = record
            .event_name
            .as_deref()
            .is_some_and(|name| name.starts_with("ObjectCreated:"));
        let Some(raw_key) = record.s3.object.key.as_deref().filter(|_| created) else {
            continue;
        };
        let key = decode_key(raw_key);
        let outcome = if let Some((course_id, visibility)) = course_of_route_key(&key) {
            course_map(app, course_id, visibility, &key).await
        } else if key.starts_with("uploads/") {
            photo(app, &key).await
        } else {
            tracing::info!(key = %key, "not a file this task handles; skipped");
            Ok(())
        };
        if let Err(err) = outcome {
            failures.push(format!("{key}: {err}"));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(TaskError(failures.join("; ")))
    }
}

/// S3 event keys are URL-encoded with `+` for spaces (a `+` of the key itself is `%2B`).
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Attempts at recording the thumbnail on a course that is being changed meanwhile.
const RECORD_ATTEMPTS: u32 = 3;

fn blob_error(err: BlobError) -> TaskError {
    TaskError(err.to_string())
}

/// Draws (or fetches) the map image of a course's route and records it on the course.
///
/// The course is read first: a course deleted before its map was drawn (or a redelivered
/// event after the deletion) ends here, without asking the bucket for a file that is gone;
/// a course whose visibility changed since its route file landed there ends here too (the
/// file's move raised an event of its own in the new place).
async fn course_map(
    app: &App,
    course_id: &str,
    visibility: Visibility,
    key: &str,
) -> Result<(), TaskError> {
    let blobs = app.blobs()?;
    let store = app.store()?;
    let Some(item) = store
        .get(&course_key(course_id))
        .await
        .map_err(store_error)?
    else {
        tracing::info!(course_id, "the course is gone (deleted); nothing to draw");
        return Ok(());
    };
    if Course::from_item(&item)?.0.visibility != visibility {
        tracing::info!(
            course_id,
            key,
            "the course changed visibility since this route file landed; drawn from its new place"
        );
        return Ok(());
    }
    let Some(file) = blobs.get(key).await.map_err(blob_error)? else {
        tracing::info!(
            course_id,
            "the route file is gone (course deleted or moved); nothing to draw"
        );
        return Ok(());
    };
    let route = match Route::from_geojson_bytes(&file.bytes) {
        Ok(route) => route.simplified(MAX_MAP_POINTS),
        Err(err) => {
            tracing::error!(course_id, error = %err, "a stored route file cannot be read; no thumbnail");
            return Ok(());
        }
    };
    let maps = route_maps::from_config(&app.config, app.secrets())
        .map_err(|e| TaskError(e.to_string()))?;
    let png = match maps.render(&route).await {
        Ok(png) => png,
        Err(err @ (MapError::Unavailable(_) | MapError::Refused(_))) => {
            // The course still gets a picture; the log says the map service needs a look.
            tracing::warn!(course_id, maps = maps.name(), error = %err, "map service failed; drawing the thumbnail ourselves");
            drawn::draw(&route).map_err(|e| TaskError(e.to_string()))?
        }
        Err(err) => return Err(TaskError(err.to_string())),
    };
    let thumbnail = thumbnail_file_key(course_id, visibility);
    blobs
        .put(&thumbnail, png, "image/png")
        .await
        .map_err(blob_error)?;
    let outcome = Versioned::new(course_key(course_id))
        .attempts(RECORD_ATTEMPTS)
        .already_read(Some(item))
        .apply(store, |current| {
            std::future::ready(record(current, &thumbnail, visibility))
        })
        .await;
    match outcome {
        Ok(Recorded::Done) => {
            tracing::info!(course_id, maps = maps.name(), "course thumbnail ready");
            Ok(())
        }
        // Deleted while we drew, or made private or public: this picture must not stay.
        Ok(Recorded::Gone | Recorded::Moved) => {
            blobs.delete(&thumbnail).await.map_err(blob_error)?;
            Ok(())
        }
        Err(VersionedError::Conflict { .. }) => Err(TaskError(format!(
            "course {course_id} kept changing; the thumbnail is stored but not yet recorded"
        ))),
        Err(VersionedError::Aborted(err)) => Err(err),
        Err(VersionedError::Store(err)) => Err(store_error(err)),
        Err(VersionedError::ExtraFailed { failed }) => Err(TaskError(format!(
            "recording a thumbnail has no extra writes, yet {failed:?} failed"
        ))),
    }
}

/// What became of a drawn map when it was to be recorded on its course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recorded {
    /// The course names it (now, or already from an earlier delivery of the same event).
    Done,
    /// The course was deleted while the map was drawn.
    Gone,
    /// The course's visibility changed while the map was drawn: it is in the wrong place.
    Moved,
}

/// The rule for recording `thumbnail` on the course read (`current`): only on a course that
/// still exists with the visibility the map was drawn for, and only once.
fn record(
    current: Option<Item>,
    thumbnail: &str,
    visibility: Visibility,
) -> Result<Change<Recorded>, TaskError> {
    let Some(item) = current else {
        return Ok(Change::keep(Recorded::Gone));
    };
    let (mut course, _) = Course::from_item(&item)?;
    if course.visibility != visibility {
        return Ok(Change::keep(Recorded::Moved));
    }
    if course.thumbnail_key.as_deref() == Some(thumbnail) {
        return Ok(Change::keep(Recorded::Done));
    }
    course.thumbnail_key = Some(thumbnail.to_owned());
    Ok(Change::put(course.to_item(0)?, Recorded::Done))
}

fn store_error(err: StoreError) -> TaskError {
    TaskError(err.to_string())
}

/// Makes the 256 px and 1024 px versions of an uploaded photo, or removes a file that is
/// not a photo we accept.
///
/// Only keys in the alphabet of keys we issue get thumbnails: `POST /v1/uploads` never
/// hands out another, so a file with a space, Hangul or any other character there came
/// from elsewhere; it is refused and removed, like a file that is not an image. A key the
/// bucket port cannot even name safely (`..`, control characters) is logged for an operator
/// and left, since retrying cannot help.
async fn photo(app: &App, key: &str) -> Result<(), TaskError> {
    let blobs = app.blobs()?;
    if let Err(err) = validate_key(key) {
        return match blobs.delete(key).await {
            Ok(()) => {
                tracing::warn!(key, reason = %err, "upload refused and removed: not a key this service issues");
                Ok(())
            }
            Err(BlobError::InvalidKey(_)) => {
                tracing::error!(key, reason = %err, "upload refused; its key cannot be removed by this task, remove it by hand");
                Ok(())
            }
            Err(other) => Err(blob_error(other)),
        };
    }
    // An upload URL lives 15 minutes: one used after its owner's account was erased would
    // leave a public photo that no erasure will come back for. Remove it instead.
    if let Some(owner) = runcrew_shared::uploads::owner_of(key) {
        let store = app.store()?;
        if store
            .get(&profile_key(owner))
            .await
            .map_err(|e| TaskError(format!("profile of the uploader: {e}")))?
            .is_none()
        {
            blobs.delete(key).await.map_err(blob_error)?;
            tracing::warn!(key, "upload removed: its owner's account is closed");
            return Ok(());
        }
    }
    let Some(file) = blobs.get(key).await.map_err(blob_error)? else {
        return Ok(());
    };
    let made = if file.bytes.len() as u64 > crate::MAX_UPLOAD_BYTES {
        Err(Refusal::Oversized(format!(
            "{} bytes, more than the {} an upload may have",
            file.bytes.len(),
            crate::MAX_UPLOAD_BYTES
        )))
    } else {
        let bytes = file.bytes;
        let _permit = DECODES
            .acquire()
            .await
            .map_err(|e| TaskError(format!("decode permit: {e}")))?;
        tokio::task::spawn_blocking(move || photos::thumbnails(&bytes))
            .await
            .map_err(|e| TaskError(format!("thumbnail worker: {e}")))?
    };
    match made {
        Ok(versions) => {
            for (size, jpeg) in versions {
                let Some(target) = runcrew_shared::uploads::thumbnail_key(key, size) else {
                    continue;
                };
                blobs
                    .put(&target, jpeg, "image/jpeg")
                    .await
                    .map_err(blob_error)?;
            }
            tracing::info!(key, "photo thumbnails ready");
            Ok(())
        }
        Err(refusal) => {
            // The CDN must never serve what is not a real image: the file goes.
            blobs.delete(key).await.map_err(blob_error)?;
            tracing::warn!(key, reason = %refusal, declared_type = %file.meta.content_type, "upload refused and removed");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course(visibility: Visibility, thumbnail_key: Option<&str>) -> Course {
        let route = Route::from_geojson_bytes(
            br#"{"type":"LineString","coordinates":[[126.97,37.56],[126.98,37.57]]}"#,
        )
        .expect("a two-point route");
        let mut course = Course::new(
            "0123456789abcdef0123456789abcdef",
            "Han river loop".into(),
            String::new(),
            visibility,
            &route,
            "2026-11-30T00:00:00Z",
        );
        course.thumbnail_key = thumbnail_key.map(str::to_owned);
        course
    }

    fn item_of(course: &Course) -> Item {
        course.to_item(4).expect("a course item")
    }

    #[test]
    fn a_map_drawn_for_a_course_is_recorded_on_it() {
        // given a public course without a map, and its map drawn in the public place
        let drawn = course(Visibility::Public, None);
        let key = thumbnail_file_key(&drawn.course_id, Visibility::Public);
        // when it is to be recorded
        let change = record(Some(item_of(&drawn)), &key, Visibility::Public).expect("a rule");
        // then the course is written naming the map
        let mut expected = drawn.clone();
        expected.thumbnail_key = Some(key.clone());
        assert_eq!(
            change,
            Change::put(expected.to_item(0).expect("item"), Recorded::Done)
        );
    }

    #[test]
    fn a_redelivered_event_writes_nothing_the_second_time() {
        let drawn = course(Visibility::Public, None);
        let key = thumbnail_file_key(&drawn.course_id, Visibility::Public);
        let recorded = course(Visibility::Public, Some(&key));
        let change = record(Some(item_of(&recorded)), &key, Visibility::Public).expect("a rule");
        assert_eq!(change, Change::keep(Recorded::Done));
    }

    #[test]
    fn a_course_made_private_while_its_map_was_drawn_keeps_no_public_map() {
        // given a map drawn in the public place, and the course private by now
        let moved = course(Visibility::Private, None);
        let key = thumbnail_file_key(&moved.course_id, Visibility::Public);
        // then nothing is written and the caller removes the picture
        let change = record(Some(item_of(&moved)), &key, Visibility::Public).expect("a rule");
        assert_eq!(change, Change::keep(Recorded::Moved));
    }

    #[test]
    fn a_course_deleted_while_its_map_was_drawn_is_not_brought_back() {
        let change = record(None, "thumbnails/courses/x.png", Visibility::Public).expect("a rule");
        assert_eq!(change, Change::keep(Recorded::Gone));
    }
}
