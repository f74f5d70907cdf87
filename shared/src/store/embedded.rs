//! The embedded Store: one redb file under the data folder, or memory for tests.
//!
//! It keeps DynamoDB's semantics where the application can notice them: conditions that
//! treat expired items as absent, all-or-nothing transactions with the positions of the
//! failed conditions, byte-order sort keys, sparse indexes and signed cursors. Every write
//! is one redb write transaction, so a crash never leaves half of a [`Write`] list behind.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::cursor::{CursorCodec, Position};
use super::{
    Condition, Index, Item, Key, MAX_PAGE, Order, Page, Query, SortRange, Store, StoreError, Write,
    now_epoch_seconds, validate_counter_field, validate_transaction,
};

/// `(pk, sk)` → the stored item.
const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");
/// `(index pk, index sk, pk, sk)`: one entry per item in the index.
type IndexEntry<'a> = (&'a str, &'a str, &'a str, &'a str);
type TableBound<'a> = Bound<(&'a str, &'a str)>;
const INDEX_TABLES: [TableDefinition<IndexEntry<'static>, ()>; 3] = [
    TableDefinition::new("gsi1"),
    TableDefinition::new("gsi2"),
    TableDefinition::new("gsi3"),
];

/// How an item sits in the `items` table.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(default)]
    index_keys: [Option<Key>; 3],
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    version: u64,
    body: Map<String, Value>,
}

impl Stored {
    fn into_item(self, key: Key) -> Item {
        Item {
            key,
            index_keys: self.index_keys,
            expires_at: self.expires_at,
            version: self.version,
            body: self.body,
        }
    }
}

/// The embedded adapter.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    cursors: CursorCodec,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbeddedStore")
    }
}

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

impl EmbeddedStore {
    /// Opens (or creates) the store file at `path`; its folder is created too.
    pub fn open(path: &Path, cursors: CursorCodec) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(unavailable)?;
        }
        let db = Database::create(path).map_err(unavailable)?;
        Self::with_database(db, cursors)
    }

    /// A store that lives in memory only, for tests.
    pub fn in_memory(cursors: CursorCodec) -> Self {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("an in-memory database always opens");
        Self::with_database(db, cursors).expect("an in-memory database always initialises")
    }

    fn with_database(db: Database, cursors: CursorCodec) -> Result<Self, StoreError> {
        let txn = db.begin_write().map_err(unavailable)?;
        {
            txn.open_table(ITEMS).map_err(unavailable)?;
            for table in INDEX_TABLES {
                txn.open_table(table).map_err(unavailable)?;
            }
        }
        txn.commit().map_err(unavailable)?;
        Ok(EmbeddedStore {
            db: Arc::new(db),
            cursors,
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database, &CursorCodec) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        let cursors = self.cursors.clone();
        tokio::task::spawn_blocking(move || work(&db, &cursors))
            .await
            .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }

    /// Runs `writes` in one redb transaction, committing only if every condition holds.
    fn write_all(db: &Database, writes: Vec<Write>, single: bool) -> Result<(), StoreError> {
        let now = now_epoch_seconds();
        let txn = db.begin_write().map_err(unavailable)?;
        let mut failed = Vec::new();
        for (position, write) in writes.iter().enumerate() {
            let condition = match write {
                Write::Put { condition, .. }
                | Write::Delete { condition, .. }
                | Write::Check { condition, .. } => condition,
                Write::Add { .. } => &Condition::None,
                Write::Increment {
                    must_exist: true, ..
                } => &Condition::Exists,
                Write::Increment { .. } => &Condition::None,
            };
            let current = read_live(&txn, write.key(), now)?;
            if !holds(condition, current.as_ref()) {
                failed.push(position);
            }
        }
        if !failed.is_empty() {
            txn.abort().map_err(unavailable)?;
            return Err(if single {
                StoreError::ConditionFailed
            } else {
                StoreError::TransactionCanceled { failed }
            });
        }
        for write in writes {
            match write {
                Write::Put { item, .. } => {
                    remove(&txn, &item.key)?;
                    insert(&txn, &item)?;
                }
                Write::Delete { key, .. } => remove(&txn, &key)?,
                Write::Check { .. } => {}
                Write::Add { key, field, delta } => {
                    add_in(&txn, &key, &field, delta, None, now)?;
                }
                Write::Increment { key, deltas, .. } => {
                    for (field, delta) in &deltas {
                        add_in(&txn, &key, field, *delta, None, now)?;
                    }
                    if let Some(mut item) = read_live(&txn, &key, now)? {
                        item.version += 1;
                        remove(&txn, &key)?;
                        insert(&txn, &item)?;
                    }
                }
            }
        }
        txn.commit().map_err(unavailable)
    }
}

