//! Per-course leaderboards: each runner's best time, fastest first.
//!
//! | item | pk / sk | index |
//! |---|---|---|
//! | best | `COURSE#<courseId>` / `BEST#<userId>` | gsi1 `BOARD#<courseId>` / `<seconds>#<started ms>#<userId>` |
//!
//! Replacing a best is a version-conditioned write after reading it, and only a faster run
//! (or as fast and earlier) replaces it: two runs finishing together cannot lose the better
//! one. Ties rank by who ran the time first. A rank is the count of entries up to and
//! including one's own (one Query with Select COUNT).

use runcrew_shared::ApiError;
use runcrew_shared::store::versioned::{Change, Versioned};
use runcrew_shared::store::{Index, Item, Key, Query, SortRange, Store, from_body, to_body};
use serde::{Deserialize, Serialize};

use crate::run::{Run, course_runs_partition, padded_seconds};

/// A runner's best on one course: one entry per runner, so a board lists runners, not
/// runs. It copies what the board shows of the run, so a page needs no read of the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// The course whose board it is on.
    pub course_id: String,
    /// The runner: at most one entry each.
    pub user_id: String,
    /// The run that set it, which a deletion of that run must hand on.
    pub run_id: String,
    /// The time ranked, whole seconds as the run recorded it.
    pub duration_s: i64,
    /// The distance run, shown beside the time (it may differ from the course's a little).
    pub distance_m: f64,
    /// When it started (UTC), as the board shows it.
    pub started_at: String,
    /// When it started, epoch milliseconds: equal times rank by who ran first.
    pub started_ms: i64,
}

/// The key of a runner's entry: in the course's partition, one per runner, so replacing
/// it is a conditional write on one item.
pub fn best_key(course_id: &str, user_id: &str) -> Key {
    Key::new(format!("COURSE#{course_id}"), format!("BEST#{user_id}"))
}

/// The gsi1 partition of a course's board: its sort keys ([`Best::board_key`]) make a
/// Query of it the board, fastest first.
pub fn board_partition(course_id: &str) -> String {
    format!("BOARD#{course_id}")
}

/// Attempts at a conditional replacement before giving up to a busy board.
const ATTEMPTS: u32 = 10;

impl Best {
    fn of(run: &Run, course_id: &str) -> Best {
        Best {
            course_id: course_id.to_owned(),
            user_id: run.user_id.clone(),
            run_id: run.run_id.clone(),
            duration_s: run.duration_s,
            distance_m: run.distance_m,
            started_at: run.started_at.clone(),
            started_ms: run.started_ms,
        }
    }

    /// The sort key on the board: time, then who ran it first, then the runner (so two
    /// entries never share one), zero-padded so string order is rank order.
    pub fn board_key(&self) -> String {
        format!(
            "{}#{:013}#{}",
            padded_seconds(self.duration_s),
            self.started_ms.max(0),
            self.user_id
        )
    }

    /// Whether this entry takes the place of `current`: a faster time, or as fast and run
    /// earlier. Not an equal one: a repeat of the same run never rewrites the entry.
    pub fn beats(&self, current: &Best) -> bool {
        self.board_key() < current.board_key()
    }

    fn to_item(&self, version: u64) -> Result<Item, ApiError> {
        Ok(
            Item::new(best_key(&self.course_id, &self.user_id), to_body(self)?)
                .with_version(version)
                .with_index(
                    Index::Gsi1,
                    board_partition(&self.course_id),
                    self.board_key(),
                ),
        )
    }

    /// Reads an entry back; an item that is not one is an internal error.
    pub fn from_item(item: &Item) -> Result<Best, ApiError> {
        from_body(item)
    }
}

/// Puts `run` on its course's board if it beats the runner's best. Returns whether the run
/// holds the runner's place now (also when it already did: offering a run twice is safe).
/// Only runs that may be on the board count ([`Run::on_board`]): a private run never
/// takes (or hides) the runner's public place.
pub async fn offer(store: &dyn Store, run: &Run) -> Result<bool, ApiError> {
    let Some(course_id) = run.course_id.as_deref().filter(|_| run.on_board()) else {
        return Ok(false);
    };
    let candidate = &Best::of(run, course_id);
    Versioned::new(best_key(course_id, &run.user_id))
        .attempts(ATTEMPTS)
        .apply(store, |current| async move {
            if let Some(item) = &current {
                let held = Best::from_item(item)?;
                // Already this run's place: the projector (from the table's stream) got
                // here first, and the run is still the runner's best.
                if held.run_id == candidate.run_id {
                    return Ok::<_, ApiError>(Change::keep(true));
                }
                if !candidate.beats(&held) {
                    return Ok(Change::keep(false));
                }
            }
            Ok(Change::put(candidate.to_item(0)?, true))
        })
        .await
        .map_err(|err| {
            err.or_conflict(|| ApiError::Conflict {
                code: "leaderboard_busy",
                message: "the leaderboard changed too often; the run is saved, try again".into(),
            })
        })
}

