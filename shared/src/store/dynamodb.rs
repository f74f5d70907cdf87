//! The DynamoDB Store (aws-sdk-dynamodb), for AWS and, with an endpoint override, for
//! DynamoDB Local in tests.
//!
//! Round trips: `count` 1 Query (Select COUNT) per 1 MB of the range; `get` 1 GetItem; `get_many` 1 BatchGetItem (more only for keys DynamoDB
//! leaves unprocessed); `put`/`delete` 1 conditional write; `query` 1 Query per
//! page (more only when expired items were filtered out of a page); `add` 1 UpdateItem (2
//! when it restarts an expired counter); `transact` 1 TransactWriteItems.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, ConsumedCapacity, Delete,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType,
    Put, PutRequest, ReturnConsumedCapacity, ReturnValue, ScalarAttributeType, Select,
    StreamSpecification, StreamViewType, TimeToLiveSpecification, TransactWriteItem, Update,
    WriteRequest,
};
use backon::{ExponentialBuilder, RetryableWithContext};
use serde_json::{Map, Value};

use super::cursor::Cursors;
use super::{
    Condition, Index, Item, Key, Order, Page, Query, RESERVED_ATTRIBUTES, SortRange, Store,
    StoreError, Write, now_epoch_seconds, validate_batch_get, validate_counter_field,
    validate_transaction,
};

type AttrMap = HashMap<String, AttributeValue>;

/// Rounds of BatchGetItem before unread keys become "unavailable".
const BATCH_GET_ATTEMPTS: usize = 5;
/// The pauses before resending unprocessed keys (50, 100, 200, 400 ms): DynamoDB leaves
/// keys unread when a partition is throttled, and resending them at once would only be
/// throttled again; a list request cannot wait much longer than this.
const BATCH_GET_BACKOFF: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_millis(50))
    .with_factor(2.0)
    .with_max_times(BATCH_GET_ATTEMPTS - 1);

/// What a BatchGetItem still has to read, and what it has read so far.
struct BatchRead {
    /// `None` once every key is read.
    pending: Option<KeysAndAttributes>,
    items: Vec<Item>,
}

/// Why a round of BatchGetItem did not finish the read.
enum Unfinished {
    /// DynamoDB left keys unprocessed: another round may read them.
    KeysLeft,
    /// The call failed; the SDK has already retried what it could.
    Failed(StoreError),
}

/// The DynamoDB adapter over one table.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    cursors: Cursors,
    meter: Option<Arc<CapacityMeter>>,
}

/// Read and write capacity units the table reported (`ReturnConsumedCapacity: TOTAL`), for
/// measuring what a route costs (the scale benchmark); off unless attached with
/// [`DynamoStore::with_capacity_meter`], so no call asks for it in production.
#[derive(Debug, Default)]
pub struct CapacityMeter {
    /// Thousandths of a read unit.
    read_milli: AtomicU64,
    /// Thousandths of a write unit.
    write_milli: AtomicU64,
}

/// Units, counted in thousandths so they add up exactly in an atomic.
fn milli(units: f64) -> u64 {
    (units * 1000.0).round().max(0.0) as u64
}

impl CapacityMeter {
    /// Read units since the last [`CapacityMeter::reset`].
    pub fn read_units(&self) -> f64 {
        self.read_milli.load(Ordering::SeqCst) as f64 / 1000.0
    }

    /// Write units since the last [`CapacityMeter::reset`].
    pub fn write_units(&self) -> f64 {
        self.write_milli.load(Ordering::SeqCst) as f64 / 1000.0
    }

    /// Starts counting again.
    pub fn reset(&self) {
        self.read_milli.store(0, Ordering::SeqCst);
        self.write_milli.store(0, Ordering::SeqCst);
    }

    fn read(&self, consumed: &[ConsumedCapacity]) {
        let units: f64 = consumed.iter().filter_map(|c| c.capacity_units).sum();
        self.read_milli.fetch_add(milli(units), Ordering::SeqCst);
    }

