//! A run record: what was run, when (in UTC, with the runner's offset and zone), where it
//! came from, and whether it is plausible enough for leaderboards and records.
//!
//! | item | pk / sk | indexes |
//! |---|---|---|
//! | run | `USER#<userId>` / `RUN#<runId>` | public, not Strava: gsi1 `RUNFEED#<userId>` / id (the feed); public, on a course, plausible, not Strava: gsi2 `RUNS#<userId>#<courseId>` / `<seconds>#<runId>` (the runner's next best); not flagged, 1 km or more: gsi3 `RECORDRUNS#<userId>#<band>` / `<pace>#<runId>` (the next personal record, [`crate::stats::record_band`]) |
//! | path | `USER#<userId>` / `RUNPATH#<runId>` | – |
//!
//! Run ids are UUIDv7 stamped with the run's start, so "newest first" is by when it was run.
//!
//! The rules of a new run are here, free of the store: [`NewRun::parse`] refuses what no
//! run can be (naming the field), [`plausibility`] flags what a human cannot have run, and
//! [`NewRun::record`] makes the [`Run`] to store. The handler only loads the course the run
//! names (may the runner see it?) and writes.

use std::collections::HashSet;

use runcrew_shared::ApiError;
use runcrew_shared::config::RunsConfig;
use runcrew_shared::route::Route;
use runcrew_shared::store::{Index, Item, Key, Query, SortRange};
use runcrew_shared::store::{from_body, to_body};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::course::{Course, course_key, is_course_id};
use crate::profile::user_partition;

/// The longest run accepted, in seconds (48 hours): longer is a watch left running, and
/// would swamp the totals.
pub const MAX_DURATION_S: i64 = 172_800;
/// The longest run accepted, in metres (a 48-hour ultra stays far below): more is a
/// broken GPS track or a unit mix-up.
pub const MAX_DISTANCE_M: f64 = 1_000_000.0;
/// How far in the future a start may lie: a phone's clock may run a few minutes ahead of
/// ours, and a run it just finished must not be refused for that.
pub const FUTURE_SKEW_SECONDS: i64 = 10 * 60;
/// The earliest year a run may start in: earlier is a phone whose clock was reset (the
/// epoch), not a run anyone still records.
pub const EARLIEST_YEAR: i32 = 2000;

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

/// Who may see a run: a runner may keep a run to themselves and still have it count in
/// their own totals and records.
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

/// Why a run is kept off leaderboards and records ([`plausibility`]), shown to its runner
/// so a flagged run is explained rather than silently missing from the board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// `too_fast` or `distance_mismatch`: a code a client can translate.
    pub reason: String,
    /// In words, with the numbers, for clients that show it as it is.
    pub detail: String,
}

/// A run as stored (the run item's body) and as every reader gets it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// UUIDv7 stamped with the start, so a runner's runs list by when they were run.
    pub run_id: String,
    /// The runner: the run lives in their partition.
    pub user_id: String,
    /// Start in UTC, RFC 3339 with milliseconds: one shape for every client.
    pub started_at: String,
    /// Start in epoch milliseconds, to order ties on a leaderboard.
    pub started_ms: i64,
    /// The runner's UTC offset at the start, in minutes, to show the start as they lived it.
    pub utc_offset_minutes: i32,
    /// The runner's IANA zone, when the client sent it.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The local calendar date of the start (`YYYY-MM-DD`), fixed at the run's own offset:
    /// the totals bucket it counts in, even if the runner later moves.
    pub local_date: String,
    /// Moving time in seconds.
    pub duration_s: i64,
    /// Metres, to the 0.1 m ([`round_distance`]).
    pub distance_m: f64,
    /// The course run, if any: only such a run can be on a leaderboard.
    #[serde(default)]
    pub course_id: Option<String>,
    /// Where the record came from: Strava runs are shown to their athlete only.
    pub source: Source,
    /// Who may see it: a private run counts for its runner only, on no feed or board.
    pub visibility: RunVisibility,
    /// Why it is kept off boards and records, if it is.
    #[serde(default)]
    pub flag: Option<Flag>,
    /// Positions in the stored path, if one was sent: lists show it without reading the path.
    #[serde(default)]
    pub path_points: Option<usize>,
    /// RFC 3339: when the API took it, which may be long after the run (an import).
    pub created_at: String,
}

