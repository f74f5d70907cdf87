//! Derived data is a projection of the table's stream: a run's place on its course's board
//! and its runner's records are right once the stream is delivered, whatever happened to
//! the request's own attempt after its commit. The store here loses chosen writes on
//! purpose (a failing wrapper around the embedded store and its stream, or around a table
//! in DynamoDB Local and its stream).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use runcrew_local::Running;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::stream::TableStream;
use runcrew_shared::store::{Condition, Item, Key, Page, Query, Store, StoreError, Write};
use runcrew_tests::{bearer, call, create_course, dev_login, http, record_run};
use serde_json::Value;

/// Which writes the store loses.
enum Loses {
    /// The next `n` writes to leaderboard entries and to records (each kind counted apart).
    Next(usize),
    /// Every write to the leaderboard of the course whose partition is this.
    Always(String),
}

/// A store with a stream, losing the writes [`Loses`] names as a table that is briefly
/// unavailable would.
struct LosingStore {
    inner: Arc<dyn Store>,
    loses: std::sync::Mutex<Loses>,
    board_left: AtomicUsize,
    records_left: AtomicUsize,
    lost: AtomicUsize,
}

impl LosingStore {
    fn new(inner: Arc<dyn Store>, loses: Loses) -> Arc<Self> {
        let n = match &loses {
            Loses::Next(n) => *n,
            Loses::Always(_) => 0,
        };
        Arc::new(LosingStore {
            inner,
            loses: std::sync::Mutex::new(loses),
            board_left: AtomicUsize::new(n),
            records_left: AtomicUsize::new(n),
            lost: AtomicUsize::new(0),
        })
    }

    fn arm(&self, loses: Loses) {
        if let Loses::Next(n) = &loses {
            self.board_left.store(*n, Ordering::SeqCst);
            self.records_left.store(*n, Ordering::SeqCst);
        }
        *self.loses.lock().expect("lock") = loses;
    }

    fn lost(&self) -> usize {
        self.lost.load(Ordering::SeqCst)
    }

    /// Whether a write to `key` is lost now.
    fn loses(&self, key: &Key) -> bool {
        let take = |left: &AtomicUsize| {
            left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        };
        let lost = match &*self.loses.lock().expect("lock") {
            Loses::Next(_) if key.sk.starts_with("BEST#") => take(&self.board_left),
            Loses::Next(_) if key.sk == "RECORDS" => take(&self.records_left),
            Loses::Next(_) => false,
            Loses::Always(partition) => key.pk == *partition && key.sk.starts_with("BEST#"),
        };
        if lost {
            self.lost.fetch_add(1, Ordering::SeqCst);
        }
        lost
    }

