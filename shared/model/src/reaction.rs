//! Likes and favorites: one item per (course, user), so doing it twice is one like; the
//! course's counter changes in the same transaction as the item.

use runcrew_shared::clock::{now_epoch_ms, now_rfc3339};
use runcrew_shared::store::{Index, Item, Key};
use serde_json::{Map, Value};

use crate::course::course_partition;

/// A like or a favorite: the same mechanics, different items and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// A public thumbs-up, counted on the course.
    Like,
    /// A bookmark, listed under `/v1/users/me/favorites` newest first.
    Favorite,
}

impl Reaction {
    /// The sort-key prefix of its items in the course partition.
    pub fn prefix(self) -> &'static str {
        match self {
            Reaction::Like => "LIKE#",
            Reaction::Favorite => "FAVORITE#",
        }
    }

    /// The counter on the course.
    pub fn counter(self) -> &'static str {
        match self {
            Reaction::Like => "like_count",
            Reaction::Favorite => "favorite_count",
        }
    }

    /// The gsi1 partition listing one user's reactions of this kind.
    pub fn user_partition(self, user_id: &str) -> String {
        match self {
            Reaction::Like => format!("LIKER#{user_id}"),
            Reaction::Favorite => format!("FAVORITES#{user_id}"),
        }
    }

    /// The key of `user_id`'s reaction to `course_id`.
    pub fn key(self, course_id: &str, user_id: &str) -> Key {
        Key::new(
            course_partition(course_id),
            format!("{}{user_id}", self.prefix()),
        )
    }

    /// The item recording `user_id`'s reaction; favorites sort newest first in the
    /// user's list (the index key starts with the time).
    pub fn item(self, course_id: &str, user_id: &str) -> Item {
        let at_ms = now_epoch_ms();
        let mut body = Map::new();
        body.insert("course_id".into(), Value::from(course_id));
        body.insert("user_id".into(), Value::from(user_id));
        body.insert("at".into(), Value::from(now_rfc3339()));
        Item::new(self.key(course_id, user_id), body).with_index(
            Index::Gsi1,
            self.user_partition(user_id),
            match self {
                Reaction::Like => course_id.to_owned(),
                Reaction::Favorite => format!("{at_ms:013}#{course_id}"),
            },
        )
    }
}
