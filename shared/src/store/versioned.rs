//! Optimistic concurrency for one item: read it, decide, write under the version read, and
//! read again when another writer got there first.
//!
//! Every read-modify-write of an item others may write meanwhile (a profile, a course, a
//! review, a leaderboard entry, personal records) needs the same four things: the write
//! conditioned on what was read ([`Condition::NotExists`] or [`Condition::VersionIs`]), a
//! fresh read after losing, a short random pause so racing writers spread out instead of
//! colliding again, and a bound, after which the caller answers with its own 409. Writing
//! them once keeps every caller from forgetting one of them.
//!
//! [`Versioned::apply`] reads the item and hands it (or `None`) to an async change, which
//! returns a [`Change`]: keep it as it is, put a new body, or delete it, with optional
//! extra writes that must commit with it. The helper sets the new version itself, so a
//! change cannot get the version arithmetic wrong.
//!
//! # Converting a hand-written loop
//!
//! `PATCH /v1/courses/{courseId}` (a versioned put plus an open-account check; the check
//! failing is 401, losing three times is `course_busy`). The change borrows what it uses
//! (`let name = &name;` before the closure), because it runs again on every attempt:
//!
//! ```ignore
//! let (name, description, visibility) = (&name, &description, change.visibility);
//! let user_id = caller.user_id.as_str();
//! let course = Versioned::new(course_key(course_id))
//!     .attempts(UPDATE_ATTEMPTS)
//!     .apply(store, |current| async move {
//!         // 404 / 403 from the item read, as `load_owned` does from its own read.
//!         let mut course = owned(current.as_ref(), user_id)?;
//!         if let Some(name) = name {
//!             course.name = name.clone();
//!         }
//!         // ... the other fields, as today ...
//!         course.updated_at = now_rfc3339();
//!         // The version given to `to_item` does not matter: the helper sets it.
//!         Ok(Change::put(course.to_item(0)?, course).with(open_account_check(user_id)))
//!     })
//!     .await
//!     .map_err(|err| match err {
//!         // Extra write 0 is the account check.
//!         VersionedError::ExtraFailed { .. } => account_closed(),
//!         other => other.or_conflict(|| {
//!             ApiError::busy("course_busy", "the course changed while it was being updated; try again", BUSY_RETRY_AFTER_SECONDS)
//!         }),
//!     })?;
//! ```
//!
//! A change with nothing to do returns [`Change::keep`] (a faster best already on the
//! board); a change that must remove the item returns [`Change::delete`] (a withdrawn best
//! with no next run). An item read just before may be handed over with
//! [`Versioned::already_read`] so the first attempt costs no second read.

use std::future::Future;
use std::time::Duration;

use super::{Condition, Item, Key, Store, StoreError, Write};

/// Attempts when the caller names none: enough for the races of one user's own requests.
pub const DEFAULT_ATTEMPTS: u32 = 3;

/// What happens to the item itself.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per attempt, moved once into its write; boxing the item would only add an allocation"
)]
enum Edit {
    Keep,
    Put(Item),
    Delete,
}

/// What a change decided about the item it was handed, and the value
/// [`Versioned::apply`] returns once that is written.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a change does nothing until it is returned to `Versioned::apply`"]
pub struct Change<T> {
    edit: Edit,
    extra: Vec<Write>,
    value: T,
}

impl<T> Change<T> {
    /// Leaves the item as read and returns `value`. Writes nothing (unless extra writes are
    /// added: they are then written only while the item is still as read).
    pub fn keep(value: T) -> Self {
        Change {
            edit: Edit::Keep,
            extra: Vec::new(),
            value,
        }
    }

    /// Writes `item` (its key must be the key read) and returns `value`. Its version is
    /// set by the helper, one above the version read (1 for a new item).
    pub fn put(item: Item, value: T) -> Self {
        Change {
            edit: Edit::Put(item),
            extra: Vec::new(),
            value,
        }
    }

    /// Deletes the item as read and returns `value`.
    pub fn delete(value: T) -> Self {
        Change {
            edit: Edit::Delete,
            extra: Vec::new(),
            value,
        }
    }