    fn check(&self, key: &Key) -> Result<(), StoreError> {
        if self.loses(key) {
            Err(StoreError::Unavailable(
                "injected: the write was lost".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for LosingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.check(&item.key)?;
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.check(key)?;
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn count(&self, query: &Query) -> Result<usize, StoreError> {
        self.inner.count(query).await
    }
    async fn add(
        &self,
        key: &Key,
        field: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        self.inner.add(key, field, delta, expires_at).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        for write in &writes {
            let key = match write {
                Write::Put { item, .. } => &item.key,
                Write::Delete { key, .. } => key,
                _ => continue,
            };
            self.check(key)?;
        }
        self.inner.transact(writes).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    fn stream(&self) -> Option<&dyn TableStream> {
        self.inner.stream()
    }
}

/// The embedded store, keeping its stream.
fn embedded() -> Arc<dyn Store> {
    Arc::new(
        EmbeddedStore::in_memory(runcrew_tests::codec())
            .with_stream()
            .expect("a stream"),
    )
}

/// A fresh table in DynamoDB Local, its stream read as Lambda reads it.
async fn dynamodb_local() -> Arc<dyn Store> {
    Arc::new(runcrew_tests::dynamodb_store_with_stream().await)
}

fn url(api: &Running, path: &str) -> String {
    format!("{}{path}", api.url())
}

/// A local API over `store`, with alice logged in and a 2 km course of hers.
async fn api_with_a_course(store: Arc<LosingStore>) -> (Running, tempfile::TempDir, Value, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = runcrew_tests::config(dir.path(), &[]);
    let api = runcrew_tests::serve_app(runcrew_tests::app_over(config, store)).await;
    let alice = dev_login(&api, "alice").await;
    let course = create_course(&api, &alice, "City Hall 2k").await;
    (api, dir, alice, course)
}

/// The board's run ids, fastest first.
async fn board(api: &Running, course: &str) -> Vec<(String, i64)> {
    let (status, body) =
        call(http().get(url(api, &format!("/v1/courses/{course}/leaderboard")))).await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|row| {
            (
                row["run_id"].as_str().unwrap_or_default().to_owned(),
                row["duration_s"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

async fn my_stats(api: &Running, login: &Value) -> Value {
    let (status, body) = call(
        http()
            .get(url(api, "/v1/users/me/stats"))
            .bearer_auth(bearer(login)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_board_and_records_lost_after_the_run_commits_are_made_right_by_the_stream() {
    lost_writes_are_made_right(embedded()).await;
}

#[tokio::test]
async fn a_board_and_records_lost_after_the_run_commits_are_made_right_on_dynamodb_local() {
    lost_writes_are_made_right(dynamodb_local().await).await;
}

#[tokio::test]
async fn a_record_that_keeps_failing_is_parked_and_the_others_are_projected() {
    a_poison_record_is_parked(embedded()).await;
}

#[tokio::test]
async fn a_record_that_keeps_failing_is_parked_on_dynamodb_local() {
    a_poison_record_is_parked(dynamodb_local().await).await;
}

async fn lost_writes_are_made_right(inner: Arc<dyn Store>) {
    // given a store that loses the next leaderboard write and the next records write
    let store = LosingStore::new(inner, Loses::Next(0));
    let (api, _dir, alice, course) = api_with_a_course(store.clone()).await;
    store.arm(Loses::Next(1));

    // when alice records a 10-minute 2 km run
    let run = record_run(&api, &alice, &course, 600).await;

    // then the request's own attempt at the board and the records was lost
    assert_eq!(store.lost(), 2, "both injected failures happened");
    // and once the stream is delivered, the run holds her place and her 1 km record,
    // and the totals count it once
    assert!(api.settle_streams().await, "the stream is delivered");
    assert_eq!(board(&api, &course).await, [(run.clone(), 600)]);
    let stats = my_stats(&api, &alice).await;
    assert_eq!(stats["records"]["1k"]["run_id"], run.as_str(), "{stats}");
    assert_eq!(stats["all_time"]["totals"]["runs"], 1, "{stats}");

    // given a slower run of hers on the same course
    let slower = record_run(&api, &alice, &course, 720).await;
    assert!(api.settle_streams().await);
    assert_eq!(board(&api, &course).await, [(run.clone(), 600)]);

    // when the faster run is deleted while the board and records writes are lost again
    store.arm(Loses::Next(1));
    let (status, _) = call(
        http()
            .delete(url(&api, &format!("/v1/runs/{run}")))
            .bearer_auth(bearer(&alice)),
    )
    .await;

    // then the delete answers 204, and the stream hands her place and record to the slower run
    assert_eq!(status, 204);
    assert!(store.lost() >= 3, "the delete's own repair was lost");
    assert!(api.settle_streams().await);
    assert_eq!(board(&api, &course).await, [(slower.clone(), 720)]);
    let stats = my_stats(&api, &alice).await;
    assert_eq!(stats["records"]["1k"]["run_id"], slower.as_str(), "{stats}");
    assert_eq!(stats["all_time"]["totals"]["runs"], 1, "{stats}");
    api.stop().await;
}

async fn a_poison_record_is_parked(inner: Arc<dyn Store>) {
    // given a store whose one course's leaderboard can never be written
    let store = LosingStore::new(inner, Loses::Next(0));
    let (api, _dir, alice, doomed) = api_with_a_course(store.clone()).await;
    let fine = create_course(&api, &alice, "River 2k").await;
    store.arm(Loses::Always(format!("COURSE#{doomed}")));

    // when alice runs both courses
    let lost_run = record_run(&api, &alice, &doomed, 600).await;
    let kept_run = record_run(&api, &alice, &fine, 650).await;

    // then the record of the doomed run is parked after its retries, naming the run
    assert!(api.settle_streams().await, "delivery finishes");
    let (status, report) = call(http().get(url(&api, "/_local/streams"))).await;
    assert_eq!(status, 200);
    let projector = report["consumers"]
        .as_array()
        .expect("consumers")
        .iter()
        .find(|c| c["function"] == "ProjectorFunction")
        .expect("the projector is a consumer")
        .clone();
    let parked = projector["parked"].as_array().expect("parked");
    assert_eq!(parked.len(), 1, "{report}");
    assert_eq!(parked[0]["sk"], format!("RUN#{lost_run}"));
    assert_eq!(
        parked[0]["retries"], 5,
        "the template's MaximumRetryAttempts"
    );
    // and the other run is on its board
    assert_eq!(board(&api, &fine).await, [(kept_run, 650)]);
    assert_eq!(board(&api, &doomed).await, []);
    api.stop().await;
}
