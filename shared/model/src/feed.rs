//! The feed, fanned out on write: each public run is written once into the feed of every
//! follower of its runner, so reading a page costs the same whoever one follows.
//!
//! | item | pk / sk | index |
//! |---|---|---|
//! | feed entry | `USER#<reader>` / `FEED#<runId>` | gsi1 `FEEDBY#<author>` / `<reader>#<runId>` |
//!
//! An entry names the run, its runner and its course; the run itself is read with the
//! page (one BatchGetItem), so a deleted run is gone from every feed at once and an entry
//! never shows stale numbers. The writes happen off the request, from the table's stream
//! through the feed queue ([`FeedJob`]), in steps of a bounded size:
//!
//! - a run that may be in feeds (public, not from Strava: [`crate::run::Run::in_feed`])
//!   goes to every follower, [`FANOUT_PAGE`] followers per step;
//! - a deleted run comes out of them again the same way;
//! - a new follow copies the runner's latest [`BACKFILL_RUNS`] runs into the reader's feed;
//! - an unfollow takes the runner's entries out of the reader's feed (the page already
//!   hides them at once: it reads the reader's follows of the page's runners with the runs).
//!
//! Erasing a runner deletes their entries in everyone's feed through gsi1 `FEEDBY#`; a
//! reader's own entries go with their partition.

use runcrew_shared::store::{Index, Item, Key, Query, SortRange};
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

use crate::profile::user_partition;

/// The sort-key prefix of feed entries in a reader's partition.
pub const FEED_PREFIX: &str = "FEED#";

/// Followers written per step of a fan-out: a few hundred puts, well inside a second.
pub const FANOUT_PAGE: usize = 250;

/// Runs copied into a reader's feed when they follow someone: a feed's first pages.
pub const BACKFILL_RUNS: usize = 20;

/// The key of `reader`'s entry for run `run_id`.
pub fn entry_key(reader: &str, run_id: &str) -> Key {
    Key::new(user_partition(reader), format!("{FEED_PREFIX}{run_id}"))
}

/// The gsi1 partition of every feed entry of `author`'s runs, in anyone's feed.
pub fn by_author_partition(author: &str) -> String {
    format!("FEEDBY#{author}")
}

/// `reader`'s entry for `author`'s run `run_id` (on `course_id`, if any).
pub fn entry_item(reader: &str, author: &str, run_id: &str, course_id: Option<&str>) -> Item {
    let mut body = Map::new();
    body.insert("author_id".into(), json!(author));
    body.insert("run_id".into(), json!(run_id));
    body.insert("course_id".into(), json!(course_id));
    Item::new(entry_key(reader, run_id), body).with_index(
        Index::Gsi1,
        by_author_partition(author),
        format!("{reader}#{run_id}"),
    )
}

/// `reader`'s feed, newest first (run ids order by start); after `before` (a run id) when
/// given, for the next page.
pub fn feed_of(reader: &str, before: Option<&str>) -> Query {
    let range = match before {
        // Strictly before: the bound is the last run shown, which the caller skips.
        Some(last) => SortRange::Between(FEED_PREFIX.into(), format!("{FEED_PREFIX}{last}")),
        None => SortRange::BeginsWith(FEED_PREFIX.into()),
    };
    Query::partition(user_partition(reader))
        .range(range)
        .descending()
}

/// `author`'s entries in `reader`'s feed, for an unfollow.
pub fn entries_of_author_in(author: &str, reader: &str) -> Query {
    Query::index(Index::Gsi1, by_author_partition(author))
        .range(SortRange::BeginsWith(format!("{reader}#")))
}

/// A step of feed work, as the feed queue carries it. A step that leaves work queues the
/// next with `cursor` (the followers or entries still to do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeedJob {
    /// A new run into every follower's feed.
    FanOut {
        /// The runner.
        author: String,
        /// The run.
        run_id: String,
        /// Its course, copied into the entries.
        #[serde(default)]
        course_id: Option<String>,
        /// Where the followers still to do begin.
        #[serde(default)]
        cursor: Option<String>,
    },
    /// A deleted run out of every follower's feed.
    Withdraw {
        /// The runner.
        author: String,
        /// The run.
        run_id: String,
        /// Where the followers still to do begin.
        #[serde(default)]
        cursor: Option<String>,
    },
    /// A new follow: the runner's latest runs into the reader's feed.
    Backfill {
        /// Who followed.
        reader: String,
        /// Whom.
        author: String,
    },
    /// An unfollow: the runner's entries out of the reader's feed.
    Unfollow {
        /// Who unfollowed.
        reader: String,
        /// Whom.
        author: String,
        /// Where the entries still to do begin.
        #[serde(default)]
        cursor: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_listed_under_its_reader_and_found_by_its_runner() {
        let item = entry_item("r", "a", "019a", Some("c"));
        assert_eq!(item.key, Key::new("USER#r", "FEED#019a"));
        assert_eq!(
            item.index_key(Index::Gsi1),
            Some(&Key::new("FEEDBY#a", "r#019a"))
        );
        assert_eq!(item.str("course_id"), Some("c"));
    }

    #[test]
    fn a_later_page_starts_at_the_last_run_shown() {
        // the bound includes the last run shown, which the page skips
        let query = feed_of("r", Some("019b"));
        assert_eq!(
            query.range,
            SortRange::Between("FEED#".into(), "FEED#019b".into())
        );
    }

    #[test]
    fn a_job_reads_back_as_it_was_sent() {
        let job = FeedJob::FanOut {
            author: "a".into(),
            run_id: "019a".into(),
            course_id: None,
            cursor: Some("next".into()),
        };
        let text = serde_json::to_value(&job).expect("json");
        assert_eq!(text["kind"], "fan_out");
        assert_eq!(serde_json::from_value::<FeedJob>(text).expect("back"), job);
    }
}
