//! An event's results: the runs its participants ran at it, linked by the `event-changes`
//! consumer when a run is recorded (a projection of the run's commit) and unlinked when it
//! is deleted.
//!
//! A run belongs to an event when its runner hosts the event or goes to it, it started
//! between [`EARLY_MS`] before the start and the end, and it was run on the event's course
//! or started within [`NEAR_START_M`] of the meeting point. Implausible (flagged) runs are
//! left out. Strava runs and private runs are linked but shown to their runner only
//! ([`EventResult::visible_to`]): Strava's terms let its data be shown to its athlete
//! alone.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use runcrew_shared::ApiError;
use runcrew_shared::route::{LatLng, Route, distance_between};
use runcrew_shared::store::{
    Condition, Index, Item, Key, Query, SortRange, Store, from_body, to_body,
};

use super::roster::{Member, Place};
use super::{
    Event, EventStatus, MEMBER_PREFIX, META_SK, RESULT_PREFIX, event_key, event_partition,
    my_events_partition, start_sort_key,
};
use crate::run::{Run, RunVisibility, Source, path_key};

/// How early a run may start and still count: warming up on the way, a watch started at
/// the meeting point before the group sets off.
pub const EARLY_MS: i64 = 30 * 60 * 1000;

/// How far from the meeting point a run without the event's course may start.
pub const NEAR_START_M: f64 = 300.0;

/// The longest event ([`super::input::MAX_DURATION_MIN`]) in milliseconds: how far back
/// from a run's start its events may have started.
const LONGEST_EVENT_MS: i64 = super::input::MAX_DURATION_MIN as i64 * 60 * 1000;

/// One run at an event, as its results list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventResult {
    /// The event.
    pub event_id: String,
    /// The runner.
    pub user_id: String,
    /// The run.
    pub run_id: String,
    /// RFC 3339.
    pub started_at: String,
    /// Moving time in seconds: results list fastest first.
    pub duration_s: i64,
    /// Metres.
    pub distance_m: f64,
    /// Where the record came from.
    pub source: Source,
    /// Who may see the run.
    pub visibility: RunVisibility,
}

/// The gsi1 partition of a runner's results (found by run when it is deleted, and by
/// account when it is erased).
pub fn results_partition(user_id: &str) -> String {
    format!("RESULTS#{user_id}")
}

impl EventResult {
    /// The result of `run` at `event_id`.
    pub fn of(event_id: &str, run: &Run) -> Self {
        EventResult {
            event_id: event_id.to_owned(),
            user_id: run.user_id.clone(),
            run_id: run.run_id.clone(),
            started_at: run.started_at.clone(),
            duration_s: run.duration_s,
            distance_m: run.distance_m,
            source: run.source,
            visibility: run.visibility,
        }
    }

    /// The result item: in the event's partition, fastest first; under the runner's
    /// results in gsi1.
    pub fn to_item(&self) -> Result<Item, ApiError> {
        Ok(Item::new(
            Key::new(
                event_partition(&self.event_id),
                format!(
                    "{RESULT_PREFIX}{:07}#{}#{}",
                    self.duration_s.max(0),
                    self.user_id,
                    self.run_id
                ),
            ),
            to_body(self)?,
        )
        .with_index(
            Index::Gsi1,
            results_partition(&self.user_id),
            format!("{}#{}", self.run_id, self.event_id),
        ))
    }

    /// Whether `viewer` may see it: a public run from our app or a GPX file to anyone who
    /// sees the event; a Strava or private run to its runner only.
    pub fn visible_to(&self, viewer: Option<&str>) -> bool {
        let shared = self.source != Source::Strava && self.visibility == RunVisibility::Public;
        shared || viewer == Some(self.user_id.as_str())
    }

    /// The row of the results list (the runner's name and picture are added by the route).
    pub fn view(&self) -> Value {
        json!({
            "user_id": self.user_id,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "distance_m": self.distance_m,
            "source": self.source,
        })
    }
}

/// Whether `run` (starting at `start`, when its path is known) was run at `event`.
pub fn ran_at(event: &Event, run: &Run, start: Option<LatLng>) -> bool {
    if event.status != EventStatus::Scheduled || run.flag.is_some() {
        return false;
    }
    let in_time = run.started_ms >= event.starts_ms - EARLY_MS && run.started_ms <= event.ends_ms();
    let on_course = event.course_id.is_some() && run.course_id == event.course_id;
    let near =
        start.is_some_and(|s| distance_between(s, event.meeting_point.into()) <= NEAR_START_M);
    in_time && (on_course || near)
}

/// The entries of the runner's list of events (hosted event items, member items) whose
/// start is near enough before `run`'s for the run to be at them: one Query of their list.
async fn entries_around(store: &dyn Store, run: &Run) -> Result<Vec<Item>, ApiError> {
    Ok(store
        .query(
            &Query::index(Index::Gsi2, my_events_partition(&run.user_id)).range(
                SortRange::Between(
                    start_sort_key(run.started_ms - LONGEST_EVENT_MS, ""),
                    start_sort_key(run.started_ms + EARLY_MS, "~"),
                ),
            ),
        )
        .await?
        .items)
}

