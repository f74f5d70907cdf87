//! The `event-reminders` task's cost for a busy window: `--events` group runs (1,000 unless
//! told) starting within the next hour, each with `--participants` going (5 unless told),
//! reminded by one tick through the task's own code, then the same tick again (every event
//! marked, so it should cost one BatchGetItem per 100 events and send nothing). Counts
//! store calls in the adapter and push jobs on the in-process queue. Against the embedded
//! store, and DynamoDB Local with `--dynamodb`. Prints a Markdown table.
//!
//! `bench-reminders [--events N] [--participants P] [--dynamodb http://127.0.0.1:PORT] [--out FILE]`

use std::sync::Arc;
use std::time::Instant;

use runcrew_bench::CountingStore;
use runcrew_events::reminders::remind_between;
use runcrew_model::event::roster::{Member, Place};
use runcrew_model::event::{Event, EventStatus, EventVisibility, Point};
use runcrew_shared::App;
use runcrew_shared::config::Config;
use runcrew_shared::queue::QueueName;
use runcrew_shared::queue::memory::MemoryQueue;
use runcrew_shared::store::cursor::CursorCodec;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::{Condition, Store, Write};

const SECRET: &str = "bench-cursor-secret-of-at-least-32-bytes";
const LEAD_MS: i64 = 60 * 60 * 1000;

struct Tick {
    seconds: f64,
    reads: u64,
    writes: u64,
    reminders: usize,
    jobs: usize,
}

fn id(kind: u8, n: usize) -> String {
    format!("{kind:02x}{n:030x}")
}

/// `events` group runs starting within the lead after `now_ms`, each with `participants`
/// going, written as joins leave them (event, member and seat items).
async fn seed(store: &dyn Store, events: usize, participants: usize, now_ms: i64) {
    for n in 0..events {
        let event = Event {
            event_id: id(1, n),
            host_id: id(2, n),
            title: format!("Tempo {n}"),
            description: String::new(),
            starts_ms: now_ms + 5 * 60_000 + (n as i64 * 50 * 60_000) / events.max(1) as i64,
            duration_min: 60,
            utc_offset_minutes: 540,
            time_zone: Some("Asia/Seoul".into()),
            meeting_point: Point {
                lat: 37.5665,
                lng: 126.978,
            },
            meeting_point_name: Some("City Hall".into()),
            course_id: None,
            capacity: None,
            pace: None,
            visibility: EventVisibility::Public,
            status: EventStatus::Scheduled,
            going: participants as u32,
            waiting: 0,
            next_seq: participants as u64,
            revision: 0,
            created_at: "2026-12-01T00:00:00Z".into(),
            updated_at: "2026-12-01T00:00:00Z".into(),
        };
        let mut writes = vec![Write::Put {
            item: event.to_item(1).expect("event item"),
            condition: Condition::None,
        }];
        for p in 0..participants {
            let member = Member {
                event_id: event.event_id.clone(),
                user_id: id(3, n * participants + p),
                seq: p as u64 + 1,
                place: Place::Going,
                starts_ms: event.starts_ms,
                joined_at: "2026-12-01T00:00:00Z".into(),
                promoted_at: None,
            };
            writes.push(Write::Put {
                item: member.to_item(1, None).expect("member item"),
                condition: Condition::None,
            });
            writes.push(Write::Put {
                item: member.seat_item(None),
                condition: Condition::None,
            });
        }
        for chunk in writes.chunks(runcrew_shared::store::MAX_TRANSACTION_WRITES) {
            store.transact(chunk.to_vec()).await.expect("seeded");
        }
    }
}

async fn tick(app: &App, counter: &CountingStore, queue: &MemoryQueue, now_ms: i64) -> Tick {
    counter.reset();
    queue.drain(QueueName::Push);
    let started = Instant::now();
    let done = remind_between(app, now_ms, now_ms + LEAD_MS, LEAD_MS)
        .await
        .expect("the tick");
    let seconds = started.elapsed().as_secs_f64();
    let trips = counter.trips();
    Tick {
        seconds,
        reads: trips.reads,
        writes: trips.writes,
        reminders: done.reminders,
        jobs: queue.messages(QueueName::Push).len(),
    }
}

async fn measure(inner: Arc<dyn Store>, events: usize, participants: usize) -> (Tick, Tick) {
    let now_ms = i64::try_from(runcrew_shared::clock::now_epoch_ms()).expect("now");
    seed(inner.as_ref(), events, participants, now_ms).await;
    let counter = Arc::new(CountingStore::new(inner));
    let queue = Arc::new(MemoryQueue::default());
    let data = tempfile::tempdir().expect("tempdir");
    let config = Config::from_lookup(|name| match name {
        "RUNCREW_DATA_DIR" => Some(data.path().display().to_string()),
        _ => None,
    })
    .expect("config");
    let app = App::from_parts(config, Some(counter.clone()), None, None).with_queue(queue.clone());
    let first = tick(&app, &counter, &queue, now_ms).await;
    let again = tick(&app, &counter, &queue, now_ms).await;
    (first, again)
}

#[tokio::main]
async fn main() {
    let (mut events, mut participants) = (1_000, 5);
    let (mut dynamodb, mut out) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--events" => events = args.next().and_then(|n| n.parse().ok()).unwrap_or(events),
            "--participants" => {
                participants = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(participants)
            }
            "--dynamodb" => dynamodb = args.next(),
            "--out" => out = args.next(),
            _ => {}
        }
    }
    let mut rows = Vec::new();
    let embedded: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory(CursorCodec::new(SECRET)));
    rows.push((
        "embedded (memory)",
        measure(embedded, events, participants).await,
    ));
    if let Some(endpoint) = &dynamodb {
        let store = runcrew_bench::local_table(endpoint, "runcrew-bench-reminders", SECRET).await;
        rows.push((
            "DynamoDB Local",
            measure(Arc::new(store), events, participants).await,
        ));
    }
    let mut table = format!(
        "{events} events starting within the hour, {participants} going to each.\n\n| store | tick | seconds | store reads | store writes | reminders delivered | push jobs queued |\n|---|---|---|---|---|---|---|\n"
    );
    for (name, (first, again)) in rows {
        for (which, t) in [("first", first), ("again (all marked)", again)] {
            table.push_str(&format!(
                "| {name} | {which} | {:.2} | {} | {} | {} | {} |\n",
                t.seconds, t.reads, t.writes, t.reminders, t.jobs
            ));
        }
    }
    match out {
        Some(path) => std::fs::write(path, table).expect("write the table"),
        None => eprint!("{table}"),
    }
}
