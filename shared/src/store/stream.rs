//! The table's stream: what each committed write did to each item, in commit order, with
//! the item as it was and as it became (DynamoDB Streams' `NEW_AND_OLD_IMAGES`).
//!
//! Derived data (boards, records) is a projection of these changes, so it cannot be lost
//! when the request that made the change fails or times out after its commit. On AWS,
//! DynamoDB Streams delivers them to stream consumers ([`crate::tasks::stream`]); on a
//! laptop the embedded store records them in the same redb transaction as the write (an
//! outbox) and the local gateway delivers them through [`TableStream`].

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::{Index, Item, Key, RESERVED_ATTRIBUTES, StoreError};

/// What a write did to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeKind {
    /// The item did not exist (or had expired) and now does.
    Insert,
    /// The item existed and changed.
    Modify,
    /// The item existed and is gone.
    Remove,
}

impl ChangeKind {
    /// DynamoDB's `eventName`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "INSERT",
            ChangeKind::Modify => "MODIFY",
            ChangeKind::Remove => "REMOVE",
        }
    }
}

/// One record of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Insert, modify or remove.
    pub kind: ChangeKind,
    /// The item's primary key.
    pub key: Key,
    /// The item before the write (`None` for an insert).
    pub old: Option<Item>,
    /// The item after the write (`None` for a remove).
    pub new: Option<Item>,
    /// The record's position in its shard: increasing with commit order for one item, and
    /// what a consumer reports to have a record (and those after it) delivered again.
    pub sequence: String,
    /// When the write committed, epoch milliseconds (the age metrics are measured from it).
    pub created_ms: i64,
}

impl Change {
    /// The change from `old` to `new` at `key`, or `None` when the write left the item as
    /// it was (DynamoDB writes no record then either).
    pub fn between(
        key: Key,
        old: Option<Item>,
        new: Option<Item>,
        sequence: String,
        created_ms: i64,
    ) -> Option<Change> {
        let kind = match (&old, &new) {
            (None, None) => return None,
            (Some(before), Some(after)) if before == after => return None,
            (None, Some(_)) => ChangeKind::Insert,
            (Some(_), Some(_)) => ChangeKind::Modify,
            (Some(_), None) => ChangeKind::Remove,
        };
        Some(Change {
            kind,
            key,
            old,
            new,
            sequence,
            created_ms,
        })
    }

    /// The record as DynamoDB Streams shapes the parts a filter pattern reads
    /// (`eventName`, `dynamodb.Keys`), so the local gateway can apply a consumer's
    /// `FilterCriteria` exactly as AWS does.
    pub fn filter_view(&self) -> Value {
        json!({
            "eventName": self.kind.as_str(),
            "dynamodb": {
                "Keys": {
                    "pk": {"S": self.key.pk},
                    "sk": {"S": self.key.sk},
                }
            }
        })
    }
}

/// An image as plain JSON attributes, as DynamoDB stores it (keys, index keys, `version`
/// and `expires_at` beside the body), e.g. for a stream record's `NewImage`.
pub fn item_to_attributes(item: &Item) -> Map<String, Value> {
    let mut attributes = item.body.clone();
    attributes.insert("pk".into(), json!(item.key.pk));
    attributes.insert("sk".into(), json!(item.key.sk));
    for index in Index::ALL {
        if let Some(key) = item.index_key(index) {
            let (pk, sk) = index.attributes();
            attributes.insert(pk.into(), json!(key.pk));
            attributes.insert(sk.into(), json!(key.sk));
        }
    }
    if let Some(at) = item.expires_at {
        attributes.insert("expires_at".into(), json!(at));
    }
    attributes.insert("version".into(), json!(item.version));
    attributes
}

/// The inverse of [`item_to_attributes`]: an item from an image's plain JSON attributes.
pub fn item_from_attributes(mut attributes: Map<String, Value>) -> Result<Item, StoreError> {
    let text = |attributes: &Map<String, Value>, name: &str| {
        attributes
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let missing = |what: &str| StoreError::Invalid(format!("image without {what}"));
    let key = Key::new(
        text(&attributes, "pk").ok_or_else(|| missing("pk"))?,
        text(&attributes, "sk").ok_or_else(|| missing("sk"))?,
    );
    let mut index_keys: [Option<Key>; 3] = [None, None, None];
    for index in Index::ALL {
        let (pk, sk) = index.attributes();
        if let (Some(ipk), Some(isk)) = (text(&attributes, pk), text(&attributes, sk)) {
            index_keys[index as usize] = Some(Key::new(ipk, isk));
        }
    }
    let whole =
        |value: Option<&Value>| value.and_then(|v| v.as_i64().or(v.as_f64().map(|f| f as i64)));
    let expires_at = whole(attributes.get("expires_at"));
    let version = whole(attributes.get("version")).unwrap_or(0).max(0) as u64;
    for name in RESERVED_ATTRIBUTES {
        attributes.remove(*name);
    }
    Ok(Item {
        key,
        index_keys,
        expires_at,
        version,
        body: attributes,
    })
}

/// A stream a consumer reads from a position: the embedded store's outbox on a laptop
/// (DynamoDB Streams on AWS is read by Lambda itself, not through this port).
#[async_trait]
pub trait TableStream: Send + Sync {
    /// Up to `limit` records after `after` (from the oldest kept when `None`), oldest first.
    async fn read_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Change>, StoreError>;

    /// Forgets every record up to and including `through`: every consumer has it.
    async fn trim_through(&self, through: &str) -> Result<(), StoreError>;

    /// Resolves when a write may have added records (or after a while regardless), so a
    /// reader sleeps instead of polling in a tight loop.
    async fn changed(&self);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str) -> Item {
        let mut body = Map::new();
        body.insert("name".into(), json!(name));
        Item::new(Key::new("USER#1", "PROFILE"), body)
            .with_index(Index::Gsi1, "NAMES", name)
            .expiring_at(1_900_000_000)
            .with_version(3)
    }

    #[test]
    fn a_write_that_changes_nothing_is_no_record() {
        let key = Key::new("USER#1", "PROFILE");
        assert_eq!(
            Change::between(key.clone(), Some(item("a")), Some(item("a")), "1".into(), 0),
            None
        );
        assert_eq!(
            Change::between(key.clone(), None, None, "1".into(), 0),
            None
        );
        let kinds: Vec<ChangeKind> = [
            (None, Some(item("a"))),
            (Some(item("a")), Some(item("b"))),
            (Some(item("b")), None),
        ]
        .into_iter()
        .filter_map(|(old, new)| Change::between(key.clone(), old, new, "1".into(), 0))
        .map(|c| c.kind)
        .collect();
        assert_eq!(
            kinds,
            [ChangeKind::Insert, ChangeKind::Modify, ChangeKind::Remove]
        );
    }

    #[test]
    fn an_image_round_trips_through_plain_attributes() {
        let original = item("Ann");
        let attributes = item_to_attributes(&original);
        assert_eq!(attributes["gsi1sk"], "Ann");
        assert_eq!(attributes["version"], 3);
        assert_eq!(item_from_attributes(attributes).expect("an item"), original);
    }
}
