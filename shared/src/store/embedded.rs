//! The embedded Store: one redb file under the data folder, or memory for tests.
//!
//! It keeps DynamoDB's semantics where the application can notice them: conditions that
//! treat expired items as absent, all-or-nothing transactions with the positions of the
//! failed conditions, byte-order sort keys, sparse indexes and signed cursors. Every write
//! is one redb write transaction, so a crash never leaves half of a [`Write`] list behind.
//!
//! With [`EmbeddedStore::with_stream`] it also keeps the table's stream: each transaction
//! appends what it did to each item ([`Change`]) to a `stream` table in the same redb
//! transaction, so a committed write always has its record (an outbox), read through
//! [`TableStream`] until the consumers trim it.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::cursor::{CursorCodec, Position};
use super::stream::{Change, ChangeKind, TableStream, item_from_attributes, item_to_attributes};
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
/// Sequence number → a [`StoredChange`]: the stream's records not yet trimmed.
const STREAM: TableDefinition<u64, &[u8]> = TableDefinition::new("stream");
/// `"next"` → the next sequence number, so numbers keep rising after a trim empties
/// [`STREAM`] (a reader's position stays valid).
const STREAM_NEXT: TableDefinition<&str, u64> = TableDefinition::new("stream_next");

/// How long [`TableStream::changed`] waits for a write before it returns anyway.
const STREAM_IDLE_WAKE: std::time::Duration = std::time::Duration::from_secs(1);

/// A stream record as the `stream` table keeps it: images as plain attributes.
#[derive(Serialize, Deserialize)]
struct StoredChange {
    kind: ChangeKind,
    key: Key,
    old: Option<Map<String, Value>>,
    new: Option<Map<String, Value>>,
    created_ms: i64,
}

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
    /// Set when the store keeps its stream: woken after each commit that added records.
    stream: Option<Arc<tokio::sync::Notify>>,
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
            stream: None,
        })
    }

    /// The same store, keeping the table's stream from now on, as template.yaml's
    /// `StreamSpecification` makes DynamoDB do (the local gateway delivers it).
    pub fn with_stream(mut self) -> Result<Self, StoreError> {
        let txn = self.db.begin_write().map_err(unavailable)?;
        txn.open_table(STREAM).map_err(unavailable)?;
        txn.open_table(STREAM_NEXT).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        self.stream = Some(Arc::new(tokio::sync::Notify::new()));
        Ok(self)
    }

    /// After a commit: wakes the stream's reader, if records were added.
    fn signal(&self, recorded: bool) {
        if let (true, Some(notify)) = (recorded, &self.stream) {
            notify.notify_one();
        }
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

    /// [`EmbeddedStore::write_all`] off the async threads, then the stream's signal.
    async fn write(&self, writes: Vec<Write>, single: bool) -> Result<(), StoreError> {
        let record = self.stream.is_some();
        let recorded = self
            .blocking(move |db, _| Self::write_all(db, writes, single, record))
            .await?;
        self.signal(recorded);
        Ok(())
    }

    /// Runs `writes` in one redb transaction, committing only if every condition holds;
    /// with `record`, appends their stream records in the same transaction. Returns whether
    /// it appended any.
    fn write_all(
        db: &Database,
        writes: Vec<Write>,
        single: bool,
        record: bool,
    ) -> Result<bool, StoreError> {
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
        let touched: Vec<Key> = writes
            .iter()
            .filter(|w| record && !matches!(w, Write::Check { .. }))
            .map(|w| w.key().clone())
            .collect();
        let before = images(&txn, &touched, now)?;
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
        let recorded = append_changes(&txn, touched, before, now)?;
        txn.commit().map_err(unavailable)?;
        Ok(recorded)
    }
}

/// The live images at `keys`, in order.
fn images(txn: &WriteTransaction, keys: &[Key], now: i64) -> Result<Vec<Option<Item>>, StoreError> {
    keys.iter().map(|key| read_live(txn, key, now)).collect()
}

