//! Benchmark helpers: statistics, a store that counts its round trips, and process memory.
//!
//! The binaries of this crate produce the figures in BENCHMARKS.md (`infra/scripts/bench`):
//! `bench-coldstart` starts any Lambda binary against a loopback Runtime API and times its
//! init and first response; `floor-hello` and `floor-aws` are the hello-world floors it is
//! compared with; `bench-routes` times every handler in process and counts its store calls.

pub mod hot_paths;
pub mod table_timer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use runcrew_shared::blobs::{Blob, BlobError, BlobMeta, Blobs, FileUrls, PresignedPut};
use runcrew_shared::store::{Condition, Item, Key, Page, Query, Store, StoreError, Write};

/// The value at quantile `q` (0..=1) of `samples`, nearest rank.
pub fn quantile(samples: &[Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Milliseconds with three decimals, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// Peak resident memory of process `pid` in KiB (`VmHWM`), on Linux.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix("VmHWM:")
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    })
}

/// The AWS configuration the benchmarks talk to DynamoDB Local (and moto) with: a fixed
/// region and dummy credentials, so no benchmark reads the machine's AWS profile.
pub async fn local_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .load()
        .await
}

/// A fresh table `<name>-<process id>` in the DynamoDB Local at `endpoint`, created as
/// template.yaml defines it, its cursors signed with `cursor_secret`.
pub async fn local_table(
    endpoint: &str,
    name: &str,
    cursor_secret: &str,
) -> runcrew_shared::store::dynamodb::DynamoStore {
    let store = runcrew_shared::store::dynamodb::DynamoStore::from_sdk_config(
        &local_sdk_config().await,
        Some(endpoint),
        format!("{name}-{}", std::process::id()),
        runcrew_shared::store::cursor::CursorCodec::new(cursor_secret),
    );
    store
        .create_table()
        .await
        .expect("bench table in DynamoDB Local");
    store
}

/// What one request cost the table, counted in [`CountingStore`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trips {
    /// Calls that read (GetItem, BatchGetItem, Query, a COUNT, a ping).
    pub reads: u64,
    /// Calls that write (PutItem, DeleteItem, UpdateItem, TransactWriteItems).
    pub writes: u64,
    /// Sequential rounds: a call started while another was in flight (`tokio::join!`)
    /// shares its round, so this is the request's store latency in round trips.
    pub rounds: u64,
}

impl Trips {
    /// Every call, reads and writes.
    pub fn calls(&self) -> u64 {
        self.reads + self.writes
    }
}

/// A store that counts every call that reaches the table: one call is one round trip to
/// DynamoDB (a transaction is one `TransactWriteItems`), read or write, and it tracks how
/// many of them ran one after another.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    reads: AtomicU64,
    writes: AtomicU64,
    rounds: AtomicU64,
    in_flight: AtomicU64,
}

/// Ends a call's flight when the call finishes or is dropped.
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl CountingStore {
    /// Counts calls into `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CountingStore {
            inner,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
        }
    }

    /// Calls since the last [`CountingStore::reset`].
    pub fn trips(&self) -> Trips {
        Trips {
            reads: self.reads.load(Ordering::SeqCst),
            writes: self.writes.load(Ordering::SeqCst),
            rounds: self.rounds.load(Ordering::SeqCst),
        }
    }

    /// Starts counting again.
    pub fn reset(&self) {
        for counter in [&self.reads, &self.writes, &self.rounds] {
            counter.store(0, Ordering::SeqCst);
        }
    }

    fn start(&self, tally: &AtomicU64) -> InFlight<'_> {
        tally.fetch_add(1, Ordering::SeqCst);
        if self.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            self.rounds.fetch_add(1, Ordering::SeqCst);
        }
        InFlight(&self.in_flight)
    }

    /// Runs one store call as part of the current round. The call stays in flight for one
    /// more scheduler turn after it returns, so a call joined with it (`tokio::join!`) starts
    /// inside the same round even when the inner store answers without ever yielding (the
    /// embedded store often does).
    async fn counted<T>(&self, tally: &AtomicU64, call: impl Future<Output = T>) -> T {
        let _flight = self.start(tally);
        let answer = call.await;
        tokio::task::yield_now().await;
        answer
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.counted(&self.reads, self.inner.get(key)).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.counted(&self.reads, self.inner.get_many(keys)).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.counted(&self.writes, self.inner.put(item, condition))
            .await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.counted(&self.writes, self.inner.delete(key, condition))
            .await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.counted(&self.reads, self.inner.query(query)).await
    }
    async fn count(&self, query: &Query) -> Result<usize, StoreError> {
        self.counted(&self.reads, self.inner.count(query)).await
    }
    async fn add(
        &self,
        key: &Key,
        field: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        self.counted(&self.writes, self.inner.add(key, field, delta, expires_at))
            .await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.counted(&self.writes, self.inner.transact(writes))
            .await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.counted(&self.reads, self.inner.ping()).await
    }
}

/// A bucket that counts the calls that reach it (a put, get, delete, folder delete, head or
/// ping each); signing a URL or naming a public one is no round trip and is not counted. A
/// route whose first request is "one DynamoDB read" makes no call here, so a first request
/// that also reaches the bucket (`/readyz`) is not held to the one-read floor's figure.
pub struct CountingBlobs {
    inner: Arc<dyn Blobs>,
    calls: AtomicU64,
}

impl CountingBlobs {
    /// Counts calls into `inner`.
    pub fn new(inner: Arc<dyn Blobs>) -> Self {
        CountingBlobs {
            inner,
            calls: AtomicU64::new(0),
        }
    }

    /// Calls since the last [`CountingBlobs::reset`].
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Starts counting again.
    pub fn reset(&self) {
        self.calls.store(0, Ordering::SeqCst);
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl FileUrls for CountingBlobs {
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
impl Blobs for CountingBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        self.count();
        self.inner.put(key, bytes, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        self.count();
        self.inner.get(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.count();
        self.inner.delete(key).await
    }
    async fn delete_folder(&self, folder: &str) -> Result<usize, BlobError> {
        self.count();
        self.inner.delete_folder(folder).await
    }
    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, BlobError> {
        self.count();
        self.inner.head(key).await
    }
    async fn ping(&self) -> Result<(), BlobError> {
        self.count();
        self.inner.ping().await
    }
    fn as_filesystem(&self) -> Option<&runcrew_shared::blobs::filesystem::FilesystemBlobs> {
        self.inner.as_filesystem()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&samples, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&samples, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }

    #[tokio::test]
    async fn reads_in_parallel_share_a_round_and_a_write_after_them_is_the_next() {
        use runcrew_shared::store::embedded::EmbeddedStore;
        let counter = CountingStore::new(Arc::new(EmbeddedStore::in_memory(
            runcrew_shared::store::cursor::CursorCodec::new("bench-cursor-secret-of-32-bytes!!"),
        )));
        let (a, b) = (Key::new("P", "a"), Key::new("P", "b"));
        let (first, second) = tokio::join!(counter.get(&a), counter.get(&b));
        assert!(first.is_ok() && second.is_ok());
        counter
            .delete(&a, Condition::None)
            .await
            .expect("delete nothing");
        assert_eq!(
            counter.trips(),
            Trips {
                reads: 2,
                writes: 1,
                rounds: 2
            }
        );
        counter.reset();
        assert_eq!(counter.trips(), Trips::default());
    }

    #[test]
    fn this_process_has_a_peak_rss() {
        assert!(peak_rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