    fn wrote(&self, consumed: &[ConsumedCapacity]) {
        let units: f64 = consumed.iter().filter_map(|c| c.capacity_units).sum();
        self.write_milli.fetch_add(milli(units), Ordering::SeqCst);
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A condition expression, its values and names, for a write on one item.
struct ConditionExpr {
    expression: Option<String>,
    values: AttrMap,
}

/// Expired items count as absent, as on every read.
fn condition_expr(condition: &Condition, now: i64) -> ConditionExpr {
    let live = "(attribute_not_exists(expires_at) OR expires_at > :now)";
    let mut values = AttrMap::new();
    let expression = match condition {
        Condition::None => None,
        Condition::NotExists => {
            values.insert(":now".into(), n(now));
            Some("(attribute_not_exists(pk) OR expires_at <= :now)".to_owned())
        }
        Condition::Exists => {
            values.insert(":now".into(), n(now));
            Some(format!("attribute_exists(pk) AND {live}"))
        }
        Condition::VersionIs(version) => {
            values.insert(":now".into(), n(now));
            values.insert(":version".into(), AttributeValue::N(version.to_string()));
            Some(format!("version = :version AND {live}"))
        }
    };
    ConditionExpr { expression, values }
}

fn key_attrs(key: &Key) -> AttrMap {
    HashMap::from([("pk".to_owned(), s(&key.pk)), ("sk".to_owned(), s(&key.sk))])
}

fn to_attrs(item: &Item) -> Result<AttrMap, StoreError> {
    let mut attrs = AttrMap::with_capacity(item.body.len() + 6);
    for (name, value) in &item.body {
        let attr: AttributeValue = serde_dynamo::to_attribute_value(value)
            .map_err(|e| StoreError::Invalid(format!("attribute {name}: {e}")))?;
        attrs.insert(name.clone(), attr);
    }
    attrs.extend(key_attrs(&item.key));
    for index in Index::ALL {
        if let Some(ik) = item.index_key(index) {
            let (p, k) = index.attributes();
            attrs.insert(p.to_owned(), s(&ik.pk));
            attrs.insert(k.to_owned(), s(&ik.sk));
        }
    }
    if let Some(t) = item.expires_at {
        attrs.insert("expires_at".into(), n(t));
    }
    attrs.insert(
        "version".into(),
        AttributeValue::N(item.version.to_string()),
    );
    Ok(attrs)
}

fn string_attr(attrs: &AttrMap, name: &str) -> Option<String> {
    attrs.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn number_attr(attrs: &AttrMap, name: &str) -> Option<i64> {
    attrs
        .get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn from_attrs(mut attrs: AttrMap) -> Result<Item, StoreError> {
    let bad = |what: &str| StoreError::Invalid(format!("item without {what}"));
    let key = Key::new(
        string_attr(&attrs, "pk").ok_or_else(|| bad("pk"))?,
        string_attr(&attrs, "sk").ok_or_else(|| bad("sk"))?,
    );
    let mut index_keys: [Option<Key>; 3] = [None, None, None];
    for index in Index::ALL {
        let (p, k) = index.attributes();
        if let (Some(ipk), Some(isk)) = (string_attr(&attrs, p), string_attr(&attrs, k)) {
            index_keys[index as usize] = Some(Key::new(ipk, isk));
        }
    }
    let expires_at = number_attr(&attrs, "expires_at");
    let version = number_attr(&attrs, "version").unwrap_or(0).max(0) as u64;
    for name in RESERVED_ATTRIBUTES {
        attrs.remove(*name);
    }
    let mut body = Map::with_capacity(attrs.len());
    for (name, attr) in attrs {
        let value: Value = serde_dynamo::from_attribute_value(attr)
            .map_err(|e| StoreError::Invalid(format!("attribute {name}: {e}")))?;
        body.insert(name, value);
    }
    Ok(Item {
        key,
        index_keys,
        expires_at,
        version,
        body,
    })
}

/// Maps an SDK failure: a failed condition is the caller's business, anything else is the
/// table being unavailable (throttling, network, service errors) or a bug (validation).
fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    match code.as_deref() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some("ValidationException") => StoreError::Invalid(DisplayErrorContext(&err).to_string()),
        _ => StoreError::Unavailable(DisplayErrorContext(&err).to_string()),
    }
}

/// How many times a transaction that only conflicted with another is sent again.
const MAX_CONFLICT_RETRIES: u32 = 5;

/// Whether a transaction was cancelled only because another transaction was changing one
/// of its items: nothing failed its condition, so sending it again is safe.
fn is_transaction_conflict<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => {
            let reasons = canceled.cancellation_reasons();
            reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
                && !reasons
                    .iter()
                    .any(|r| r.code() == Some("ConditionalCheckFailed"))
        }
        _ => false,
    }
}

