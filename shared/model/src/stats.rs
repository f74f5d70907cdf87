//! Totals per local week, month and year, and personal records.
//!
//! | item | pk / sk |
//! |---|---|
//! | totals | `USER#<userId>` / `STATS#W#<iso year>-W<week>`, `STATS#M#<yyyy-mm>`, `STATS#Y#<yyyy>`, `STATS#ALL` |
//! | records | `USER#<userId>` / `RECORDS` |
//! | (run index) | gsi3 `RECORDRUNS#<userId>#<band>` / `<pace>#<runId>` on each run that may set records |
//!
//! A run counts in the week, month and year of its local start date (its own UTC offset):
//! a run at 23:30 on a Sunday in Seoul is in that week even though it is Sunday afternoon in
//! UTC. The totals move in the run's own transaction (created on first use); "this week"
//! is read in the runner's profile time zone.
//!
//! When a record's run is deleted, the next record at each distance is the fastest pace
//! among the runs that cover it. Runs are indexed by pace in five bands (how many record
//! distances they cover, [`record_band`]), so the first entries of the bands at or above a
//! distance hold its next record: five Queries of a few entries, in parallel, instead of
//! every run the runner ever recorded.
//!
//! The rules (which buckets a date falls in, what record a run sets, what is left when a
//! run goes) are plain functions here; [`offer_records`] and [`withdraw_records`] only
//! read, apply them and write.

use runcrew_shared::ApiError;
use runcrew_shared::store::versioned::{Change, Versioned};
use runcrew_shared::store::{Index, Item, Key, Query, Store, Write};
use serde_json::{Map, Value, json};
use time::{Date, OffsetDateTime};

use crate::profile::user_partition;
use crate::run::Run;

/// The distances of personal records, by the name the API shows them under: the race
/// distances runners compare themselves on (a half marathon is 21,097.5 m, not 21 km).
pub const RECORD_DISTANCES: [(&str, f64); 5] = [
    ("1k", 1_000.0),
    ("5k", 5_000.0),
    ("10k", 10_000.0),
    ("half_marathon", 21_097.5),
    ("marathon", 42_195.0),
];

/// The stats bucket keys of a local date: ISO week (Monday to Sunday, numbered in the ISO
/// year, which may differ from the calendar year at New Year), month, year and all time.
pub fn bucket_keys(user_id: &str, date: Date) -> [Key; 4] {
    let (iso_year, week, _) = date.to_iso_week_date();
    let pk = user_partition(user_id);
    [
        Key::new(&pk, format!("STATS#W#{iso_year}-W{week:02}")),
        Key::new(
            &pk,
            format!("STATS#M#{}-{:02}", date.year(), u8::from(date.month())),
        ),
        Key::new(&pk, format!("STATS#Y#{}", date.year())),
        Key::new(&pk, "STATS#ALL"),
    ]
}

/// The key of the records item: every distance in one item, so the stats page reads it in
/// the same BatchGetItem as the totals.
pub fn records_key(user_id: &str) -> Key {
    Key::new(user_partition(user_id), "RECORDS")
}

/// Today in `zone` at `now`: "this week" on the stats page is the runner's week, not
/// UTC's. An unknown zone reads as UTC rather than failing the page.
pub fn today_in(zone: &str, now: OffsetDateTime) -> Date {
    let tz = jiff::tz::db().get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_nanosecond(now.unix_timestamp_nanos())
        .ok()
        .map(|at| at.to_zoned(tz).date())
        .and_then(|date| {
            let month = time::Month::try_from(date.month() as u8).ok()?;
            Date::from_calendar_date(i32::from(date.year()), month, date.day() as u8).ok()
        })
        .unwrap_or_else(|| now.to_offset(time::UtcOffset::UTC).date())
}

/// The Monday that starts `date`'s ISO week, the week [`bucket_keys`] counts it in.
pub fn week_start(date: Date) -> Date {
    date.checked_sub(time::Duration::days(i64::from(
        date.weekday().number_days_from_monday(),
    )))
    .unwrap_or(date)
}

/// The date a run counts on: its local date as the runner lived it, fixed when it was
/// recorded, so moving zones later never moves old runs between weeks.
fn local_date(run: &Run) -> Result<Date, ApiError> {
    Date::parse(
        &run.local_date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|e| ApiError::Internal(format!("run {} local date: {e}", run.run_id)))
}

