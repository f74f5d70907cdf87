//! A run record: what was run, when (in UTC, with the runner's offset and zone), where it
//! came from, and whether it is plausible enough for leaderboards and records.
//!
//! | item | pk / sk | indexes |
//! |---|---|---|
//! | run | `USER#<userId>` / `RUN#<runId>` | public, not Strava: gsi1 `RUNFEED#<userId>` / id (the feed); public, on a course, plausible, not Strava: gsi2 `RUNS#<userId>#<courseId>` / `<seconds>#<runId>` (the runner's next best) |
//! | path | `USER#<userId>` / `RUNPATH#<runId>` | – |
//!
//! Run ids are UUIDv7 stamped with the run's start, so "newest first" is by when it was run.

use std::collections::HashSet;

use runcrew_shared::ApiError;
use runcrew_shared::route::Route;
use runcrew_shared::store::{Index, Item, Key, Query, SortRange};
use runcrew_shared::store::{from_body, to_body};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::course::{Course, course_key};
use crate::profile::user_partition;

/// The longest run accepted, in seconds (48 hours).
pub const MAX_DURATION_S: i64 = 172_800;
/// The longest run accepted, in metres (a 48-hour ultra stays far below).
pub const MAX_DISTANCE_M: f64 = 1_000_000.0;

/// Where a run came from. Strava's terms allow its data to be shown only to the athlete:
/// Strava runs never reach leaderboards, feeds or anyone else's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Recorded by our app.
    #[default]
    App,
    /// Imported from a GPX file.
    Gpx,
    /// Imported from Strava (only by the importer).
    Strava,
}

/// Who may see a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RunVisibility {
    /// Followers see it in their feed; on a course, it may hold the runner's place on the
    /// leaderboard.
    #[default]
    Public,
    /// Only its runner: no feed, no leaderboard, nobody else's view.
    Private,
}

/// Why a run is kept off leaderboards and records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// `too_fast` or `distance_mismatch`.
    pub reason: String,
    /// In words, with the numbers.
    pub detail: String,
}

/// The run item's body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// UUIDv7 stamped with the start.
    pub run_id: String,
    /// The runner.
    pub user_id: String,
    /// Start in UTC, RFC 3339 with milliseconds.
    pub started_at: String,
    /// Start in epoch milliseconds.
    pub started_ms: i64,
    /// The runner's UTC offset at the start, in minutes.
    pub utc_offset_minutes: i32,
    /// The runner's IANA zone, when the client sent it.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The local calendar date of the start (`YYYY-MM-DD`).
    pub local_date: String,
    /// Moving time in seconds.
    pub duration_s: i64,
    /// Metres.
    pub distance_m: f64,
    /// The course run, if any.
    #[serde(default)]
    pub course_id: Option<String>,
    /// Where the record came from.
    pub source: Source,
    /// Who may see it.
    pub visibility: RunVisibility,
    /// Why it is kept off boards and records, if it is.
    #[serde(default)]
    pub flag: Option<Flag>,
    /// Positions in the stored path, if one was sent.
    #[serde(default)]
    pub path_points: Option<usize>,
    /// RFC 3339.
    pub created_at: String,
}

/// The key of a run.
pub fn run_key(user_id: &str, run_id: &str) -> Key {
    Key::new(user_partition(user_id), format!("RUN#{run_id}"))
}

/// A runner's runs (not their paths): `RUN#` items of their partition, oldest first;
/// callers add the order, page size and cursor.
pub fn runs_of(user_id: &str) -> Query {
    Query::partition(user_partition(user_id)).range(SortRange::BeginsWith("RUN#".into()))
}

/// The key of a run's path.
pub fn path_key(user_id: &str, run_id: &str) -> Key {
    Key::new(user_partition(user_id), format!("RUNPATH#{run_id}"))
}

/// The gsi1 partition of a runner's runs that followers see.
pub fn feed_partition(user_id: &str) -> String {
    format!("RUNFEED#{user_id}")
}

/// The gsi2 partition of a runner's leaderboard-worthy runs on one course.
pub fn course_runs_partition(user_id: &str, course_id: &str) -> String {
    format!("RUNS#{user_id}#{course_id}")
}

/// A time as a sort key that orders numerically.
pub fn padded_seconds(seconds: i64) -> String {
    format!("{seconds:09}")
}

/// `metres` to the 0.1 m a run's distance means. The table refuses what it cannot hold
/// (DynamoDB: `Number underflow` below 1e-130), so every distance is rounded before it is
/// validated or stored: `1e-131` becomes 0 and is refused as "not more than 0".
pub fn round_distance(metres: f64) -> f64 {
    (metres * 10.0).round() / 10.0
}

/// The keys of the courses `runs` name, each once, to read in the BatchGetItem that shows
/// the runs to someone else (their ids are shown only for courses that viewer may see).
pub fn course_keys<'r>(runs: impl IntoIterator<Item = &'r Run>) -> Vec<Key> {
    let mut ids: Vec<&str> = runs
        .into_iter()
        .filter_map(|r| r.course_id.as_deref())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter().map(course_key).collect()
}

