//! Files under a folder, standing in for S3 on a laptop.
//!
//! A file's content type sits beside it in `.meta/<key>.json`. Presigned PUTs point at the
//! local gateway (`/_local/uploads/<key>?...`) and carry an HMAC over method, key, content
//! type, exact length and expiry; the gateway calls [`FilesystemBlobs::accept_presigned_put`],
//! which refuses anything altered or expired, as S3 would. Presigned GETs (how the owner
//! reads a private file) point at the gateway's CDN stand-in (`/_cdn/<key>?...`) with an
//! HMAC over key and expiry, checked by [`FilesystemBlobs::accept_presigned_get`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{
    Blob, BlobError, BlobMeta, Blobs, FileUrls, PresignedPut, join_url, validate_key,
    validate_stored_key,
};

/// The path under the local gateway where presigned PUTs land.
pub const UPLOAD_PATH: &str = "/_local/uploads";

/// The laptop adapter: files under one folder (`<data dir>/blobs` when [`crate::App`] builds
/// it), with presigned URLs only the local gateway accepts.
#[derive(Clone)]
pub struct FilesystemBlobs {
    root: PathBuf,
    cdn_base_url: String,
    upload_base_url: String,
    signing_key: Vec<u8>,
}

impl std::fmt::Debug for FilesystemBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesystemBlobs")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Sidecar {
    content_type: String,
}

fn io(err: std::io::Error) -> BlobError {
    BlobError::Io(err.to_string())
}

/// The query string of a local presigned PUT, as the gateway received it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PresignedQuery {
    /// The content type that was signed.
    pub content_type: String,
    /// The exact length that was signed.
    pub content_length: u64,
    /// Epoch seconds.
    pub expires: i64,
    /// HMAC, base64url.
    pub signature: String,
}

/// The query string of a local presigned GET, as the gateway received it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SignedGetQuery {
    /// Epoch seconds.
    pub expires: i64,
    /// HMAC, base64url.
    pub signature: String,
}

impl FilesystemBlobs {
    /// Files under `root`; public URLs under `cdn_base_url`; presigned PUTs to
    /// `upload_base_url` + [`UPLOAD_PATH`], signed with `signing_key`.
    pub fn new(
        root: impl Into<PathBuf>,
        cdn_base_url: &str,
        upload_base_url: &str,
        signing_key: impl AsRef<[u8]>,
    ) -> Self {
        FilesystemBlobs {
            root: root.into(),
            cdn_base_url: cdn_base_url.trim_end_matches('/').to_owned(),
            upload_base_url: upload_base_url.trim_end_matches('/').to_owned(),
            signing_key: signing_key.as_ref().to_vec(),
        }
    }

    /// Where a file we write goes: the key must be in the alphabet of keys we write.
    fn path_of(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    /// Where a file we read or remove is: any key a bucket may hold that stays inside it.
    fn stored_path_of(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_stored_key(key)?;
        Ok(self.root.join(key))
    }

    fn get_signature(&self, key: &str, expires: i64) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.signing_key).expect("HMAC takes any key length");
        mac.update(format!("GET\n{key}\n{expires}").as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Checks a presigned GET the way S3 would: the signature over key and expiry, and the
    /// expiry itself.
    pub fn accept_presigned_get(
        &self,
        key: &str,
        query: &SignedGetQuery,
        now: i64,
    ) -> Result<(), BlobError> {
        validate_stored_key(key)?;
        let expected = self.get_signature(key, query.expires);
        let given = query.signature.as_bytes();
        if expected.len() != given.len()
            || !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given))
        {
            return Err(BlobError::Signature("the signature does not match".into()));
        }
        if now > query.expires {
            return Err(BlobError::Signature("the URL has expired".into()));
        }
        Ok(())
    }

    fn sidecar_of(&self, key: &str) -> PathBuf {
        self.root.join(".meta").join(format!("{key}.json"))
    }

    fn signature(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires: i64,
    ) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.signing_key).expect("HMAC takes any key length");
        mac.update(format!("PUT\n{key}\n{content_type}\n{content_length}\n{expires}").as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Checks a presigned PUT the way S3 would: signature over the signed values, expiry,
    /// and the request's content type and length equal to the signed ones.
    pub fn accept_presigned_put(
        &self,
        key: &str,
        query: &PresignedQuery,
        content_type: Option<&str>,
        body_len: u64,
        now: i64,
    ) -> Result<(), BlobError> {
        validate_key(key)?;
        let expected = self.signature(
            key,
            &query.content_type,
            query.content_length,
            query.expires,
        );
        let given = query.signature.as_bytes();
        if expected.len() != given.len()
            || !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given))
        {
            return Err(BlobError::Signature("the signature does not match".into()));
        }
        if now > query.expires {
            return Err(BlobError::Signature("the upload URL has expired".into()));
        }
        if content_type != Some(query.content_type.as_str()) {
            return Err(BlobError::Signature(
                "Content-Type differs from the signed one".into(),
            ));
        }
        if body_len != query.content_length {
            return Err(BlobError::Signature(
                "Content-Length differs from the signed one".into(),
            ));
        }
        Ok(())
    }

    async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BlobError> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        tokio::fs::rename(&tmp, path).await.map_err(io)
    }
}

