//! Following: one item per (follower, followee) in the follower's partition.
//!
//! | item | pk / sk | indexes |
//! |---|---|---|
//! | follow | `USER#<follower>` / `FOLLOWS#<followee>` | gsi1 `FOLLOWERS#<followee>` / `<ms>#<follower>`, gsi2 `FOLLOWING#<follower>` / `<ms>#<followee>` |
//!
//! Counts live on both profiles and change in the follow's own transaction.

use runcrew_shared::clock::{now_epoch_ms, now_rfc3339};
use runcrew_shared::store::{Index, Item, Key, Write};
use serde_json::{Map, json};

use crate::profile::{profile_key, user_partition};

/// The key of `follower` following `followee`.
pub fn follow_key(follower: &str, followee: &str) -> Key {
    Key::new(user_partition(follower), format!("FOLLOWS#{followee}"))
}

/// The gsi1 partition of a user's followers.
pub fn followers_partition(user_id: &str) -> String {
    format!("FOLLOWERS#{user_id}")
}

/// The gsi2 partition of whom a user follows.
pub fn following_partition(user_id: &str) -> String {
    format!("FOLLOWING#{user_id}")
}

/// The follow item, listed under the followee's followers and the follower's following,
/// newest first.
pub fn follow_item(follower: &str, followee: &str) -> Item {
    let ms = now_epoch_ms();
    let mut body = Map::new();
    body.insert("follower_id".into(), json!(follower));
    body.insert("followee_id".into(), json!(followee));
    body.insert("followed_at".into(), json!(now_rfc3339()));
    Item::new(follow_key(follower, followee), body)
        .with_index(
            Index::Gsi1,
            followers_partition(followee),
            format!("{ms:013}#{follower}"),
        )
        .with_index(
            Index::Gsi2,
            following_partition(follower),
            format!("{ms:013}#{followee}"),
        )
}

/// The change of a profile's follower or following count that rides in the follow's own
/// transaction, so the counts never drift from the items.
pub fn count(user_id: &str, field: &str, delta: i64) -> Write {
    Write::Increment {
        key: profile_key(user_id),
        deltas: vec![(field.into(), delta)],
        must_exist: true,
    }
}
