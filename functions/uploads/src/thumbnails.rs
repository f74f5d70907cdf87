//! The `thumbnails` task: S3 ObjectCreated events under `routes/` and `uploads/`.
//!
//! Every record is handled on its own and is safe to handle twice (the same outputs are
//! written again), since S3 may deliver an event more than once. A record that can never
//! succeed (a text file posing as a photo) is refused and logged; one that failed for a
//! dependency fails the invocation so Lambda retries it, then dead-letters it.

use aws_lambda_events::s3::S3Event;
use runcrew_courses::course::{Course, course_id_of_route_key, course_key, thumbnail_blob_key};
use runcrew_shared::route::Route;
use runcrew_shared::store::{Condition, StoreError};
use runcrew_shared::{App, TaskError};

use crate::photos::{self, Refusal};
use crate::route_maps::{self, MAX_MAP_POINTS, MapError, drawn};

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
        let outcome = if let Some(course_id) = course_id_of_route_key(&key) {
            course_map(app, course_id, &key).await
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

/// S3 event keys are URL-encoded with `+` for spaces.
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Attempts at recording the thumbnail on a course that is being changed meanwhile.
const RECORD_ATTEMPTS: usize = 3;

/// Draws (or fetches) the map image of a course's route and records it on the course.
async fn course_map(app: &App, course_id: &str, key: &str) -> Result<(), TaskError> {
    let blobs = app.blobs()?;
    let store = app.store()?;
    let Some(file) = blobs.get(key).await.map_err(|e| TaskError(e.to_string()))? else {
        tracing::info!(
            course_id,
            "the route file is gone (course deleted); nothing to draw"
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
    let maps = route_maps::from_config(&app.config);
    let png = match maps.render(&route).await {
        Ok(png) => png,
        Err(err @ (MapError::Unavailable(_) | MapError::Refused(_))) => {
            // The course still gets a picture; the log says the map service needs a look.
            tracing::warn!(course_id, maps = maps.name(), error = %err, "map service failed; drawing the thumbnail ourselves");
            drawn::draw(&route).map_err(|e| TaskError(e.to_string()))?
        }
        Err(err) => return Err(TaskError(err.to_string())),
    };
    let thumbnail = thumbnail_blob_key(course_id);
    blobs
        .put(&thumbnail, png, "image/png")
        .await
        .map_err(|e| TaskError(e.to_string()))?;
    for _ in 0..RECORD_ATTEMPTS {
        let Some(item) = store
            .get(&course_key(course_id))
            .await
            .map_err(store_error)?
        else {
            // Deleted while we drew: do not leave its picture behind.
            blobs
                .delete(&thumbnail)
                .await
                .map_err(|e| TaskError(e.to_string()))?;
            return Ok(());
        };
        let (mut course, version) = Course::from_item(&item)?;
        if course.thumbnail_key.as_deref() == Some(thumbnail.as_str()) {
            return Ok(());
        }
        course.thumbnail_key = Some(thumbnail.clone());
        match store
            .put(course.to_item(version + 1)?, Condition::VersionIs(version))
            .await
        {
            Ok(()) => {
                tracing::info!(course_id, maps = maps.name(), "course thumbnail ready");
                return Ok(());
            }
            Err(StoreError::ConditionFailed) => continue,
            Err(err) => return Err(store_error(err)),
        }
    }
    Err(TaskError(format!(
        "course {course_id} kept changing; the thumbnail is stored but not yet recorded"
    )))
}

fn store_error(err: StoreError) -> TaskError {
    TaskError(err.to_string())
}

/// Makes the 256 px and 1024 px versions of an uploaded photo, or removes a file that is
/// not a photo we accept.
async fn photo(app: &App, key: &str) -> Result<(), TaskError> {
    let blobs = app.blobs()?;
    let Some(file) = blobs.get(key).await.map_err(|e| TaskError(e.to_string()))? else {
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
        tokio::task::spawn_blocking(move || photos::thumbnails(&bytes))
            .await
            .map_err(|e| TaskError(format!("thumbnail worker: {e}")))?
    };
    match made {
        Ok(versions) => {
            for (size, jpeg) in versions {
                let Some(target) = photos::thumbnail_key(key, size) else {
                    continue;
                };
                blobs
                    .put(&target, jpeg, "image/jpeg")
                    .await
                    .map_err(|e| TaskError(e.to_string()))?;
            }
            tracing::info!(key, "photo thumbnails ready");
            Ok(())
        }
        Err(refusal) => {
            // The CDN must never serve what is not a real image: the file goes.
            blobs
                .delete(key)
                .await
                .map_err(|e| TaskError(e.to_string()))?;
            tracing::warn!(key, reason = %refusal, declared_type = %file.meta.content_type, "upload refused and removed");
            Ok(())
        }
    }
}
