//! The table's stream, the same cases against the embedded store's outbox and against
//! DynamoDB Local's stream: what each write did to each item (insert, modify, remove, with
//! the item before and after), in commit order per item, and nothing for a write that
//! changed nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::stream::{Change, ChangeKind};
use runcrew_shared::store::{Condition, Item, Key, Store, Write};
use serde_json::{Map, json};

fn item(sk: &str, name: &str) -> Item {
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    Item::new(Key::new("STREAM#1", sk), body)
}

/// Reads the stream from its start until `expected` records came (DynamoDB Local makes
/// them visible a moment after the write), or fails after five seconds.
async fn records(store: &dyn Store, expected: usize) -> Vec<Change> {
    let stream = store.stream().expect("the store keeps a stream");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut seen: Vec<Change> = Vec::new();
    loop {
        let after = seen.last().map(|c| c.sequence.clone());
        seen.extend(
            stream
                .read_after(after.as_deref(), 100)
                .await
                .expect("read"),
        );
        if seen.len() >= expected || tokio::time::Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One record as the cases compare it: (kind, name before, name after).
type Seen = (ChangeKind, Option<String>, Option<String>);

/// Each item's records in order.
fn by_item(records: &[Change]) -> BTreeMap<String, Vec<Seen>> {
    let name = |item: &Option<Item>| item.as_ref().and_then(|i| i.str("name").map(str::to_owned));
    let mut items: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for record in records {
        items.entry(record.key.sk.clone()).or_default().push((
            record.kind,
            name(&record.old),
            name(&record.new),
        ));
    }
    items
}

async fn every_write_is_one_record_in_commit_order(store: Arc<dyn Store>) {
    // given a store that keeps its stream
    // when an item is put, changed, put again unchanged, then removed in a transaction
    // that also puts another, and a counter is created
    store
        .put(item("A", "first"), Condition::NotExists)
        .await
        .expect("insert");
    store
        .put(item("A", "second"), Condition::Exists)
        .await
        .expect("modify");
    store
        .put(item("A", "second"), Condition::Exists)
        .await
        .expect("an unchanged put");
    store
        .transact(vec![
            Write::Put {
                item: item("B", "other"),
                condition: Condition::NotExists,
            },
            Write::Delete {
                key: Key::new("STREAM#1", "A"),
                condition: Condition::Exists,
            },
        ])
        .await
        .expect("transaction");
    store
        .add(&Key::new("STREAM#1", "C"), "count", 1, None)
        .await
        .expect("counter");

    // then the stream holds exactly one record per change, each item's in commit order,
    // with the item before and after
    let records = records(store.as_ref(), 5).await;
    assert_eq!(records.len(), 5, "{records:#?}");
    let items = by_item(&records);
    use ChangeKind::{Insert, Modify, Remove};
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        items["A"],
        [
            (Insert, None, some("first")),
            (Modify, some("first"), some("second")),
            (Remove, some("second"), None),
        ]
    );
    assert_eq!(items["B"], [(Insert, None, some("other"))]);
    assert_eq!(items["C"].len(), 1);
    let counter = records.iter().find(|r| r.key.sk == "C").expect("C");
    assert_eq!(counter.new.as_ref().and_then(|i| i.i64("count")), Some(1));
    // and a record's sequence numbers rise with commit order for one item
    let a: Vec<&Change> = records.iter().filter(|r| r.key.sk == "A").collect();
    let number = |c: &Change| {
        c.sequence
            .parse::<u128>()
            .expect("a decimal sequence number")
    };
    assert!(a.windows(2).all(|w| number(w[0]) < number(w[1])), "{a:#?}");
}

#[tokio::test]
async fn the_embedded_store_keeps_every_change_in_its_stream() {
    every_write_is_one_record_in_commit_order(Arc::new(
        EmbeddedStore::in_memory(runcrew_tests::codec())
            .with_stream()
            .expect("a stream"),
    ))
    .await;
}

#[tokio::test]
async fn dynamodb_local_keeps_every_change_in_its_stream() {
    every_write_is_one_record_in_commit_order(Arc::new(
        runcrew_tests::dynamodb_store_with_stream().await,
    ))
    .await;
}

#[tokio::test]
async fn a_trimmed_stream_keeps_numbering_after_what_it_dropped() {
    // given an embedded store whose stream was read and trimmed to its end
    let store = EmbeddedStore::in_memory(runcrew_tests::codec())
        .with_stream()
        .expect("a stream");
    store
        .put(item("A", "first"), Condition::None)
        .await
        .expect("put");
    let stream = store.stream().expect("stream");
    let first = stream.read_after(None, 10).await.expect("read");
    stream.trim_through(&first[0].sequence).await.expect("trim");
    // when another write comes
    store
        .put(item("A", "second"), Condition::None)
        .await
        .expect("put");
    // then a reader past the first record sees it: the numbers kept rising
    let next = stream
        .read_after(Some(&first[0].sequence), 10)
        .await
        .expect("read");
    assert_eq!(next.len(), 1);
    assert!(next[0].sequence > first[0].sequence);
}
