//! Per-course leaderboards: each runner's best time, fastest first.
//!
//! | item | pk / sk | index |
//! |---|---|---|
//! | best | `COURSE#<courseId>` / `BEST#<userId>` | gsi1 `BOARD#<courseId>` / `<seconds>#<started ms>#<userId>` |
//! | minute count | `COURSE#<courseId>` / `RANKM#<minutes>` | – |
//! | second count | `COURSE#<courseId>` / `RANKS#<seconds>` | – |
//!
//! Replacing a best is a version-conditioned write after reading it, and only a faster run
//! (or as fast and earlier) replaces it: two runs finishing together cannot lose the better
//! one. Ties rank by who ran the time first.
//!
//! A rank is exact at a cost that does not grow with the board ([`rank_of`]). Every entry
//! is counted in two counters: one per whole minute of its time and one per second; both
//! move in the same transaction as the entry itself, so they are always the board's exact
//! histogram. Rank = the entries of every faster minute (one Query of the minute counters,
//! at most one per minute of running time: about 40 for a 5 km course, however many run
//! it) + the entries of the faster seconds of my own minute (at most 59 counters) + my place
//! among those of my very second (a COUNT of the board from that second to my own entry:
//! only the ties). The three reads go in parallel. Counting the board up to one's entry
//! instead read 80,000 index entries for rank 80,000 (BENCHMARKS.md, "Cost at scale").

use runcrew_shared::ApiError;
use runcrew_shared::store::versioned::{Change, Versioned};
use std::collections::BTreeMap;

use runcrew_shared::store::{
    Index, Item, Key, MAX_PAGE, Query, SortRange, Store, Write, from_body, read_all, to_body,
};
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

/// The counter attribute of the rank counters.
const COUNT: &str = "count";

fn course_partition(course_id: &str) -> String {
    format!("COURSE#{course_id}")
}

/// The sort key of the counter of the entries whose time falls in `minute` (whole minutes).
fn minute_counter(minute: i64) -> String {
    format!("RANKM#{minute:07}")
}

/// The sort key of the counter of the entries whose time is exactly `seconds`.
fn second_counter(seconds: i64) -> String {
    format!("RANKS#{}", padded_seconds(seconds))
}

/// The counter moves that go with a board change: -1 for each entry leaving, +1 for each
/// arriving, netted per counter (an entry replaced within the same second moves none), as
/// writes for the change's transaction.
fn counter_moves(course_id: &str, leaving: Option<&Best>, arriving: Option<&Best>) -> Vec<Write> {
    let mut deltas: BTreeMap<String, i64> = BTreeMap::new();
    for (best, delta) in [(leaving, -1), (arriving, 1)] {
        if let Some(best) = best {
            let seconds = best.duration_s.max(0);
            *deltas.entry(minute_counter(seconds / 60)).or_default() += delta;
            *deltas.entry(second_counter(seconds)).or_default() += delta;
        }
    }
    deltas
        .into_iter()
        .filter(|(_, delta)| *delta != 0)
        .map(|(sk, delta)| Write::Add {
            key: Key::new(course_partition(course_id), sk),
            field: COUNT.into(),
            delta,
        })
        .collect()
}

/// `change` with the counter moves of replacing `leaving` by `arriving`.
fn with_counters<T>(
    mut change: Change<T>,
    course_id: &str,
    leaving: Option<&Best>,
    arriving: Option<&Best>,
) -> Change<T> {
    for write in counter_moves(course_id, leaving, arriving) {
        change = change.with(write);
    }
    change
}

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