fn holds(condition: &Condition, current: Option<&Item>) -> bool {
    match condition {
        Condition::None => true,
        Condition::NotExists => current.is_none(),
        Condition::Exists => current.is_some(),
        Condition::VersionIs(v) => current.is_some_and(|item| item.version == *v),
    }
}

fn read_raw(txn: &WriteTransaction, key: &Key) -> Result<Option<Item>, StoreError> {
    let table = txn.open_table(ITEMS).map_err(unavailable)?;
    let found = table
        .get((key.pk.as_str(), key.sk.as_str()))
        .map_err(unavailable)?;
    match found {
        None => Ok(None),
        Some(bytes) => {
            let stored: Stored = serde_json::from_slice(bytes.value()).map_err(unavailable)?;
            Ok(Some(stored.into_item(key.clone())))
        }
    }
}

fn read_live(txn: &WriteTransaction, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
    Ok(read_raw(txn, key)?.filter(|item| !item.is_expired(now)))
}

fn remove(txn: &WriteTransaction, key: &Key) -> Result<(), StoreError> {
    let Some(old) = read_raw(txn, key)? else {
        return Ok(());
    };
    let mut items = txn.open_table(ITEMS).map_err(unavailable)?;
    items
        .remove((key.pk.as_str(), key.sk.as_str()))
        .map_err(unavailable)?;
    for index in Index::ALL {
        if let Some(ik) = old.index_key(index) {
            let mut table = txn
                .open_table(INDEX_TABLES[index as usize])
                .map_err(unavailable)?;
            table
                .remove((
                    ik.pk.as_str(),
                    ik.sk.as_str(),
                    key.pk.as_str(),
                    key.sk.as_str(),
                ))
                .map_err(unavailable)?;
        }
    }
    Ok(())
}

fn insert(txn: &WriteTransaction, item: &Item) -> Result<(), StoreError> {
    let stored = Stored {
        index_keys: item.index_keys.clone(),
        expires_at: item.expires_at,
        version: item.version,
        body: item.body.clone(),
    };
    let bytes = serde_json::to_vec(&stored).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut items = txn.open_table(ITEMS).map_err(unavailable)?;
    items
        .insert(
            (item.key.pk.as_str(), item.key.sk.as_str()),
            bytes.as_slice(),
        )
        .map_err(unavailable)?;
    for index in Index::ALL {
        if let Some(ik) = item.index_key(index) {
            let mut table = txn
                .open_table(INDEX_TABLES[index as usize])
                .map_err(unavailable)?;
            table
                .insert(
                    (
                        ik.pk.as_str(),
                        ik.sk.as_str(),
                        item.key.pk.as_str(),
                        item.key.sk.as_str(),
                    ),
                    (),
                )
                .map_err(unavailable)?;
        }
    }
    Ok(())
}

fn add_in(
    txn: &WriteTransaction,
    key: &Key,
    field: &str,
    delta: i64,
    expires_at: Option<i64>,
    now: i64,
) -> Result<i64, StoreError> {
    let mut item = match read_live(txn, key, now)? {
        Some(item) => item,
        None => {
            let mut fresh = Item::new(key.clone(), Map::new());
            fresh.expires_at = expires_at;
            fresh
        }
    };
    let current = match item.body.get(field) {
        None => 0,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| StoreError::Invalid(format!("{field} is not an integer")))?,
    };
    let next = current
        .checked_add(delta)
        .ok_or_else(|| StoreError::Invalid(format!("{field} would overflow")))?;
    item.body.insert(field.to_owned(), Value::from(next));
    remove(txn, key)?;
    insert(txn, &item)?;
    Ok(next)
}

