//! What erasing an account removes of Strava: the link from the Strava athlete to the user
//! (outside the user's partition). The connection, its sealed tokens and the import keys
//! go with the partition; the Strava-sourced runs with the runs.

use runcrew_model::strava::connection;
use runcrew_shared::ApiError;
use runcrew_shared::store::{Condition, Store};

/// The key patterns [`erase_user`] and the partition's deletion remove.
pub const ERASED_KEY_PATTERNS: &[&str] = &[
    "STRAVA_ATHLETE#<athleteId> / LINK",
    "USER#<userId> / STRAVA",
    "USER#<userId> / IMPORT#strava#<activityId>",
];

/// Removes the athlete link of `user_id`'s Strava connection, if any. Returns how many
/// items went.
pub async fn erase_user(store: &dyn Store, user_id: &str) -> Result<usize, ApiError> {
    let Some((connected, _)) = connection::load(store, user_id).await? else {
        return Ok(0);
    };
    store
        .delete(
            &connection::athlete_key(connected.athlete_id),
            Condition::None,
        )
        .await?;
    Ok(1)
}
