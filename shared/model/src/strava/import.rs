//! Runs from Strava activities: what a run keeps of an activity, and the one transaction
//! that writes it with its import key, so an activity is never imported twice, whoever
//! brings it (a sweep, a webhook, a redelivered message) and however they overlap.

use runcrew_shared::ApiError;
use runcrew_shared::route::Route;
use runcrew_shared::store::{Condition, Item, Key, Store, StoreError, Write, from_body};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::profile::{account_closed, open_account_check, user_partition};
use crate::run::{Run, RunVisibility, Source, new_run_id, path_item, path_key, run_key};
use crate::stats;

/// What an import needs of a Strava activity (the client's `Activity`, without the
/// client).
#[derive(Debug, Clone, PartialEq)]
pub struct StravaActivity {
    /// Strava's id: the import key.
    pub id: i64,
    /// Start, UTC (`start_date`).
    pub start_date: String,
    /// The athlete's offset from UTC at the start, seconds (`utc_offset`).
    pub utc_offset_s: i32,
    /// Moving time, seconds.
    pub moving_time_s: i64,
    /// Metres.
    pub distance_m: f64,
    /// `map.summary_polyline`, when Strava has one.
    pub summary_polyline: Option<String>,
    /// Private on Strava: private here too.
    pub private: bool,
}

/// The key recording that Strava activity `activity_id` was imported for `user_id`. In
/// the user's partition: one Strava athlete links to one user, so the activity is unique
/// there, and the key goes with the account when it is erased.
pub fn import_key(user_id: &str, activity_id: i64) -> Key {
    Key::new(
        user_partition(user_id),
        format!("IMPORT#strava#{activity_id}"),
    )
}

/// The run `user_id` gets for `activity`, imported at `now`.
pub fn run_of(
    user_id: &str,
    activity: &StravaActivity,
    now: OffsetDateTime,
) -> Result<Run, ApiError> {
    let started = OffsetDateTime::parse(&activity.start_date, &Rfc3339)
        .map_err(|e| ApiError::Internal(format!("activity {}: start_date: {e}", activity.id)))?;
    let started_ms = (started.unix_timestamp_nanos() / 1_000_000) as i64;
    let offset =
        time::UtcOffset::from_whole_seconds(activity.utc_offset_s).unwrap_or(time::UtcOffset::UTC);
    let local = started.to_offset(offset);
    let format = |at: OffsetDateTime| at.format(&Rfc3339).unwrap_or_default();
    let path_points = activity
        .summary_polyline
        .as_deref()
        .and_then(|p| Route::from_json(&json!(p), "path").ok())
        .map(|route| route.len());
    Ok(Run {
        run_id: new_run_id(started_ms),
        user_id: user_id.to_owned(),
        started_at: format(started),
        started_ms,
        utc_offset_minutes: activity.utc_offset_s / 60,
        time_zone: None,
        local_date: format!(
            "{:04}-{:02}-{:02}",
            local.year(),
            local.month() as u8,
            local.day()
        ),
        duration_s: activity.moving_time_s.max(0),
        distance_m: crate::run::round_distance(activity.distance_m.max(0.0)),
        course_id: None,
        source: Source::Strava,
        visibility: if activity.private {
            RunVisibility::Private
        } else {
            RunVisibility::Public
        },
        flag: None,
        path_points,
        created_at: format(now),
    })
}

/// Writes `run` for Strava activity `activity_id` with its import key, its path and its
/// totals in one transaction, on the condition that the runner is still connected (a run
/// imported after a disconnect's purge would never be purged). Returns whether it is new:
/// `false` when the activity was imported already or the runner disconnected (nothing
/// written).
pub async fn import(
    store: &dyn Store,
    run: &Run,
    activity_id: i64,
    polyline: Option<&str>,
) -> Result<bool, ApiError> {
    let mut key_body = serde_json::Map::new();
    key_body.insert("user_id".into(), json!(run.user_id));
    key_body.insert("run_id".into(), json!(run.run_id));
    let mut writes = vec![
        Write::Put {
            item: Item::new(import_key(&run.user_id, activity_id), key_body),
            condition: Condition::NotExists,
        },
        open_account_check(&run.user_id),
        Write::Check {
            key: crate::strava::connection::connection_key(&run.user_id),
            condition: Condition::Exists,
        },
        Write::Put {
            item: run.to_item()?,
            condition: Condition::NotExists,
        },
    ];
    if let Some(route) = polyline.and_then(|p| Route::from_json(&json!(p), "path").ok()) {
        writes.push(Write::Put {
            item: path_item(&run.user_id, &run.run_id, &route),
            condition: Condition::None,
        });
    }
    writes.extend(stats::tally(run, 1)?);
    match store.transact(writes).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionCanceled { failed })
            if failed.contains(&0) || failed.contains(&2) =>
        {
            Ok(false)
        }
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
            Err(account_closed())
        }
        Err(other) => Err(other.into()),
    }
}

