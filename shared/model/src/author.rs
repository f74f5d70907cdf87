//! The small summary of a person shown beside what they wrote or ran: a review's author, a
//! leaderboard row, a follower, a feed entry. Read from the profile items of a batch read,
//! so one `BatchGetItem` serves a whole page.

use std::collections::{BTreeSet, HashMap};

use runcrew_shared::ApiError;
use runcrew_shared::store::{Item, Key, MAX_BATCH_GET, Store};
use serde_json::{Value, json};

use crate::profile::{PROFILE_SK, profile_key};

/// A person as others see them next to their content: never more than the public profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Author {
    /// Whose summary this is.
    pub user_id: String,
    /// The profile's display name.
    pub display_name: String,
    /// The profile's picture, if any (a URL on our CDN).
    pub avatar_url: Value,
}

impl Author {
    /// The author in a profile item; `None` for any other item (a batch read mixes
    /// profiles with courses and board entries) or a profile without a name.
    pub fn from_profile(item: &Item) -> Option<Author> {
        if item.key.sk != PROFILE_SK {
            return None;
        }
        Some(Author {
            user_id: item.str("user_id")?.to_owned(),
            display_name: item.str("display_name")?.to_owned(),
            avatar_url: item.body.get("avatar_url").cloned().unwrap_or(Value::Null),
        })
    }

    /// The authors among `items`, by user id.
    pub fn by_id<'i>(items: impl IntoIterator<Item = &'i Item>) -> HashMap<String, Author> {
        items
            .into_iter()
            .filter_map(Author::from_profile)
            .map(|author| (author.user_id.clone(), author))
            .collect()
    }

    /// Name and picture only, where the id is already beside it (a review's `author`).
    pub fn name_and_avatar(&self) -> Value {
        json!({"display_name": self.display_name, "avatar_url": self.avatar_url})
    }

    /// The authors of `user_ids` (repeats and all), by user id, read in one BatchGetItem
    /// per 100 distinct people and none for nobody: the names and pictures of a page.
    pub async fn load<'a>(
        store: &dyn Store,
        user_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, Author>, ApiError> {
        let keys: Vec<Key> = user_ids
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(profile_key)
            .collect();
        let mut authors = HashMap::new();
        for chunk in keys.chunks(MAX_BATCH_GET) {
            authors.extend(Author::by_id(&store.get_many(chunk).await?));
        }
        Ok(authors)
    }

    /// The summary with its id; a person whose profile is gone (erased meanwhile) still
    /// has the id, with a null name and picture, so a page never breaks on them.
    pub fn summary(user_id: &str, author: Option<&Author>) -> Value {
        json!({
            "user_id": user_id,
            "display_name": author.map(|a| a.display_name.as_str()),
            "avatar_url": author.map_or(Value::Null, |a| a.avatar_url.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use runcrew_shared::store::Key;
    use serde_json::Map;

    use super::*;

    fn item(pk: &str, sk: &str, body: Value) -> Item {
        let Value::Object(body) = body else {
            return Item::new(Key::new(pk, sk), Map::new());
        };
        Item::new(Key::new(pk, sk), body)
    }

    #[test]
    fn a_page_of_mixed_items_yields_only_the_profiles_as_authors() {
        // given a batch read holding a profile, a course and a board entry with a user id
        let items = [
            item(
                "USER#a",
                "PROFILE",
                json!({"user_id": "a", "display_name": "Ana", "avatar_url": "https://cdn/a.png"}),
            ),
            item(
                "COURSE#c",
                "META",
                json!({"course_id": "c", "name": "Loop"}),
            ),
            item(
                "COURSE#c",
                "BEST#b",
                json!({"user_id": "b", "display_name": "x"}),
            ),
        ];
        // when the authors are picked out
        let authors = Author::by_id(&items);
        // then only the profile counts
        assert_eq!(authors.len(), 1);
        assert_eq!(
            authors["a"].name_and_avatar(),
            json!({"display_name": "Ana", "avatar_url": "https://cdn/a.png"})
        );
    }

    #[test]
    fn an_erased_author_still_shows_its_id_with_a_null_name() {
        assert_eq!(
            Author::summary("gone", None),
            json!({"user_id": "gone", "display_name": null, "avatar_url": null})
        );
        let ana = Author {
            user_id: "a".into(),
            display_name: "Ana".into(),
            avatar_url: Value::Null,
        };
        assert_eq!(
            Author::summary("a", Some(&ana)),
            json!({"user_id": "a", "display_name": "Ana", "avatar_url": null})
        );
    }
}