/// Links `run` to the events it was run at; returns how many. Reads the runner's events
/// around the run's start (one Query of their list), each event it does not already hold,
/// and the run's path only when a course does not decide. Idempotent.
pub async fn link(store: &dyn Store, run: &Run) -> Result<usize, ApiError> {
    let mut linked = 0;
    let mut start: Option<Option<LatLng>> = None;
    for entry in entries_around(store, run).await? {
        let event = if entry.key.sk == META_SK {
            Event::from_item(&entry)?.0
        } else if entry.key.sk.starts_with(MEMBER_PREFIX) {
            let (member, _) = Member::from_item(&entry)?;
            if member.place != Place::Going {
                continue;
            }
            match store.get(&event_key(&member.event_id)).await? {
                Some(item) => Event::from_item(&item)?.0,
                None => continue,
            }
        } else {
            continue;
        };
        let on_course = event.course_id.is_some() && run.course_id == event.course_id;
        if !on_course && start.is_none() {
            start = Some(run_start(store, run).await?);
        }
        if ran_at(&event, run, start.flatten()) {
            store
                .put(
                    EventResult::of(&event.event_id, run).to_item()?,
                    Condition::None,
                )
                .await?;
            linked += 1;
        }
    }
    Ok(linked)
}

/// Removes the results of `run` as it was (deleted, or changed: its duration is part of
/// their keys): at every event of its runner around its start, by key (a consistent
/// delete, whatever the indexes say yet), then whatever the runner's results index still
/// lists for it. Returns how many deletes were sent.
pub async fn unlink(store: &dyn Store, run: &Run) -> Result<usize, ApiError> {
    let mut removed = 0;
    for entry in entries_around(store, run).await? {
        let event_id = if entry.key.sk == META_SK {
            Event::from_item(&entry)?.0.event_id
        } else if entry.key.sk.starts_with(MEMBER_PREFIX) {
            Member::from_item(&entry)?.0.event_id
        } else {
            continue;
        };
        let key = EventResult::of(&event_id, run).to_item()?.key;
        store.delete(&key, Condition::None).await?;
        removed += 1;
    }
    removed += runcrew_shared::store::delete_all(
        store,
        Query::index(Index::Gsi1, results_partition(&run.user_id))
            .range(SortRange::BeginsWith(format!("{}#", run.run_id))),
    )
    .await?;
    Ok(removed)
}

/// The first position of the run's stored path, if it has one.
async fn run_start(store: &dyn Store, run: &Run) -> Result<Option<LatLng>, ApiError> {
    if run.path_points.is_none() {
        return Ok(None);
    }
    let Some(item) = store.get(&path_key(&run.user_id, &run.run_id)).await? else {
        return Ok(None);
    };
    let Some(polyline) = item.body.get("polyline") else {
        return Ok(None);
    };
    Ok(Route::from_json(polyline, "path").ok().map(|r| r.start()))
}

/// One page of an event's results, fastest first, and the cursor of the next.
pub async fn page(
    store: &dyn Store,
    event_id: &str,
    limit: usize,
    cursor: Option<String>,
) -> Result<(Vec<EventResult>, Option<String>), ApiError> {
    let page = store
        .query(
            &Query::partition(event_partition(event_id))
                .range(SortRange::BeginsWith(RESULT_PREFIX.into()))
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let results = page
        .items
        .iter()
        .map(from_body)
        .collect::<Result<Vec<EventResult>, _>>()?;
    Ok((results, page.cursor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventVisibility;
    use crate::run::RunVisibility;

    fn run(started_ms: i64, course: Option<&str>) -> Run {
        Run {
            run_id: "r1".into(),
            user_id: "u1".into(),
            started_at: String::new(),
            started_ms,
            utc_offset_minutes: 0,
            time_zone: None,
            local_date: String::new(),
            duration_s: 1200,
            distance_m: 5000.0,
            course_id: course.map(str::to_owned),
            source: Source::App,
            visibility: RunVisibility::Public,
            flag: None,
            path_points: None,
            created_at: String::new(),
        }
    }

    #[test]
    fn a_run_counts_on_the_course_or_from_the_meeting_point_within_the_time() {
        let mut event = crate::event::tests::event(EventVisibility::Public);
        event.course_id = Some("c1".into());
        let start = event.starts_ms;
        assert!(ran_at(&event, &run(start + 60_000, Some("c1")), None));
        assert!(ran_at(&event, &run(start - EARLY_MS, Some("c1")), None));
        assert!(!ran_at(
            &event,
            &run(start - EARLY_MS - 1, Some("c1")),
            None
        ));
        assert!(!ran_at(&event, &run(event.ends_ms() + 1, Some("c1")), None));
        // Another course, but from the meeting point: it counts; from across town, no.
        let here = LatLng {
            lat: event.meeting_point.lat + 0.001,
            lng: event.meeting_point.lng,
        };
        let there = LatLng {
            lat: event.meeting_point.lat + 0.05,
            lng: event.meeting_point.lng,
        };
        assert!(ran_at(&event, &run(start, Some("c2")), Some(here)));
        assert!(!ran_at(&event, &run(start, Some("c2")), Some(there)));
        let mut flagged = run(start, Some("c1"));
        flagged.flag = Some(crate::run::Flag {
            reason: "too_fast".into(),
            detail: "faster than anyone runs".into(),
        });
        assert!(!ran_at(&event, &flagged, None));
    }

    #[test]
    fn strava_and_private_results_are_their_runners_alone() {
        let mut result = EventResult::of("e1", &run(0, None));
        assert!(result.visible_to(None));
        result.source = Source::Strava;
        assert!(!result.visible_to(Some("u2")));
        assert!(result.visible_to(Some("u1")));
        result.source = Source::App;
        result.visibility = RunVisibility::Private;
        assert!(!result.visible_to(None));
    }

    #[test]
    fn results_sort_fastest_first() {
        let mut fast = EventResult::of("e1", &run(0, None));
        fast.duration_s = 999;
        let mut slow = fast.clone();
        slow.duration_s = 1000;
        assert!(fast.to_item().expect("item").key.sk < slow.to_item().expect("item").key.sk);
    }
}