    /// Adds a write on another item to the same transaction (a counter, an account
    /// check). Its position among the extra writes, from 0, is what
    /// [`VersionedError::ExtraFailed`] reports when its condition fails.
    pub fn with(mut self, write: Write) -> Self {
        self.extra.push(write);
        self
    }
}

/// Why [`Versioned::apply`] gave up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VersionedError<E> {
    /// Other writers changed the item before every one of the attempts could write; the
    /// caller answers with its own 409 (and a `Retry-After`: such races last milliseconds).
    #[error("the item changed under each of {attempts} attempts")]
    Conflict {
        /// How many attempts lost.
        attempts: u32,
    },
    /// The conditions of these extra writes (positions in the order they were added, from
    /// 0) failed, so nothing was written. Not retried: reading the item again cannot make a
    /// closed account open or a deleted course exist.
    #[error("extra writes failed their conditions at {failed:?}")]
    ExtraFailed {
        /// Positions among the extra writes.
        failed: Vec<usize>,
    },
    /// The change itself refused (a missing item, a caller who is not the owner).
    #[error("{0}")]
    Aborted(E),
    /// The store failed otherwise (unavailable, or a request it rejects).
    #[error(transparent)]
    Store(StoreError),
}

impl<E: From<StoreError>> VersionedError<E> {
    /// The caller's error, with `conflict` for a conflict: its own code and message. An
    /// extra write's failure that the caller did not match first becomes the store's own
    /// error for a canceled transaction, as a hand-written loop would have passed it on.
    pub fn or_conflict(self, conflict: impl FnOnce() -> E) -> E {
        match self {
            VersionedError::Conflict { .. } => conflict(),
            VersionedError::ExtraFailed { failed } => E::from(StoreError::TransactionCanceled {
                // The item's own write is position 0 of the transaction.
                failed: failed.into_iter().map(|p| p + 1).collect(),
            }),
            VersionedError::Aborted(err) => err,
            VersionedError::Store(err) => E::from(err),
        }
    }
}

/// A read-modify-write of the item at one key.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "nothing is read or written until `apply` is awaited"]
pub struct Versioned {
    key: Key,
    attempts: u32,
    /// The first attempt's read, when the caller has just made it.
    first: Option<Option<Item>>,
}

/// How the write of one attempt ended.
enum Written {
    Done,
    /// The item's own condition failed: someone wrote it since it was read.
    Lost,
    /// Extra writes' conditions failed, at these positions among them.
    ExtraFailed(Vec<usize>),
}

impl Versioned {
    /// A change of the item at `key`, tried [`DEFAULT_ATTEMPTS`] times.
    pub fn new(key: Key) -> Self {
        Versioned {
            key,
            attempts: DEFAULT_ATTEMPTS,
            first: None,
        }
    }

    /// Tries at most `attempts` times (at least once): busier items (a leaderboard entry
    /// that concurrent runs of one runner all offer to) need more than a profile does.
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Uses `item` (the live item at the key, or `None`) as the first attempt's read, for
    /// a caller that has just read it to decide whether to change anything at all; later
    /// attempts read again. A stale item costs one lost attempt, never a lost update.
    pub fn already_read(mut self, item: Option<Item>) -> Self {
        self.first = Some(item);
        self
    }

