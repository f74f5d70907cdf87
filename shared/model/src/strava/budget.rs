//! Strava's app-wide request budget, shared by every importer through the table.
//!
//! Strava counts requests per application (200 per 15 minutes and 2,000 a day; reads 100
//! and 1,000), not per athlete, so concurrent importers must see one budget. Each answer's
//! usage headers are written here (`STRAVA_BUDGET` / `APP`); an importer reads this item
//! before calling Strava and stops when the window is nearly spent or a 429 said so, until
//! the window reopens. A stopped import resumes later from where it stood.

use runcrew_shared::ApiError;
use runcrew_shared::store::{Condition, Item, Key, Store};
use serde::{Deserialize, Serialize};

/// Requests kept in reserve in every window: connects, refreshes and webhook imports
/// still get through while a sweep has spent the rest.
pub const RESERVE: u32 = 10;

fn budget_key() -> Key {
    Key::new("STRAVA_BUDGET", "APP")
}

/// The budget as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Budget {
    /// Until when (epoch s) nobody calls Strava: a window is spent or a 429 said so.
    pub paused_until_s: i64,
    /// The fewest requests left in any window at the last answer.
    pub headroom: u32,
    /// When that was seen, epoch s.
    pub seen_at_s: i64,
}

impl Budget {
    /// Whether a call may go out at `now_s`.
    pub fn allows(&self, now_s: i64) -> bool {
        now_s >= self.paused_until_s
    }
}

/// The budget as last written (the default when never).
pub async fn load(store: &dyn Store) -> Result<Budget, ApiError> {
    Ok(match store.get(&budget_key()).await? {
        Some(item) => runcrew_shared::store::from_body(&item)?,
        None => Budget::default(),
    })
}

/// Writes what an answer said: its headroom at `now_s`, and a pause until `resume_at_s`
/// when the headroom is within [`RESERVE`] (or a 429 came).
pub async fn record(
    store: &dyn Store,
    headroom: u32,
    now_s: i64,
    resume_at_s: Option<i64>,
) -> Result<Budget, ApiError> {
    let budget = Budget {
        paused_until_s: match resume_at_s {
            Some(at) if headroom <= RESERVE => at,
            _ => 0,
        },
        headroom,
        seen_at_s: now_s,
    };
    store
        .put(
            Item::new(budget_key(), runcrew_shared::store::to_body(&budget)?),
            Condition::None,
        )
        .await?;
    Ok(budget)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runcrew_shared::store::embedded::EmbeddedStore;

    #[tokio::test]
    async fn a_nearly_spent_window_pauses_everyone_until_it_reopens() {
        let store = EmbeddedStore::in_memory(runcrew_shared::store::cursor::CursorCodec::new(
            "test-cursor-secret-of-at-least-32-bytes!",
        ));
        assert!(load(&store).await.expect("read").allows(0));
        record(&store, 50, 1_000, Some(1_800))
            .await
            .expect("written");
        assert!(
            load(&store).await.expect("read").allows(1_000),
            "headroom left"
        );
        record(&store, RESERVE, 1_100, Some(1_800))
            .await
            .expect("written");
        let budget = load(&store).await.expect("read");
        assert!(!budget.allows(1_799));
        assert!(budget.allows(1_800));
    }
}
