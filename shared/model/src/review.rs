//! Reviews: one per user and course (posting again replaces it), with the course's rating
//! sum and count changed in the same transaction.

use runcrew_shared::ApiError;
use runcrew_shared::clock::now_epoch_ms;
use runcrew_shared::store::{Index, Item, Key, to_body};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::author::Author;
use crate::course::course_partition;

/// The longest review text, in characters.
pub const MAX_TEXT: usize = 1_000;

/// A review item's body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Review {
    /// The course.
    pub course_id: String,
    /// The author.
    pub user_id: String,
    /// 1 to 5.
    pub rating: i64,
    /// Up to [`MAX_TEXT`] characters.
    pub text: String,
    /// RFC 3339, first posted.
    pub created_at: String,
    /// RFC 3339, last replaced.
    pub updated_at: String,
}

/// The key of `user_id`'s review of `course_id`.
pub fn review_key(course_id: &str, user_id: &str) -> Key {
    Key::new(course_partition(course_id), format!("REVIEW#{user_id}"))
}

/// The gsi2 partition of one author's reviews (for erasure).
pub fn reviewer_partition(user_id: &str) -> String {
    format!("REVIEWER#{user_id}")
}

impl Review {
    /// The review as an item: listed under its course newest first (gsi1) and under its
    /// author (gsi2, for erasure).
    pub fn to_item(&self, version: u64) -> Result<Item, ApiError> {
        let ms = now_epoch_ms();
        Ok(
            Item::new(review_key(&self.course_id, &self.user_id), to_body(self)?)
                .with_version(version)
                .with_index(
                    Index::Gsi1,
                    format!("REVIEWS#{}", self.course_id),
                    format!("{ms:013}#{}", self.user_id),
                )
                .with_index(
                    Index::Gsi2,
                    reviewer_partition(&self.user_id),
                    &self.course_id,
                ),
        )
    }

    /// The review as the API shows it, with its author's summary (null once erased).
    pub fn view(&self, author: Option<&Author>) -> Value {
        json!({
            "course_id": self.course_id,
            "user_id": self.user_id,
            "author": author.map_or(Value::Null, Author::name_and_avatar),
            "rating": self.rating,
            "text": self.text,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}