    /// Reads the item, hands it to `change`, writes what the change returned under the
    /// version read, and returns the change's value once written.
    ///
    /// Losing to another writer reads again after a short random pause, up to the
    /// attempts; then [`VersionedError::Conflict`]. The change runs once per attempt, so it
    /// must not have effects outside the store writes it returns (it may read the store).
    /// Without extra writes, the write is one conditional put or delete; with them, one
    /// transaction with the item's own write first.
    pub async fn apply<T, E, F, Fut>(
        self,
        store: &dyn Store,
        mut change: F,
    ) -> Result<T, VersionedError<E>>
    where
        F: FnMut(Option<Item>) -> Fut,
        Fut: Future<Output = Result<Change<T>, E>>,
    {
        let mut first = self.first;
        for attempt in 0..self.attempts {
            if attempt > 0 {
                pause(attempt).await;
            }
            let current = match first.take() {
                Some(read) => read,
                None => store.get(&self.key).await.map_err(VersionedError::Store)?,
            };
            if let Some(item) = &current
                && item.key != self.key
            {
                return Err(VersionedError::Store(StoreError::Invalid(format!(
                    "an item read for a versioned change has the key {:?}, not {:?}",
                    item.key, self.key
                ))));
            }
            let read_version = current.as_ref().map(|item| item.version);
            let Change { edit, extra, value } =
                change(current).await.map_err(VersionedError::Aborted)?;
            match commit(store, &self.key, read_version, edit, extra)
                .await
                .map_err(VersionedError::Store)?
            {
                Written::Done => return Ok(value),
                Written::ExtraFailed(failed) => {
                    return Err(VersionedError::ExtraFailed { failed });
                }
                Written::Lost => {
                    tracing::debug!(
                        pk = %self.key.pk,
                        sk = %self.key.sk,
                        attempt = attempt + 1,
                        "a versioned change lost to another writer; reading again"
                    );
                }
            }
        }
        Err(VersionedError::Conflict {
            attempts: self.attempts,
        })
    }
}

/// Writes `edit` of the item at `key` under `read_version` (`None`: it was not there),
/// with `extra` in the same transaction.
async fn commit(
    store: &dyn Store,
    key: &Key,
    read_version: Option<u64>,
    edit: Edit,
    extra: Vec<Write>,
) -> Result<Written, StoreError> {
    let condition = match read_version {
        None => Condition::NotExists,
        Some(version) => Condition::VersionIs(version),
    };
    if extra.is_empty() {
        // One conditional write: half a transaction's capacity, and it fails the same way.
        let single = match edit {
            Edit::Keep => return Ok(Written::Done),
            Edit::Put(item) => {
                let item = next_version(item, key, read_version)?;
                store.put(item, condition).await
            }
            Edit::Delete => store.delete(key, condition).await,
        };
        return match single {
            Ok(()) => Ok(Written::Done),
            Err(StoreError::ConditionFailed) => Ok(Written::Lost),
            Err(err) => Err(err),
        };
    }
    let own = match edit {
        // The extra writes still wait for the item to be as read.
        Edit::Keep => Write::Check {
            key: key.clone(),
            condition,
        },
        Edit::Put(item) => Write::Put {
            item: next_version(item, key, read_version)?,
            condition,
        },
        Edit::Delete => Write::Delete {
            key: key.clone(),
            condition,
        },
    };
    let mut writes = Vec::with_capacity(extra.len() + 1);
    writes.push(own);
    writes.extend(extra);
    match store.transact(writes).await {
        Ok(()) => Ok(Written::Done),
        Err(StoreError::TransactionCanceled { failed }) => {
            // An extra write's failure wins over the item's own: another read cannot fix it.
            let extras: Vec<usize> = failed.iter().filter_map(|p| p.checked_sub(1)).collect();
            if !extras.is_empty() {
                Ok(Written::ExtraFailed(extras))
            } else if failed.contains(&0) {
                Ok(Written::Lost)
            } else {
                Err(StoreError::TransactionCanceled { failed })
            }
        }
        Err(err) => Err(err),
    }
}

/// `item` at the version after `read_version` (1 for a new item); refused when the change
/// put an item of another key, whose version was never read.
fn next_version(item: Item, key: &Key, read_version: Option<u64>) -> Result<Item, StoreError> {
    if item.key != *key {
        return Err(StoreError::Invalid(format!(
            "a versioned change of {key:?} put the item {:?}",
            item.key
        )));
    }
    Ok(item.with_version(read_version.map_or(1, |v| v + 1)))
}

/// The longest step of the pause after a lost attempt.
const PAUSE_STEP_MS: u64 = 10;

