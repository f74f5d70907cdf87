//! Files from clients and the pictures made from them.
//!
//! - `POST /v1/uploads` hands out a presigned PUT (content type and exact size signed, 15
//!   minutes) for `uploads/<userId>/<uuid>.<ext>`: the bytes go straight to the bucket.
//!   A closed account's token gets none (401; one GetItem).
//! - The `thumbnails` task runs on S3 ObjectCreated under `routes/`, `private/routes/` and
//!   `uploads/` and writes only under `thumbnails/` and `private/thumbnails/`, so it never
//!   triggers itself: a course's map image (Mapbox Static Images with a token, else
//!   [`route_maps::drawn`]) beside its route (public or private), and 256 px and 1024 px
//!   versions of uploaded photos ([`photos`]).

pub mod photos;
pub mod route_maps;
pub mod thumbnails;

use std::time::Duration;

use lambda_http::{Body, Request, Response};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, S3Function, request, response, uploads};
use serde::Deserialize;
use serde_json::json;

/// `POST /v1/uploads` (the table: is the caller's account still open?). It signs an upload
/// and names the files' addresses, and touches no file: the bucket's addresses alone.
pub static CREATE: HttpFunction = HttpFunction {
    binary: "uploads-create",
    needs: Needs::NOTHING.store().file_urls(),
    handler: |app, req| Box::pin(create(app, req)),
};

/// The `thumbnails` task; its binary starts through [`run_thumbnails`], which checks the
/// Mapbox client first.
pub static THUMBNAILS: S3Function = S3Function {
    binary: "thumbnails",
    needs: Needs::NOTHING.store().blobs(),
    handler: |app, event| Box::pin(thumbnails::handle(app, event)),
};

/// Every HTTP function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[&CREATE];

/// Every S3-triggered function of this crate.
pub static TASKS: &[&S3Function] = &[&THUMBNAILS];

/// The `main` of the `thumbnails` binary: with a Mapbox token configured, the Mapbox
/// client is built before the first event, so a client that cannot be built (no TLS roots
/// where `SSL_CERT_FILE` points) stops the start with a clear error instead of failing
/// every map later; then the task runs as every S3 task does.
pub async fn run_thumbnails() -> Result<(), lambda_http::Error> {
    runcrew_shared::function::begin(THUMBNAILS.binary)?;
    // A configuration that does not read is reported by `run_s3`, with every problem.
    if let Ok(config) = runcrew_shared::config::Config::from_env()
        && config.maps.mapbox.is_some()
        && let Err(err) = route_maps::mapbox::client()
    {
        tracing::error!(function = THUMBNAILS.binary, error = %err, "start-up refused");
        return Err(err.into());
    }
    runcrew_shared::run_s3(&THUMBNAILS).await
}

/// The largest upload, in bytes.
pub const MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024;
/// How long a presigned PUT works.
pub const UPLOAD_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// What an upload is for (kept in the response; both make the same thumbnails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// For a profile picture, though any of the user's uploads may become the `avatar_url`
    /// whatever its purpose.
    Avatar,
    /// For a photo of a course; it is still kept in the uploader's folder, so it goes when
    /// the uploader's account is erased.
    CoursePhoto,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUpload {
    purpose: Purpose,
    content_type: String,
    size: u64,
}

/// `POST /v1/uploads`: a presigned PUT for one image of the caller, the CDN URL it will
/// have, and the URLs its thumbnails will have once the task made them. 401 when the
/// caller's account is closed: its token outlives the erasure by up to 15 minutes, and a
/// file uploaded then would belong to no one.
pub async fn create(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let input: NewUpload = request::json_body(&req)?;
    let ext = uploads::extension_of(&input.content_type).ok_or_else(|| {
        ApiError::invalid(
            "content_type",
            "must be image/jpeg, image/png or image/webp",
        )
    })?;
    if input.size == 0 || input.size > MAX_UPLOAD_BYTES {
        return Err(ApiError::invalid(
            "size",
            format!("must be 1 to {MAX_UPLOAD_BYTES} bytes (10 MB)"),
        ));
    }
    runcrew_model::profile::require_open_account(app.store()?, &caller.user_id).await?;
    let id = uuid::Uuid::now_v7().simple().to_string();
    let key = uploads::upload_key(&caller.user_id, &id, ext);
    let files = app.file_urls()?;
    let upload = files
        .presign_put(&key, &input.content_type, input.size, UPLOAD_URL_LIFETIME)
        .await?;
    let thumbnails: serde_json::Map<String, serde_json::Value> = uploads::THUMBNAIL_SIZES
        .iter()
        .map(|size| {
            (
                size.to_string(),
                json!(files.public_url(&uploads::thumbnail_key(&key, *size).unwrap_or_default())),
            )
        })
        .collect();
    response::no_store(
        http::StatusCode::CREATED,
        &json!({
            "key": key,
            "purpose": input.purpose,
            "upload": upload,
            "file_url": files.public_url(&key),
            "thumbnail_urls": thumbnails,
        }),
    )
}