/// The items of a board holding exactly `entries` (one per runner, of one course or
/// several): each entry, and the rank counters that count them. For loading a board in
/// bulk (the scale benchmark), or rebuilding the counters of a board written before they
/// existed.
pub fn board_items(entries: &[Best]) -> Result<Vec<Item>, ApiError> {
    let mut counts: BTreeMap<Key, i64> = BTreeMap::new();
    let mut items = Vec::with_capacity(entries.len() + 64);
    for best in entries {
        items.push(best.to_item(1)?);
        for write in counter_moves(&best.course_id, None, Some(best)) {
            if let Write::Add { key, delta, .. } = write {
                *counts.entry(key).or_default() += delta;
            }
        }
    }
    for (key, count) in counts {
        let mut body = serde_json::Map::new();
        body.insert(COUNT.into(), count.into());
        items.push(Item::new(key, body));
    }
    Ok(items)
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
            let held = current.as_ref().map(Best::from_item).transpose()?;
            if let Some(held) = &held {
                // Already this run's place: the projector (from the table's stream) got
                // here first, and the run is still the runner's best.
                if held.run_id == candidate.run_id {
                    return Ok::<_, ApiError>(Change::keep(true));
                }
                if !candidate.beats(held) {
                    return Ok(Change::keep(false));
                }
            }
            Ok(with_counters(
                Change::put(candidate.to_item(0)?, true),
                course_id,
                held.as_ref(),
                Some(candidate),
            ))
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
            let held = Best::from_item(&item)?;
            if held.run_id != run.run_id {
                return Ok(Change::keep(()));
            }
            Ok(match next_best(store, course_id, run).await? {
                Some(next) => {
                    let next = Best::of(&next, course_id);
                    with_counters(
                        Change::put(next.to_item(0)?, ()),
                        course_id,
                        Some(&held),
                        Some(&next),
                    )
                }
                None => with_counters(Change::delete(()), course_id, Some(&held), None),
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

/// Takes `user_id` off `course_id`'s board, whatever run holds the place (erasing the
/// account), with the entry's counters. Returns whether there was an entry.
pub async fn remove_runner(
    store: &dyn Store,
    course_id: &str,
    user_id: &str,
) -> Result<bool, ApiError> {
    Versioned::new(best_key(course_id, user_id))
        .attempts(ATTEMPTS)
        .apply(store, |current| async move {
            let Some(item) = current else {
                return Ok::<_, ApiError>(Change::keep(false));
            };
            let held = Best::from_item(&item)?;
            Ok(with_counters(
                Change::delete(true),
                course_id,
                Some(&held),
                None,
            ))
        })
        .await
        .map_err(|err| {
            err.or_conflict(|| {
                ApiError::busy("leaderboard_busy", "the leaderboard changed too often", 1)
            })
        })
}

/// The sum of the rank counters of `course_id` between two sort keys, inclusive.
async fn counted(
    store: &dyn Store,
    course_id: &str,
    from: String,
    to: String,
) -> Result<usize, ApiError> {
    let counters = read_all(
        store,
        Query::partition(course_partition(course_id))
            .range(SortRange::Between(from, to))
            .limit(MAX_PAGE),
    )
    .await?;
    let total: i64 = counters.iter().filter_map(|c| c.i64(COUNT)).sum();
    Ok(usize::try_from(total).unwrap_or(0))
}

/// The rank of `best` on its board: the entries before it and itself, exactly, from the
/// rank counters and the ties (see the module's comment), in one round of three reads
/// whose size does not grow with the board.
pub async fn rank_of(store: &dyn Store, best: &Best) -> Result<usize, ApiError> {
    let course_id = best.course_id.as_str();
    let seconds = best.duration_s.max(0);
    let minute = seconds / 60;
    let faster_minutes = async {
        if minute == 0 {
            return Ok(0);
        }
        counted(
            store,
            course_id,
            minute_counter(0),
            minute_counter(minute - 1),
        )
        .await
    };
    let faster_seconds = async {
        if seconds == minute * 60 {
            return Ok(0);
        }
        counted(
            store,
            course_id,
            second_counter(minute * 60),
            second_counter(seconds - 1),
        )
        .await
    };
    let ties_up_to_mine = async {
        Ok::<_, ApiError>(
            store
                .count(
                    &Query::index(Index::Gsi1, board_partition(course_id)).range(
                        SortRange::Between(
                            format!("{}#", padded_seconds(seconds)),
                            best.board_key(),
                        ),
                    ),
                )
                .await?,
        )
    };
    let (minutes, seconds, ties) = tokio::join!(faster_minutes, faster_seconds, ties_up_to_mine);
    Ok(minutes? + seconds? + ties?)
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

    /// A public run on course `c1` by `user` of `seconds`, started at `started_ms`.
    fn run_of(user: &str, seconds: i64, started_ms: i64) -> Run {
        serde_json::from_value(serde_json::json!({
            "run_id": format!("{user}-{seconds}-{started_ms}"), "user_id": user,
            "started_at": "2026-11-22T07:00:00Z", "started_ms": started_ms,
            "utc_offset_minutes": 0, "local_date": "2026-11-22",
            "duration_s": seconds, "distance_m": 5000.0, "course_id": "c1",
            "source": "app", "visibility": "public", "created_at": "2026-11-22T07:10:00Z"
        }))
        .expect("a run")
    }

    /// Every entry of the board with the rank [`rank_of`] gives it, against its place in
    /// the board read whole (the rank by definition).
    async fn ranks_against_the_board(store: &dyn Store) -> Vec<(usize, usize)> {
        let board = read_all(store, Query::index(Index::Gsi1, board_partition("c1")))
            .await
            .expect("board");
        let mut ranks = Vec::new();
        for (place, item) in board.iter().enumerate() {
            let best = Best::from_item(item).expect("an entry");
            ranks.push((rank_of(store, &best).await.expect("rank"), place + 1));
        }
        ranks
    }

    #[tokio::test]
    async fn ranks_from_the_counters_are_the_places_on_the_board_through_every_change() {
        // given 40 runners with times across several minutes, ties within a second (ran
        // at different moments), whole minutes and sub-minute times
        let store = runcrew_shared::store::embedded::EmbeddedStore::in_memory(
            runcrew_shared::store::cursor::CursorCodec::new("l".repeat(32)),
        );
        let mut runs = Vec::new();
        for i in 0..40_i64 {
            let seconds = [59, 60, 61, 119, 120, 1500, 1500, 1501, 1559, 1560][(i % 10) as usize]
                + (i / 20) * 7;
            let run = run_of(&format!("u{i:02}"), seconds, 1_000 + (i * 37) % 11);
            assert!(offer(&store, &run).await.expect("offer"));
            runs.push(run);
        }
        // then every rank is the entry's place
        let ranks = ranks_against_the_board(&store).await;
        assert_eq!(ranks.len(), 40);
        assert!(ranks.iter().all(|(rank, place)| rank == place), "{ranks:?}");

        // when some improve (one within the same second, earlier), one's best run is
        // deleted (the next best takes over) and one runner is taken off the board
        for (user, seconds, started) in [("u05", 30, 5), ("u16", 1500, 1), ("u33", 1200, 9)] {
            offer(&store, &run_of(user, seconds, started))
                .await
                .expect("improve");
        }
        withdraw(&store, &runs[7])
            .await
            .expect("withdraw without a next best");
        assert!(remove_runner(&store, "c1", "u12").await.expect("removed"));
        assert!(!remove_runner(&store, "c1", "u12").await.expect("twice"));
        // then the ranks are still exactly the places
        let ranks = ranks_against_the_board(&store).await;
        assert_eq!(ranks.len(), 38);
        assert!(ranks.iter().all(|(rank, place)| rank == place), "{ranks:?}");
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
