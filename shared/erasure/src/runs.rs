//! What erasing an account removes of its running: the runs and their paths, page by page,
//! with the user's places on course leaderboards (and their rank counters) before the runs
//! that hold them. Totals and the rest of the partition go with the partition.

use std::collections::BTreeSet;

use runcrew_shared::ApiError;
use runcrew_shared::store::{Condition, MAX_TRANSACTION_WRITES, Store, Write};

use runcrew_model::leaderboard::remove_runner;
use runcrew_model::run::{Run, path_key, run_key, runs_of};
use runcrew_model::stats::records_key;

/// The key patterns [`erase_user`] and the partition sweep remove.
pub const ERASED_KEY_PATTERNS: &[&str] = &[
    "USER#<userId> / RUN#<runId>",
    "USER#<userId> / RUNPATH#<runId>",
    "USER#<userId> / STATS#<period>",
    "USER#<userId> / RECORDS",
    "COURSE#<courseId> / BEST#<userId>",
];

/// Runs deleted per transaction: each goes with its path.
const RUNS_PER_ROUND: usize = MAX_TRANSACTION_WRITES / 2;

/// Deletes the user's records, leaderboard entries, runs and paths. Each round reads the
/// first page of runs left, takes the user off the boards of their courses not yet seen,
/// and deletes those runs with their paths, so a step stopped anywhere resumes where it
/// was without reading again what is gone; the cost of a round does not grow with the
/// runs. Records go first: the projector, told of every run deleted, then finds none to
/// rebuild and writes nothing back. Returns the items deleted.
pub async fn erase_user(store: &dyn Store, user_id: &str) -> Result<usize, ApiError> {
    store.delete(&records_key(user_id), Condition::None).await?;
    let mut erased = 0;
    let mut boards_left = BTreeSet::new();
    loop {
        let page = store.query(&runs_of(user_id).limit(RUNS_PER_ROUND)).await?;
        if page.items.is_empty() {
            return Ok(erased);
        }
        let runs = page
            .items
            .iter()
            .map(Run::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        for course_id in runs.iter().filter_map(|run| run.course_id.as_deref()) {
            if boards_left.insert(course_id.to_owned())
                && remove_runner(store, course_id, user_id).await?
            {
                erased += 1;
            }
        }
        let writes: Vec<Write> = runs
            .iter()
            .flat_map(|run| {
                [
                    run_key(user_id, &run.run_id),
                    path_key(user_id, &run.run_id),
                ]
                .map(|key| Write::Delete {
                    key,
                    condition: Condition::None,
                })
            })
            .collect();
        erased += runs.len();
        store.transact(writes).await?;
    }
}