/// The writes that add (`sign` 1) or take back (`sign` -1) a run in its totals. Distances
/// are summed as whole centimetres, so adding then taking back a run leaves exactly what
/// was there, where sums of fractions of metres would drift.
pub fn tally(run: &Run, sign: i64) -> Result<Vec<Write>, ApiError> {
    let centimetres = (run.distance_m * 100.0).round() as i64;
    Ok(bucket_keys(&run.user_id, local_date(run)?)
        .into_iter()
        .map(|key| Write::Increment {
            key,
            deltas: vec![
                ("distance_cm".into(), sign * centimetres),
                ("duration_s".into(), sign * run.duration_s),
                ("runs".into(), sign),
            ],
            must_exist: false,
        })
        .collect())
}

/// The totals of one bucket item as the API shows them, in metres; a bucket never written
/// (no run that week) is zeros, not missing.
pub fn totals_view(item: Option<&Item>) -> Value {
    let number = |name: &str| item.and_then(|i| i.i64(name)).unwrap_or(0);
    json!({
        "distance_m": number("distance_cm") as f64 / 100.0,
        "duration_s": number("duration_s"),
        "runs": number("runs"),
    })
}

/// Whether `run` may set personal records: a flagged run was not run as it says (too
/// fast, or not the course's distance), and would set a record nobody could beat.
pub fn may_set_records(run: &Run) -> bool {
    run.flag.is_none()
}

/// The record entries `run` would set: for each distance it covers, the time at its
/// average pace (a 12 km run at 5:00 min/km is a 25:00 5k). Only distances it covers: a
/// run never sets a record for more than it ran.
pub fn candidates(run: &Run) -> Vec<(&'static str, Value)> {
    RECORD_DISTANCES
        .iter()
        .filter(|(_, metres)| run.distance_m >= *metres)
        .map(|(name, metres)| {
            let seconds = run.duration_s as f64 * metres / run.distance_m;
            (
                *name,
                json!({
                    "seconds": (seconds * 10.0).round() / 10.0,
                    "run_id": run.run_id,
                    "started_at": run.started_at,
                    "pace_s_per_km": (run.pace_s_per_km() * 10.0).round() / 10.0,
                }),
            )
        })
        .collect()
}

/// The gsi3 key of `run` among its runner's record candidates: the band is how many record
/// distances it covers (1 to 5), the sort its pace (microseconds per metre, zero-padded) and
/// then its id (earliest first among equal paces, as records keep ties with who ran first).
/// `None` for a run that sets no record (flagged, or under 1 km).
pub fn record_band(run: &Run) -> Option<(String, String)> {
    if !may_set_records(run) || run.distance_m <= 0.0 {
        return None;
    }
    let band = RECORD_DISTANCES
        .iter()
        .filter(|(_, metres)| run.distance_m >= *metres)
        .count();
    if band == 0 {
        return None;
    }
    let pace = (run.duration_s as f64 * 1_000_000.0 / run.distance_m).round() as u64;
    Some((
        record_band_partition(&run.user_id, band),
        format!("{pace:012}#{}", run.run_id),
    ))
}

fn record_band_partition(user_id: &str, band: usize) -> String {
    format!("RECORDRUNS#{user_id}#{band}")
}

/// Entries read from each band when a record's run is deleted: the fastest, and enough
/// more to step over the deleted run while the index still lists it.
const BAND_ENTRIES: usize = 3;

