//! Totals per local week, month and year, and personal records.
//!
//! | item | pk / sk |
//! |---|---|
//! | totals | `USER#<userId>` / `STATS#W#<iso year>-W<week>`, `STATS#M#<yyyy-mm>`, `STATS#Y#<yyyy>`, `STATS#ALL` |
//! | records | `USER#<userId>` / `RECORDS` |
//!
//! A run counts in the week, month and year of its local start date (its own UTC offset):
//! a run at 23:30 on a Sunday in Seoul is in that week even though it is Sunday afternoon in
//! UTC. The totals move in the run's own transaction (created on first use); "this week"
//! is read in the runner's profile time zone.

use runcrew_shared::ApiError;
use runcrew_shared::store::{Condition, Item, Key, MAX_PAGE, Store, StoreError, Write, read_all};
use serde_json::{Map, Value, json};
use time::Date;

use crate::profile::user_partition;
use crate::run::{Run, runs_of};

/// The distances of personal records, by name.
pub const RECORD_DISTANCES: [(&str, f64); 5] = [
    ("1k", 1_000.0),
    ("5k", 5_000.0),
    ("10k", 10_000.0),
    ("half_marathon", 21_097.5),
    ("marathon", 42_195.0),
];

/// The stats bucket keys of a local date: ISO week, month, year and all time.
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

/// The key of the records item.
pub fn records_key(user_id: &str) -> Key {
    Key::new(user_partition(user_id), "RECORDS")
}

fn local_date(run: &Run) -> Result<Date, ApiError> {
    Date::parse(
        &run.local_date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|e| ApiError::Internal(format!("run {} local date: {e}", run.run_id)))
}

/// The writes that add (`sign` 1) or take back (`sign` -1) a run in its totals.
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

/// The totals of one bucket item as the API shows them.
pub fn totals_view(item: Option<&Item>) -> Value {
    let number = |name: &str| item.and_then(|i| i.i64(name)).unwrap_or(0);
    json!({
        "distance_m": number("distance_cm") as f64 / 100.0,
        "duration_s": number("duration_s"),
        "runs": number("runs"),
    })
}

/// The record entries `run` would set: for each distance it covers, the time at its
/// average pace.
fn candidates(run: &Run) -> Vec<(&'static str, Value)> {
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

fn faster(candidate: &Value, current: Option<&Value>) -> bool {
    let seconds = |v: &Value| v["seconds"].as_f64().unwrap_or(f64::INFINITY);
    current.is_none_or(|c| seconds(candidate) < seconds(c))
}

/// Attempts at a read-modify-write of the records.
const ATTEMPTS: usize = 5;

/// Lets `run` improve `records`; returns whether it did.
fn improve(records: &mut Map<String, Value>, run: &Run) -> bool {
    let mut changed = false;
    for (name, entry) in candidates(run) {
        if faster(&entry, records.get(name)) {
            records.insert(name.to_owned(), entry);
            changed = true;
        }
    }
    changed
}

/// Writes `records` over `current` (the item read, or none); `false` when someone wrote
/// in between and the caller must read again.
async fn save(
    store: &dyn Store,
    key: &Key,
    records: Map<String, Value>,
    current: Option<&Item>,
) -> Result<bool, ApiError> {
    let (condition, version) = match current {
        None => (Condition::NotExists, 1),
        Some(item) => (Condition::VersionIs(item.version), item.version + 1),
    };
    let mut body = Map::new();
    body.insert("records".into(), Value::Object(records));
    match store
        .put(
            Item::new(key.clone(), body).with_version(version),
            condition,
        )
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(other) => Err(other.into()),
    }
}

fn busy() -> ApiError {
    ApiError::Conflict {
        code: "records_busy",
        message: "personal records changed too often; try again".into(),
    }
}

/// Lets `run` (plausible ones only) set personal records.
pub async fn offer_records(store: &dyn Store, run: &Run) -> Result<(), ApiError> {
    if run.flag.is_some() {
        return Ok(());
    }
    let key = records_key(&run.user_id);
    for _ in 0..ATTEMPTS {
        let current = store.get(&key).await?;
        let mut records = current
            .as_ref()
            .and_then(|i| i.body.get("records"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if !improve(&mut records, run) {
            return Ok(());
        }
        if save(store, &key, records, current.as_ref()).await? {
            return Ok(());
        }
    }
    Err(busy())
}

/// After `run` was deleted: if it held a record, the records are rebuilt from every
/// remaining run (rare, so a full read of the runner's runs is fine).
pub async fn withdraw_records(store: &dyn Store, run: &Run) -> Result<(), ApiError> {
    let key = records_key(&run.user_id);
    for _ in 0..ATTEMPTS {
        let Some(item) = store.get(&key).await? else {
            return Ok(());
        };
        let held = item
            .body
            .get("records")
            .and_then(Value::as_object)
            .is_some_and(|r| r.values().any(|e| e["run_id"] == run.run_id.as_str()));
        if !held {
            return Ok(());
        }
        let runs = read_all(store, runs_of(&run.user_id).limit(MAX_PAGE)).await?;
        let mut records = Map::new();
        for other in &runs {
            let other = Run::from_item(other)?;
            if other.run_id != run.run_id && other.flag.is_none() {
                improve(&mut records, &other);
            }
        }
        if save(store, &key, records, Some(&item)).await? {
            return Ok(());
        }
    }
    Err(busy())
}

/// The records as the API shows them: every distance, `null` where none is set.
pub fn records_view(item: Option<&Item>) -> Value {
    let records = item
        .and_then(|i| i.body.get("records"))
        .and_then(Value::as_object);
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
    use time::macros::date;

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
}
