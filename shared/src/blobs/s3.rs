//! S3 (aws-sdk-s3), and S3-compatible servers through an endpoint override in tests.
//!
//! Presigned PUTs sign `content-type` and `content-length` (the SDK puts both in
//! `X-Amz-SignedHeaders` when they are set), so S3 refuses any other type or size.

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::{
    Blob, BlobError, BlobMeta, Blobs, FileUrls, PresignedPut, join_url, validate_key,
    validate_stored_key,
};

/// The S3 adapter over one bucket.
///
/// The client, and its configuration, are built on first use: building them costs a few
/// tenths of a millisecond of a cold start (BENCHMARKS.md, `floor-aws-lean-s3` beside
/// `floor-aws-lean`), and most requests to the functions that hold the bucket never touch
/// it (a public course's files need no signature; a public URL is built without the
/// client).
#[derive(Clone, Debug)]
pub struct S3Blobs {
    config: aws_sdk_s3::config::Builder,
    client: OnceLock<Client>,
    bucket: String,
    cdn_base_url: String,
}

fn unavailable<E, R>(err: SdkError<E, R>) -> BlobError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    BlobError::Unavailable(DisplayErrorContext(&err).to_string())
}

fn is_not_found<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    matches!(err.code(), Some("NoSuchKey" | "NotFound"))
        || err
            .raw_response()
            .is_some_and(|r| r.status().as_u16() == 404)
}

impl S3Blobs {
    /// An adapter with an already-built client.
    pub fn new(client: Client, bucket: impl Into<String>, cdn_base_url: &str) -> Self {
        S3Blobs {
            config: client.config().to_builder(),
            client: OnceLock::from(client),
            bucket: bucket.into(),
            cdn_base_url: cdn_base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// An adapter whose client is built from `config` when a call first needs it.
    pub fn lazy(
        config: aws_sdk_s3::config::Builder,
        bucket: impl Into<String>,
        cdn_base_url: &str,
    ) -> Self {
        S3Blobs {
            config,
            client: OnceLock::new(),
            bucket: bucket.into(),
            cdn_base_url: cdn_base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Builds the client from the shared AWS configuration; with an endpoint override it
    /// uses path-style addressing, which S3-compatible test servers need.
    pub fn from_sdk_config(
        sdk: &aws_config::SdkConfig,
        endpoint: Option<&str>,
        bucket: impl Into<String>,
        cdn_base_url: &str,
    ) -> Self {
        let mut builder = aws_sdk_s3::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            builder = builder.endpoint_url(url).force_path_style(true);
        }
        Self::lazy(builder, bucket, cdn_base_url)
    }

    /// The bucket's name (tests put objects beside the adapter through [`S3Blobs::client`]).
    pub fn bucket_name(&self) -> &str {
        &self.bucket
    }

    /// The client, built now if no call has needed it yet (bucket set-up in tests).
    pub fn client(&self) -> &Client {
        self.client
            .get_or_init(|| Client::from_conf(self.config.clone().build()))
    }
}

#[async_trait]
impl FileUrls for S3Blobs {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedPut, BlobError> {
        validate_key(key)?;
        let length = i64::try_from(content_length)
            .map_err(|_| BlobError::Io(format!("content length {content_length} is too large")))?;
        let config =
            PresigningConfig::expires_in(expires_in).map_err(|e| BlobError::Io(e.to_string()))?;
        let request = self
            .client()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .presigned(config)
            .await
            .map_err(unavailable)?;
        let headers = request
            .headers()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        Ok(PresignedPut {
            url: request.uri().to_owned(),
            method: "PUT",
            headers,
            expires_at: time::OffsetDateTime::now_utc().unix_timestamp()
                + expires_in.as_secs() as i64,
        })
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        validate_key(key)?;
        let config =
            PresigningConfig::expires_in(expires_in).map_err(|e| BlobError::Io(e.to_string()))?;
        let request = self
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(unavailable)?;
        Ok(request.uri().to_owned())
    }

    fn public_url(&self, key: &str) -> String {
        join_url(&self.cdn_base_url, key)
    }
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        self.client()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        validate_stored_key(key)?;
        let out = match self
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(unavailable(err)),
        };
        let content_type = out
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Unavailable(e.to_string()))?
            .into_bytes()
            .to_vec();
        let size = bytes.len() as u64;
        Ok(Some(Blob {
            bytes,
            meta: BlobMeta { content_type, size },
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        validate_stored_key(key)?;
        self.client()
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn delete_folder(&self, folder: &str) -> Result<usize, BlobError> {
        validate_key(folder)?;
        let prefix = format!("{folder}/");
        let mut deleted = 0;
        let mut token: Option<String> = None;
        loop {
            // One page of at most 1,000 keys, then one DeleteObjects for that page.
            let page = self
                .client()
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(unavailable)?;
            let objects: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if !objects.is_empty() {
                deleted += objects.len();
                let delete = Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(|e| BlobError::Io(e.to_string()))?;
                let out = self
                    .client()
                    .delete_objects()
                    .bucket(&self.bucket)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(unavailable)?;
                if let Some(failed) = out.errors().first() {
                    return Err(BlobError::Unavailable(format!(
                        "{} files could not be deleted, e.g. {:?}: {:?}",
                        out.errors().len(),
                        failed.key(),
                        failed.code()
                    )));
                }
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(deleted),
            }
        }
    }

    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, BlobError> {
        validate_stored_key(key)?;
        match self
            .client()
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(BlobMeta {
                content_type: out
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
                size: out.content_length().unwrap_or(0).max(0) as u64,
            })),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn ping(&self) -> Result<(), BlobError> {
        self.client()
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