#[async_trait]
impl FileUrls for FilesystemBlobs {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedPut, BlobError> {
        validate_key(key)?;
        let expires =
            time::OffsetDateTime::now_utc().unix_timestamp() + expires_in.as_secs() as i64;
        let signature = self.signature(key, content_type, content_length, expires);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("content_type", content_type)
            .append_pair("content_length", &content_length.to_string())
            .append_pair("expires", &expires.to_string())
            .append_pair("signature", &signature)
            .finish();
        let url = format!(
            "{}?{query}",
            join_url(&format!("{}{UPLOAD_PATH}", self.upload_base_url), key)
        );
        Ok(PresignedPut {
            url,
            method: "PUT",
            headers: vec![
                ("content-type".into(), content_type.to_owned()),
                ("content-length".into(), content_length.to_string()),
            ],
            expires_at: expires,
        })
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        validate_key(key)?;
        let expires =
            time::OffsetDateTime::now_utc().unix_timestamp() + expires_in.as_secs() as i64;
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("expires", &expires.to_string())
            .append_pair("signature", &self.get_signature(key, expires))
            .finish();
        Ok(format!("{}?{query}", join_url(&self.cdn_base_url, key)))
    }

    fn public_url(&self, key: &str) -> String {
        join_url(&self.cdn_base_url, key)
    }
}

#[async_trait]
impl Blobs for FilesystemBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        let path = self.path_of(key)?;
        let sidecar = serde_json::to_vec(&Sidecar {
            content_type: content_type.to_owned(),
        })
        .map_err(|e| BlobError::Io(e.to_string()))?;
        Self::write_atomically(&self.sidecar_of(key), &sidecar).await?;
        Self::write_atomically(&path, &bytes).await
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        let path = self.stored_path_of(key)?;
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let Some(meta) = self.head(key).await? else {
            return Ok(None);
        };
        Ok(Some(Blob { bytes, meta }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.stored_path_of(key)?;
        for p in [path, self.sidecar_of(key)] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(())
    }

    async fn delete_folder(&self, folder: &str) -> Result<usize, BlobError> {
        let dir = self.path_of(folder)?;
        let mut count = 0;
        let mut pending = vec![dir.clone()];
        while let Some(next) = pending.pop() {
            let mut entries = match tokio::fs::read_dir(&next).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(io)? {
                if entry.file_type().await.map_err(io)?.is_dir() {
                    pending.push(entry.path());
                } else {
                    count += 1;
                }
            }
        }
        for path in [dir, self.root.join(".meta").join(folder)] {
            match tokio::fs::remove_dir_all(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(count)
    }

    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, BlobError> {
        let path = self.stored_path_of(key)?;
        let size = match tokio::fs::metadata(&path).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let content_type = match tokio::fs::read(self.sidecar_of(key)).await {
            Ok(raw) => serde_json::from_slice::<Sidecar>(&raw)
                .map(|s| s.content_type)
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        let content_type = if content_type.is_empty() {
            "application/octet-stream".to_owned()
        } else {
            content_type
        };
        Ok(Some(BlobMeta { content_type, size }))
    }

    async fn ping(&self) -> Result<(), BlobError> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|e| BlobError::Unavailable(e.to_string()))?;
        let meta = tokio::fs::metadata(&self.root)
            .await
            .map_err(|e| BlobError::Unavailable(e.to_string()))?;
        if meta.permissions().readonly() {
            return Err(BlobError::Unavailable(
                "the blob folder is read-only".into(),
            ));
        }
        Ok(())
    }

    fn as_filesystem(&self) -> Option<&FilesystemBlobs> {
        Some(self)
    }
}
