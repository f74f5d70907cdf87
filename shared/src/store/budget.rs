//! A store with an allowance: the bound on one step of a job.
//!
//! A job whose work grows with the data (erasing an account, deleting a busy course) runs in
//! steps, each a queue message. Its code is written once, as a plain loop over the whole
//! job, and is safe to stop anywhere and run again (every part finds what is left by
//! querying). A step hands it this store: after `allowance` calls every further call is
//! refused as [`StoreError::Unavailable`], the loop stops at that call, and the step knows
//! from [`BudgetedStore::spent`] that it stopped for the budget, not for a fault, so it
//! saves progress and queues the next step. What one step costs is bounded whatever the
//! account or course holds; a transaction is one call, so nothing is half-written.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;

use super::{Condition, Item, Key, Page, Query, Store, StoreError, Write};

/// [`Store`] over another one, refusing every call after its allowance.
pub struct BudgetedStore<'a> {
    inner: &'a dyn Store,
    allowance: u64,
    calls: AtomicU64,
    deleted: AtomicU64,
    spent: AtomicBool,
}

impl<'a> BudgetedStore<'a> {
    /// At most `allowance` calls into `inner`.
    pub fn new(inner: &'a dyn Store, allowance: u64) -> Self {
        BudgetedStore {
            inner,
            allowance,
            calls: AtomicU64::new(0),
            deleted: AtomicU64::new(0),
            spent: AtomicBool::new(false),
        }
    }

    /// Whether a call was refused because the allowance ran out.
    pub fn spent(&self) -> bool {
        self.spent.load(Ordering::SeqCst)
    }

    /// The calls made (refused ones not counted).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst).min(self.allowance)
    }

    /// Items deleted by the calls that succeeded: a job's progress, step by step.
    pub fn deleted(&self) -> u64 {
        self.deleted.load(Ordering::SeqCst)
    }

    fn take(&self) -> Result<(), StoreError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.allowance {
            self.spent.store(true, Ordering::SeqCst);
            return Err(StoreError::Unavailable(
                "this step's allowance of store calls is spent".into(),
            ));
        }
        Ok(())
    }

    fn count_deleted(&self, items: usize) {
        self.deleted
            .fetch_add(u64::try_from(items).unwrap_or(u64::MAX), Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for BudgetedStore<'_> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.take()?;
        self.inner.get(key).await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.take()?;
        self.inner.get_many(keys).await
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.take()?;
        self.inner.put(item, condition).await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.take()?;
        self.inner.delete(key, condition).await?;
        self.count_deleted(1);
        Ok(())
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.take()?;
        self.inner.query(query).await
    }

    async fn count(&self, query: &Query) -> Result<usize, StoreError> {
        self.take()?;
        self.inner.count(query).await
    }

    async fn add(
        &self,
        key: &Key,
        field: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        self.take()?;
        self.inner.add(key, field, delta, expires_at).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.take()?;
        let deletes = writes
            .iter()
            .filter(|w| matches!(w, Write::Delete { .. }))
            .count();
        self.inner.transact(writes).await?;
        self.count_deleted(deletes);
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    fn stream(&self) -> Option<&dyn super::stream::TableStream> {
        self.inner.stream()
    }
}

#[cfg(all(test, feature = "embedded-store"))]
mod tests {
    use super::*;
    use crate::store::cursor::CursorCodec;
    use crate::store::embedded::EmbeddedStore;

    #[tokio::test]
    async fn calls_past_the_allowance_are_refused_and_say_so() {
        // given a store allowing two calls
        let table = EmbeddedStore::in_memory(CursorCodec::new("b".repeat(32)));
        let budgeted = BudgetedStore::new(&table, 2);
        let item = Item::new(Key::new("P", "a"), serde_json::Map::new());
        // when three are made
        budgeted.put(item, Condition::None).await.expect("first");
        budgeted
            .delete(&Key::new("P", "a"), Condition::None)
            .await
            .expect("second");
        let third = budgeted.get(&Key::new("P", "a")).await;
        // then the third is refused, the budget says it is spent, and the delete counted
        assert!(
            matches!(third, Err(StoreError::Unavailable(_))),
            "{third:?}"
        );
        assert!(budgeted.spent());
        assert_eq!((budgeted.calls(), budgeted.deleted()), (2, 1));
    }

    #[tokio::test]
    async fn a_step_within_its_allowance_is_not_spent() {
        // given a store allowing ten calls, and one call made
        let table = EmbeddedStore::in_memory(CursorCodec::new("b".repeat(32)));
        let budgeted = BudgetedStore::new(&table, 10);
        budgeted.get(&Key::new("P", "a")).await.expect("a read");
        // then the budget is not spent
        assert!(!budgeted.spent());
        assert_eq!(budgeted.calls(), 1);
    }
}
