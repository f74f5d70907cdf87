//! The local stand-in for S3 event notifications: every file stored through the app's
//! bucket raises `ObjectCreated:Put` for the functions whose template trigger matches its
//! key (prefix filter included), with the real event shape (URL-encoded key). Delivery is
//! asynchronous as on AWS, retried twice with backoff like an asynchronous Lambda
//! invocation, and a record that still fails is logged as dead-lettered.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use runcrew_shared::blobs::filesystem::FilesystemBlobs;
use runcrew_shared::blobs::{Blob, BlobError, BlobMeta, Blobs, FileUrls, PresignedPut};
use runcrew_shared::{App, S3Function};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::template::S3TriggerSpec;

/// Attempts per event: the first and Lambda's two retries.
const ATTEMPTS: usize = 3;
/// The pauses before the retries (1 s, then 2 s): Lambda's own are a minute and more, which
/// a developer waiting for a thumbnail would not sit through.
const BACKOFF: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_secs(1))
    .with_factor(2.0)
    .with_max_times(ATTEMPTS - 1);

/// A stored file, as the notification describes it.
#[derive(Debug, Clone)]
struct Created {
    key: String,
    size: u64,
}

/// The app's bucket, reporting every stored file.
pub struct NotifyingBlobs {
    inner: Arc<dyn Blobs>,
    created: mpsc::UnboundedSender<Created>,
}

#[async_trait]
impl FileUrls for NotifyingBlobs {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedPut, BlobError> {
        self.inner
            .presign_put(key, content_type, content_length, expires_in)
            .await
    }
    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        self.inner.presign_get(key, expires_in).await
    }
    fn public_url(&self, key: &str) -> String {
        self.inner.public_url(key)
    }
}

#[async_trait]
impl Blobs for NotifyingBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        let size = bytes.len() as u64;
        self.inner.put(key, bytes, content_type).await?;
        let _ = self.created.send(Created {
            key: key.to_owned(),
            size,
        });
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        self.inner.get(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.inner.delete(key).await
    }
    async fn delete_folder(&self, folder: &str) -> Result<usize, BlobError> {
        self.inner.delete_folder(folder).await
    }
    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, BlobError> {
        self.inner.head(key).await
    }
    async fn ping(&self) -> Result<(), BlobError> {
        self.inner.ping().await
    }
    fn as_filesystem(&self) -> Option<&FilesystemBlobs> {
        self.inner.as_filesystem()
    }
}

/// The S3 event of one created file, as S3 sends it.
fn event_for(bucket: &str, trigger: &S3TriggerSpec, created: &Created) -> serde_json::Value {
    let encoded_key: String =
        url::form_urlencoded::byte_serialize(created.key.as_bytes()).collect();
    let now = time::OffsetDateTime::now_utc();
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "local",
        "eventTime": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "local"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "local", "x-amz-id-2": "local"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": trigger.function,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "local"},
                "arn": format!("arn:aws:s3:::{bucket}"),
            },
            "object": {
                "key": encoded_key,
                "size": created.size,
                "eTag": "local",
                "sequencer": format!("{:016X}", now.unix_timestamp_nanos()),
            },
        },
    }]})
}

/// Wraps the app's bucket so stored files raise the template's S3 triggers, and starts
/// delivering them to `tasks`. Returns the app to serve with and the delivery task.
pub fn wire(
    app: Arc<App>,
    triggers: Vec<S3TriggerSpec>,
    tasks: &[&'static S3Function],
) -> (Arc<App>, Option<JoinHandle<()>>) {
    let Some(inner) = app.blobs_handle() else {
        return (app, None);
    };
    if triggers.is_empty() {
        return (app, None);
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Created>();
    let wired = Arc::new(
        (*app)
            .clone()
            .with_blobs(Arc::new(NotifyingBlobs { inner, created: tx })),
    );
    let routes: Vec<(S3TriggerSpec, &'static S3Function)> = triggers
        .into_iter()
        .filter_map(|t| {
            let task = tasks.iter().find(|f| f.binary == t.binary)?;
            Some((t, *task))
        })
        .collect();
    let delivering = wired.clone();
    let handle = tokio::spawn(async move {
        while let Some(created) = rx.recv().await {
            for (trigger, task) in &routes {
                if !trigger.matches_created(&created.key) {
                    continue;
                }
                let event = event_for(&delivering.config.bucket_name, trigger, &created);
                let app = delivering.clone();
                let (trigger, task) = (trigger.clone(), *task);
                let key = created.key.clone();
                tokio::spawn(async move { deliver(&app, &trigger, task, event, &key).await });
            }
        }
    });
    (wired, Some(handle))
}

/// Why an event was not handled.
enum Undelivered {
    /// The event we built does not parse (a bug of ours): no retry can fix it.
    Unparsable(serde_json::Error),
    /// The function failed (it has logged why); Lambda would invoke it again.
    Failed,
}

async fn deliver(
    app: &App,
    trigger: &S3TriggerSpec,
    task: &S3Function,
    event: serde_json::Value,
    key: &str,
) {
    let invoke = || async {
        let parsed = serde_json::from_value(event.clone()).map_err(Undelivered::Unparsable)?;
        task.call(app, parsed)
            .await
            .map_err(|_| Undelivered::Failed)
    };
    let delivered = invoke
        .retry(BACKOFF)
        .when(|undelivered| matches!(undelivered, Undelivered::Failed))
        .notify(|_, pause| {
            tracing::warn!(
                target: "gateway",
                function = %trigger.function,
                key,
                retry_in_ms = pause.as_millis() as u64,
                "S3 event failed; invoking again"
            );
        })
        .await;
    match delivered {
        Ok(()) => {}
        Err(Undelivered::Unparsable(err)) => {
            tracing::error!(target: "gateway", error = %err, "an S3 event did not parse");
        }
        Err(Undelivered::Failed) => tracing::error!(
            target: "gateway",
            function = %trigger.function,
            key,
            "S3 event failed after every retry: dead-lettered"
        ),
    }
}
