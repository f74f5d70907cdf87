//! What erasing an account removes beyond the user's own partition (where runs, paths,
//! totals and records live): the user's places on course leaderboards.

use runcrew_shared::ApiError;
use runcrew_shared::store::{Condition, MAX_PAGE, Store, read_all};

use runcrew_model::leaderboard::best_key;
use runcrew_model::run::{Run, runs_of};

/// The key patterns [`erase_user`] and the partition sweep remove.
pub const ERASED_KEY_PATTERNS: &[&str] = &[
    "USER#<userId> / RUN#<runId>",
    "USER#<userId> / RUNPATH#<runId>",
    "USER#<userId> / STATS#<period>",
    "USER#<userId> / RECORDS",
    "COURSE#<courseId> / BEST#<userId>",
];

/// Deletes the user's leaderboard entries, found through the courses of the user's runs.
/// The runs themselves go with the user's partition. Returns the entries deleted.
pub async fn erase_user(store: &dyn Store, user_id: &str) -> Result<usize, ApiError> {
    let runs = read_all(store, runs_of(user_id).limit(MAX_PAGE)).await?;
    let mut courses = std::collections::BTreeSet::new();
    for item in &runs {
        if let Some(course_id) = Run::from_item(item)?.course_id {
            courses.insert(course_id);
        }
    }
    for course_id in &courses {
        store
            .delete(&best_key(course_id, user_id), Condition::None)
            .await?;
    }
    Ok(courses.len())
}