/// Appends a stream record for each of `keys` whose live item differs from `before`, in
/// order, numbered after the last record kept. Returns whether it appended any.
fn append_changes(
    txn: &WriteTransaction,
    keys: Vec<Key>,
    before: Vec<Option<Item>>,
    now: i64,
) -> Result<bool, StoreError> {
    if keys.is_empty() {
        return Ok(false);
    }
    let after = images(txn, &keys, now)?;
    let created_ms = crate::clock::now_epoch_ms() as i64;
    let mut table = txn.open_table(STREAM).map_err(unavailable)?;
    let mut counter = txn.open_table(STREAM_NEXT).map_err(unavailable)?;
    let mut next = counter
        .get("next")
        .map_err(unavailable)?
        .map_or(1, |n| n.value());
    let mut recorded = false;
    for ((key, old), new) in keys.into_iter().zip(before).zip(after) {
        let Some(change) = Change::between(key, old, new, String::new(), created_ms) else {
            continue;
        };
        let stored = StoredChange {
            kind: change.kind,
            key: change.key,
            old: change.old.as_ref().map(item_to_attributes),
            new: change.new.as_ref().map(item_to_attributes),
            created_ms,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| StoreError::Invalid(e.to_string()))?;
        table.insert(next, bytes.as_slice()).map_err(unavailable)?;
        next += 1;
        recorded = true;
    }
    counter.insert("next", next).map_err(unavailable)?;
    Ok(recorded)
}

/// A sequence number as [`Change::sequence`] carries it: zero-padded, so text order is
/// number order.
fn sequence_text(sequence: u64) -> String {
    format!("{sequence:020}")
}

fn parse_sequence(text: &str) -> Result<u64, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Invalid(format!("{text:?} is not a stream position")))
}

#[async_trait]
impl TableStream for EmbeddedStore {
    async fn read_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Change>, StoreError> {
        let start = match after {
            Some(text) => parse_sequence(text)?.saturating_add(1),
            None => 0,
        };
        self.blocking(move |db, _| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(STREAM).map_err(unavailable)?;
            let mut changes = Vec::new();
            for entry in table.range(start..).map_err(unavailable)?.take(limit) {
                let (sequence, bytes) = entry.map_err(unavailable)?;
                let stored: StoredChange =
                    serde_json::from_slice(bytes.value()).map_err(unavailable)?;
                changes.push(Change {
                    kind: stored.kind,
                    key: stored.key,
                    old: stored.old.map(item_from_attributes).transpose()?,
                    new: stored.new.map(item_from_attributes).transpose()?,
                    sequence: sequence_text(sequence.value()),
                    created_ms: stored.created_ms,
                });
            }
            Ok(changes)
        })
        .await
    }

    async fn trim_through(&self, through: &str) -> Result<(), StoreError> {
        let through = parse_sequence(through)?;
        self.blocking(move |db, _| {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let mut table = txn.open_table(STREAM).map_err(unavailable)?;
                table
                    .retain_in(..=through, |_, _| false)
                    .map_err(unavailable)?;
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn changed(&self) {
        match &self.stream {
            Some(notify) => {
                let _ = tokio::time::timeout(STREAM_IDLE_WAKE, notify.notified()).await;
            }
            None => tokio::time::sleep(STREAM_IDLE_WAKE).await,
        }
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
        self.write(vec![Write::Put { item, condition }], true).await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.write(
            vec![Write::Delete {
                key: key.clone(),
                condition,
            }],
            true,
        )
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
        let record = self.stream.is_some();
        let (value, recorded) = self
            .blocking(move |db, _| {
                let now = now_epoch_seconds();
                let txn = db.begin_write().map_err(unavailable)?;
                let touched: Vec<Key> = if record { vec![key.clone()] } else { vec![] };
                let before = images(&txn, &touched, now)?;
                let value = add_in(&txn, &key, &field, delta, expires_at, now)?;
                let recorded = append_changes(&txn, touched, before, now)?;
                txn.commit().map_err(unavailable)?;
                Ok((value, recorded))
            })
            .await?;
        self.signal(recorded);
        Ok(value)
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        self.write(writes, false).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.blocking(|db, _| {
            let txn = db.begin_read().map_err(unavailable)?;
            txn.open_table(ITEMS).map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    fn stream(&self) -> Option<&dyn TableStream> {
        self.stream.as_ref().map(|_| self as &dyn TableStream)
    }
}
