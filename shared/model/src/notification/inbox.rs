//! The inbox: every notification a person got in the last 90 days, newest first.
//!
//! An item's id starts with the time of what caused it and ends with a digest of the cause,
//! so the same cause delivered twice (a stream record redelivered) is the same item, and a
//! key order is a time order. Reading state is a mark ("read up to") plus a flag per item:
//! "mark all read" is one write whatever the inbox holds, and the unread count reads at
//! most [`UNREAD_COUNT_CAP`] items.

use futures::future::try_join;
use runcrew_shared::ApiError;
use runcrew_shared::clock::rfc3339_of_ms;
use runcrew_shared::digest::short_sha256_hex;
use runcrew_shared::store::{
    Condition, Index, Item, Key, Query, SortRange, Store, StoreError, Write, from_body, to_body,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Kind;
use crate::profile::user_partition;

/// How long an inbox item is kept.
pub const KEEP_SECONDS: i64 = 90 * 24 * 3600;
/// The unread count stops counting here; the page says there are more (`99+`).
pub const UNREAD_COUNT_CAP: usize = 99;
/// The most ids one "mark read" request may name.
pub const MAX_MARK_IDS: usize = 100;
const SK_PREFIX: &str = "NOTIF#";
const STATE_SK: &str = "NOTIFSTATE";

/// A notification's id: `<13-digit epoch ms>-<16 hex digits>`, the time of its cause and a
/// digest of the cause.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NotificationId(String);

impl NotificationId {
    /// The id of the notification `cause` (e.g. `new_follower#<follower>`) made at
    /// `created_ms`: the same cause at the same time is the same id.
    pub fn new(created_ms: i64, cause: &str) -> Self {
        let digest = short_sha256_hex(&[cause.as_bytes()]);
        NotificationId(format!("{:013}-{}", created_ms.max(0), &digest[..16]))
    }

    /// An id a client sent; `None` unless it has the shape of one.
    pub fn parse(text: &str) -> Option<Self> {
        let (ms, digest) = text.split_once('-')?;
        let shaped = ms.len() == 13
            && ms.bytes().all(|b| b.is_ascii_digit())
            && digest.len() == 16
            && digest
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        shaped.then(|| NotificationId(text.to_owned()))
    }

    /// When its cause happened, epoch milliseconds.
    pub fn created_ms(&self) -> i64 {
        self.0[..13].parse().unwrap_or(0)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NotificationId {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        NotificationId::parse(&text).ok_or_else(|| format!("{text} is not a notification id"))
    }
}

impl From<NotificationId> for String {
    fn from(id: NotificationId) -> String {
        id.0
    }
}

/// One notification as kept in the inbox and pushed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Its id (time and cause).
    pub id: NotificationId,
    /// Whose inbox it is in.
    pub user_id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The push's title.
    pub title: String,
    /// The push's text.
    pub body: String,
    /// Who did it, shown with their current name and picture (an erased person's goes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// The course it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course_id: Option<String>,
    /// The group run it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The job it is about (a finished export), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Marked read one by one (the read-up-to mark covers the rest).
    #[serde(default)]
    pub read: bool,
}

impl Notification {
    /// When its cause happened, in the API's time shape.
    pub fn created_at(&self) -> String {
        rfc3339_of_ms(self.id.created_ms())
    }

    /// What the account export shows of it: as the inbox does, with the id of whoever it
    /// tells of rather than their current name.
    pub fn exported(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "title": self.title,
            "body": self.body,
            "actor_id": self.actor_id,
            "course_id": self.course_id,
            "event_id": self.event_id,
            "job_id": self.job_id,
            "created_at": self.created_at(),
            "read": self.read,
        })
    }

    fn to_item(&self) -> Result<Item, ApiError> {
        let item = Item::new(notification_key(&self.user_id, &self.id), to_body(self)?)
            .expiring_at(self.id.created_ms() / 1000 + KEEP_SECONDS);
        // Listed under the person it tells of, so their erasure finds it in others' inboxes.
        Ok(match &self.actor_id {
            Some(actor) => item.with_index(
                Index::Gsi1,
                actor_partition(actor),
                format!("{}#{}", self.user_id, self.id.as_str()),
            ),
            None => item,
        })
    }
}

/// The key of an inbox item.
pub fn notification_key(user_id: &str, id: &NotificationId) -> Key {
    Key::new(
        user_partition(user_id),
        format!("{SK_PREFIX}{}", id.as_str()),
    )
}

/// The gsi1 partition listing the notifications that tell of `actor_id`.
fn actor_partition(actor_id: &str) -> String {
    format!("NOTIFIED_BY#{actor_id}")
}

/// Deletes every notification in anyone's inbox that tells of `actor_id` (an erased
/// account: their name and id leave other people's inboxes too). Returns how many went.
pub async fn erase_about(store: &dyn Store, actor_id: &str) -> Result<usize, ApiError> {
    let about = Query::index(Index::Gsi1, actor_partition(actor_id));
    Ok(runcrew_shared::store::delete_all(store, about).await?)
}

fn state_key(user_id: &str) -> Key {
    Key::new(user_partition(user_id), STATE_SK)
}

/// Puts `notification` in its inbox unless it is there already. Returns whether it is new
/// (a redelivered cause finds it there).
pub async fn deliver(store: &dyn Store, notification: &Notification) -> Result<bool, ApiError> {
    match store
        .put(notification.to_item()?, Condition::NotExists)
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(other) => Err(other.into()),
    }
}

