//! The Blobs port: files in the bucket, served publicly through the CDN, except those under
//! [`PRIVATE_PREFIX`].
//!
//! Clients never send file bytes through a function: they get a presigned PUT whose content
//! type, exact length and expiry are signed, upload straight to the bucket, and read the
//! result from the CDN URL. Files under [`PRIVATE_PREFIX`] (a private course's route and
//! map) are never served by the CDN: their owner reads them through a short-lived presigned
//! GET ([`Blobs::presign_get`]). Adapters: [`s3::S3Blobs`] (AWS) and
//! [`filesystem::FilesystemBlobs`] (laptops; the local gateway accepts its presigned PUTs
//! and GETs).

pub mod filesystem;
pub mod s3;

use std::time::Duration;

use async_trait::async_trait;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What we know of a stored file without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// The content type given at upload.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
}

/// A stored file, read whole into memory by [`Blobs::get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The whole content: nothing is streamed.
    pub bytes: Vec<u8>,
    /// What [`Blobs::head`] answers for the same key.
    pub meta: BlobMeta,
}

/// A URL a client may PUT exactly one file to, before it expires.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PresignedPut {
    /// Where to send the PUT, signature in the query: the bucket on AWS, the local gateway's
    /// `/_local/uploads/<key>` on a laptop.
    pub url: String,
    /// Always `PUT`.
    pub method: &'static str,
    /// Headers the client must send exactly as given (the signed ones).
    pub headers: Vec<(String, String)>,
    /// Epoch seconds after which the URL is refused.
    pub expires_at: i64,
}

/// The folder of files only their owner may read: the CDN does not serve it (the bucket
/// policy grants CloudFront the public folders only, and the local gateway refuses it
/// without a signature), so such a file is read through [`Blobs::presign_get`].
pub const PRIVATE_PREFIX: &str = "private/";

/// Whether `key` lies in the private folder, where the CDN serves nothing.
pub fn is_private_key(key: &str) -> bool {
    key.starts_with(PRIVATE_PREFIX)
}

/// Why a blob call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// The key could escape its folder or is otherwise not a key we write.
    #[error("invalid key {0:?}")]
    InvalidKey(String),
    /// A presigned request that was not signed by us, was altered or has expired.
    #[error("upload refused: {0}")]
    Signature(String),
    /// The bucket cannot be reached; the caller may retry.
    #[error("bucket unavailable: {0}")]
    Unavailable(String),
    /// A failure of ours rather than an unreachable bucket (a local file-system error, a
    /// request the SDK could not build): 500, not 503.
    #[error("i/o: {0}")]
    Io(String),
}

/// The bucket's addresses: the public (CDN) URL of a file, and presigned URLs with which a
/// client reads or uploads one itself. Signing needs no round trip, so a function that only
/// hands out addresses (a course's view, an upload slot) holds this port alone
/// ([`crate::Needs::file_urls`]): its binary links the S3 client's signing and none of the
/// bucket's reads and writes, and it cannot touch a file. Adapters refuse unsafe keys
/// themselves ([`validate_key`], [`validate_stored_key`]).
#[async_trait]
pub trait FileUrls: Send + Sync {
    /// A presigned PUT for `key` with the content type and exact length signed.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedPut, BlobError>;
    /// A URL that reads the file at `key` until `expires_in` has passed, whoever holds it:
    /// how the owner of a private file (under [`PRIVATE_PREFIX`]) reads it, since the CDN
    /// does not serve that folder. Signing needs no round trip.
    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError>;
    /// The public (CDN) URL the file at `key` has.
    fn public_url(&self, key: &str) -> String;
}

/// The bucket: its files, and their addresses ([`FileUrls`]). Adapters refuse unsafe keys
/// themselves: [`validate_key`] for what they write or sign, [`validate_stored_key`] for
/// single files they read or remove.
#[async_trait]
pub trait Blobs: FileUrls {
    /// Stores `bytes` under `key` with `content_type`, replacing what was there.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError>;
    /// The file at `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError>;
    /// Removes the file at `key`; removing nothing is fine.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// Removes every file under `folder/` (e.g. `uploads/<userId>` when an account is
    /// erased) and returns how many there were; an empty folder is fine.
    async fn delete_folder(&self, folder: &str) -> Result<usize, BlobError>;
    /// The metadata of the file at `key`, if any.
    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, BlobError>;
    /// A cheap round trip that proves the bucket answers (`/readyz`).
    async fn ping(&self) -> Result<(), BlobError>;
    /// The filesystem adapter behind this port, whose presigned PUTs the local gateway
    /// accepts; `None` for real buckets.
    fn as_filesystem(&self) -> Option<&filesystem::FilesystemBlobs> {
        None
    }
}