/// Bounds of a partition read in `(pk, sk)` space; `\0` after the partition key is the
/// smallest string greater than every `(pk, _)` key.
fn table_bounds<'a>(
    pk: &'a str,
    pk_end: &'a str,
    range: &'a SortRange,
    after: Option<&'a str>,
    order: Order,
) -> (TableBound<'a>, TableBound<'a>) {
    let mut lo = match range {
        SortRange::BeginsWith(p) => Bound::Included((pk, p.as_str())),
        SortRange::Between(a, _) | SortRange::AtLeast(a) => Bound::Included((pk, a.as_str())),
        SortRange::All | SortRange::AtMost(_) => Bound::Included((pk, "")),
    };
    let mut hi = match range {
        SortRange::Between(_, b) | SortRange::AtMost(b) => Bound::Included((pk, b.as_str())),
        _ => Bound::Excluded((pk_end, "")),
    };
    if let Some(sk) = after {
        match order {
            Order::Ascending => lo = Bound::Excluded((pk, sk)),
            Order::Descending => hi = Bound::Excluded((pk, sk)),
        }
    }
    (lo, hi)
}

type IndexBound<'a> = Bound<IndexEntry<'a>>;

fn index_bounds<'a>(
    pk: &'a str,
    pk_end: &'a str,
    range: &'a SortRange,
    after: Option<(&'a str, &'a str, &'a str)>,
    order: Order,
) -> (IndexBound<'a>, IndexBound<'a>) {
    let mut lo = match range {
        SortRange::BeginsWith(p) => Bound::Included((pk, p.as_str(), "", "")),
        SortRange::Between(a, _) | SortRange::AtLeast(a) => {
            Bound::Included((pk, a.as_str(), "", ""))
        }
        SortRange::All | SortRange::AtMost(_) => Bound::Included((pk, "", "", "")),
    };
    // Index sort keys repeat across table keys, so the upper bound is the partition end
    // and the range filter does the rest.
    let mut hi = Bound::Excluded((pk_end, "", "", ""));
    if let Some((isk, tpk, tsk)) = after {
        match order {
            Order::Ascending => lo = Bound::Excluded((pk, isk, tpk, tsk)),
            Order::Descending => hi = Bound::Excluded((pk, isk, tpk, tsk)),
        }
    }
    (lo, hi)
}

/// A key range in the query's order.
fn in_order<'r, T: 'r>(
    range: impl DoubleEndedIterator<Item = T> + 'r,
    order: Order,
) -> Box<dyn Iterator<Item = T> + 'r> {
    match order {
        Order::Ascending => Box::new(range),
        Order::Descending => Box::new(range.rev()),
    }
}

/// Fills `items` with up to `limit` live candidates (`None` is a candidate out of range);
/// true when another live one follows, so the page gets a cursor.
fn take_page(
    candidates: impl Iterator<Item = Result<Option<Item>, StoreError>>,
    limit: usize,
    now: i64,
    items: &mut Vec<Item>,
) -> Result<bool, StoreError> {
    for candidate in candidates {
        let Some(item) = candidate? else { continue };
        if item.is_expired(now) {
            continue;
        }
        if items.len() == limit {
            return Ok(true);
        }
        items.push(item);
    }
    Ok(false)
}

