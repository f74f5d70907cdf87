//! The Store port: the one table, narrow and typed.
//!
//! Every access pattern on a request path is a [`Store::get`] or a [`Store::query`] of one
//! partition (of the table or of an index): there is no scan. Writes are conditional where
//! a lost update or a duplicate would matter, and related writes go in one
//! [`Store::transact`] so a failure leaves nothing half-written.
//!
//! Adapters: [`dynamodb::DynamoStore`] (AWS) and [`embedded::EmbeddedStore`] (laptops and
//! tests). Both pass the same contract suite (`tests/tests/store_contract.rs`).

mod body;
pub mod budget;
pub mod cursor;
pub mod dynamodb;
#[cfg(feature = "embedded-store")]
pub mod embedded;
pub mod stream;
pub mod versioned;

use async_trait::async_trait;

pub use body::{from_body, to_body};
use serde_json::{Map, Value};

/// Attribute names the adapters own; item bodies may not use them.
pub const RESERVED_ATTRIBUTES: &[&str] = &[
    "pk",
    "sk",
    "gsi1pk",
    "gsi1sk",
    "gsi2pk",
    "gsi2sk",
    "gsi3pk",
    "gsi3sk",
    "expires_at",
    "version",
];

/// The most keys one [`Store::get_many`] reads (DynamoDB's BatchGetItem limit).
pub const MAX_BATCH_GET: usize = 100;

/// The most writes one transaction may hold (DynamoDB's limit).
pub const MAX_TRANSACTION_WRITES: usize = 100;

/// The largest page a query returns, whatever limit is asked.
pub const MAX_PAGE: usize = 1000;

/// A partition and sort key: an item's primary key, or its key under an index
/// ([`Item::index_keys`]).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Key {
    /// Partition key, e.g. `COURSE#01J...`.
    pub pk: String,
    /// Sort key, e.g. `META` or `REVIEW#user`.
    pub sk: String,
}

impl Key {
    /// A key from its two parts; a put of an item whose key has an empty part is refused as
    /// [`StoreError::Invalid`].
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// The table's global secondary indexes. Each has a string partition and sort key named
/// `gsiNpk` / `gsiNsk`; items that lack them are simply not in that index (sparse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Index {
    /// `gsi1`: e.g. a creator's courses, public courses newest first.
    Gsi1,
    /// `gsi2`: e.g. courses by geohash cell.
    Gsi2,
    /// `gsi3`: e.g. connected Strava athletes (sparse).
    Gsi3,
}

impl Index {
    /// Every index, in table order.
    pub const ALL: [Index; 3] = [Index::Gsi1, Index::Gsi2, Index::Gsi3];

    /// The index name in the table definition.
    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1",
            Index::Gsi2 => "gsi2",
            Index::Gsi3 => "gsi3",
        }
    }

    /// The attribute names of this index's partition and sort key.
    pub fn attributes(self) -> (&'static str, &'static str) {
        match self {
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            Index::Gsi2 => ("gsi2pk", "gsi2sk"),
            Index::Gsi3 => ("gsi3pk", "gsi3sk"),
        }
    }

    fn position(self) -> usize {
        self as usize
    }
}

/// One item: its key, its index keys, an optional expiry, a version for optimistic
/// locking, and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The primary key; a put replaces whatever item had it, unless its condition says no.
    pub key: Key,
    /// Keys under each index, `None` where the item is not in that index.
    pub index_keys: [Option<Key>; 3],
    /// Epoch seconds after which the item is gone for every read (DynamoDB TTL).
    pub expires_at: Option<i64>,
    /// Incremented by writers that use [`Condition::VersionIs`].
    pub version: u64,
    /// The attributes, as JSON. Numbers must be integers or finite floats.
    pub body: Map<String, Value>,
}

impl Item {
    /// An item with a body and nothing else.
    pub fn new(key: Key, body: Map<String, Value>) -> Self {
        Item {
            key,
            index_keys: [None, None, None],
            expires_at: None,
            version: 0,
            body,
        }
    }

    /// Puts the item under `index` with that index's key.
    pub fn with_index(
        mut self,
        index: Index,
        pk: impl Into<String>,
        sk: impl Into<String>,
    ) -> Self {
        self.index_keys[index.position()] = Some(Key::new(pk, sk));
        self
    }

