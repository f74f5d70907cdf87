//! Benchmark helpers: statistics, a store that counts its round trips, and process memory.
//!
//! The binaries of this crate produce the figures in BENCHMARKS.md (`infra/scripts/bench`):
//! `bench-coldstart` starts any Lambda binary against a loopback Runtime API and times its
//! init and first response; `floor-hello` and `floor-aws` are the hello-world floors it is
//! compared with; `bench-routes` times every handler in process and counts its store calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
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

/// A store that counts every call that reaches the table: one call is one round trip to
/// DynamoDB (a transaction is one `TransactWriteItems`).
pub struct CountingStore {
    inner: Arc<dyn Store>,
    calls: AtomicU64,
}

impl CountingStore {
    /// Counts calls into `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CountingStore {
            inner,
            calls: AtomicU64::new(0),
        }
    }

    /// Calls since the last [`CountingStore::reset`].
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Starts counting again.
    pub fn reset(&self) {
        self.calls.store(0, Ordering::Relaxed);
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.count();
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.count();
        self.inner.get_many(keys).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.count();
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.count();
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.count();
        self.inner.query(query).await
    }
    async fn count(&self, query: &Query) -> Result<usize, StoreError> {
        self.count();
        self.inner.count(query).await
    }
    async fn add(
        &self,
        key: &Key,
        field: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        self.count();
        self.inner.add(key, field, delta, expires_at).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.count();
        self.inner.transact(writes).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.count();
        self.inner.ping().await
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

    #[test]
    fn this_process_has_a_peak_rss() {
        assert!(peak_rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
