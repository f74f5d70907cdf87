//! What erasing an account does to group runs: the events the user hosts lose their host
//! and, unless over, are cancelled (the `event-changes` consumer tells their participants);
//! the user's own participations go, their places freed for the waitlists, and their
//! results at any event go.

use runcrew_model::event::results::results_partition;
use runcrew_model::event::roster::{self, Member};
use runcrew_model::event::{MEMBER_PREFIX, META_SK, my_events_partition, release_hosted};
use runcrew_shared::ApiError;
use runcrew_shared::store::{Index, MAX_PAGE, Query, Store, delete_all};

/// The key patterns [`erase_user`] removes (a hosted event stays, without its host, until
/// it expires or for its participants' results).
pub const ERASED_KEY_PATTERNS: &[&str] = &[
    "EVENT#<eventId> / MEMBER#<userId>",
    "EVENT#<eventId> / SEAT#<place>#<seq>",
    "EVENT#<eventId> / RESULT#<duration>#<userId>#<runId>",
];

/// Releases the user's hosted events and leaves every event they joined. Returns how many
/// items changed or went. Safe to repeat.
pub async fn erase_user(store: &dyn Store, user_id: &str, now_ms: i64) -> Result<usize, ApiError> {
    // The user's results at others' events: found through their gsi1 list.
    let mut changed =
        delete_all(store, Query::index(Index::Gsi1, results_partition(user_id))).await?;
    // Each pass takes what is still listed under the user: a released event and a left
    // participation leave the list, so the loop ends when it is empty.
    loop {
        let page = store
            .query(&Query::index(Index::Gsi2, my_events_partition(user_id)).limit(MAX_PAGE))
            .await?;
        if page.items.is_empty() {
            return Ok(changed);
        }
        for item in page.items {
            if item.key.sk == META_SK {
                release_hosted(store, item, user_id, now_ms).await?;
                changed += 1;
            } else if item.key.sk.starts_with(MEMBER_PREFIX) {
                let (member, _) = Member::from_item(&item)?;
                roster::leave(store, &member.event_id, user_id, None).await?;
                changed += 2;
            }
        }
    }
}