    /// Lets the item expire at `epoch_seconds`.
    pub fn expiring_at(mut self, epoch_seconds: i64) -> Self {
        self.expires_at = Some(epoch_seconds);
        self
    }

    /// Sets the version the item will be written with.
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// The key under `index`, if the item is in it.
    pub fn index_key(&self, index: Index) -> Option<&Key> {
        self.index_keys[index.position()].as_ref()
    }

    /// Whether the item is past its expiry at `now` (epoch seconds).
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// A body attribute as a string.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }

    /// A body attribute as an integer.
    pub fn i64(&self, name: &str) -> Option<i64> {
        self.body.get(name).and_then(Value::as_i64)
    }

    fn validate(&self) -> Result<(), StoreError> {
        if self.key.pk.is_empty() || self.key.sk.is_empty() {
            return Err(StoreError::Invalid("empty key".into()));
        }
        if let Some(name) = self
            .body
            .keys()
            .find(|k| RESERVED_ATTRIBUTES.contains(&k.as_str()))
        {
            return Err(StoreError::Invalid(format!(
                "body uses the reserved attribute {name}"
            )));
        }
        for (name, value) in &self.body {
            check_numbers(name, value)?;
        }
        Ok(())
    }
}

/// The smallest magnitude other than zero that a DynamoDB number may have.
pub const MIN_NUMBER_MAGNITUDE: f64 = 1e-130;
/// The magnitude DynamoDB numbers stay below (its largest is 9.99…E+125).
pub const NUMBER_MAGNITUDE_LIMIT: f64 = 1e126;

/// Refuses numbers DynamoDB cannot hold (it answers `Number underflow` or `overflow`), in
/// every adapter alike, so the embedded store never accepts what the table would refuse.
/// Domain types round their numbers to what they mean (coordinates to 7 decimals,
/// distances to 0.1 m) long before this; reaching it is a bug of ours.
fn check_numbers(path: &str, value: &Value) -> Result<(), StoreError> {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(v)
                if v != 0.0
                    && !(MIN_NUMBER_MAGNITUDE..NUMBER_MAGNITUDE_LIMIT).contains(&v.abs()) =>
            {
                Err(StoreError::Invalid(format!(
                    "attribute {path}: {v:e} is outside the numbers the table can hold"
                )))
            }
            _ => Ok(()),
        },
        Value::Array(values) => values
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_numbers(&format!("{path}[{i}]"), v)),
        Value::Object(fields) => fields
            .iter()
            .try_for_each(|(k, v)| check_numbers(&format!("{path}.{k}"), v)),
        _ => Ok(()),
    }
}

/// What must hold for a write to happen. An item past its expiry counts as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Always write: a put replaces any item at the key, a delete of nothing succeeds.
    None,
    /// Only if no live item has this key (create once).
    NotExists,
    /// Only if a live item has this key.
    Exists,
    /// Only if the live item has exactly this version (optimistic locking).
    VersionIs(u64),
}

/// Which sort keys of a partition a query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortRange {
    /// Every sort key of the partition (still paged by [`Query::limit()`]).
    All,
    /// Sort keys starting with this prefix.
    BeginsWith(String),
    /// Sort keys between both bounds, inclusive.
    Between(String, String),
    /// Sort keys at or after this one.
    AtLeast(String),
    /// Sort keys at or before this one.
    AtMost(String),
}

impl SortRange {
    /// Whether `sk` falls in the range.
    pub fn contains(&self, sk: &str) -> bool {
        match self {
            SortRange::All => true,
            SortRange::BeginsWith(p) => sk.starts_with(p.as_str()),
            SortRange::Between(a, b) => sk >= a.as_str() && sk <= b.as_str(),
            SortRange::AtLeast(a) => sk >= a.as_str(),
            SortRange::AtMost(b) => sk <= b.as_str(),
        }
    }
}

/// Ascending or descending sort-key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Smallest sort key first, comparing bytes: `B` before `a`, `10` before `9`.
    Ascending,
    /// Largest sort key first (newest first with time-ordered keys).
    Descending,
}