/// A random pause after losing attempt `attempt` (1 or more): 1 to 10 ms times the attempt,
/// so writers that lost together spread out instead of colliding again, and the pauses of
/// the last attempts (tens of ms) still stay far below a request's budget.
async fn pause(attempt: u32) {
    let step = rand::random_range(1..=PAUSE_STEP_MS);
    tokio::time::sleep(Duration::from_millis(step * u64::from(attempt))).await;
}

#[cfg(all(test, feature = "embedded-store"))]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::store::cursor::CursorCodec;
    use crate::store::embedded::EmbeddedStore;
    use crate::store::{Page, Query};

    /// The embedded store, with a log of the calls made to it.
    struct Recorded {
        inner: EmbeddedStore,
        calls: Mutex<Vec<&'static str>>,
    }

    impl Recorded {
        fn new() -> Self {
            Recorded {
                inner: EmbeddedStore::in_memory(CursorCodec::new("v".repeat(32))),
                calls: Mutex::new(Vec::new()),
            }
        }

        /// A store holding the item at [`key`] with `body`, written through the wrapper
        /// (so its put is the first call noted), as a test's "given".
        async fn seeded(body: Value) -> Self {
            let store = Recorded::new();
            store
                .put(item(body), Condition::NotExists)
                .await
                .expect("seed");
            store
        }

        fn note(&self, call: &'static str) {
            self.calls.lock().expect("not poisoned").push(call);
        }

        fn calls(&self) -> Vec<&'static str> {
            self.calls.lock().expect("not poisoned").clone()
        }

        fn forget_calls(&self) {
            self.calls.lock().expect("not poisoned").clear();
        }
    }

    #[async_trait]
    impl Store for Recorded {
        async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
            self.note("get");
            self.inner.get(key).await
        }
        async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
            self.note("get_many");
            self.inner.get_many(keys).await
        }
        async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
            self.note("put");
            self.inner.put(item, condition).await
        }
        async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
            self.note("delete");
            self.inner.delete(key, condition).await
        }
        async fn query(&self, query: &Query) -> Result<Page, StoreError> {
            self.note("query");
            self.inner.query(query).await
        }
        async fn count(&self, query: &Query) -> Result<usize, StoreError> {
            self.note("count");
            self.inner.count(query).await
        }
        async fn add(
            &self,
            key: &Key,
            field: &str,
            delta: i64,
            expires_at: Option<i64>,
        ) -> Result<i64, StoreError> {
            self.note("add");
            self.inner.add(key, field, delta, expires_at).await
        }
        async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
            self.note("transact");
            self.inner.transact(writes).await
        }
        async fn ping(&self) -> Result<(), StoreError> {
            self.inner.ping().await
        }
    }

    fn key() -> Key {
        Key::new("USER#ann", "PROFILE")
    }

    fn item(body: Value) -> Item {
        let Value::Object(body) = body else {
            panic!("a body is an object")
        };
        Item::new(key(), body)
    }

    fn name_of(item: &Option<Item>) -> Option<String> {
        item.as_ref().and_then(|i| i.str("name")).map(str::to_owned)
    }

    /// What another request writes while ours is deciding: `field` set to `value`, at the
    /// next version.
    async fn another_writer_sets(store: &dyn Store, field: &str, value: &str) {
        let current = store.get(&key()).await.expect("read");
        let (condition, version) = match &current {
            None => (Condition::NotExists, 1),
            Some(i) => (Condition::VersionIs(i.version), i.version + 1),
        };
        let mut body = current.map(|i| i.body).unwrap_or_else(Map::new);
        body.insert(field.into(), json!(value));
        store
            .put(Item::new(key(), body).with_version(version), condition)
            .await
            .expect("the other writer wins");
    }

    #[tokio::test]
    async fn a_change_racing_another_writer_reads_again_and_wins() {
        let store = Recorded::new();
        store
            .put(
                item(json!({"name": "Ann", "bio": ""})),
                Condition::NotExists,
            )
            .await
            .expect("seed");
        let store = &store;
        let mut seen = Vec::new();
        let bio = Versioned::new(key())
            .apply(store, |current| {
                seen.push(name_of(&current));
                let first = seen.len() == 1;
                async move {
                    let mut item = current.expect("the profile exists");
                    if first {
                        // Between our read and our write, the user renames themselves.
                        another_writer_sets(store, "name", "Annie").await;
                    }
                    item.body.insert("bio".into(), json!("runs at dawn"));
                    Ok::<_, StoreError>(Change::put(item, "runs at dawn"))
                }
            })
            .await
            .expect("the second attempt writes");

        assert_eq!(bio, "runs at dawn");
        assert_eq!(
            seen,
            vec![Some("Ann".to_owned()), Some("Annie".to_owned())],
            "the second attempt saw the other writer's change"
        );
        let stored = store.get(&key()).await.expect("read").expect("there");
        assert_eq!(stored.str("name"), Some("Annie"), "the rename is not lost");
        assert_eq!(stored.str("bio"), Some("runs at dawn"));
        assert_eq!(
            stored.version, 2,
            "one version above the one the winner read"
        );
    }

    #[tokio::test]
    async fn a_writer_that_keeps_losing_gets_a_conflict_after_the_bounded_attempts() {
        let store = Recorded::seeded(json!({"name": "Ann"})).await;
        let store = &store;
        let mut runs = 0;
        let outcome: Result<(), VersionedError<StoreError>> = Versioned::new(key())
            .attempts(4)
            .apply(store, |current| {
                runs += 1;
                async move {
                    another_writer_sets(store, "name", "someone else").await;
                    Ok(Change::put(current.expect("exists"), ()))
                }
            })
            .await;

        assert_eq!(outcome, Err(VersionedError::Conflict { attempts: 4 }));
        assert_eq!(runs, 4, "one read and one try per attempt, no more");
        assert_eq!(
            store
                .get(&key())
                .await
                .expect("read")
                .expect("there")
                .version,
            4,
            "only the other writer's four versions were written over the seed's 0"
        );
    }

    #[tokio::test]
    async fn a_failed_extra_check_is_reported_by_its_position_not_retried() {
        let store = Recorded::new();
        let open_account = Key::new("USER#ann", "ACCOUNT");
        store
            .put(
                Item::new(open_account.clone(), Map::new()),
                Condition::NotExists,
            )
            .await
            .expect("seed");
        let course = Key::new("COURSE#gone", "META");
        let store = &store;
        store.forget_calls();
        let mut runs = 0;
        let outcome: Result<(), VersionedError<StoreError>> = Versioned::new(key())
            .attempts(5)
            .apply(store, |_| {
                runs += 1;
                let (course, open_account) = (course.clone(), open_account.clone());
                async move {
                    Ok(Change::put(item(json!({"rating": 4})), ())
                        // 0: the course the review counts on was deleted meanwhile.
                        .with(Write::Increment {
                            key: course,
                            deltas: vec![("review_count".into(), 1)],
                            must_exist: true,
                        })
                        // 1: the author's account is still open.
                        .with(Write::Check {
                            key: open_account,
                            condition: Condition::Exists,
                        }))
                }
            })
            .await;

        assert_eq!(
            outcome,
            Err(VersionedError::ExtraFailed { failed: vec![0] })
        );
        assert_eq!(runs, 1, "reading again cannot bring the course back");
        assert_eq!(store.calls(), vec!["get", "transact"]);
        assert_eq!(
            store.get(&key()).await.expect("read"),
            None,
            "nothing written"
        );
    }

    #[tokio::test]
    async fn nothing_to_write_writes_nothing() {
        let store = Recorded::seeded(json!({"best": 1200})).await;
        store.forget_calls();
        let kept = Versioned::new(key())
            .apply(&store, |current| async move {
                // A slower run than the best on record: nothing to change.
                let best = current.and_then(|i| i.i64("best"));
                Ok::<_, StoreError>(Change::keep(best))
            })
            .await
            .expect("kept");

        assert_eq!(kept, Some(1200));
        assert_eq!(store.calls(), vec!["get"], "one read, no write");
        assert_eq!(
            store
                .get(&key())
                .await
                .expect("read")
                .expect("there")
                .version,
            0,
            "the version did not move"
        );
    }

    #[tokio::test]
    async fn a_missing_item_is_created_only_if_still_missing() {
        let store = Recorded::new();
        let store = &store;
        let mut seen = Vec::new();
        let created = Versioned::new(key())
            .apply(store, |current| {
                seen.push(name_of(&current));
                let first = seen.len() == 1;
                async move {
                    if first {
                        // Another request creates the same item between our read and write.
                        another_writer_sets(store, "name", "first").await;
                    }
                    let mut body = current.map(|i| i.body).unwrap_or_else(Map::new);
                    let visits = body.get("visits").and_then(Value::as_i64).unwrap_or(0);
                    body.insert("visits".into(), json!(visits + 1));
                    Ok::<_, StoreError>(Change::put(Item::new(key(), body), first))
                }
            })
            .await
            .expect("written on the second attempt");

        assert!(!created, "our create lost; the update of theirs won");
        assert_eq!(seen, vec![None, Some("first".to_owned())]);
        let stored = store.get(&key()).await.expect("read").expect("there");
        assert_eq!(
            stored.str("name"),
            Some("first"),
            "their item was not overwritten"
        );
        assert_eq!(stored.i64("visits"), Some(1));
        assert_eq!(stored.version, 2);
    }

    #[tokio::test]
    async fn a_new_item_starts_at_version_one_with_a_single_put() {
        let store = Recorded::new();
        Versioned::new(key())
            .apply(&store, |current| async move {
                assert!(current.is_none());
                Ok::<_, StoreError>(Change::put(
                    item(json!({"name": "Ann"})).with_version(77),
                    (),
                ))
            })
            .await
            .expect("created");

        assert_eq!(
            store.calls(),
            vec!["get", "put"],
            "no transaction without extras"
        );
        let stored = store.get(&key()).await.expect("read").expect("there");
        assert_eq!(
            stored.version, 1,
            "the helper sets the version, not the change"
        );
    }

    #[tokio::test]
    async fn a_delete_happens_only_under_the_version_read() {
        let store = Recorded::seeded(json!({"run_id": "r1"})).await;
        let store = &store;
        let mut runs = 0;
        let outcome = Versioned::new(key())
            .apply(store, |current| {
                runs += 1;
                let first = runs == 1;
                async move {
                    if first {
                        // A faster run replaces the entry we were about to withdraw.
                        another_writer_sets(store, "run_id", "r2").await;
                        return Ok::<_, StoreError>(Change::delete("deleted"));
                    }
                    match current {
                        Some(entry) if entry.str("run_id") == Some("r2") => {
                            Ok(Change::keep("kept"))
                        }
                        _ => Ok(Change::delete("deleted")),
                    }
                }
            })
            .await
            .expect("done");

        assert_eq!(outcome, "kept", "the newer entry is not deleted");
        assert!(store.get(&key()).await.expect("read").is_some());
        store.forget_calls();

        Versioned::new(key())
            .apply(store, |_| async { Ok::<_, StoreError>(Change::delete(())) })
            .await
            .expect("deleted");
        assert_eq!(
            store.calls(),
            vec!["get", "delete"],
            "one conditional delete"
        );
        assert_eq!(store.get(&key()).await.expect("read"), None);
    }

    #[tokio::test]
    async fn extra_writes_commit_with_the_item_in_one_transaction() {
        let store = Recorded::new();
        let counter = Key::new("COURSE#c1", "META");
        store
            .put(Item::new(counter.clone(), Map::new()), Condition::NotExists)
            .await
            .expect("seed");
        store.forget_calls();
        let counted = counter.clone();
        Versioned::new(key())
            .apply(&store, move |_| {
                let counted = counted.clone();
                async move {
                    Ok::<_, StoreError>(Change::put(item(json!({"rating": 5})), ()).with(
                        Write::Increment {
                            key: counted,
                            deltas: vec![("review_count".into(), 1)],
                            must_exist: true,
                        },
                    ))
                }
            })
            .await
            .expect("written");

        assert_eq!(store.calls(), vec!["get", "transact"]);
        let course = store.get(&counter).await.expect("read").expect("there");
        assert_eq!(course.i64("review_count"), Some(1));
        let review = store.get(&key()).await.expect("read").expect("there");
        assert_eq!(review.version, 1);
    }

    #[tokio::test]
    async fn extra_writes_beside_a_kept_item_wait_for_its_version_too() {
        let store = Recorded::seeded(json!({"name": "Ann"})).await;
        let counter = Key::new("STATS#ann", "TOTALS");
        let store = &store;
        let mut runs = 0;
        Versioned::new(key())
            .apply(store, |_| {
                runs += 1;
                let first = runs == 1;
                let counter = counter.clone();
                async move {
                    if first {
                        another_writer_sets(store, "name", "Annie").await;
                    }
                    Ok::<_, StoreError>(Change::keep(()).with(Write::Add {
                        key: counter,
                        field: "views".into(),
                        delta: 1,
                    }))
                }
            })
            .await
            .expect("written on the second attempt");

        assert_eq!(runs, 2);
        let totals = store.get(&counter).await.expect("read").expect("there");
        assert_eq!(
            totals.i64("views"),
            Some(1),
            "counted once, by the attempt that won"
        );
    }

    #[tokio::test]
    async fn an_item_just_read_saves_the_first_read() {
        let store = Recorded::seeded(json!({"name": "Ann"})).await;
        let read = store.get(&key()).await.expect("read");
        store.forget_calls();
        Versioned::new(key())
            .already_read(read)
            .apply(&store, |current| async move {
                let mut item = current.expect("handed over");
                item.body.insert("thumbnail".into(), json!("t.png"));
                Ok::<_, StoreError>(Change::put(item, ()))
            })
            .await
            .expect("written");

        assert_eq!(store.calls(), vec!["put"]);
        let stored = store.get(&key()).await.expect("read").expect("there");
        assert_eq!(stored.str("thumbnail"), Some("t.png"));
        assert_eq!(stored.version, 1);
    }

    #[tokio::test]
    async fn the_change_refusing_and_the_store_failing_pass_through_untried() {
        #[derive(Debug, PartialEq)]
        struct NotTheOwner;

        let store = Recorded::new();
        let refused = Versioned::new(key())
            .apply(&store, |_| async { Err::<Change<()>, _>(NotTheOwner) })
            .await;
        assert_eq!(refused, Err(VersionedError::Aborted(NotTheOwner)));
        assert_eq!(store.calls(), vec!["get"]);

        let elsewhere = Versioned::new(key())
            .apply(&store, |_| async {
                let other = Item::new(Key::new("USER#bob", "PROFILE"), Map::new());
                Ok::<_, NotTheOwner>(Change::put(other, ()))
            })
            .await;
        assert!(matches!(
            elsewhere,
            Err(VersionedError::Store(StoreError::Invalid(_)))
        ));
    }

    #[test]
    fn callers_turn_a_conflict_into_their_own_409_and_keep_the_rest() {
        #[derive(Debug, PartialEq)]
        enum Api {
            Busy,
            Store(StoreError),
        }
        impl From<StoreError> for Api {
            fn from(err: StoreError) -> Self {
                Api::Store(err)
            }
        }

        let busy = || Api::Busy;
        assert_eq!(
            VersionedError::Conflict { attempts: 3 }.or_conflict(busy),
            Api::Busy
        );
        assert_eq!(
            VersionedError::Store(StoreError::Unavailable("down".into())).or_conflict(busy),
            Api::Store(StoreError::Unavailable("down".into()))
        );
        assert_eq!(
            VersionedError::ExtraFailed { failed: vec![1] }.or_conflict(busy),
            Api::Store(StoreError::TransactionCanceled { failed: vec![2] }),
            "positions in the transaction, where the item's own write is 0"
        );
    }

    #[test]
    fn a_change_can_run_inside_a_handler_future() {
        fn must_be_send<T: Send>(_: &T) {}
        let store = Recorded::new();
        let future = Versioned::new(key())
            .apply(&store, |_| async { Ok::<_, StoreError>(Change::keep(())) });
        must_be_send(&future);
    }
}
