//! The Blobs port: files in the bucket, served publicly through the CDN.
//!
//! Clients never send file bytes through a function: they get a presigned PUT whose content
//! type, exact length and expiry are signed, upload straight to the bucket, and read the
//! result from the CDN URL. Adapters: [`s3::S3Blobs`] (AWS) and
//! [`filesystem::FilesystemBlobs`] (laptops; the local gateway accepts its presigned PUTs).

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

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its metadata.
    pub meta: BlobMeta,
}

/// A URL a client may PUT exactly one file to, before it expires.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PresignedPut {
    /// Where to send the PUT.
    pub url: String,
    /// Always `PUT`.
    pub method: &'static str,
    /// Headers the client must send exactly as given (the signed ones).
    pub headers: Vec<(String, String)>,
    /// Epoch seconds after which the URL is refused.
    pub expires_at: i64,
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
    /// Local file-system failure.
    #[error("i/o: {0}")]
    Io(String),
}

/// The bucket.
#[async_trait]
pub trait Blobs: Send + Sync {
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
    /// A presigned PUT for `key` with the content type and exact length signed.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedPut, BlobError>;
    /// The public (CDN) URL the file at `key` has.
    fn public_url(&self, key: &str) -> String;
    /// A cheap round trip that proves the bucket answers (`/readyz`).
    async fn ping(&self) -> Result<(), BlobError>;
    /// The filesystem adapter behind this port, whose presigned PUTs the local gateway
    /// accepts; `None` for real buckets.
    fn as_filesystem(&self) -> Option<&filesystem::FilesystemBlobs> {
        None
    }
}

/// Keys are relative paths of safe segments: no `..`, no hidden segments, no backslashes.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let bad = || BlobError::InvalidKey(key.to_owned());
    if key.is_empty() || key.len() > 512 || key.starts_with('/') || key.ends_with('/') {
        return Err(bad());
    }
    for segment in key.split('/') {
        if segment.is_empty() || segment.starts_with('.') {
            return Err(bad());
        }
        if !segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | '+' | '@'))
        {
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
    fn public_urls_encode_each_segment() {
        assert_eq!(
            join_url("https://cdn.example/", "uploads/u 1/a+b.png"),
            "https://cdn.example/uploads/u%201/a%2Bb.png"
        );
    }
}
