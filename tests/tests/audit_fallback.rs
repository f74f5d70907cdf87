//! An audit outage never blocks the action: the log line becomes the record. The log is
//! captured on this test's thread only (`runcrew_tests::logs`), so the audit lines of tests
//! running beside it in the same process are not counted.

use std::sync::Arc;

use async_trait::async_trait;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::{
    Condition, Item, Key, Page, Query, Store, StoreError, Write as StoreWrite,
};
use serde_json::Value;

/// A table whose audit partition is down; everything else works.
struct AuditOutage(EmbeddedStore);

#[async_trait]
impl Store for AuditOutage {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.0.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.0.get_many(keys).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        if item.key.pk.starts_with("AUDIT#") {
            return Err(StoreError::Unavailable("throttled".into()));
        }
        self.0.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.0.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.0.query(query).await
    }
    async fn count(&self, query: &Query) -> Result<usize, StoreError> {
        self.0.count(query).await
    }
    async fn add(
        &self,
        key: &Key,
        field: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        self.0.add(key, field, delta, expires_at).await
    }
    async fn transact(&self, writes: Vec<StoreWrite>) -> Result<(), StoreError> {
        self.0.transact(writes).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.0.ping().await
    }
}

#[tokio::test]
async fn a_login_completes_when_the_audit_write_fails_and_the_log_line_is_the_record() {
    // given a table whose audit writes fail, and logs captured
    let captured = runcrew_tests::logs::capture();
    let dir = tempfile::tempdir().expect("tempdir");
    let app = runcrew_tests::app_over(
        runcrew_tests::config(dir.path(), &[]),
        Arc::new(AuditOutage(
            EmbeddedStore::in_memory(runcrew_tests::codec()),
        )),
    );

    // when alice logs in
    let response = runcrew_auth::LOGIN
        .call(&app, runcrew_tests::sample("auth-login"))
        .await;

    // then she is in, and the audit line says it is the fallback record
    assert_eq!(response.status(), 201);
    let audit: Vec<Value> = captured
        .lines()
        .into_iter()
        .filter(|l| l["target"] == "audit" && l["message"] == "audit")
        .collect();
    assert_eq!(audit.len(), 1, "{:?}", captured.lines());
    assert_eq!(audit[0]["action"], "login");
    assert_eq!(audit[0]["outcome"], "success");
    assert_eq!(audit[0]["audit_fallback"], true);
    assert_eq!(audit[0]["provider"], "dev");
    // the log names a pseudonym, not the user id
    let text = audit[0].to_string();
    assert!(!text.contains("9abf35084b4364dbea7b4b9994a2165a"), "{text}");
}
