//! What erasing an account removes from the social graph: the follows of the user (each
//! followed runner's count goes down), the follows of the user by others (which live in
//! their partitions; their following counts go down), and the user's runs in others' feeds.

use runcrew_model::feed::by_author_partition;
use runcrew_model::follow::{follow_key, followers_partition};
use runcrew_model::profile::{profile_key, user_partition};
use runcrew_shared::ApiError;
use runcrew_shared::store::{
    Index, MAX_PAGE, Query, SortRange, Store, delete_all, delete_and_count,
};

/// The key patterns [`erase_user`] removes.
pub const ERASED_KEY_PATTERNS: &[&str] = &[
    "USER#<userId> / FOLLOWS#<userId>",
    "USER#<userId> / FEED#<runId>",
];

/// Removes every follow from and to `user_id`, and the user's runs in others' feeds (the
/// user's own feed goes with the partition). Returns how many items.
pub async fn erase_user(store: &dyn Store, user_id: &str) -> Result<usize, ApiError> {
    let mut removed = 0;
    // Whom the user follows: in the user's partition.
    loop {
        let page = store
            .query(
                &Query::partition(user_partition(user_id))
                    .range(SortRange::BeginsWith("FOLLOWS#".into()))
                    .limit(MAX_PAGE),
            )
            .await?;
        if page.items.is_empty() {
            break;
        }
        for item in page.items {
            let followee = item.str("followee_id").unwrap_or_default().to_owned();
            delete_and_count(
                store,
                item.key,
                profile_key(&followee),
                vec![("follower_count".into(), -1)],
            )
            .await?;
            removed += 1;
        }
    }
    // Who follows the user: their items, found through the followers index.
    loop {
        let page = store
            .query(&Query::index(Index::Gsi1, followers_partition(user_id)).limit(MAX_PAGE))
            .await?;
        if page.items.is_empty() {
            break;
        }
        for item in page.items {
            let follower = item.str("follower_id").unwrap_or_default().to_owned();
            delete_and_count(
                store,
                follow_key(&follower, user_id),
                profile_key(&follower),
                vec![("following_count".into(), -1)],
            )
            .await?;
            removed += 1;
        }
    }
    // The user's runs in others' feeds. The feed writer also takes them out as each follow
    // of the user goes, and a fan-out still running stops once the runs are gone (they go
    // first); this sweep makes it certain before the erasure says it is done.
    removed += delete_all(
        store,
        Query::index(Index::Gsi1, by_author_partition(user_id)),
    )
    .await?;
    Ok(removed)
}