/// Maps a failed TransactWriteItems: a cancellation because conditions failed lists their
/// positions, so a caller can tell a closed account from a lost race; anything else
/// (a conflict with another transaction, throttling) is [`classify`]'s.
fn transaction_error<R>(err: SdkError<TransactWriteItemsError, R>) -> StoreError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) =
        err.as_service_error()
    {
        let failed: Vec<usize> = canceled
            .cancellation_reasons()
            .iter()
            .enumerate()
            .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
            .map(|(i, _)| i)
            .collect();
        if !failed.is_empty() {
            return StoreError::TransactionCanceled { failed };
        }
    }
    classify(err)
}

impl DynamoStore {
    /// An adapter over `table` with an already-built client.
    pub fn new(client: Client, table: impl Into<String>, cursors: impl Into<Cursors>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            cursors: cursors.into(),
            meter: None,
        }
    }

    /// Asks DynamoDB for the capacity every call consumes and adds it to `meter`.
    pub fn with_capacity_meter(mut self, meter: Arc<CapacityMeter>) -> Self {
        self.meter = Some(meter);
        self
    }

    /// `TOTAL` when a meter is attached.
    fn capacity(&self) -> Option<ReturnConsumedCapacity> {
        self.meter.as_ref().map(|_| ReturnConsumedCapacity::Total)
    }

    fn metered_read(&self, consumed: Option<&ConsumedCapacity>) {
        if let (Some(meter), Some(c)) = (&self.meter, consumed) {
            meter.read(std::slice::from_ref(c));
        }
    }

    fn metered_write(&self, consumed: Option<&ConsumedCapacity>) {
        if let (Some(meter), Some(c)) = (&self.meter, consumed) {
            meter.wrote(std::slice::from_ref(c));
        }
    }

    /// Builds the client from the shared AWS configuration, at `endpoint` when given.
    pub fn from_sdk_config(
        sdk: &aws_config::SdkConfig,
        endpoint: Option<&str>,
        table: impl Into<String>,
        cursors: impl Into<Cursors>,
    ) -> Self {
        // Timeouts come with `sdk`: `Init::sdk` sets `app::aws_timeouts` for every function.
        let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            builder = builder.endpoint_url(url);
        }
        Self::new(Client::from_conf(builder.build()), table, cursors)
    }

    /// Puts `items` unconditionally with BatchWriteItem, 25 a call, resending what DynamoDB
    /// leaves unprocessed: for loading many items at once (the scale benchmark; a backfill),
    /// at half the write units of a transaction and without its locks. Not on the `Store`
    /// port: no request path writes without a condition or a transaction.
    pub async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        for chunk in items.chunks(25) {
            let mut pending = chunk
                .iter()
                .map(|item| {
                    item.validate()?;
                    let put = PutRequest::builder()
                        .set_item(Some(to_attrs(item)?))
                        .build()
                        .map_err(|e| StoreError::Invalid(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            for attempt in 0..10u64 {
                if pending.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut pending))
                    .set_return_consumed_capacity(self.capacity())
                    .send()
                    .await
                    .map_err(classify)?;
                if let Some(meter) = &self.meter {
                    meter.wrote(out.consumed_capacity());
                }
                pending = out
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable(
                    "the table left items unwritten after every retry".into(),
                ));
            }
        }
        Ok(())
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The underlying client (table set-up in tests and local tooling).
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn build_put(&self, item: &Item, condition: &Condition, now: i64) -> Result<Put, StoreError> {
        let cond = condition_expr(condition, now);
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_attrs(item)?))
            .set_condition_expression(cond.expression)
            .set_expression_attribute_values((!cond.values.is_empty()).then_some(cond.values))
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))
    }

    /// One BatchGetItem of the keys `read` still has pending; the items it read join
    /// `read`, and the keys DynamoDB left unprocessed become the pending ones.
    async fn batch_get_round(
        &self,
        mut read: BatchRead,
        now: i64,
    ) -> (BatchRead, Result<(), Unfinished>) {
        let Some(pending) = read.pending.take() else {
            return (read, Ok(()));
        };
        let out = match self
            .client
            .batch_get_item()
            .request_items(&self.table, pending)
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await
        {
            Ok(out) => out,
            Err(err) => return (read, Err(Unfinished::Failed(classify(err)))),
        };
        if let Some(meter) = &self.meter {
            meter.read(out.consumed_capacity());
        }
        for attrs in out
            .responses
            .and_then(|mut r| r.remove(&self.table))
            .unwrap_or_default()
        {
            match from_attrs(attrs) {
                Ok(item) if item.is_expired(now) => {}
                Ok(item) => read.items.push(item),
                Err(err) => return (read, Err(Unfinished::Failed(err))),
            }
        }
        read.pending = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(&self.table))
            .filter(|k| !k.keys.is_empty());
        let outcome = match read.pending {
            None => Ok(()),
            Some(_) => Err(Unfinished::KeysLeft),
        };
        (read, outcome)
    }

    /// One write of a transaction, as DynamoDB takes it.
    fn transact_item(&self, write: &Write, now: i64) -> Result<TransactWriteItem, StoreError> {
        let action = TransactWriteItem::builder();
        Ok(match write {
            Write::Put { item, condition } => action.put(self.build_put(item, condition, now)?),
            Write::Delete { key, condition } => {
                action.delete(self.build_delete(key, condition, now)?)
            }
            Write::Add { key, field, delta } => action.update(self.build_add(key, field, *delta)?),
            Write::Increment {
                key,
                deltas,
                must_exist,
            } => action.update(self.build_increment(key, deltas, *must_exist, now)?),
            Write::Check { key, condition } => {
                action.condition_check(self.build_check(key, condition, now)?)
            }
        }
        .build())
    }

    fn build_delete(
        &self,
        key: &Key,
        condition: &Condition,
        now: i64,
    ) -> Result<Delete, StoreError> {
        let cond = condition_expr(condition, now);
        Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .set_condition_expression(cond.expression)
            .set_expression_attribute_values((!cond.values.is_empty()).then_some(cond.values))
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))
    }

    /// An unconditional `ADD` to one counter, creating the item and the counter at 0.
    fn build_add(&self, key: &Key, field: &str, delta: i64) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .update_expression("ADD #f :d")
            .expression_attribute_names("#f", field)
            .expression_attribute_values(":d", n(delta))
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))
    }

    /// `ADD` to several counters and to `version`, so a writer holding the version it read
    /// loses to the count instead of overwriting it.
    fn build_increment(
        &self,
        key: &Key,
        deltas: &[(String, i64)],
        must_exist: bool,
        now: i64,
    ) -> Result<Update, StoreError> {
        let cond = condition_expr(
            if must_exist {
                &Condition::Exists
            } else {
                &Condition::None
            },
            now,
        );
        let mut names = HashMap::new();
        let mut values = cond.values;
        let mut adds = Vec::with_capacity(deltas.len() + 1);
        for (i, (field, delta)) in deltas.iter().enumerate() {
            names.insert(format!("#f{i}"), field.clone());
            values.insert(format!(":d{i}"), n(*delta));
            adds.push(format!("#f{i} :d{i}"));
        }
        values.insert(":one".into(), n(1));
        adds.push("version :one".into());
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .update_expression(format!("ADD {}", adds.join(", ")))
            .set_condition_expression(cond.expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))
    }

    /// A condition check; DynamoDB requires an expression, so [`Condition::None`] becomes
    /// one that always holds.
    fn build_check(
        &self,
        key: &Key,
        condition: &Condition,
        now: i64,
    ) -> Result<ConditionCheck, StoreError> {
        let cond = condition_expr(condition, now);
        let expression = cond
            .expression
            .unwrap_or_else(|| "attribute_exists(pk) OR attribute_not_exists(pk)".into());
        ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .condition_expression(expression)
            .set_expression_attribute_values((!cond.values.is_empty()).then_some(cond.values))
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))
    }

    /// The key condition of `query` with its names and values (`:now` included, for the
    /// expiry filter).
    fn key_condition(query: &Query, now: i64) -> (String, HashMap<String, String>, AttrMap) {
        let (pk_name, sk_name) = match query.index {
            Some(index) => index.attributes(),
            None => ("pk", "sk"),
        };
        let mut values = HashMap::from([
            (":pk".to_owned(), s(&query.partition)),
            (":now".to_owned(), n(now)),
        ]);
        let range = match &query.range {
            SortRange::All => String::new(),
            SortRange::BeginsWith(p) => {
                values.insert(":a".into(), s(p));
                " AND begins_with(#sk, :a)".into()
            }
            SortRange::Between(a, b) => {
                values.insert(":a".into(), s(a));
                values.insert(":b".into(), s(b));
                " AND #sk BETWEEN :a AND :b".into()
            }
            SortRange::AtLeast(a) => {
                values.insert(":a".into(), s(a));
                " AND #sk >= :a".into()
            }
            SortRange::AtMost(b) => {
                values.insert(":b".into(), s(b));
                " AND #sk <= :b".into()
            }
        };
        let mut names = HashMap::from([("#pk".to_owned(), pk_name.to_owned())]);
        if !range.is_empty() {
            names.insert("#sk".to_owned(), sk_name.to_owned());
        }
        (format!("#pk = :pk{range}"), names, values)
    }

    async fn query_page(
        &self,
        query: &Query,
        start: Option<AttrMap>,
        limit: i32,
        now: i64,
    ) -> Result<(Vec<Item>, Option<AttrMap>), StoreError> {
        let (condition, names, values) = Self::key_condition(query, now);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(query.index.map(|i| i.name().to_owned()))
            .key_condition_expression(condition)
            .filter_expression("attribute_not_exists(expires_at) OR expires_at > :now")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(query.order == Order::Ascending)
            .set_consistent_read(query.index.is_none().then_some(true))
            .limit(limit)
            .set_exclusive_start_key(start)
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await
            .map_err(classify)?;
        self.metered_read(out.consumed_capacity());
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_attrs)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, out.last_evaluated_key))
    }

    /// Creates the table as template.yaml defines it (keys, three GSIs, on-demand, TTL on
    /// `expires_at`, a stream of new and old images). Used by tests against DynamoDB Local and by local tooling.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))
        };
        let mut definitions = vec![attr("pk")?, attr("sk")?];
        let mut indexes = Vec::new();
        for index in Index::ALL {
            let (p, k) = index.attributes();
            definitions.push(attr(p)?);
            definitions.push(attr(k)?);
            indexes.push(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name())
                    .key_schema(key(p, KeyType::Hash)?)
                    .key_schema(key(k, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            );
        }
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(definitions))
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .set_global_secondary_indexes(Some(indexes))
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            // A retried create whose first attempt went through (the answer was lost), or a
            // table made before: either way it is there.
            Err(err) if err.code() == Some("ResourceInUseException") => {}
            Err(err) => return Err(classify(err)),
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            )
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await
            .map_err(classify)?;
        self.metered_read(out.consumed_capacity());
        match out.item {
            None => Ok(None),
            Some(attrs) => {
                Ok(Some(from_attrs(attrs)?).filter(|item| !item.is_expired(now_epoch_seconds())))
            }
        }
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        validate_batch_get(keys)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_epoch_seconds();
        let all = KeysAndAttributes::builder()
            .set_keys(Some(keys.iter().map(key_attrs).collect()))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let read = BatchRead {
            pending: Some(all),
            items: Vec::with_capacity(keys.len()),
        };
        // DynamoDB hands back what it could not read under load: resend it, backing off.
        let (read, outcome) = (|read| self.batch_get_round(read, now))
            .retry(BATCH_GET_BACKOFF)
            .context(read)
            .when(|unfinished| matches!(unfinished, Unfinished::KeysLeft))
            .await;
        match outcome {
            Ok(()) => Ok(read.items),
            Err(Unfinished::KeysLeft) => Err(StoreError::Unavailable(
                "the table left keys unread after every retry".into(),
            )),
            Err(Unfinished::Failed(err)) => Err(err),
        }
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        item.validate()?;
        let cond = condition_expr(&condition, now_epoch_seconds());
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attrs(&item)?))
            .set_condition_expression(cond.expression)
            .set_expression_attribute_values((!cond.values.is_empty()).then_some(cond.values))
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await
            .map_err(classify)?;
        self.metered_write(out.consumed_capacity());
        Ok(())
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        let cond = condition_expr(&condition, now_epoch_seconds());
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .set_condition_expression(cond.expression)
            .set_expression_attribute_values((!cond.values.is_empty()).then_some(cond.values))
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await
            .map_err(classify)?;
        self.metered_write(out.consumed_capacity());
        Ok(())
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let scope = query.scope();
        let mut start = match &query.cursor {
            None => None,
            Some(cursor) => {
                let position = self.cursors.codec().await?.decode(&scope, cursor)?;
                let mut attrs = key_attrs(&position.key);
                match (query.index, position.index_key) {
                    (None, None) if position.key.pk == query.partition => {}
                    (Some(index), Some(ik)) if ik.pk == query.partition => {
                        let (p, k) = index.attributes();
                        attrs.insert(p.to_owned(), s(&ik.pk));
                        attrs.insert(k.to_owned(), s(&ik.sk));
                    }
                    _ => return Err(StoreError::BadCursor),
                }
                Some(attrs)
            }
        };
        let limit = query.effective_limit();
        let now = now_epoch_seconds();
        let mut items: Vec<Item> = Vec::with_capacity(limit.min(64));
        let mut more = false;
        loop {
            // One more than needed tells whether another page exists without an extra call.
            let want = (limit - items.len() + 1) as i32;
            let (page, last) = self.query_page(query, start.take(), want, now).await?;
            for item in page {
                if items.len() == limit {
                    more = true;
                    break;
                }
                items.push(item);
            }
            if more || last.is_none() {
                break;
            }
            start = last;
        }
        if !more {
            // The last page needs no cursor, so no secret either.
            return Ok(Page {
                items,
                cursor: None,
            });
        }
        Ok(Page::new(query, items, more, self.cursors.codec().await?))
    }

    async fn count(&self, query: &Query) -> Result<usize, StoreError> {
        let now = now_epoch_seconds();
        let (condition, names, values) = Self::key_condition(query, now);
        let mut total = 0usize;
        let mut start: Option<AttrMap> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(query.index.map(|i| i.name().to_owned()))
                .key_condition_expression(&condition)
                .filter_expression("attribute_not_exists(expires_at) OR expires_at > :now")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .set_consistent_read(query.index.is_none().then_some(true))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .set_return_consumed_capacity(self.capacity())
                .send()
                .await
                .map_err(classify)?;
            self.metered_read(out.consumed_capacity());
            total += usize::try_from(out.count).unwrap_or(0);
            match out.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(total),
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
        let now = now_epoch_seconds();
        let mut values = HashMap::from([(":d".to_owned(), n(delta)), (":now".to_owned(), n(now))]);
        let mut update = "ADD #f :d".to_owned();
        if let Some(t) = expires_at {
            values.insert(":e".into(), n(t));
            update.push_str(" SET expires_at = if_not_exists(expires_at, :e)");
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .update_expression(update)
            .condition_expression("attribute_not_exists(expires_at) OR expires_at > :now")
            .expression_attribute_names("#f", field)
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::UpdatedNew)
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await
            .map_err(classify);
        if let Ok(out) = &result {
            self.metered_write(out.consumed_capacity());
        }
        match result {
            Ok(out) => out
                .attributes
                .as_ref()
                .and_then(|a| number_attr(a, field))
                .ok_or_else(|| StoreError::Invalid(format!("{field} came back without a number"))),
            // The item is expired but not yet swept by TTL: the counter starts again.
            Err(StoreError::ConditionFailed) => {
                let mut body = Map::new();
                body.insert(field.to_owned(), Value::from(delta));
                let mut fresh = Item::new(key.clone(), body);
                fresh.expires_at = expires_at;
                self.put(fresh, Condition::NotExists).await?;
                Ok(delta)
            }
            Err(other) => Err(other),
        }
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        let now = now_epoch_seconds();
        let actions = writes
            .iter()
            .map(|write| self.transact_item(write, now))
            .collect::<Result<Vec<_>, _>>()?;
        // A transaction that met another one on the same item (`TransactionConflict`)
        // changed nothing and was not refused: it is sent again after a short random pause,
        // so twenty people joining one event are serialized by their conditions, not
        // answered 503. Only a conflict is retried here; a failed condition is the caller's.
        let mut conflicts = 0;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions.clone()))
                .set_return_consumed_capacity(self.capacity())
                .send()
                .await;
            match sent {
                Ok(out) => {
                    if let Some(meter) = &self.meter {
                        meter.wrote(out.consumed_capacity());
                    }
                    return Ok(());
                }
                Err(err) if conflicts < MAX_CONFLICT_RETRIES && is_transaction_conflict(&err) => {
                    conflicts += 1;
                    let pause = rand::random_range(5..=25) * u64::from(conflicts);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Err(err) => return Err(transaction_error(err)),
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(&Key::new("_health", "ping"))))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
