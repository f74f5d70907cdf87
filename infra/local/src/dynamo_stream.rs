//! The table's stream read from DynamoDB (DynamoDB Local on a laptop) the way Lambda's
//! event source mapping reads it: shard by shard from the oldest record kept
//! (`TRIM_HORIZON`), following each shard's iterator, so the local gateway (and the tests)
//! deliver the same records to the same consumers whichever store is behind the app.
//!
//! Records of one item come in commit order (they share a shard). The reader keeps what it
//! has fetched until the consumer is past it ([`TableStream::trim_through`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{OperationType, Record, ShardIteratorType};
use runcrew_shared::store::dynamodb::DynamoStore;
use runcrew_shared::store::stream::{Change, ChangeKind, TableStream, item_from_attributes};
use runcrew_shared::store::{Condition, Item, Key, Page, Query, Store, StoreError};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

/// How often an idle reader asks DynamoDB for new records (Lambda polls each shard about
/// four times a second).
const POLL: Duration = Duration::from_millis(250);

/// Where the reader is in each shard: the next iterator, or `None` once a closed shard is
/// read to its end.
#[derive(Default)]
struct Shards {
    iterators: BTreeMap<String, Option<String>>,
    fetched: VecDeque<Change>,
}

/// A [`TableStream`] over a DynamoDB table's stream.
pub struct DynamoTableStream {
    client: Client,
    stream_arn: String,
    state: Mutex<Shards>,
}

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("table stream: {err}"))
}

impl DynamoTableStream {
    /// The stream of `store`'s table, read with the streams API at the same endpoint, with
    /// the same credentials and region as `sdk` (DynamoDB Local's, in tests).
    pub async fn of(
        store: &DynamoStore,
        sdk: &aws_config::SdkConfig,
        endpoint: Option<&str>,
    ) -> Result<Self, StoreError> {
        let table = store
            .client()
            .describe_table()
            .table_name(store.table_name())
            .send()
            .await
            .map_err(unavailable)?;
        let stream_arn = table
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| StoreError::Invalid("the table has no stream".into()))?
            .to_owned();
        let mut builder = aws_sdk_dynamodbstreams::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            builder = builder.endpoint_url(url);
        }
        Ok(DynamoTableStream {
            client: Client::from_conf(builder.build()),
            stream_arn,
            state: Mutex::new(Shards::default()),
        })
    }

    /// Learns new shards, then reads one page from each open one.
    async fn fetch(&self, shards: &mut Shards) -> Result<(), StoreError> {
        let described = self
            .client
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(unavailable)?;
        for shard in described
            .stream_description()
            .map(|d| d.shards())
            .unwrap_or_default()
        {
            let Some(id) = shard.shard_id() else { continue };
            if shards.iterators.contains_key(id) {
                continue;
            }
            let iterator = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(unavailable)?
                .shard_iterator;
            shards.iterators.insert(id.to_owned(), iterator);
        }
        let open: Vec<(String, String)> = shards
            .iterators
            .iter()
            .filter_map(|(id, it)| it.clone().map(|it| (id.clone(), it)))
            .collect();
        for (id, iterator) in open {
            let page = self
                .client
                .get_records()
                .shard_iterator(iterator)
                .send()
                .await
                .map_err(unavailable)?;
            for record in page.records() {
                shards.fetched.push_back(change_of(record)?);
            }
            shards.iterators.insert(id, page.next_shard_iterator);
        }
        Ok(())
    }
}