/// A read of one partition of the table or of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// `None` for the table itself.
    pub index: Option<Index>,
    /// The partition key value: `pk` for the table, the index's `gsiNpk` for an index.
    pub partition: String,
    /// Which sort keys of the partition are read (the index's `gsiNsk` for an index).
    pub range: SortRange,
    /// Which way the pages run; a cursor is bound to it, so reversing starts from a fresh
    /// first page.
    pub order: Order,
    /// At most this many items (capped at [`MAX_PAGE`]).
    pub limit: usize,
    /// The opaque cursor of the previous page.
    pub cursor: Option<String>,
}

impl Query {
    /// The whole partition of the table, ascending, 100 at a time.
    pub fn partition(pk: impl Into<String>) -> Self {
        Query {
            index: None,
            partition: pk.into(),
            range: SortRange::All,
            order: Order::Ascending,
            limit: 100,
            cursor: None,
        }
    }

    /// The whole partition of `index`.
    pub fn index(index: Index, pk: impl Into<String>) -> Self {
        Query {
            index: Some(index),
            ..Query::partition(pk)
        }
    }

    /// Reads only the sort keys in `range`. A cursor is not bound to the range, so keep it
    /// the same from page to page.
    pub fn range(mut self, range: SortRange) -> Self {
        self.range = range;
        self
    }

    /// Largest sort key first, instead of the default ascending order.
    pub fn descending(mut self) -> Self {
        self.order = Order::Descending;
        self
    }

    /// Page size, clamped to 1 to [`MAX_PAGE`] (100 unless set).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Continues after a previous page.
    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }

    pub(crate) fn effective_limit(&self) -> usize {
        self.limit.clamp(1, MAX_PAGE)
    }

    /// What a cursor is bound to: a cursor of one list cannot page another.
    pub(crate) fn scope(&self) -> String {
        let index = self.index.map(Index::name).unwrap_or("table");
        let order = match self.order {
            Order::Ascending => "asc",
            Order::Descending => "desc",
        };
        format!("{index}|{order}|{}", self.partition)
    }
}

/// One page of a query: full unless it is the last, so a short page means the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The items, in the query's order.
    pub items: Vec<Item>,
    /// Present when more items may follow; pass it back in [`Query::cursor`].
    pub cursor: Option<String>,
}

impl Page {
    /// The page of `query` holding `items`; when `more` follow, its cursor points after the
    /// last item (with its index key for index queries), signed for this query's scope.
    pub(crate) fn new(
        query: &Query,
        items: Vec<Item>,
        more: bool,
        cursors: &cursor::CursorCodec,
    ) -> Self {
        let cursor = match (more, items.last()) {
            (true, Some(last)) => Some(cursors.encode(
                &query.scope(),
                &cursor::Position {
                    key: last.key.clone(),
                    index_key: query.index.and_then(|i| last.index_key(i).cloned()),
                },
            )),
            _ => None,
        };
        Page { items, cursor }
    }
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a transaction holds at most 100 writes, built once; boxing items would only add allocations"
)]
pub enum Write {
    /// Put the item if the condition holds.
    Put {
        /// The whole new item, replacing any at its key.
        item: Item,
        /// What must hold of the live item at its key, or the whole transaction is canceled.
        condition: Condition,
    },
    /// Delete the item if the condition holds.
    Delete {
        /// The item to remove; removing nothing is fine under [`Condition::None`].
        key: Key,
        /// What must hold of the live item, or the whole transaction is canceled.
        condition: Condition,
    },
    /// Add `delta` to a numeric attribute (creating the item and attribute at 0).
    Add {
        /// The counter's item, created when missing.
        key: Key,
        /// An integer attribute of the body: not empty, not one of [`RESERVED_ATTRIBUTES`].
        field: String,
        /// How much (may be negative).
        delta: i64,
    },
    /// Add to several counters of one item and bump its version, so a version-conditioned
    /// read-modify-write of the same item never overwrites a count (a like counted while
    /// the owner renames the course).
    Increment {
        /// The item holding the counters, whose version goes up by one.
        key: Key,
        /// Attribute and delta pairs (deltas may be negative).
        deltas: Vec<(String, i64)>,
        /// `true`: the item must exist and be live (a course being liked); `false`: a
        /// missing item is created with the deltas (a statistics bucket).
        must_exist: bool,
    },
    /// Write nothing, but require the condition on another item.
    Check {
        /// The other item, read but never written.
        key: Key,
        /// What must hold of it for any write of the transaction to happen.
        condition: Condition,
    },
}