/// After `run` was deleted: if it held the runner's entry, the runner's next best run on
/// the course takes its place, or the entry goes. The next best is the fastest of the
/// runner's runs that may be on the board ([`Run::on_board`]: public, plausible, not
/// Strava), read from the gsi2 `RUNS#<userId>#<courseId>` index, fastest first; runs
/// written there before private runs were kept off boards are skipped as they are read.
pub async fn withdraw(store: &dyn Store, run: &Run) -> Result<(), ApiError> {
    let Some(course_id) = run
        .course_id
        .as_deref()
        .filter(|_| run.may_have_held_a_place())
    else {
        return Ok(());
    };
    Versioned::new(best_key(course_id, &run.user_id))
        .attempts(ATTEMPTS)
        .apply(store, |current| async move {
            let Some(item) = current else {
                return Ok(Change::keep(()));
            };
            if Best::from_item(&item)?.run_id != run.run_id {
                return Ok(Change::keep(()));
            }
            Ok(match next_best(store, course_id, run).await? {
                Some(next) => Change::put(Best::of(&next, course_id).to_item(0)?, ()),
                None => Change::delete(()),
            })
        })
        .await
        .map_err(|err| {
            err.or_conflict(|| ApiError::Conflict {
                code: "leaderboard_busy",
                message: "the leaderboard changed too often; try again".into(),
            })
        })
}

/// Index entries read per page while looking for the next best.
const NEXT_BEST_PAGE: usize = 10;

/// The runner's fastest run on `course_id` other than `deleted` that may be on the board.
/// Usually the first page's first or second entry (the index may still list the deleted
/// run for a moment: it is skipped by id); later pages only past older private runs.
async fn next_best(
    store: &dyn Store,
    course_id: &str,
    deleted: &Run,
) -> Result<Option<Run>, ApiError> {
    let mut query = Query::index(
        Index::Gsi2,
        course_runs_partition(&deleted.user_id, course_id),
    )
    .limit(NEXT_BEST_PAGE);
    loop {
        let page = store.query(&query).await?;
        for item in &page.items {
            let candidate = Run::from_item(item)?;
            if candidate.run_id != deleted.run_id && candidate.on_board() {
                return Ok(Some(candidate));
            }
        }
        match page.cursor {
            Some(cursor) => query = query.after(Some(cursor)),
            None => return Ok(None),
        }
    }
}

/// The rank of the entry with board key `board_key`: entries up to and including it, one
/// COUNT Query instead of reading the board down to it.
pub async fn rank_of(
    store: &dyn Store,
    course_id: &str,
    board_key: &str,
) -> Result<usize, ApiError> {
    Ok(store
        .count(
            &Query::index(Index::Gsi1, board_partition(course_id))
                .range(SortRange::AtMost(board_key.to_owned())),
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry of `user` who ran `seconds` starting at `started_ms`.
    fn entry(user: &str, seconds: i64, started_ms: i64) -> Best {
        Best {
            course_id: "c".into(),
            user_id: user.into(),
            run_id: format!("{user}-{seconds}-{started_ms}"),
            duration_s: seconds,
            distance_m: 2000.0,
            started_at: "2026-11-22T07:00:00Z".into(),
            started_ms,
        }
    }

    #[tokio::test]
    async fn offering_a_run_that_already_holds_the_place_says_it_does() {
        // given a run already put on its board (by the projector, say)
        let store = runcrew_shared::store::embedded::EmbeddedStore::in_memory(
            runcrew_shared::store::cursor::CursorCodec::new("l".repeat(32)),
        );
        let run: Run = serde_json::from_value(serde_json::json!({
            "run_id": "r1", "user_id": "u1", "started_at": "2026-11-22T07:00:00Z",
            "started_ms": 1, "utc_offset_minutes": 0, "local_date": "2026-11-22",
            "duration_s": 600, "distance_m": 2000.0, "course_id": "c1",
            "source": "app", "visibility": "public", "created_at": "2026-11-22T07:10:00Z"
        }))
        .expect("a run");
        assert!(offer(&store, &run).await.expect("first offer"));
        // when it is offered again (the request's own attempt, after the projector's)
        // then it is still the runner's best, and the answer says so
        assert!(offer(&store, &run).await.expect("second offer"));
    }

    #[test]
    fn a_faster_time_takes_the_place_and_a_slower_one_does_not() {
        // given a best of 10:00
        let current = entry("a", 600, 1_000);
        // then 9:59 takes the place, whenever it was run, and 10:01 does not
        assert!(entry("a", 599, 9_000).beats(&current));
        assert!(!entry("a", 601, 0).beats(&current));
    }

    #[test]
    fn an_equal_time_goes_to_who_ran_it_first() {
        // given a best of 10:00 run at one moment
        let current = entry("a", 600, 5_000);
        // then the same time run earlier takes the place, and later does not
        assert!(entry("a", 600, 4_999).beats(&current));
        assert!(!entry("a", 600, 5_001).beats(&current));
        // and the very same run offered again changes nothing
        assert!(!current.beats(&current.clone()));
    }

    #[test]
    fn the_board_orders_times_as_numbers_not_as_text() {
        // given 99 s and 100 s (as text, "100" sorts before "99")
        let quick = entry("a", 99, 0);
        let slow = entry("b", 100, 0);
        // then the board key puts 99 s first
        assert!(quick.board_key() < slow.board_key());
        assert_eq!(quick.board_key(), "000000099#0000000000000#a");
    }

    #[test]
    fn a_run_before_1970_cannot_jump_the_queue() {
        // given a start before the epoch (a broken clock in a stored run)
        // then it ranks as if run at the epoch, not ahead of everyone
        assert_eq!(
            entry("a", 600, -5).board_key(),
            entry("a", 600, 0).board_key()
        );
    }
}
