//! The projector's throughput: stream records per second it applies to leaderboards and
//! records, with the store calls each costs, against the embedded store (a file, as on a
//! laptop) and against DynamoDB Local with its stream.
//!
//! Writes `--runs` runs (by 50 runners on 20 courses, durations spread so boards change
//! often), then reads the table's stream from its start in batches of 100 (the template's
//! `BatchSize`) and hands each batch to the projector, as Lambda does, timing that part
//! alone. Checks at the end that every course's board holds one entry per runner who ran
//! it. Prints a Markdown table.
//!
//! `bench-projector [--runs N] [--dynamodb http://127.0.0.1:PORT] [--out FILE]` (stdout
//! carries the projector's own EMF lines, as on Lambda; the table goes to FILE or stderr).

use std::sync::Arc;
use std::time::Instant;

use runcrew_bench::CountingStore;
use runcrew_local::dynamo_stream::{DynamoTableStream, StreamedStore};
use runcrew_model::run::{Run, RunVisibility, Source, new_run_id};
use runcrew_shared::App;
use runcrew_shared::config::Config;
use runcrew_shared::store::cursor::CursorCodec;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::stream::TableStream;
use runcrew_shared::store::{Condition, Query, SortRange, Store};

const SECRET: &str = "bench-cursor-secret-of-at-least-32-bytes";
const RUNNERS: usize = 50;
const COURSES: usize = 20;
const BATCH: usize = 100;

fn id(kind: u8, n: usize) -> String {
    format!("{kind:02x}{n:030x}")
}

/// The `n`th run: runner `n % RUNNERS` on course `n % COURSES`, 20 to 40 minutes.
fn run(n: usize) -> Run {
    let started_ms = 1_795_000_000_000 + n as i64 * 60_000;
    Run {
        run_id: new_run_id(started_ms),
        user_id: id(1, n % RUNNERS),
        started_at: "2026-11-20T22:10:00.000Z".into(),
        started_ms,
        utc_offset_minutes: 540,
        time_zone: Some("Asia/Seoul".into()),
        local_date: "2026-11-21".into(),
        duration_s: 1200 + ((n * 7919) % 1200) as i64,
        distance_m: 5000.0,
        course_id: Some(id(2, n % COURSES)),
        source: Source::App,
        visibility: RunVisibility::Public,
        flag: None,
        path_points: None,
        created_at: "2026-11-20T22:40:00.000Z".into(),
    }
}

struct Figures {
    seconds: f64,
    records: usize,
    reads_per_record: f64,
    writes_per_record: f64,
}

async fn measure(store: Arc<dyn Store>, runs: usize) -> Figures {
    for n in 0..runs {
        store
            .put(run(n).to_item().expect("a run item"), Condition::None)
            .await
            .expect("write a run");
    }
    let stream: &dyn TableStream = store.stream().expect("the store keeps a stream");
    let counting = Arc::new(CountingStore::new(store.clone()));
    let config = Config::from_lookup(|_| None).expect("local defaults");
    let app = App::from_parts(config, Some(counting.clone()), None, None);
    let started = Instant::now();
    let mut position: Option<String> = None;
    let mut records = 0;
    while records < runs {
        let batch = stream
            .read_after(position.as_deref(), BATCH)
            .await
            .expect("read the stream");
        let Some(last) = batch.last().map(|c| c.sequence.clone()) else {
            stream.changed().await;
            continue;
        };
        let outcome = runcrew_runs::projector::PROJECTOR.call(&app, &batch).await;
        assert_eq!(outcome.first_failed, None, "the projector failed a record");
        records += batch.len();
        position = Some(last);
    }
    let seconds = started.elapsed().as_secs_f64();
    let trips = counting.trips();
    for course in 0..COURSES {
        let runners: std::collections::BTreeSet<usize> = (0..runs)
            .filter(|n| n % COURSES == course)
            .map(|n| n % RUNNERS)
            .collect();
        let entries = store
            .count(
                &Query::partition(format!("COURSE#{}", id(2, course)))
                    .range(SortRange::BeginsWith("BEST#".into())),
            )
            .await
            .expect("count a board");
        assert_eq!(
            entries,
            runners.len(),
            "course {course}: one entry per runner"
        );
    }
    Figures {
        seconds,
        records,
        reads_per_record: trips.reads as f64 / records as f64,
        writes_per_record: trips.writes as f64 / records as f64,
    }
}

#[tokio::main]
async fn main() {
    let mut runs = 2_000;
    let mut dynamodb = None;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(runs),
            "--dynamodb" => dynamodb = args.next(),
            "--out" => out = args.next(),
            _ => {}
        }
    }
    let mut rows = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = EmbeddedStore::open(&dir.path().join("store.redb"), CursorCodec::new(SECRET))
        .and_then(EmbeddedStore::with_stream)
        .expect("embedded store");
    rows.push(("embedded (file)", measure(Arc::new(embedded), runs).await));
    if let Some(endpoint) = &dynamodb {
        let sdk = runcrew_bench::local_sdk_config().await;
        let store = runcrew_bench::local_table(endpoint, "runcrew-bench-projector", SECRET).await;
        let stream = DynamoTableStream::of(&store, &sdk, Some(endpoint))
            .await
            .expect("the table's stream");
        let streamed = StreamedStore::new(Arc::new(store), Arc::new(stream));
        rows.push(("DynamoDB Local", measure(Arc::new(streamed), runs).await));
    }
    let mut table = String::from(
        "| store | records | seconds | records/s | store reads per record | writes per record |\n|---|---|---|---|---|---|\n",
    );
    for (name, f) in rows {
        table.push_str(&format!(
            "| {name} | {} | {:.2} | {:.0} | {:.2} | {:.2} |\n",
            f.records,
            f.seconds,
            f.records as f64 / f.seconds,
            f.reads_per_record,
            f.writes_per_record
        ));
    }
    match out {
        Some(path) => std::fs::write(path, table).expect("write the table"),
        None => eprint!("{table}"),
    }
}