/// The key of a run: in its runner's partition, so their runs are one Query.
pub fn run_key(user_id: &str, run_id: &str) -> Key {
    Key::new(user_partition(user_id), format!("RUN#{run_id}"))
}

/// A runner's runs (not their paths): `RUN#` items of their partition, oldest first;
/// callers add the order, page size and cursor.
pub fn runs_of(user_id: &str) -> Query {
    Query::partition(user_partition(user_id)).range(SortRange::BeginsWith("RUN#".into()))
}

/// The key of a run's path: a separate item, so lists of runs never read the (large)
/// polylines.
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

/// A time as a sort key: zero-padded, so 99 s sorts before 100 s as strings do.
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

/// A new run id stamped with the run's start (`started_ms`), not with now: an import of
/// last year's runs still lists them by when they were run.
pub fn new_run_id(started_ms: i64) -> String {
    let random: [u8; 10] = rand::random();
    uuid::Builder::from_unix_timestamp_millis(started_ms.max(0) as u64, &random)
        .into_uuid()
        .simple()
        .to_string()
}

/// The body of `POST /v1/runs` as the client sent it, before any rule: what a watch or a
/// GPX import knows about a run. Unknown fields are refused, so a misspelt field is an
/// error rather than silently dropped.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    /// RFC 3339 with the runner's offset: the offset gives the run its local date.
    pub started_at: String,
    /// Moving time in whole seconds, as watches report it.
    pub duration_s: i64,
    /// Metres, any precision: kept to the 0.1 m it means.
    pub distance_m: f64,
    /// The course the runner says they ran, to be put on its leaderboard.
    #[serde(default)]
    pub course_id: Option<String>,
    /// The track, as GeoJSON LineString or encoded polyline; only its runner sees it.
    #[serde(default)]
    pub path: Option<Value>,
    /// Where the record came from; the app unless said otherwise.
    #[serde(default)]
    pub source: Option<Source>,
    /// Who may see it; public unless said otherwise.
    #[serde(default)]
    pub visibility: RunVisibility,
    /// The runner's IANA zone, kept so the run can be shown in the time the runner lived.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// A new run that keeps every rule of a run record (parse, don't validate): only
/// [`NewRun::parse`] makes one, so a handler holding one cannot store a run from the
/// future, of no distance, or posing as a Strava import. What it cannot know alone (the
/// course it names exists and the runner may see it) the handler checks before
/// [`NewRun::record`].
#[derive(Debug, Clone)]
pub struct NewRun {
    started: OffsetDateTime,
    duration_s: i64,
    distance_m: f64,
    course_id: Option<String>,
    path: Option<Route>,
    source: Source,
    visibility: RunVisibility,
    time_zone: Option<String>,
}

/// The error of a `course_id` that names no course the runner may see. A 422 on the field
/// rather than a 404: the run is what is created, the course only a field of it, and a
/// private course is not told apart from a missing one.
pub fn unknown_course() -> ApiError {
    ApiError::invalid("course_id", "no such course")
}

impl NewRun {
    /// Applies the rules to `input` at `now`, in the order of the body's fields, and names
    /// the first field that breaks one (a 422 the client can show beside that field).
    pub fn parse(input: RunInput, now: OffsetDateTime) -> Result<NewRun, ApiError> {
        let started = start(&input.started_at, now)?;
        let duration_s = duration(input.duration_s)?;
        let distance_m = distance(input.distance_m)?;
        let source = source(input.source)?;
        if let Some(zone) = &input.time_zone {
            time_zone(zone)?;
        }
        let path = input
            .path
            .as_ref()
            .map(|p| Route::from_json(p, "path"))
            .transpose()?;
        if let Some(id) = &input.course_id
            && !is_course_id(id)
        {
            return Err(unknown_course());
        }
        Ok(NewRun {
            started,
            duration_s,
            distance_m,
            course_id: input.course_id,
            path,
            source,
            visibility: input.visibility,
            time_zone: input.time_zone,
        })
    }