/// The ids of the courses among `items` (read by [`course_keys`], mixed with other items)
/// that `viewer` may see: public ones, and private ones `viewer` drew. A course that is
/// missing (deleted) or private to someone else is not among them, so its id is not
/// handed out.
pub fn visible_courses(items: &[Item], viewer: Option<&str>) -> HashSet<String> {
    items
        .iter()
        .filter(|item| item.key.pk.starts_with("COURSE#"))
        .filter_map(|item| {
            let (course, version) = Course::from_item(item).ok()?;
            (item.key == course_key(&course.course_id)).then_some((course, version))
        })
        .filter(|(course, _)| course.visible_to(viewer))
        .map(|(course, _)| course.course_id)
        .collect()
}

/// Whether `id` may be a run id (a UUIDv7 in hex), so a malformed path parameter or
/// cursor is refused before any read.
pub fn is_run_id(id: &str) -> bool {
    runcrew_shared::ids::has_id_shape(id)
}

/// A new run id for a run that started at `started_ms`.
pub fn new_run_id(started_ms: i64) -> String {
    let random: [u8; 10] = rand::random();
    uuid::Builder::from_unix_timestamp_millis(started_ms.max(0) as u64, &random)
        .into_uuid()
        .simple()
        .to_string()
}

impl Run {
    /// Average pace in seconds per kilometre.
    pub fn pace_s_per_km(&self) -> f64 {
        self.duration_s as f64 / (self.distance_m / 1000.0)
    }

    /// Whether it may appear on a leaderboard: public, on a course, plausible, not from
    /// Strava. A private run is only its runner's, so it never holds (or hides) a place.
    pub fn on_board(&self) -> bool {
        self.visibility == RunVisibility::Public && self.may_have_held_a_place()
    }

    /// Whether it could hold a leaderboard place under any rule it was ever written with:
    /// runs written before private runs were kept off boards may still hold one, so a
    /// deletion of such a run still hands the place on.
    pub fn may_have_held_a_place(&self) -> bool {
        self.course_id.is_some() && self.flag.is_none() && self.source != Source::Strava
    }

    /// Whether followers see it.
    pub fn in_feed(&self) -> bool {
        self.visibility == RunVisibility::Public && self.source != Source::Strava
    }

    /// The item, with the index keys its eligibility gives it.
    pub fn to_item(&self) -> Result<Item, ApiError> {
        let mut item = Item::new(run_key(&self.user_id, &self.run_id), to_body(self)?);
        if self.in_feed() {
            item = item.with_index(Index::Gsi1, feed_partition(&self.user_id), &self.run_id);
        }
        if let (true, Some(course_id)) = (self.on_board(), &self.course_id) {
            item = item.with_index(
                Index::Gsi2,
                course_runs_partition(&self.user_id, course_id),
                format!("{}#{}", padded_seconds(self.duration_s), self.run_id),
            );
        }
        Ok(item)
    }

    /// Reads a run item.
    pub fn from_item(item: &Item) -> Result<Run, ApiError> {
        from_body(item)
    }

    /// What the runner sees.
    pub fn owner_view(&self) -> Value {
        json!({
            "run_id": self.run_id,
            "user_id": self.user_id,
            "started_at": self.started_at,
            "utc_offset_minutes": self.utc_offset_minutes,
            "time_zone": self.time_zone,
            "local_date": self.local_date,
            "duration_s": self.duration_s,
            "distance_m": self.distance_m,
            "pace_s_per_km": (self.pace_s_per_km() * 10.0).round() / 10.0,
            "course_id": self.course_id,
            "source": self.source,
            "visibility": self.visibility,
            "flag": self.flag,
            "on_leaderboard": self.on_board(),
            "path_points": self.path_points,
            "created_at": self.created_at,
        })
    }

    /// What followers see in their feed. `course_visible`: whether the viewer may see the
    /// run's course ([`visible_courses`]); if not, `course_id` is null, so the id of a
    /// private or deleted course is never handed to someone who cannot see it.
    pub fn public_view(&self, course_visible: bool) -> Value {
        json!({
            "run_id": self.run_id,
            "user_id": self.user_id,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "distance_m": self.distance_m,
            "pace_s_per_km": (self.pace_s_per_km() * 10.0).round() / 10.0,
            "course_id": self.course_id.as_ref().filter(|_| course_visible),
            "source": self.source,
        })
    }
}

/// A run's path: the polyline of at most 10,000 positions.
pub fn path_item(user_id: &str, run_id: &str, route: &Route) -> Item {
    let mut body = serde_json::Map::new();
    body.insert("polyline".into(), json!(route.to_polyline()));
    body.insert("points".into(), json!(route.len()));
    Item::new(path_key(user_id, run_id), body)
}