impl Write {
    /// The item this write touches, so a transaction can refuse two writes on one item.
    pub(crate) fn key(&self) -> &Key {
        match self {
            Write::Put { item, .. } => &item.key,
            Write::Delete { key, .. }
            | Write::Add { key, .. }
            | Write::Increment { key, .. }
            | Write::Check { key, .. } => key,
        }
    }
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A single write's condition did not hold; nothing was written.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction's conditions did not all hold; nothing was written. Lists the
    /// positions of the writes whose condition failed.
    #[error("transaction canceled: conditions failed at {failed:?}")]
    TransactionCanceled {
        /// Positions in the transaction.
        failed: Vec<usize>,
    },
    /// The cursor was not issued by us for this list.
    #[error("invalid cursor")]
    BadCursor,
    /// The request is wrong (a bug of ours, not of the client).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// The table cannot be reached or refuses service; the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The table. An item past its [`Item::expires_at`] is absent from every read at once,
/// though DynamoDB's TTL removes it only later.
#[async_trait]
pub trait Store: Send + Sync {
    /// The live item at `key`, if any.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// The live items at `keys` (at most [`MAX_BATCH_GET`], no duplicates), in no particular
    /// order; missing keys are simply absent. One round trip where the adapter can, so a
    /// list that shows names or course summaries stays at two reads.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;

    /// Writes `item` if `condition` holds.
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError>;

    /// Deletes the item at `key` if `condition` holds. Deleting nothing is not an error
    /// under [`Condition::None`].
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError>;

    /// One page of a partition, with a cursor for the next.
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;

    /// How many live items `query`'s partition holds in its range, whatever its limit and
    /// cursor (a rank on a leaderboard). Reads the range, so it costs what reading it costs.
    async fn count(&self, query: &Query) -> Result<usize, StoreError>;