    /// The course the run names, for the handler to load (and check the runner may see)
    /// before [`NewRun::record`]; its shape is already checked, so no malformed id is read.
    pub fn course_id(&self) -> Option<&str> {
        self.course_id.as_deref()
    }

    /// The run `user_id` stores, on `course` (the one [`NewRun::course_id`] names, as
    /// loaded), flagged when [`plausibility`] under `rules` says so, with its path to store
    /// beside it. `created_at` is when the API took it, as every record says.
    pub fn record(
        self,
        user_id: &str,
        course: Option<&Course>,
        rules: &RunsConfig,
        created_at: String,
    ) -> (Run, Option<Route>) {
        let flag = plausibility(
            self.duration_s,
            self.distance_m,
            course.map(|c| c.distance_m),
            rules,
        );
        let started_ms = (self.started.unix_timestamp_nanos() / 1_000_000) as i64;
        let run = Run {
            run_id: new_run_id(started_ms),
            user_id: user_id.to_owned(),
            started_at: utc_to_the_millisecond(self.started),
            started_ms,
            utc_offset_minutes: i32::from(self.started.offset().whole_minutes()),
            time_zone: self.time_zone,
            // The runner's own calendar: a run at 23:30 on Sunday is Sunday's, wherever UTC is.
            local_date: self.started.date().to_string(),
            duration_s: self.duration_s,
            distance_m: self.distance_m,
            course_id: course.map(|c| c.course_id.clone()),
            source: self.source,
            visibility: self.visibility,
            flag,
            path_points: self.path.as_ref().map(Route::len),
            created_at,
        };
        (run, self.path)
    }
}

/// A start: RFC 3339 with an offset (without one the local date is unknowable), not in
/// the future beyond a phone's clock skew, not before [`EARLIEST_YEAR`].
fn start(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, ApiError> {
    let started = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        ApiError::invalid(
            "started_at",
            "must be RFC 3339 with an offset, e.g. 2026-11-22T07:30:00+09:00",
        )
    })?;
    if started.unix_timestamp() > now.unix_timestamp() + FUTURE_SKEW_SECONDS {
        return Err(ApiError::invalid("started_at", "is in the future"));
    }
    if started.year() < EARLIEST_YEAR {
        return Err(ApiError::invalid(
            "started_at",
            format!("is before the year {EARLIEST_YEAR}"),
        ));
    }
    Ok(started)
}

fn duration(seconds: i64) -> Result<i64, ApiError> {
    if (1..=MAX_DURATION_S).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ApiError::invalid(
            "duration_s",
            format!("must be 1 to {MAX_DURATION_S} seconds"),
        ))
    }
}

/// A distance, rounded before it is checked ([`round_distance`]): what rounds to 0 is
/// refused rather than stored as a number the table cannot hold.
fn distance(metres: f64) -> Result<f64, ApiError> {
    let metres = round_distance(metres);
    if metres.is_finite() && metres > 0.0 && metres <= MAX_DISTANCE_M {
        Ok(metres)
    } else {
        Err(ApiError::invalid(
            "distance_m",
            "must be at least 0.1 and at most 1,000,000 metres",
        ))
    }
}

/// A source a client may claim: Strava runs come only from the importer, which keeps them
/// to their athlete as Strava's terms require; a client claiming one could bypass that.
fn source(claimed: Option<Source>) -> Result<Source, ApiError> {
    match claimed.unwrap_or_default() {
        Source::Strava => Err(ApiError::invalid(
            "source",
            "strava runs come only from the Strava import",
        )),
        source => Ok(source),
    }
}