/// The run Strava activity `activity_id` became, if it was imported for `user_id`.
pub async fn imported_run(
    store: &dyn Store,
    user_id: &str,
    activity_id: i64,
) -> Result<Option<Run>, ApiError> {
    let Some(key) = store.get(&import_key(user_id, activity_id)).await? else {
        return Ok(None);
    };
    let run_id = key.str("run_id").unwrap_or_default();
    match store.get(&run_key(user_id, run_id)).await? {
        Some(item) => Ok(Some(from_body(&item)?)),
        None => Ok(None),
    }
}

/// Deletes the run of Strava activity `activity_id` (deleted on Strava, no longer a run,
/// or its athlete disconnected), its path, its totals and its import key, in one
/// transaction; its board and records follow through the stream. Returns whether there
/// was one.
pub async fn remove(store: &dyn Store, user_id: &str, activity_id: i64) -> Result<bool, ApiError> {
    let Some(run) = imported_run(store, user_id, activity_id).await? else {
        store
            .delete(&import_key(user_id, activity_id), Condition::None)
            .await?;
        return Ok(false);
    };
    let mut writes = vec![
        Write::Delete {
            key: run_key(user_id, &run.run_id),
            condition: Condition::Exists,
        },
        Write::Delete {
            key: path_key(user_id, &run.run_id),
            condition: Condition::None,
        },
        Write::Delete {
            key: import_key(user_id, activity_id),
            condition: Condition::None,
        },
    ];
    writes.extend(stats::tally(&run, -1)?);
    match store.transact(writes).await {
        Ok(()) => Ok(true),
        // Deleted meanwhile (by the runner, or a second delete event).
        Err(StoreError::TransactionCanceled { .. }) => Ok(false),
        Err(other) => Err(other.into()),
    }
}

/// Makes the run of Strava activity `activity_id` private or public, as it became on
/// Strava. Returns whether a run changed.
pub async fn set_private(
    store: &dyn Store,
    user_id: &str,
    activity_id: i64,
    private: bool,
) -> Result<bool, ApiError> {
    let Some(mut run) = imported_run(store, user_id, activity_id).await? else {
        return Ok(false);
    };
    run.visibility = if private {
        RunVisibility::Private
    } else {
        RunVisibility::Public
    };
    store.put(run.to_item()?, Condition::Exists).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity() -> StravaActivity {
        StravaActivity {
            id: 16_300_000_001,
            start_date: "2026-11-20T22:10:00Z".into(),
            utc_offset_s: 32_400,
            moving_time_s: 1_805,
            distance_m: 5_012.34,
            summary_polyline: Some("_p~iF~ps|U_ulLnnqC_mqNvxq`@".into()),
            private: false,
        }
    }

    #[test]
    fn a_run_keeps_the_activitys_start_local_day_time_distance_and_path() {
        let now = time::macros::datetime!(2026-11-21 00:00 UTC);
        let run = run_of("u1", &activity(), now).expect("run");
        assert_eq!(run.started_at, "2026-11-20T22:10:00Z");
        assert_eq!(run.local_date, "2026-11-21", "07:10 the next day in Seoul");
        assert_eq!(run.utc_offset_minutes, 540);
        assert_eq!(run.duration_s, 1_805);
        assert_eq!(run.distance_m, 5_012.3);
        assert_eq!(run.source, Source::Strava);
        assert_eq!(run.path_points, Some(3));
        assert!(
            !run.on_board() && !run.in_feed(),
            "Strava runs are the athlete's alone"
        );
    }

    #[test]
    fn a_private_activity_is_a_private_run_and_no_polyline_is_no_path() {
        let now = time::macros::datetime!(2026-11-21 00:00 UTC);
        let run = run_of(
            "u1",
            &StravaActivity {
                private: true,
                summary_polyline: None,
                ..activity()
            },
            now,
        )
        .expect("run");
        assert_eq!(run.visibility, RunVisibility::Private);
        assert_eq!(run.path_points, None);
    }
}