fn query_in(db: &Database, cursors: &CursorCodec, query: &Query) -> Result<Page, StoreError> {
    let scope = query.scope();
    let after = match &query.cursor {
        Some(c) => Some(cursors.decode(&scope, c)?),
        None => None,
    };
    let limit = query.effective_limit();
    let now = now_epoch_seconds();
    let txn = db.begin_read().map_err(unavailable)?;
    let items_table = txn.open_table(ITEMS).map_err(unavailable)?;
    let load = |pk: &str, sk: &str| -> Result<Option<Item>, StoreError> {
        match items_table.get((pk, sk)).map_err(unavailable)? {
            None => Ok(None),
            Some(bytes) => {
                let stored: Stored = serde_json::from_slice(bytes.value()).map_err(unavailable)?;
                Ok(Some(stored.into_item(Key::new(pk, sk))))
            }
        }
    };
    let pk_end = format!("{}\0", query.partition);
    let mut items = Vec::with_capacity(limit.min(64));
    let more = match query.index {
        None => {
            if after.as_ref().is_some_and(|p| p.key.pk != query.partition) {
                return Err(StoreError::BadCursor);
            }
            let after_sk = after.as_ref().map(|p| p.key.sk.as_str());
            let bounds = table_bounds(
                &query.partition,
                &pk_end,
                &query.range,
                after_sk,
                query.order,
            );
            let range = items_table
                .range::<(&str, &str)>(bounds)
                .map_err(unavailable)?;
            let iter = in_order(range, query.order);
            let candidates = iter.map(|entry| {
                let (k, v) = entry.map_err(unavailable)?;
                let (pk, sk) = k.value();
                if !query.range.contains(sk) {
                    return Ok(None);
                }
                let stored: Stored = serde_json::from_slice(v.value()).map_err(unavailable)?;
                Ok(Some(stored.into_item(Key::new(pk, sk))))
            });
            take_page(candidates, limit, now, &mut items)?
        }
        Some(index) => {
            let table = txn
                .open_table(INDEX_TABLES[index as usize])
                .map_err(unavailable)?;
            let after_key = match &after {
                Some(Position {
                    key,
                    index_key: Some(ik),
                }) if ik.pk == query.partition => {
                    Some((ik.sk.as_str(), key.pk.as_str(), key.sk.as_str()))
                }
                Some(_) => return Err(StoreError::BadCursor),
                None => None,
            };
            let bounds = index_bounds(
                &query.partition,
                &pk_end,
                &query.range,
                after_key,
                query.order,
            );
            let range = table
                .range::<(&str, &str, &str, &str)>(bounds)
                .map_err(unavailable)?;
            let iter = in_order(range, query.order);
            let candidates = iter.map(|entry| {
                let (k, _) = entry.map_err(unavailable)?;
                let (_, isk, pk, sk) = k.value();
                if !query.range.contains(isk) {
                    return Ok(None);
                }
                load(pk, sk)
            });
            take_page(candidates, limit, now, &mut items)?
        }
    };
    Ok(Page::new(query, items, more, cursors))
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.blocking(move |db, _| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(ITEMS).map_err(unavailable)?;
            let Some(bytes) = table
                .get((key.pk.as_str(), key.sk.as_str()))
                .map_err(unavailable)?
            else {
                return Ok(None);
            };
            let stored: Stored = serde_json::from_slice(bytes.value()).map_err(unavailable)?;
            Ok(Some(stored.into_item(key.clone()))
                .filter(|item| !item.is_expired(now_epoch_seconds())))
        })
        .await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        super::validate_batch_get(keys)?;
        let keys = keys.to_vec();
        self.blocking(move |db, _| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(ITEMS).map_err(unavailable)?;
            let now = now_epoch_seconds();
            let mut items = Vec::with_capacity(keys.len());
            for key in keys {
                let Some(bytes) = table
                    .get((key.pk.as_str(), key.sk.as_str()))
                    .map_err(unavailable)?
                else {
                    continue;
                };
                let stored: Stored = serde_json::from_slice(bytes.value()).map_err(unavailable)?;
                let item = stored.into_item(key);
                if !item.is_expired(now) {
                    items.push(item);
                }
            }
            Ok(items)
        })
        .await
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        item.validate()?;
        self.blocking(move |db, _| Self::write_all(db, vec![Write::Put { item, condition }], true))
            .await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        let key = key.clone();
        self.blocking(move |db, _| {
            Self::write_all(db, vec![Write::Delete { key, condition }], true)
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let query = query.clone();
        self.blocking(move |db, cursors| query_in(db, cursors, &query))
            .await
    }

    async fn count(&self, query: &Query) -> Result<usize, StoreError> {
        let mut query = query.clone().limit(MAX_PAGE).after(None);
        let mut total = 0;
        loop {
            let page = self.query(&query).await?;
            total += page.items.len();
            match page.cursor {
                Some(next) => query = query.after(Some(next)),
                None => return Ok(total),
            }
        }
    }

    async fn add(
        &self,
        key: &Key,
        field: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        validate_counter_field(field)?;
        let (key, field) = (key.clone(), field.to_owned());
        self.blocking(move |db, _| {
            let txn = db.begin_write().map_err(unavailable)?;
            let value = add_in(&txn, &key, &field, delta, expires_at, now_epoch_seconds())?;
            txn.commit().map_err(unavailable)?;
            Ok(value)
        })
        .await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        self.blocking(move |db, _| Self::write_all(db, writes, false))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.blocking(|db, _| {
            let txn = db.begin_read().map_err(unavailable)?;
            txn.open_table(ITEMS).map_err(unavailable)?;
            Ok(())
        })
        .await
    }
}