/// One page of the inbox, newest first, with what is unread.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxPage {
    /// The notifications, each with `read` resolved against the read-up-to mark.
    pub items: Vec<Notification>,
    /// Where the next page starts, if there is one.
    pub cursor: Option<String>,
    /// Unread notifications, counted up to [`UNREAD_COUNT_CAP`].
    pub unread_count: usize,
    /// More are unread than [`InboxPage::unread_count`] says.
    pub unread_more: bool,
}

/// The page of `user_id`'s inbox after `cursor`: two queries and one read, whatever the
/// inbox holds.
pub async fn page(
    store: &dyn Store,
    user_id: &str,
    limit: usize,
    cursor: Option<String>,
) -> Result<InboxPage, ApiError> {
    let read_through = read_through_ms(store, user_id).await?;
    let listing = Query::partition(user_partition(user_id))
        .range(SortRange::BeginsWith(SK_PREFIX.into()))
        .descending()
        .limit(limit)
        .after(cursor);
    // Only items after the mark can be unread: one more than the cap says "more".
    let unread = Query::partition(user_partition(user_id))
        .range(SortRange::Between(
            format!("{SK_PREFIX}{:013}", read_through.saturating_add(1)),
            format!("{SK_PREFIX}~"),
        ))
        .descending()
        .limit(UNREAD_COUNT_CAP + 1);
    let (listing, unread) = try_join(store.query(&listing), store.query(&unread)).await?;
    let unread_count = unread
        .items
        .iter()
        .filter(|item| item.body.get("read") != Some(&json!(true)))
        .count();
    let items = listing
        .items
        .iter()
        .map(|item| {
            let mut notification: Notification = from_body(item)?;
            notification.read |= notification.id.created_ms() <= read_through;
            Ok(notification)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(InboxPage {
        items,
        cursor: listing.cursor,
        unread_count: unread_count.min(UNREAD_COUNT_CAP),
        unread_more: unread_count > UNREAD_COUNT_CAP,
    })
}

async fn read_through_ms(store: &dyn Store, user_id: &str) -> Result<i64, ApiError> {
    Ok(store
        .get(&state_key(user_id))
        .await?
        .and_then(|item| item.i64("read_through_ms"))
        .unwrap_or(0))
}

/// Every notification in `user_id`'s inbox, newest first (the account export: it grows
/// with the inbox, at most 90 days of it).
pub async fn all(store: &dyn Store, user_id: &str) -> Result<Vec<Notification>, ApiError> {
    let query = Query::partition(user_partition(user_id))
        .range(SortRange::BeginsWith(SK_PREFIX.into()))
        .descending();
    runcrew_shared::store::read_all(store, query)
        .await?
        .iter()
        .map(from_body)
        .collect()
}

/// Marks everything that happened up to `now_ms` read: one write.
pub async fn mark_all_read(store: &dyn Store, user_id: &str, now_ms: i64) -> Result<(), ApiError> {
    let mut body = serde_json::Map::new();
    body.insert("read_through_ms".into(), json!(now_ms));
    store
        .put(Item::new(state_key(user_id), body), Condition::None)
        .await?;
    Ok(())
}

/// Marks the notifications `ids` of `user_id` read; ids not in the inbox (expired, or
/// never there) are skipped. Returns how many changed. One batch read and one transaction.
pub async fn mark_read(
    store: &dyn Store,
    user_id: &str,
    ids: &[NotificationId],
) -> Result<usize, ApiError> {
    let keys: Vec<Key> = ids.iter().map(|id| notification_key(user_id, id)).collect();
    let mut writes = Vec::new();
    for item in store.get_many(&keys).await? {
        let mut notification: Notification = from_body(&item)?;
        if notification.read {
            continue;
        }
        notification.read = true;
        writes.push(Write::Put {
            item: notification.to_item()?,
            condition: Condition::Exists,
        });
    }
    let changed = writes.len();
    if changed == 0 {
        return Ok(0);
    }
    match store.transact(writes.clone()).await {
        Ok(()) => Ok(changed),
        // One expired between the read and the write: the others one by one.
        Err(StoreError::TransactionCanceled { .. }) => {
            let mut marked = 0;
            for write in writes {
                if let Write::Put { item, condition } = write {
                    match store.put(item, condition).await {
                        Ok(()) => marked += 1,
                        Err(StoreError::ConditionFailed) => {}
                        Err(other) => return Err(other.into()),
                    }
                }
            }
            Ok(marked)
        }
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_cause_at_the_same_time_is_the_same_id() {
        let a = NotificationId::new(1_764_547_200_000, "new_follower#u1");
        assert_eq!(a, NotificationId::new(1_764_547_200_000, "new_follower#u1"));
        assert_ne!(a, NotificationId::new(1_764_547_200_000, "new_follower#u2"));
        assert_eq!(a.created_ms(), 1_764_547_200_000);
        assert_eq!(NotificationId::parse(a.as_str()), Some(a));
    }

    #[test]
    fn ids_sort_by_time() {
        let older = NotificationId::new(999_999_999_999, "b");
        let newer = NotificationId::new(1_000_000_000_000, "a");
        assert!(older < newer);
    }

    #[test]
    fn only_the_shape_of_an_id_reads_as_one() {
        for bad in [
            "",
            "1764547200000",
            "1764547200000-",
            "176454720000-0123456789abcdef",
            "1764547200000-0123456789ABCDEF",
            "1764547200000-0123456789abcdef0",
            "NOTIF#1764547200000-0123456789abcdef",
        ] {
            assert_eq!(NotificationId::parse(bad), None, "{bad}");
        }
    }
}