fn time_zone(zone: &str) -> Result<(), ApiError> {
    match jiff::tz::db().get(zone) {
        Ok(_) => Ok(()),
        Err(_) => Err(ApiError::invalid(
            "time_zone",
            "must be an IANA time zone such as Asia/Seoul",
        )),
    }
}

/// `started` in UTC, RFC 3339 to the millisecond: the one shape every time in the API has.
fn utc_to_the_millisecond(started: OffsetDateTime) -> String {
    let utc = started.to_offset(UtcOffset::UTC);
    utc.replace_nanosecond(utc.millisecond() as u32 * 1_000_000)
        .unwrap_or(utc)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Why a run of `duration_s` over `distance_m` (on a course of `course_distance_m`, if
/// any) is kept off leaderboards and records, or `None` when it is plausible. A flag never
/// refuses the run: the runner keeps their record (a bike ride logged as a run, a GPS
/// glitch), it just cannot beat anyone. Too fast is told first: it is the stronger reason.
pub fn plausibility(
    duration_s: i64,
    distance_m: f64,
    course_distance_m: Option<f64>,
    rules: &RunsConfig,
) -> Option<Flag> {
    let pace = duration_s as f64 / (distance_m / 1000.0);
    if pace < rules.pace_floor_seconds_per_km {
        return Some(Flag {
            reason: "too_fast".into(),
            detail: format!(
                "an average pace of {} is faster than the plausible floor of {}",
                pace_text(pace),
                pace_text(rules.pace_floor_seconds_per_km)
            ),
        });
    }
    let course_m = course_distance_m?;
    let off = (distance_m - course_m).abs() / course_m;
    (off > rules.course_distance_tolerance).then(|| Flag {
        reason: "distance_mismatch".into(),
        detail: format!(
            "{:.0} m differs from the course's {:.0} m by {:.0}% (more than {:.0}%)",
            distance_m,
            course_m,
            off * 100.0,
            rules.course_distance_tolerance * 100.0
        ),
    })
}

/// A pace in seconds per kilometre as runners say it, `m:ss min/km`.
fn pace_text(seconds_per_km: f64) -> String {
    let total = seconds_per_km.round() as i64;
    format!("{}:{:02} min/km", total / 60, total % 60)
}

impl Run {
    /// Average pace in seconds per kilometre: how runners compare runs of any length.
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

    /// Whether followers see it: public, and not from Strava (Strava data is its
    /// athlete's only).
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
        if let Some((partition, sort)) = crate::stats::record_band(self) {
            item = item.with_index(Index::Gsi3, partition, sort);
        }
        Ok(item)
    }

    /// Reads a run item back; an item that is not a run is an internal error, not a 404.
    pub fn from_item(item: &Item) -> Result<Run, ApiError> {
        from_body(item)
    }

    /// What the runner sees of their own run: everything, including why it is flagged.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::Visibility;
    use time::macros::datetime;

    /// Our clock in these stories: Sunday 22 November 2026, 12:00 UTC.
    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

    /// The rules as deployed by default.
    fn rules() -> RunsConfig {
        RunsConfig {
            pace_floor_seconds_per_km: 120.0,
            course_distance_tolerance: 0.1,
        }
    }

    /// A plausible 5 km in 25 minutes, started this morning in Seoul.
    fn input() -> RunInput {
        RunInput {
            started_at: "2026-11-22T07:30:00+09:00".into(),
            duration_s: 1500,
            distance_m: 5000.0,
            course_id: None,
            path: None,
            source: None,
            visibility: RunVisibility::Public,
            time_zone: None,
        }
    }

    fn refusal(input: RunInput) -> (String, String) {
        match NewRun::parse(input, NOW) {
            Err(ApiError::Invalid { field, message }) => (field, message),
            other => panic!("expected a refusal naming a field, got {other:?}"),
        }
    }

    fn field_refused(input: RunInput) -> String {
        refusal(input).0
    }

    fn recorded(input: RunInput) -> Run {
        let new = NewRun::parse(input, NOW).expect("a valid run");
        new.record("runner", None, &rules(), "2026-11-22T12:00:00Z".into())
            .0
    }

    fn course_of(metres: f64) -> Course {
        let route = Route::from_json(
            &json!({"type": "LineString", "coordinates": [[127.0, 37.5], [127.02, 37.5]]}),
            "path",
        )
        .expect("route");
        let mut course = Course::new(
            "creator",
            "Han river loop".into(),
            String::new(),
            Visibility::Public,
            &route,
            "2026-11-01T00:00:00Z",
        );
        course.distance_m = metres;
        course
    }

    #[test]
    fn a_plausible_run_is_recorded_as_sent() {
        // given a 5 km in 25 minutes from the app
        // when it is parsed and recorded
        let run = recorded(input());
        // then it is kept as sent, in UTC, from the app, public, unflagged
        assert_eq!(run.started_at, "2026-11-21T22:30:00Z");
        assert_eq!(run.utc_offset_minutes, 540);
        assert_eq!((run.duration_s, run.distance_m), (1500, 5000.0));
        assert_eq!(run.source, Source::App);
        assert_eq!(run.visibility, RunVisibility::Public);
        assert_eq!(run.flag, None);
        assert_eq!(run.course_id, None);
        assert_eq!(run.path_points, None);
        assert_eq!(run.user_id, "runner");
    }

    #[test]
    fn a_runs_local_date_follows_its_own_offset_not_utc() {
        // given a run at 07:30 on Sunday in Seoul (22:30 on Saturday in UTC)
        let seoul = recorded(input());
        // then it belongs to Sunday, the runner's day
        assert_eq!(seoul.local_date, "2026-11-22");
        // given a run at 23:30 on Saturday in Los Angeles winter time (07:30 Sunday UTC)
        let late = recorded(RunInput {
            started_at: "2026-11-21T23:30:00-08:00".into(),
            ..input()
        });
        // then it belongs to Saturday
        assert_eq!(late.local_date, "2026-11-21");
        assert_eq!(late.started_at, "2026-11-22T07:30:00Z");
        assert_eq!(late.utc_offset_minutes, -480);
    }

    #[test]
    fn a_start_is_kept_to_the_millisecond_and_stamps_the_run_id() {
        // given a start with microseconds
        let run = recorded(RunInput {
            started_at: "2026-11-22T07:30:00.123456+09:00".into(),
            ..input()
        });
        // then it is kept in UTC to the millisecond
        assert_eq!(run.started_at, "2026-11-21T22:30:00.123Z");
        assert_eq!(
            run.started_ms,
            datetime!(2026-11-21 22:30:00.123 UTC).unix_timestamp() * 1000 + 123
        );
        // and the run id carries that moment, so runs list by when they were run
        let id = uuid::Uuid::parse_str(&run.run_id).expect("uuid");
        let (seconds, nanos) = id.get_timestamp().expect("v7").to_unix();
        assert_eq!(
            seconds as i64 * 1000 + i64::from(nanos / 1_000_000),
            run.started_ms
        );
        assert!(is_run_id(&run.run_id));
    }

    #[test]
    fn a_run_starting_in_the_future_is_refused_naming_started_at() {
        // given a start an hour from now
        let (field, message) = refusal(RunInput {
            started_at: "2026-11-22T13:00:00Z".into(),
            ..input()
        });
        // then it is refused, naming started_at
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("started_at", "is in the future")
        );
    }

    #[test]
    fn a_phone_clock_up_to_ten_minutes_ahead_is_forgiven() {
        // given starts exactly ten minutes ahead of our clock, and one second more
        let at_skew = RunInput {
            started_at: "2026-11-22T12:10:00Z".into(),
            ..input()
        };
        let past_skew = RunInput {
            started_at: "2026-11-22T12:10:01Z".into(),
            ..input()
        };
        // then the first is a run and the second is in the future
        assert!(NewRun::parse(at_skew, NOW).is_ok());
        assert_eq!(field_refused(past_skew), "started_at");
    }

    #[test]
    fn a_start_without_an_offset_is_refused_with_an_example() {
        // given starts without an offset, and not in RFC 3339 at all
        for started_at in ["2026-11-21T07:00:00", "2026-11-21 07:00", "yesterday"] {
            let (field, message) = refusal(RunInput {
                started_at: started_at.into(),
                ..input()
            });
            // then each is refused with the shape it must have
            assert_eq!(field, "started_at");
            assert_eq!(
                message,
                "must be RFC 3339 with an offset, e.g. 2026-11-22T07:30:00+09:00"
            );
        }
    }

    #[test]
    fn a_start_before_2000_is_a_reset_clock_and_refused() {
        // given a phone whose clock fell back to the epoch
        let (field, message) = refusal(RunInput {
            started_at: "1970-01-01T00:00:00Z".into(),
            ..input()
        });
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("started_at", "is before the year 2000")
        );
        // and the first moment of 2000 in UTC is accepted
        assert!(
            NewRun::parse(
                RunInput {
                    started_at: "2000-01-01T00:00:00Z".into(),
                    ..input()
                },
                NOW
            )
            .is_ok()
        );
    }

    #[test]
    fn a_duration_is_one_second_to_forty_eight_hours() {
        // given durations at and just past the bounds
        let with = |duration_s| RunInput {
            duration_s,
            distance_m: MAX_DISTANCE_M,
            ..input()
        };
        // then the bounds are runs
        assert_eq!(recorded(with(1)).duration_s, 1);
        assert_eq!(recorded(with(MAX_DURATION_S)).duration_s, MAX_DURATION_S);
        // and past them they are refused, naming the range
        for duration_s in [0, -1, MAX_DURATION_S + 1] {
            assert_eq!(
                refusal(with(duration_s)),
                (
                    "duration_s".to_owned(),
                    "must be 1 to 172800 seconds".to_owned()
                )
            );
        }
    }

    #[test]
    fn a_distance_is_rounded_to_the_tenth_of_a_metre_before_it_is_checked() {
        let with = |distance_m| RunInput {
            distance_m,
            duration_s: MAX_DURATION_S,
            ..input()
        };
        // given distances that round to nothing, or are not numbers
        for distance_m in [0.0, 0.04, 1e-131, -5.0, f64::NAN, f64::INFINITY] {
            // then each is refused naming distance_m, not stored as a number the table refuses
            assert_eq!(
                refusal(with(distance_m)),
                (
                    "distance_m".to_owned(),
                    "must be at least 0.1 and at most 1,000,000 metres".to_owned()
                ),
                "{distance_m}"
            );
        }
        // given what rounds up to 0.1 m, a precise reading, and the upper bound
        assert_eq!(recorded(with(0.05)).distance_m, 0.1);
        assert_eq!(recorded(with(5000.04999)).distance_m, 5000.0);
        assert_eq!(recorded(with(MAX_DISTANCE_M)).distance_m, MAX_DISTANCE_M);
        // and one tenth past the bound is refused
        assert_eq!(field_refused(with(MAX_DISTANCE_M + 0.1)), "distance_m");
    }

    #[test]
    fn a_client_cannot_claim_a_run_comes_from_strava() {
        // given a client that says its run came from Strava
        let (field, message) = refusal(RunInput {
            source: Some(Source::Strava),
            ..input()
        });
        // then it is refused: only the importer keeps Strava runs to their athlete
        assert_eq!(field, "source");
        assert_eq!(message, "strava runs come only from the Strava import");
        // and a GPX import is a run like any other
        let gpx = recorded(RunInput {
            source: Some(Source::Gpx),
            ..input()
        });
        assert_eq!(gpx.source, Source::Gpx);
    }

    #[test]
    fn a_time_zone_must_be_one_the_world_knows() {
        // given a zone that does not exist
        let (field, message) = refusal(RunInput {
            time_zone: Some("Mars/Olympus_Mons".into()),
            ..input()
        });
        assert_eq!(field, "time_zone");
        assert_eq!(message, "must be an IANA time zone such as Asia/Seoul");
        // given one that does: it is kept beside the offset
        let run = recorded(RunInput {
            time_zone: Some("Asia/Seoul".into()),
            ..input()
        });
        assert_eq!(run.time_zone.as_deref(), Some("Asia/Seoul"));
    }

    #[test]
    fn a_path_is_checked_position_by_position_and_counted() {
        // given a path whose first position is beyond the pole
        let field = field_refused(RunInput {
            path: Some(json!({"type": "LineString", "coordinates": [[1.0, 95.0], [1.0, 2.0]]})),
            ..input()
        });
        // then the refusal names that position
        assert_eq!(field, "path.coordinates[0][1]");
        // given a good path of three positions
        let new = NewRun::parse(
            RunInput {
                path: Some(json!({"type": "LineString", "coordinates": [[127.0, 37.5], [127.01, 37.5], [127.02, 37.5]]})),
                ..input()
            },
            NOW,
        )
        .expect("valid");
        let (run, path) = new.record("runner", None, &rules(), "now".into());
        // then the run says how long it is and the path comes back to store beside it
        assert_eq!(run.path_points, Some(3));
        assert_eq!(path.map(|p| p.len()), Some(3));
    }

    #[test]
    fn a_malformed_course_id_is_no_such_course_before_any_read() {
        // given a course id that cannot be an id
        let (field, message) = refusal(RunInput {
            course_id: Some("../../etc".into()),
            ..input()
        });
        // then it is refused as the missing course it must be
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("course_id", "no such course")
        );
        // and a well-shaped one is left for the handler to look up
        let new = NewRun::parse(
            RunInput {
                course_id: Some("0123456789abcdef0123456789abcdef".into()),
                ..input()
            },
            NOW,
        )
        .expect("valid");
        assert_eq!(new.course_id(), Some("0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn the_first_broken_rule_in_the_bodys_order_is_named() {
        // given a run with every field wrong
        let input = RunInput {
            started_at: "2026-11-23T00:00:00Z".into(),
            duration_s: 0,
            distance_m: 0.0,
            source: Some(Source::Strava),
            time_zone: Some("Nowhere".into()),
            course_id: Some("x".into()),
            ..input()
        };
        // then the start is named first, and each fix reveals the next
        assert_eq!(field_refused(input.clone()), "started_at");
        let input = RunInput {
            started_at: "2026-11-22T07:00:00Z".into(),
            ..input
        };
        assert_eq!(field_refused(input.clone()), "duration_s");
        let input = RunInput {
            duration_s: 60,
            ..input
        };
        assert_eq!(field_refused(input.clone()), "distance_m");
        let input = RunInput {
            distance_m: 100.0,
            ..input
        };
        assert_eq!(field_refused(input.clone()), "source");
        let input = RunInput {
            source: None,
            ..input
        };
        assert_eq!(field_refused(input.clone()), "time_zone");
        let input = RunInput {
            time_zone: None,
            ..input
        };
        assert_eq!(field_refused(input), "course_id");
    }

    #[test]
    fn a_pace_faster_than_the_floor_is_flagged_not_refused() {
        // given 2 km in 60 s, an average of 0:30 min/km
        let new = NewRun::parse(
            RunInput {
                duration_s: 60,
                distance_m: 2000.0,
                ..input()
            },
            NOW,
        )
        .expect("an implausible run is still a run");
        // when it is recorded on a 2 km course
        let (run, _) = new.record("runner", Some(&course_of(2000.0)), &rules(), "now".into());
        // then it is kept, flagged with the numbers, and off the board
        assert_eq!(
            run.flag,
            Some(Flag {
                reason: "too_fast".into(),
                detail: "an average pace of 0:30 min/km is faster than the plausible floor of 2:00 min/km".into(),
            })
        );
        assert!(!run.on_board());
        assert!(run.course_id.is_some());
    }

    #[test]
    fn a_pace_exactly_at_the_floor_is_plausible() {
        // given 2 km in 240 s (2:00 min/km, the floor) and in 239 s
        let at_floor = plausibility(240, 2000.0, None, &rules());
        let under = plausibility(239, 2000.0, None, &rules());
        // then only the faster one is flagged
        assert_eq!(at_floor, None);
        assert_eq!(under.map(|f| f.reason), Some("too_fast".to_owned()));
    }

    #[test]
    fn a_course_run_within_a_tenth_of_the_course_distance_matches_it() {
        // given a 2 km course: 2.2 km is exactly a tenth over, 1.8 km a tenth under
        for distance_m in [2000.0, 2200.0, 1800.0] {
            // then those runs match the course
            assert_eq!(plausibility(900, distance_m, Some(2000.0), &rules()), None);
        }
    }

    #[test]
    fn a_course_run_far_from_the_course_distance_is_flagged_a_mismatch() {
        // given 1 km run on a 2 km course
        let flag = plausibility(300, 1000.0, Some(2000.0), &rules());
        // then it is flagged, saying by how much
        assert_eq!(
            flag,
            Some(Flag {
                reason: "distance_mismatch".into(),
                detail: "1000 m differs from the course's 2000 m by 50% (more than 10%)".into(),
            })
        );
        // and a tenth of a metre past the tolerance is already too far
        assert!(plausibility(900, 2200.1, Some(2000.0), &rules()).is_some());
    }

    #[test]
    fn a_run_on_no_course_is_never_a_mismatch() {
        // given a 1 km run on no course
        // then nothing compares it to a course distance
        assert_eq!(plausibility(300, 1000.0, None, &rules()), None);
    }

    #[test]
    fn too_fast_is_told_before_a_distance_mismatch() {
        // given 1 km in 60 s on a 2 km course: both too fast and too short
        let flag = plausibility(60, 1000.0, Some(2000.0), &rules());
        // then the stronger reason is the one given
        assert_eq!(flag.map(|f| f.reason), Some("too_fast".to_owned()));
    }

    #[test]
    fn the_pace_floor_and_tolerance_come_from_configuration() {
        // given a club that allows 1:30 min/km and a quarter off the course distance
        let lenient = RunsConfig {
            pace_floor_seconds_per_km: 90.0,
            course_distance_tolerance: 0.25,
        };
        // then a 1:40 min/km run 20% short of the course is plausible there
        assert_eq!(plausibility(160, 1600.0, Some(2000.0), &lenient), None);
        // and not under the default rules
        assert!(plausibility(160, 1600.0, Some(2000.0), &rules()).is_some());
    }

    #[test]
    fn a_plausible_public_course_run_takes_the_courses_id_and_a_place() {
        // given a 2 km course and 2 km in ten minutes on it
        let course = course_of(2000.0);
        let new = NewRun::parse(
            RunInput {
                duration_s: 600,
                distance_m: 2000.0,
                course_id: Some(course.course_id.clone()),
                ..input()
            },
            NOW,
        )
        .expect("valid");
        let (run, _) = new.record("runner", Some(&course), &rules(), "now".into());
        // then it is on that course, unflagged, and may hold a leaderboard place
        assert_eq!(run.course_id.as_deref(), Some(course.course_id.as_str()));
        assert_eq!(run.flag, None);
        assert!(run.on_board());
        // but kept private, the same run holds none
        let private = Run {
            visibility: RunVisibility::Private,
            ..run
        };
        assert!(!private.on_board());
    }

    #[test]
    fn a_pace_reads_as_minutes_and_padded_seconds() {
        assert_eq!(pace_text(300.0), "5:00 min/km");
        assert_eq!(pace_text(245.4), "4:05 min/km");
        assert_eq!(pace_text(59.6), "1:00 min/km");
    }
}