/// A streams-API record as a [`Change`].
fn change_of(record: &Record) -> Result<Change, StoreError> {
    let bad = |what: &str| StoreError::Invalid(format!("stream record without {what}"));
    let data = record.dynamodb().ok_or_else(|| bad("dynamodb"))?;
    let kind = match record.event_name() {
        Some(OperationType::Insert) => ChangeKind::Insert,
        Some(OperationType::Modify) => ChangeKind::Modify,
        Some(OperationType::Remove) => ChangeKind::Remove,
        _ => return Err(bad("a known eventName")),
    };
    let image = |attributes: Option<
        &std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
    >|
     -> Result<Option<Item>, StoreError> {
        let Some(attributes) = attributes.filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        let plain: Map<String, Value> = serde_dynamo::from_item(attributes.clone())
            .map_err(|e| StoreError::Invalid(format!("stream image: {e}")))?;
        item_from_attributes(plain).map(Some)
    };
    let keys: Map<String, Value> =
        serde_dynamo::from_item(data.keys().cloned().unwrap_or_default())
            .map_err(|e| StoreError::Invalid(format!("stream keys: {e}")))?;
    let text = |name: &str| {
        keys.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad(name))
    };
    let created_ms = data
        .approximate_creation_date_time()
        .map(|t| t.secs() * 1000 + i64::from(t.subsec_nanos() / 1_000_000))
        .unwrap_or_default();
    Ok(Change {
        kind,
        key: Key::new(text("pk")?, text("sk")?),
        old: image(data.old_image())?,
        new: image(data.new_image())?,
        sequence: data.sequence_number().unwrap_or_default().to_owned(),
        created_ms,
    })
}

#[async_trait]
impl TableStream for DynamoTableStream {
    async fn read_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Change>, StoreError> {
        let mut shards = self.state.lock().await;
        if let Some(after) = after {
            drop_through(&mut shards.fetched, after);
        }
        if shards.fetched.is_empty() {
            self.fetch(&mut shards).await?;
        }
        Ok(shards.fetched.iter().take(limit).cloned().collect())
    }

    async fn trim_through(&self, through: &str) -> Result<(), StoreError> {
        drop_through(&mut self.state.lock().await.fetched, through);
        Ok(())
    }

    async fn changed(&self) {
        tokio::time::sleep(POLL).await;
    }
}

/// Drops the records up to and including the one at `sequence`, if it is still held.
fn drop_through(fetched: &mut VecDeque<Change>, sequence: &str) {
    if let Some(at) = fetched.iter().position(|c| c.sequence == sequence) {
        fetched.drain(..=at);
    }
}

/// A store whose stream is read by this process: the DynamoDB adapter with its
/// [`DynamoTableStream`], for a laptop (or a test) that runs the stream consumers itself.
pub struct StreamedStore {
    inner: Arc<dyn Store>,
    stream: Arc<dyn TableStream>,
}

impl StreamedStore {
    /// `inner`, whose changes `stream` reads.
    pub fn new(inner: Arc<dyn Store>, stream: Arc<dyn TableStream>) -> Self {
        StreamedStore { inner, stream }
    }
}

#[async_trait]
impl Store for StreamedStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
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
    async fn transact(&self, writes: Vec<runcrew_shared::store::Write>) -> Result<(), StoreError> {
        self.inner.transact(writes).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    fn stream(&self) -> Option<&dyn TableStream> {
        Some(self.stream.as_ref())
    }
}

/// The local gateway's table: as `STORE` says, and with `STORE=dynamodb` wrapped to read the
/// table's stream as Lambda would (so the projector and the notifier run on a laptop over
/// DynamoDB Local too). A table without a stream still serves the routes, with a warning.
pub fn build_store_with_stream<'a>(
    init: &'a runcrew_shared::app::Init<'a>,
) -> runcrew_shared::app::PortFuture<'a, Arc<dyn Store>> {
    Box::pin(async move {
        let config = init.config;
        let runcrew_shared::config::StoreBackend::DynamoDb { endpoint } = &config.store else {
            return runcrew_shared::app::build_store(init).await;
        };
        let store = DynamoStore::from_sdk_config(
            init.sdk().await,
            endpoint.as_deref(),
            config.table_name.clone(),
            runcrew_shared::store::cursor::Cursors::lazy(init.signing()),
        );
        match DynamoTableStream::of(&store, init.sdk().await, endpoint.as_deref()).await {
            Ok(stream) => Ok(
                Arc::new(StreamedStore::new(Arc::new(store), Arc::new(stream))) as Arc<dyn Store>,
            ),
            Err(err) => {
                tracing::warn!(target: "gateway", error = %err, "the table's stream cannot be read: the stream consumers (projector, notifier) get nothing");
                Ok(Arc::new(store) as Arc<dyn Store>)
            }
        }
    })
}