    /// Adds `delta` to the integer attribute `field` of `key` atomically and returns the
    /// new value. Creates the item when missing; `expires_at` is set only on creation, so
    /// a fixed window keeps its original end.
    async fn add(
        &self,
        key: &Key,
        field: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError>;

    /// All writes or none: at most [`MAX_TRANSACTION_WRITES`], no two on one item.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;

    /// A cheap round trip that proves the table answers (`/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// The table's stream, where this process reads it itself: the embedded store's on a
    /// laptop. `None` on AWS, where Lambda reads DynamoDB Streams. A wrapper (a test's
    /// failing store, the benchmarks' counting one) passes its inner store's on.
    fn stream(&self) -> Option<&dyn stream::TableStream> {
        None
    }
}

/// Checks the shape rules both adapters share, before any I/O.
pub(crate) fn validate_transaction(writes: &[Write]) -> Result<(), StoreError> {
    if writes.is_empty() {
        return Err(StoreError::Invalid("empty transaction".into()));
    }
    if writes.len() > MAX_TRANSACTION_WRITES {
        return Err(StoreError::Invalid(format!(
            "{} writes in one transaction; at most {MAX_TRANSACTION_WRITES}",
            writes.len()
        )));
    }
    let mut keys: Vec<&Key> = writes.iter().map(Write::key).collect();
    keys.sort();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(StoreError::Invalid(
            "two writes on one item in a transaction".into(),
        ));
    }
    for write in writes {
        match write {
            Write::Put { item, .. } => item.validate()?,
            Write::Add { field, .. } => validate_counter_field(field)?,
            Write::Increment { deltas, .. } => {
                if deltas.is_empty() {
                    return Err(StoreError::Invalid("an increment of nothing".into()));
                }
                for (field, _) in deltas {
                    validate_counter_field(field)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn validate_counter_field(field: &str) -> Result<(), StoreError> {
    if field.is_empty() || RESERVED_ATTRIBUTES.contains(&field) {
        return Err(StoreError::Invalid(format!(
            "{field:?} cannot be a counter"
        )));
    }
    Ok(())
}

/// Every item of `query`'s range, page after page (its limit is the page size). For the
/// rare paths that need a whole partition: erasure, rebuilding records.
pub async fn read_all(store: &dyn Store, query: Query) -> Result<Vec<Item>, StoreError> {
    let mut query = query.after(None);
    let mut items = Vec::new();
    loop {
        let page = store.query(&query).await?;
        items.extend(page.items);
        match page.cursor {
            Some(next) => query = query.after(Some(next)),
            None => return Ok(items),
        }
    }
}

/// The items of `keys`, more than one BatchGetItem holds (a page's runs, follows, names
/// and courses): [`MAX_BATCH_GET`] keys a call, the calls in parallel, so one round
/// whatever the count. Missing keys are left out.
pub async fn get_all(store: &dyn Store, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
    let reads = futures::future::try_join_all(
        keys.chunks(MAX_BATCH_GET)
            .map(|chunk| store.get_many(chunk)),
    )
    .await?;
    Ok(reads.into_iter().flatten().collect())
}

/// The items of at most `pages` pages of `query`: a search that reads a few pages of each
/// of several partitions (geohash cells) and no more, whatever a dense one holds.
pub async fn read_pages(
    store: &dyn Store,
    query: Query,
    pages: usize,
) -> Result<Vec<Item>, StoreError> {
    let mut query = query;
    let mut items = Vec::new();
    for _ in 0..pages {
        let page = store.query(&query).await?;
        items.extend(page.items);
        match page.cursor {
            Some(next) => query = query.after(Some(next)),
            None => break,
        }
    }
    Ok(items)
}

/// Deletes every item `query` finds, [`MAX_TRANSACTION_WRITES`] per transaction. A
/// partition is read from its first page again each round (what the last round deleted is
/// gone from it); an index, which lags behind the table, is paged with its cursor so no
/// deleted item is read again. For erasure, whose cost grows with what is erased. Returns
/// how many went.
pub async fn delete_all(store: &dyn Store, query: Query) -> Result<usize, StoreError> {
    let on_index = query.index.is_some();
    let mut query = query.limit(MAX_TRANSACTION_WRITES).after(None);
    let mut deleted = 0;
    loop {
        let page = store.query(&query).await?;
        if page.items.is_empty() {
            return Ok(deleted);
        }
        deleted += page.items.len();
        let next = page.cursor.clone();
        let writes = page
            .items
            .into_iter()
            .map(|item| Write::Delete {
                key: item.key,
                condition: Condition::None,
            })
            .collect();
        store.transact(writes).await?;
        if on_index {
            match next {
                Some(cursor) => query = query.after(Some(cursor)),
                None => return Ok(deleted),
            }
        }
    }
}

/// Deletes `key` and moves the counters of `counted` by `deltas` in one transaction (a like
/// and its course's like count, a follow and a profile's follower count). When `counted`
/// is already gone, deletes `key` alone: erasing one account must not fail because another
/// went first.
pub async fn delete_and_count(
    store: &dyn Store,
    key: Key,
    counted: Key,
    deltas: Vec<(String, i64)>,
) -> Result<(), StoreError> {
    let writes = vec![
        Write::Delete {
            key: key.clone(),
            condition: Condition::Exists,
        },
        Write::Increment {
            key: counted,
            deltas,
            must_exist: true,
        },
    ];
    match store.transact(writes).await {
        // Already gone (a step of the same erasure that stopped after it, read again from
        // an index that lags): counted down once, not twice.
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&0) => Ok(()),
        Err(StoreError::TransactionCanceled { .. }) => store.delete(&key, Condition::None).await,
        other => other,
    }
}

/// Checks a [`Store::get_many`] request before any I/O.
pub(crate) fn validate_batch_get(keys: &[Key]) -> Result<(), StoreError> {
    if keys.len() > MAX_BATCH_GET {
        return Err(StoreError::Invalid(format!(
            "{} keys in one batch read; at most {MAX_BATCH_GET}",
            keys.len()
        )));
    }
    let mut sorted: Vec<&Key> = keys.iter().collect();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(StoreError::Invalid("a key twice in one batch read".into()));
    }
    Ok(())
}

/// Seconds since the epoch now; expiry is judged against the wall clock, as DynamoDB does.
pub(crate) fn now_epoch_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