/// Keys we write (puts and presigned URLs) are relative paths of safe segments in a small
/// alphabet: ASCII letters and digits and `-_.=+@`; no `..`, no hidden segments, no
/// backslashes.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    if key.len() > 512 {
        return Err(BlobError::InvalidKey(key.to_owned()));
    }
    validate_stored_key(key)?;
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | '=' | '+' | '@'))
    {
        return Err(BlobError::InvalidKey(key.to_owned()));
    }
    Ok(())
}

/// The longest key S3 stores, in bytes.
pub const MAX_STORED_KEY_BYTES: usize = 1024;
/// The longest segment of a key, in bytes: a file name on the filesystem adapter (255 bytes
/// on common filesystems, less `.json` for its content-type sidecar).
pub const MAX_SEGMENT_BYTES: usize = 250;

/// Keys we only read or remove (gets, heads, deletes) may be any key a bucket can hold
/// that is still safe as a relative path: S3 holds keys we never write (a space, Hangul),
/// and a task handed one must be able to look at it and remove it. Still refused: `..`,
/// hidden or empty segments, backslashes, control characters, and over-long keys or
/// segments.
pub fn validate_stored_key(key: &str) -> Result<(), BlobError> {
    let bad = || BlobError::InvalidKey(key.to_owned());
    if key.is_empty()
        || key.len() > MAX_STORED_KEY_BYTES
        || key.starts_with('/')
        || key.ends_with('/')
    {
        return Err(bad());
    }
    for segment in key.split('/') {
        if segment.is_empty() || segment.starts_with('.') || segment.len() > MAX_SEGMENT_BYTES {
            return Err(bad());
        }
        if segment.chars().any(|c| c == '\\' || c.is_control()) {
            return Err(bad());
        }
    }
    Ok(())
}

const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `base/key` with each segment of the key percent-encoded.
pub fn join_url(base: &str, key: &str) -> String {
    let encoded: Vec<String> = key
        .split('/')
        .map(|s| utf8_percent_encode(s, PATH_SEGMENT).to_string())
        .collect();
    format!("{}/{}", base.trim_end_matches('/'), encoded.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_climb_out_of_the_bucket() {
        for key in [
            "../etc/passwd",
            "a/../b",
            "/abs",
            "a//b",
            ".meta/x",
            "a/.hidden",
            "a\\b",
            "",
            "dir/",
        ] {
            assert!(validate_key(key).is_err(), "{key}");
        }
        for key in [
            "uploads/u1/3f2c.png",
            "routes/01J.geojson",
            "thumbnails/courses/c1.png",
        ] {
            assert!(validate_key(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn keys_we_only_read_may_hold_what_s3_holds_but_never_climb_out() {
        for key in [
            "uploads/u1/my photo.png",
            "uploads/u1/사진.png",
            "uploads/u1/a+b (1).png",
        ] {
            assert!(validate_stored_key(key).is_ok(), "{key}");
            assert!(validate_key(key).is_err(), "{key} is not a key we write");
        }
        for key in [
            "../etc/passwd",
            "a/../b",
            "/abs",
            ".meta/x",
            "a\\b",
            "a/b\u{0}c",
            "a/line\nbreak",
        ] {
            assert!(validate_stored_key(key).is_err(), "{key:?}");
        }
        assert!(validate_stored_key(&format!("uploads/{}", "x".repeat(251))).is_err());
    }

    #[test]
    fn private_keys_are_those_under_the_private_folder() {
        assert!(is_private_key("private/routes/c1.geojson"));
        assert!(!is_private_key("routes/c1.geojson"));
        assert!(!is_private_key("uploads/private/x.png"));
    }

    #[test]
    fn public_urls_encode_each_segment() {
        assert_eq!(
            join_url("https://cdn.example/", "uploads/u 1/a+b.png"),
            "https://cdn.example/uploads/u%201/a%2Bb.png"
        );
    }
}