/// The runs that may hold `user_id`'s records once `deleted` is gone: the fastest few of
/// each band, read again from the table, in run order (earliest first), for [`rebuilt`].
async fn record_candidates(
    store: &dyn Store,
    user_id: &str,
    deleted: &str,
) -> Result<Vec<Run>, ApiError> {
    let pages =
        futures::future::try_join_all((1..=RECORD_DISTANCES.len()).map(|band| async move {
            store
                .query(
                    &Query::index(Index::Gsi3, record_band_partition(user_id, band))
                        .limit(BAND_ENTRIES),
                )
                .await
        }))
        .await?;
    let mut keys: Vec<Key> = pages
        .iter()
        .flat_map(|page| page.items.iter())
        .map(|item| item.key.clone())
        .filter(|key| *key != crate::run::run_key(user_id, deleted))
        .collect();
    keys.sort();
    keys.dedup();
    // Read again from the table: the index lags, and may still list a run deleted just
    // before this one, which must not become a record again.
    let mut runs = store
        .get_many(&keys)
        .await?
        .iter()
        .map(Run::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    Ok(runs)
}

/// Whether `candidate` beats `current` (none: anything does). Strictly faster only: an
/// equal time leaves the record with whoever ran it first.
pub fn faster(candidate: &Value, current: Option<&Value>) -> bool {
    let seconds = |v: &Value| v["seconds"].as_f64().unwrap_or(f64::INFINITY);
    current.is_none_or(|c| seconds(candidate) < seconds(c))
}

/// Attempts at a read-modify-write of the records.
const ATTEMPTS: u32 = 5;

/// Lets `run` improve `records`; returns whether it did, so an unchanged item is not
/// written again. A run that may not set records ([`may_set_records`]) changes nothing.
pub fn improve(records: &mut Map<String, Value>, run: &Run) -> bool {
    if !may_set_records(run) {
        return false;
    }
    let mut changed = false;
    for (name, entry) in candidates(run) {
        if faster(&entry, records.get(name)) {
            records.insert(name.to_owned(), entry);
            changed = true;
        }
    }
    changed
}

/// Whether `run_id` holds any of `records`: only then does its deletion cost a rebuild.
pub fn holds(records: &Map<String, Value>, run_id: &str) -> bool {
    records.values().any(|e| e["run_id"] == run_id)
}

/// The records `runs` set without `deleted_run_id`: what is left when that run goes. The
/// deleted run is skipped by id, since a read just after the deletion may still list it.
pub fn rebuilt(runs: &[Run], deleted_run_id: &str) -> Map<String, Value> {
    let mut records = Map::new();
    for run in runs.iter().filter(|r| r.run_id != deleted_run_id) {
        improve(&mut records, run);
    }
    records
}

/// The records a records item holds (none in an item without them).
fn records_of(item: &Item) -> Option<&Map<String, Value>> {
    item.body.get("records").and_then(Value::as_object)
}

/// The records item holding `records`; [`Versioned`] sets its version.
fn records_item(key: &Key, records: Map<String, Value>) -> Item {
    let mut body = Map::new();
    body.insert("records".into(), Value::Object(records));
    Item::new(key.clone(), body)
}

fn busy() -> ApiError {
    ApiError::Conflict {
        code: "records_busy",
        message: "personal records changed too often; try again".into(),
    }
}

/// Lets `run` set personal records ([`improve`]); a run that may not set any
/// ([`may_set_records`]) costs no read.
pub async fn offer_records(store: &dyn Store, run: &Run) -> Result<(), ApiError> {
    if !may_set_records(run) {
        return Ok(());
    }
    let key = records_key(&run.user_id);
    let key = &key;
    Versioned::new(key.clone())
        .attempts(ATTEMPTS)
        .apply(store, |current| async move {
            let mut records = current
                .as_ref()
                .and_then(records_of)
                .cloned()
                .unwrap_or_default();
            if !improve(&mut records, run) {
                return Ok::<_, ApiError>(Change::keep(()));
            }
            Ok(Change::put(records_item(key, records), ()))
        })
        .await
        .map_err(|err| err.or_conflict(busy))
}

/// After `run` was deleted: if it held a record ([`holds`]), the records are rebuilt from
/// the fastest runs of each band ([`record_candidates`], [`rebuilt`]): the same records a
/// read of every remaining run would give, at a cost that does not grow with the runs.
pub async fn withdraw_records(store: &dyn Store, run: &Run) -> Result<(), ApiError> {
    let key = records_key(&run.user_id);
    let key = &key;
    Versioned::new(key.clone())
        .attempts(ATTEMPTS)
        .apply(store, |current| async move {
            let Some(item) = current else {
                return Ok(Change::keep(()));
            };
            if !records_of(&item).is_some_and(|r| holds(r, &run.run_id)) {
                return Ok(Change::keep(()));
            }
            let runs = record_candidates(store, &run.user_id, &run.run_id).await?;
            Ok(Change::put(
                records_item(key, rebuilt(&runs, &run.run_id)),
                (),
            ))
        })
        .await
        .map_err(|err| err.or_conflict(busy))
}

/// The records as the API shows them: every distance, `null` where none is set, so a
/// client lays out the same five rows for a new runner as for a veteran.
pub fn records_view(item: Option<&Item>) -> Value {
    let records = item.and_then(records_of);
    let mut view = Map::new();
    for (name, _) in RECORD_DISTANCES {
        view.insert(
            name.to_owned(),
            records
                .and_then(|r| r.get(name))
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    Value::Object(view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Flag, RunVisibility, Source};
    use time::macros::{date, datetime};

    /// A run of `metres` in `seconds`, on `local_date` as its runner lived it.
    fn run(id: &str, metres: f64, seconds: i64, local_date: &str) -> Run {
        Run {
            run_id: id.into(),
            user_id: "u".into(),
            started_at: format!("{local_date}T07:00:00Z"),
            started_ms: 0,
            utc_offset_minutes: 0,
            time_zone: None,
            local_date: local_date.into(),
            duration_s: seconds,
            distance_m: metres,
            course_id: None,
            source: Source::App,
            visibility: RunVisibility::Public,
            flag: None,
            path_points: None,
            created_at: "2026-11-22T12:00:00Z".into(),
        }
    }

    fn flagged(run: Run) -> Run {
        Run {
            flag: Some(Flag {
                reason: "too_fast".into(),
                detail: "too fast".into(),
            }),
            ..run
        }
    }

    #[tokio::test]
    async fn deleting_record_runs_one_after_another_leaves_what_every_run_would_give() {
        // given 300 runs of every length from 0.5 to 45 km at varied paces (some flagged,
        // some equal), stored with their index keys, and the records they set
        let store = runcrew_shared::store::embedded::EmbeddedStore::in_memory(
            runcrew_shared::store::cursor::CursorCodec::new("s".repeat(32)),
        );
        let mut seed: u64 = 7;
        let mut next = move |below: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % below
        };
        let mut runs = Vec::new();
        for i in 0..300 {
            let metres = 500.0 + (next(4_450) * 10) as f64;
            let pace = 240 + next(180) as i64;
            let mut r = run(
                &format!("r{i:04}"),
                metres,
                pace * metres as i64 / 1000,
                "2026-11-20",
            );
            if i % 37 == 0 {
                r = flagged(r);
            }
            store
                .put(
                    r.to_item().expect("item"),
                    runcrew_shared::store::Condition::None,
                )
                .await
                .expect("put");
            offer_records(&store, &r).await.expect("offer");
            runs.push(r);
        }
        // when the holder of some record is deleted, twelve times over
        for _ in 0..12 {
            let item = store
                .get(&records_key("u"))
                .await
                .expect("get")
                .expect("records");
            let held = records_of(&item).expect("records").clone();
            let holder = held["5k"]["run_id"]
                .as_str()
                .or(held["1k"]["run_id"].as_str())
                .expect("a holder")
                .to_owned();
            let gone = runs
                .iter()
                .position(|r| r.run_id == holder)
                .expect("the run");
            let gone = runs.remove(gone);
            store
                .delete(
                    &crate::run::run_key("u", &gone.run_id),
                    runcrew_shared::store::Condition::None,
                )
                .await
                .expect("delete");
            withdraw_records(&store, &gone).await.expect("withdraw");
            // then the records are those of every remaining run
            let item = store
                .get(&records_key("u"))
                .await
                .expect("get")
                .expect("records");
            assert_eq!(
                records_of(&item).cloned(),
                Some(rebuilt(&runs, &gone.run_id))
            );
        }
    }

    #[test]
    fn a_run_is_indexed_in_the_band_of_the_distances_it_covers() {
        // a 12 km run covers 1k, 5k and 10k: band 3; 800 m covers none; flagged, none
        let (partition, sort) =
            record_band(&run("r1", 12_000.0, 3_600, "2026-11-20")).expect("a band");
        assert_eq!(partition, "RECORDRUNS#u#3");
        assert_eq!(sort, "000000300000#r1");
        assert_eq!(record_band(&run("r2", 800.0, 300, "2026-11-20")), None);
        assert_eq!(
            record_band(&flagged(run("r3", 5_000.0, 1_500, "2026-11-20"))),
            None
        );
    }

    /// The records `runs` set, one after the other.
    fn records_after(runs: &[Run]) -> Map<String, Value> {
        let mut records = Map::new();
        for run in runs {
            improve(&mut records, run);
        }
        records
    }

    fn record(records: &Map<String, Value>, name: &str) -> (Option<f64>, Option<String>) {
        records.get(name).map_or((None, None), |r| {
            (
                r["seconds"].as_f64(),
                r["run_id"].as_str().map(str::to_owned),
            )
        })
    }

    #[test]
    fn a_sunday_run_counts_in_the_week_that_ends_that_sunday() {
        // 2026-11-22 is a Sunday; ISO week 47 runs Monday 16th to Sunday 22nd.
        let [week, month, year, _] = bucket_keys("u", date!(2026 - 11 - 22));
        assert_eq!(week.sk, "STATS#W#2026-W47");
        assert_eq!(month.sk, "STATS#M#2026-11");
        assert_eq!(year.sk, "STATS#Y#2026");
        let [next_week, ..] = bucket_keys("u", date!(2026 - 11 - 23));
        assert_eq!(next_week.sk, "STATS#W#2026-W48");
    }

    #[test]
    fn new_years_eve_can_belong_to_the_next_iso_year() {
        // 2024-12-30 is the Monday of ISO week 1 of 2025.
        let [week, _, year, _] = bucket_keys("u", date!(2024 - 12 - 30));
        assert_eq!(week.sk, "STATS#W#2025-W01");
        assert_eq!(year.sk, "STATS#Y#2024");
    }

    #[test]
    fn a_new_month_and_year_start_new_buckets_but_the_week_runs_on() {
        // given Thursday 31 December 2026 and Friday 1 January 2027, in one ISO week
        let [old_week, old_month, old_year, old_all] = bucket_keys("u", date!(2026 - 12 - 31));
        let [new_week, new_month, new_year, new_all] = bucket_keys("u", date!(2027 - 01 - 01));
        // then the month and year change, the week and all time do not
        assert_eq!(old_week.sk, "STATS#W#2026-W53");
        assert_eq!(new_week, old_week);
        assert_eq!(
            (old_month.sk.as_str(), new_month.sk.as_str()),
            ("STATS#M#2026-12", "STATS#M#2027-01")
        );
        assert_eq!(
            (old_year.sk.as_str(), new_year.sk.as_str()),
            ("STATS#Y#2026", "STATS#Y#2027")
        );
        assert_eq!(new_all, old_all);
        assert_eq!(new_all.sk, "STATS#ALL");
    }

    #[test]
    fn a_week_starts_on_its_monday() {
        // given a Sunday, a Monday and a Wednesday
        // then each week starts on the Monday before (or on) it
        assert_eq!(week_start(date!(2026 - 11 - 22)), date!(2026 - 11 - 16));
        assert_eq!(week_start(date!(2026 - 11 - 23)), date!(2026 - 11 - 23));
        assert_eq!(week_start(date!(2026 - 11 - 25)), date!(2026 - 11 - 23));
        // and across a year's end too
        assert_eq!(week_start(date!(2027 - 01 - 01)), date!(2026 - 12 - 28));
    }

    #[test]
    fn today_follows_the_runners_time_zone() {
        // given 15:30 UTC on Sunday 22 November 2026
        let now = datetime!(2026-11-22 15:30 UTC);
        // then it is already Monday in Seoul, still Sunday eight hours behind UTC
        assert_eq!(today_in("Asia/Seoul", now), date!(2026 - 11 - 23));
        assert_eq!(today_in("Etc/GMT+8", now), date!(2026 - 11 - 22));
        // and in a zone nobody knows, it is the UTC day
        assert_eq!(today_in("Mars/Olympus_Mons", now), date!(2026 - 11 - 22));
    }

    #[test]
    fn a_run_counts_in_the_buckets_of_its_local_date_not_utcs() {
        // given a run at 23:30 on Sunday 22 November, eight hours behind UTC (Monday in UTC)
        let late = Run {
            started_at: "2026-11-23T07:30:00Z".into(),
            ..run("r1", 5000.0, 1500, "2026-11-22")
        };
        // when it is tallied
        let writes = tally(&late, 1).expect("tally");
        // then it lands in Sunday's week, month and year, and in all time
        let keys: Vec<String> = writes
            .iter()
            .map(|w| match w {
                Write::Increment { key, .. } => key.sk.clone(),
                other => panic!("expected increments, got {other:?}"),
            })
            .collect();
        assert_eq!(
            keys,
            [
                "STATS#W#2026-W47",
                "STATS#M#2026-11",
                "STATS#Y#2026",
                "STATS#ALL"
            ]
        );
    }

    #[test]
    fn a_run_adds_centimetres_seconds_and_one_run_and_its_deletion_takes_them_back() {
        // given a run of 5,000.04 m in 25 minutes
        let five_k = run("r1", 5000.04, 1500, "2026-11-22");
        // when it is added and when it is taken back
        let deltas = |sign| match tally(&five_k, sign).expect("tally").remove(0) {
            Write::Increment {
                deltas, must_exist, ..
            } => (deltas, must_exist),
            other => panic!("expected an increment, got {other:?}"),
        };
        let (added, must_exist) = deltas(1);
        let (taken, _) = deltas(-1);
        // then whole centimetres, seconds and one run move, creating the bucket if need be
        assert_eq!(
            added,
            [
                ("distance_cm".to_owned(), 500_004),
                ("duration_s".to_owned(), 1500),
                ("runs".to_owned(), 1)
            ]
        );
        assert!(!must_exist);
        // and the deletion takes back exactly as much
        assert_eq!(
            taken,
            [
                ("distance_cm".to_owned(), -500_004),
                ("duration_s".to_owned(), -1500),
                ("runs".to_owned(), -1)
            ]
        );
    }

    #[test]
    fn a_run_with_an_unreadable_local_date_is_an_internal_error() {
        // given a stored run whose local date is not a date
        let broken = run("r1", 5000.0, 1500, "yesterday");
        // then tallying it fails rather than counting it somewhere arbitrary
        assert!(matches!(tally(&broken, 1), Err(ApiError::Internal(_))));
    }

    #[test]
    fn totals_are_shown_in_metres_and_an_empty_week_is_zeros() {
        // given a bucket that summed 8 km and 12.34 m in two runs
        let mut body = Map::new();
        body.insert("distance_cm".into(), json!(801_234));
        body.insert("duration_s".into(), json!(2580));
        body.insert("runs".into(), json!(2));
        let item = Item::new(Key::new("USER#u", "STATS#ALL"), body);
        // then it shows metres
        assert_eq!(
            totals_view(Some(&item)),
            json!({"distance_m": 8012.34, "duration_s": 2580, "runs": 2})
        );
        // and a bucket never written shows zeros
        assert_eq!(
            totals_view(None),
            json!({"distance_m": 0.0, "duration_s": 0, "runs": 0})
        );
    }

    #[test]
    fn a_run_sets_records_only_for_the_distances_it_covers_at_its_average_pace() {
        // given 12 km in an hour (5:00 min/km)
        let entries = candidates(&run("r1", 12_000.0, 3600, "2026-11-22"));
        // then it sets a 1k, a 5k and a 10k at that pace, and no half marathon
        let set: Vec<(&str, Option<f64>)> = entries
            .iter()
            .map(|(name, e)| (*name, e["seconds"].as_f64()))
            .collect();
        assert_eq!(
            set,
            [
                ("1k", Some(300.0)),
                ("5k", Some(1500.0)),
                ("10k", Some(3000.0))
            ]
        );
        assert_eq!(entries[1].1["pace_s_per_km"], 300.0);
        assert_eq!(entries[1].1["run_id"], "r1");
    }

    #[test]
    fn a_run_of_exactly_five_kilometres_counts_for_the_5k_and_a_tenth_less_does_not() {
        let names = |metres| -> Vec<&str> {
            candidates(&run("r", metres, 1500, "2026-11-22"))
                .into_iter()
                .map(|(name, _)| name)
                .collect()
        };
        assert_eq!(names(5000.0), ["1k", "5k"]);
        assert_eq!(names(4999.9), ["1k"]);
        assert_eq!(names(999.9), Vec::<&str>::new());
    }

    #[test]
    fn a_record_time_is_kept_to_the_tenth_of_a_second() {
        // given 5,003 m in 25:01 (a 5k of 1,500.1 s at that pace)
        let entries = candidates(&run("r1", 5003.0, 1501, "2026-11-22"));
        // then the 5k is 1,500.1 s
        assert_eq!(entries[1].1["seconds"], 1500.1);
    }

    #[test]
    fn a_faster_5k_replaces_the_record_and_a_slower_one_does_not() {
        // given a 5k record of 25:00
        let mut records = records_after(&[run("first", 5000.0, 1500, "2026-11-20")]);
        // when a slower 5k is run
        let slower = improve(&mut records, &run("slower", 5000.0, 1560, "2026-11-21"));
        // then the record stands, and nothing needs writing
        assert!(!slower);
        assert_eq!(record(&records, "5k"), (Some(1500.0), Some("first".into())));
        // when a faster one is run
        let faster = improve(&mut records, &run("faster", 5000.0, 1440, "2026-11-22"));
        // then it takes the 5k (and the 1k)
        assert!(faster);
        assert_eq!(
            record(&records, "5k"),
            (Some(1440.0), Some("faster".into()))
        );
        assert_eq!(record(&records, "1k"), (Some(288.0), Some("faster".into())));
    }

    #[test]
    fn an_equal_time_leaves_the_record_with_who_ran_it_first() {
        // given a 5k record of 25:00
        let mut records = records_after(&[run("first", 5000.0, 1500, "2026-11-20")]);
        // when the same time is run again
        // then the first run keeps it
        assert!(!improve(
            &mut records,
            &run("again", 5000.0, 1500, "2026-11-21")
        ));
        assert_eq!(record(&records, "5k").1.as_deref(), Some("first"));
    }

    #[test]
    fn a_long_slow_run_can_set_a_new_distance_while_a_short_fast_one_keeps_the_short_ones() {
        // given a fast 5k
        let mut records = records_after(&[run("fast", 5000.0, 1200, "2026-11-20")]);
        // when a slow 10k is run
        assert!(improve(
            &mut records,
            &run("long", 10_000.0, 3600, "2026-11-21")
        ));
        // then it sets the 10k but not the 5k or the 1k
        assert_eq!(record(&records, "10k").1.as_deref(), Some("long"));
        assert_eq!(record(&records, "5k").1.as_deref(), Some("fast"));
        assert_eq!(record(&records, "1k").1.as_deref(), Some("fast"));
    }

    #[test]
    fn a_flagged_run_sets_no_record() {
        // given no records, and a run flagged as implausible
        let mut records = Map::new();
        let implausible = flagged(run("bike", 10_000.0, 900, "2026-11-22"));
        // then it may not set one and sets none
        assert!(!may_set_records(&implausible));
        assert!(!improve(&mut records, &implausible));
        assert!(records.is_empty());
    }

    #[test]
    fn only_a_run_that_holds_a_record_costs_a_rebuild_when_deleted() {
        // given a 5k record by one run, beaten at nothing by another
        let records = records_after(&[
            run("holder", 5000.0, 1500, "2026-11-20"),
            run("slower", 5000.0, 1600, "2026-11-21"),
        ]);
        // then only the holder's deletion touches the records
        assert!(holds(&records, "holder"));
        assert!(!holds(&records, "slower"));
        assert!(!holds(&Map::new(), "holder"));
    }

    #[test]
    fn rebuilding_records_without_a_deleted_run_hands_them_to_the_next_best() {
        // given a 10k that holds every record, a slower 5k, and a flagged 10k
        let runs = [
            run("best", 10_000.0, 2400, "2026-11-20"),
            run("next", 5000.0, 1500, "2026-11-21"),
            flagged(run("bike", 10_000.0, 900, "2026-11-22")),
        ];
        // when the best is deleted (and a read still lists it)
        let records = rebuilt(&runs, "best");
        // then the 1k and 5k go to the next best, the flagged run sets none, and the 10k
        // has no holder
        assert_eq!(record(&records, "5k"), (Some(1500.0), Some("next".into())));
        assert_eq!(record(&records, "1k"), (Some(300.0), Some("next".into())));
        assert!(!records.contains_key("10k"));
        // and deleting the only run leaves no records
        assert!(rebuilt(&runs[..1], "best").is_empty());
    }

    #[test]
    fn records_show_every_distance_null_where_none_is_set() {
        // given records with only a 5k
        let mut body = Map::new();
        body.insert(
            "records".into(),
            Value::Object(records_after(&[run("r1", 5000.0, 1500, "2026-11-22")])),
        );
        let item = Item::new(records_key("u"), body);
        // then the view has all five distances, null beyond the 5k
        let view = records_view(Some(&item));
        assert_eq!(view["5k"]["seconds"], 1500.0);
        assert_eq!(view["1k"]["seconds"], 300.0);
        for name in ["10k", "half_marathon", "marathon"] {
            assert_eq!(view[name], Value::Null, "{name}");
        }
        // and a runner without records gets the same five rows, all null
        let empty = records_view(None);
        assert_eq!(empty.as_object().map(Map::len), Some(5));
        assert!(
            empty
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_null))
        );
    }
}
