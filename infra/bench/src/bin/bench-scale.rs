//! Cost at scale: what each request route costs when the data behind it is 100, 10,000 or
//! 100,000 items, on DynamoDB Local, and what the jobs that grow with the data cost.
//!
//! For each size N, a fresh table holds: N board entries on one course (with their rank
//! counters), N likes and N reviews on it, N people `alice` follows (each with one public
//! run, fanned out to her feed), N followers of `bob`, and N runs of `alice` (one of them
//! holding her 5 km record). Each route is then
//! called as a client would (through its handler, with an API Gateway event), and the table
//! reports what it cost (`ReturnConsumedCapacity: TOTAL`): read and write units, the store
//! calls and how many ran one after another (rounds), and the median latency. Last, the
//! course is deleted and alice's account erased: the requests, then their jobs step by step.
//!
//! `bench-scale [--dynamodb http://127.0.0.1:PORT] [--sizes 100,10000,100000]
//!  [--iterations N] [--jobs-up-to N] [--json FILE]`
//!
//! Without `--dynamodb` the table is the embedded store in a file: the same calls and
//! rounds, no units. DynamoDB Local cannot load N = 100,000 in reasonable time (its writes
//! slow to a few a second once one partition holds about 12,000 items), so that size is
//! measured there.
//!
//! The jobs (a fan-out, a course deletion, an erasure), whose cost grows with N by design,
//! are run to their end only up to `--jobs-up-to` (default 10,000): at 100,000 they take
//! DynamoDB Local the better part of an hour, and the 100 and 10,000 figures already show
//! how they grow.
//!
//! Prints a Markdown table per route: a row per size. Reads are timed over `--iterations`
//! calls after a warm-up (median); writes (a review, a like, a run, the deletions) once,
//! as a client's first call makes them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt, stream};
use lambda_http::{Body, Request};
use runcrew_bench::{CountingStore, ms, quantile};
use runcrew_local::samples::{COURSE_ID, dev_user_id};
use runcrew_model::feed::{FeedJob, entry_item};
use runcrew_model::follow::follow_item;
use runcrew_model::leaderboard::{Best, board_items};
use runcrew_model::reaction::Reaction;
use runcrew_model::review::{Rating, Review, ReviewText};
use runcrew_model::run::{Run, RunVisibility, Source};
use runcrew_shared::blobs::filesystem::FilesystemBlobs;
use runcrew_shared::config::Config;
use runcrew_shared::store::dynamodb::{CapacityMeter, DynamoStore};
use runcrew_shared::store::{Item, Store};
use runcrew_shared::tokens::TokenKeys;
use runcrew_shared::{App, HttpFunction};
use serde_json::{Value, json};

const SECRET: &str = "bench-scale-cursor-secret-of-32-bytes!!";

/// Items handed to one `batch_put` while loading (25 a call), and how many in flight.
const LOAD_BATCH: usize = 500;
const LOAD_IN_FLIGHT: usize = 4;

/// What one route cost at one size.
#[derive(Debug, Clone, serde::Serialize)]
struct Cost {
    route: String,
    n: usize,
    status: u16,
    calls: u64,
    rounds: u64,
    read_units: f64,
    write_units: f64,
    p50_ms: String,
}

/// The table a size is measured on.
enum Table {
    /// DynamoDB Local, metered: units, calls and rounds.
    Dynamo(Arc<DynamoStore>),
    /// The embedded store in a file: calls and rounds only (no units), for sizes DynamoDB
    /// Local cannot load in reasonable time.
    Embedded(Arc<runcrew_shared::store::embedded::EmbeddedStore>),
}

impl Table {
    fn store(&self) -> Arc<dyn Store> {
        match self {
            Table::Dynamo(store) => store.clone(),
            Table::Embedded(store) => store.clone(),
        }
    }

    /// Writes `items` straight into the table: BatchWriteItem on DynamoDB, transactions of
    /// 100 on the embedded store.
    async fn load(&self, items: Vec<Item>) {
        match self {
            Table::Dynamo(store) => load(store, items).await,
            Table::Embedded(store) => {
                for chunk in items.chunks(100) {
                    store
                        .transact(
                            chunk
                                .iter()
                                .cloned()
                                .map(|item| runcrew_shared::store::Write::Put {
                                    item,
                                    condition: runcrew_shared::store::Condition::None,
                                })
                                .collect(),
                        )
                        .await
                        .expect("load the embedded store");
                }
            }
        }
    }
}

/// A table of one size, metered, and an app over it.
struct Scale {
    app: App,
    counter: Arc<CountingStore>,
    meter: Arc<CapacityMeter>,
    table: Table,
    n: usize,
    _dir: tempfile::TempDir,
}

/// The id of the `i`-th synthetic person of group `group`: 32 hex digits, like every id.
fn person(group: u8, i: usize) -> String {
    format!("5ca1e{group:02x}{i:025x}")
}

/// The id of the `i`-th synthetic run of group `group`, time-ordered like minted run ids.
fn run_id(group: u8, i: usize) -> String {
    format!("019a{group:02x}{i:026x}")
}

fn run(user: &str, id: String, seconds: i64, metres: f64, course: Option<&str>, ms: i64) -> Run {
    let started = time::OffsetDateTime::from_unix_timestamp(ms / 1000).expect("a time");
    serde_json::from_value(json!({
        "run_id": id, "user_id": user,
        "started_at": started.format(&time::format_description::well_known::Rfc3339).expect("rfc3339"),
        "started_ms": ms, "utc_offset_minutes": 540,
        "local_date": started.date().to_string(),
        "duration_s": seconds, "distance_m": metres, "course_id": course,
        "source": Source::App, "visibility": RunVisibility::Public,
        "created_at": "2026-11-30T09:00:00Z"
    }))
    .expect("a run")
}

/// Writes `items` straight into the table with BatchWriteItem, a few calls in flight.
async fn load(store: &DynamoStore, items: Vec<Item>) {
    let batches: Vec<Vec<Item>> = items.chunks(LOAD_BATCH).map(<[Item]>::to_vec).collect();
    stream::iter(batches)
        .map(|batch| store.batch_put(batch))
        .buffer_unordered(LOAD_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await
        .expect("load the table");
}

impl Scale {
    async fn new(endpoint: Option<&str>, n: usize) -> Scale {
        let meter = Arc::new(CapacityMeter::default());
        let dir = tempfile::tempdir().expect("tempdir");
        let table = match endpoint {
            Some(endpoint) => Table::Dynamo(Arc::new(
                runcrew_bench::local_table(endpoint, &format!("scale-{n}"), SECRET)
                    .await
                    .with_capacity_meter(meter.clone()),
            )),
            None => Table::Embedded(Arc::new(
                runcrew_shared::store::embedded::EmbeddedStore::open(
                    &dir.path().join("scale.redb"),
                    runcrew_shared::store::cursor::CursorCodec::new(SECRET),
                )
                .expect("the embedded store"),
            )),
        };
        let counter = Arc::new(CountingStore::new(table.store()));
        let dir_text = dir.path().display().to_string();
        let config = Config::from_lookup(|k| match k {
            "RUNCREW_DATA_DIR" => Some(dir_text.clone()),
            "CURSOR_SECRET" => Some(SECRET.into()),
            _ => None,
        })
        .expect("configuration");
        let keys = TokenKeys::load_or_generate(
            &dir.path().join("keys"),
            time::OffsetDateTime::now_utc().date(),
        )
        .expect("keys");
        let blobs = FilesystemBlobs::new(
            dir.path().join("blobs"),
            &config.cdn_base_url,
            &config.public_base_url,
            SECRET,
        );
        let app = App::from_parts(
            config,
            Some(counter.clone() as Arc<dyn Store>),
            Some(Arc::new(blobs)),
            Some(Arc::new(keys)),
        )
        .with_queue(Arc::new(
            runcrew_shared::queue::memory::MemoryQueue::default(),
        ));
        Scale {
            app,
            counter,
            meter,
            table,
            n,
            _dir: dir,
        }
    }

    /// Everything the routes read, N of each kind (see the module's comment).
    async fn seed(&self) {
        let started = Instant::now();
        runcrew_local::samples::seed(&self.app)
            .await
            .expect("sample data");
        let table = &self.table;
        let store = table.store();
        let store = store.as_ref();
        let n = self.n;
        let alice = dev_user_id("alice");
        // the board: times from 20 to 60 minutes, a few seconds apart, ties included
        let entries: Vec<Best> = (0..n)
            .map(|i| {
                let user = person(1, i);
                Best {
                    course_id: COURSE_ID.into(),
                    user_id: user.clone(),
                    run_id: run_id(1, i),
                    duration_s: 1200 + ((i * 2400) / n.max(1)) as i64,
                    distance_m: 3000.0,
                    started_at: "2026-11-20T21:00:00Z".into(),
                    started_ms: 1_795_000_000_000 + i as i64,
                }
            })
            .collect();
        table
            .load(board_items(&entries).expect("board items"))
            .await;
        // likes and reviews of the same course
        let mut children = Vec::with_capacity(2 * n);
        let text = ReviewText::parse("Flat and fast along the river.").expect("text");
        let rating = Rating::parse(4).expect("rating");
        for i in 0..n {
            let user = person(2, i);
            children.push(Reaction::Like.item(COURSE_ID, &user));
            let review = Review::written(
                COURSE_ID,
                &user,
                rating,
                &text,
                None,
                "2026-11-20T21:00:00Z".into(),
            );
            children.push(review.to_item(1).expect("review"));
        }
        table.load(children).await;
        // alice follows N people, each with one public run, fanned out to her feed; N
        // people follow bob, who has one run to fan out
        let mut follows = Vec::with_capacity(4 * n + 1);
        for i in 0..n {
            let followee = person(3, i);
            follows.push(follow_item(&alice, &followee));
            let ms = 1_795_000_000_000 + (i as i64) * 60_000;
            follows.push(
                run(&followee, run_id(3, i), 1800, 5000.0, None, ms)
                    .to_item()
                    .expect("run"),
            );
            follows.push(entry_item(&alice, &followee, &run_id(3, i), None));
            follows.push(follow_item(&person(5, i), &dev_user_id("bob")));
        }
        follows.push(
            run(
                &dev_user_id("bob"),
                run_id(6, 0),
                1700,
                5000.0,
                None,
                1_795_100_000_000,
            )
            .to_item()
            .expect("run"),
        );
        table.load(follows).await;
        // alice's N runs, the last her fastest 5 km, which holds her record
        let mut runs = Vec::with_capacity(n);
        for i in 0..n {
            let seconds = if i + 1 == n {
                1400
            } else {
                1600 + (i % 400) as i64
            };
            let ms = 1_790_000_000_000 + (i as i64) * 3_600_000;
            runs.push(run(&alice, run_id(4, i), seconds, 5000.0, None, ms));
        }
        table
            .load(runs.iter().map(|r| r.to_item().expect("run")).collect())
            .await;
        if let Some(fastest) = runs.last() {
            runcrew_model::stats::offer_records(store, fastest)
                .await
                .expect("records");
        }
        eprintln!(
            "bench-scale: N = {n}: seeded in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    /// What the calls since the last reset cost, and the time since `started` (ms in all).
    fn cost_since(&self, route: &str, started: Instant) -> Cost {
        let trips = self.counter.trips();
        Cost {
            route: route.to_owned(),
            n: self.n,
            status: 0,
            calls: trips.calls(),
            rounds: trips.rounds,
            read_units: self.meter.read_units(),
            write_units: self.meter.write_units(),
            p50_ms: format!("{:.0}", started.elapsed().as_secs_f64() * 1000.0),
        }
    }

    fn reset(&self) {
        self.counter.reset();
        self.meter.reset();
    }

    /// Calls `binary` with `event` `iterations` times after one warm-up (once when 0: a
    /// deletion); returns the last call's cost and answer, and the median latency.
    async fn measure(
        &self,
        route: &str,
        binary: &str,
        event: &Value,
        iterations: usize,
    ) -> (Cost, Value) {
        let function = function(binary);
        let mut times = Vec::with_capacity(iterations);
        let mut last = (Cost::empty(route, self.n), Value::Null);
        for _ in 0..iterations + 1 {
            let request = to_request(event);
            self.reset();
            let started = Instant::now();
            let response = function.call(&self.app, request).await;
            let took = started.elapsed();
            times.push(took);
            let trips = self.counter.trips();
            last = (
                Cost {
                    route: route.to_owned(),
                    n: self.n,
                    status: response.status().as_u16(),
                    calls: trips.calls(),
                    rounds: trips.rounds,
                    read_units: self.meter.read_units(),
                    write_units: self.meter.write_units(),
                    p50_ms: String::new(),
                },
                body_json(response.body()),
            );
        }
        if times.len() > 1 {
            times.remove(0);
        }
        last.0.p50_ms = ms(quantile(&times, 0.5));
        last
    }

    /// Runs job `job_id` step by step to the end; its cost in all.
    async fn run_job(&self, route: &str, job_id: &str) -> (Cost, usize) {
        self.reset();
        let started = Instant::now();
        let mut steps = 0;
        loop {
            steps += 1;
            let step = runcrew_jobs::step(&self.app, job_id, runcrew_jobs::STEP_STORE_CALLS)
                .await
                .expect("a step");
            if step != runcrew_jobs::Step::More {
                break;
            }
        }
        (self.cost_since(route, started), steps)
    }
}

impl Scale {
    /// Runs feed work `job` step by step to the end; its cost in all.
    async fn run_feed_job(&self, route: &str, job: FeedJob) -> (Cost, usize) {
        self.reset();
        let started = Instant::now();
        let mut steps = 0;
        let mut next = Some(job);
        while let Some(job) = next {
            steps += 1;
            next = runcrew_social::fanout::step(self.counter.as_ref(), &job)
                .await
                .expect("a feed step");
        }
        (self.cost_since(route, started), steps)
    }
}

impl Scale {
    /// The request that starts a job (`binary` with `event`, called once), then, with
    /// `jobs`, the job it started run to its end: their costs.
    async fn request_then_job(
        &self,
        route: &str,
        binary: &str,
        event: &Value,
        job_route: &str,
        jobs: bool,
    ) -> Vec<Cost> {
        let (request, job) = self.measure(route, binary, event, 0).await;
        let mut costs = vec![request];
        if let Some(job_id) = job["job_id"].as_str().filter(|_| jobs) {
            let (cost, steps) = self.run_job(job_route, job_id).await;
            eprintln!("bench-scale: N = {}: {job_route}: {steps} steps", self.n);
            costs.push(cost);
        }
        costs
    }
}

impl Cost {
    fn empty(route: &str, n: usize) -> Cost {
        Cost {
            route: route.into(),
            n,
            status: 0,
            calls: 0,
            rounds: 0,
            read_units: 0.0,
            write_units: 0.0,
            p50_ms: String::new(),
        }
    }
}

fn function(binary: &str) -> &'static HttpFunction {
    runcrew_local::registry()
        .into_iter()
        .find(|f| f.binary == binary)
        .unwrap_or_else(|| panic!("no function {binary}"))
}

fn body_json(body: &Body) -> Value {
    match body {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn to_request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event")
}

/// The sample event of `binary`, sent to `path` (path parameters named in `params`) with
/// `query`, as `caller` (anonymous when `None`), with `body`.
fn event(
    binary: &str,
    path: &str,
    params: &[(&str, &str)],
    query: &[(&str, &str)],
    caller: Option<&str>,
    body: Option<Value>,
) -> Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../events/{binary}.json"));
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("sample")).expect("json");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["pathParameters"] = Value::Object(
        params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect(),
    );
    event["rawQueryString"] = json!(
        query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    );
    event["queryStringParameters"] = Value::Object(
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect(),
    );
    match caller {
        Some(user) => {
            event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(user);
        }
        None => {
            if let Some(context) = event["requestContext"].as_object_mut() {
                context.remove("authorizer");
            }
            if let Some(headers) = event["headers"].as_object_mut() {
                headers.remove("authorization");
            }
        }
    }
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
    }
    event
}

async fn measure_size(
    endpoint: Option<&str>,
    n: usize,
    iterations: usize,
    jobs: bool,
) -> Vec<Cost> {
    let scale = Scale::new(endpoint, n).await;
    scale.seed().await;
    let alice = dev_user_id("alice");
    let bob = dev_user_id("bob");
    let course = COURSE_ID;
    let board_path = format!("/v1/courses/{course}/leaderboard");
    let runner_at_80 = person(1, n * 8 / 10);
    let mut costs = Vec::new();

    let (first, page) = scale
        .measure(
            "GET leaderboard, first page",
            "leaderboard-get",
            &event(
                "leaderboard-get",
                &board_path,
                &[("courseId", course)],
                &[("limit", "20")],
                None,
                None,
            ),
            iterations,
        )
        .await;
    costs.push(first);
    if let Some(cursor) = page["next_cursor"].as_str() {
        let (later, _) = scale
            .measure(
                "GET leaderboard, second page (its first rank)",
                "leaderboard-get",
                &event(
                    "leaderboard-get",
                    &board_path,
                    &[("courseId", course)],
                    &[("limit", "20"), ("cursor", cursor)],
                    None,
                    None,
                ),
                iterations,
            )
            .await;
        costs.push(later);
    }
    let (mine, answer) = scale
        .measure(
            "GET leaderboard as the runner at 80 % (my rank)",
            "leaderboard-get",
            &event(
                "leaderboard-get",
                &board_path,
                &[("courseId", course)],
                &[("limit", "20")],
                Some(&runner_at_80),
                None,
            ),
            iterations,
        )
        .await;
    eprintln!(
        "bench-scale: N = {n}: the runner at 80 % ranks {}",
        answer["me"]["rank"]
    );
    costs.push(mine);
    let course_path = format!("/v1/courses/{course}");
    costs.push(
        scale
            .measure(
                "GET course",
                "courses-get",
                &event(
                    "courses-get",
                    &course_path,
                    &[("courseId", course)],
                    &[],
                    None,
                    None,
                ),
                iterations,
            )
            .await
            .0,
    );
    let reviews_path = format!("/v1/courses/{course}/reviews");
    costs.push(
        scale
            .measure(
                "GET reviews, first page",
                "reviews-list",
                &event(
                    "reviews-list",
                    &reviews_path,
                    &[("courseId", course)],
                    &[("limit", "20")],
                    None,
                    None,
                ),
                iterations,
            )
            .await
            .0,
    );
    costs.push(
        scale
            .measure(
                "POST review",
                "reviews-create",
                &event(
                    "reviews-create",
                    &reviews_path,
                    &[("courseId", course)],
                    &[],
                    Some(&bob),
                    Some(json!({"rating": 5, "text": "Lovely at dusk."})),
                ),
                0,
            )
            .await
            .0,
    );
    let like_path = format!("/v1/courses/{course}/like");
    costs.push(
        scale
            .measure(
                "PUT like",
                "courses-like-put",
                &event(
                    "courses-like-put",
                    &like_path,
                    &[("courseId", course)],
                    &[],
                    Some(&bob),
                    None,
                ),
                0,
            )
            .await
            .0,
    );
    costs.push(
        scale
            .measure(
                "GET feed (N followed)",
                "feed-get",
                &event(
                    "feed-get",
                    "/v1/feed",
                    &[],
                    &[("limit", "20")],
                    Some(&alice),
                    None,
                ),
                iterations,
            )
            .await
            .0,
    );
    if jobs {
        let (cost, steps) = scale
            .run_feed_job(
                "fan-out of one run to N followers (all steps; ms in all)",
                FeedJob::FanOut {
                    author: bob.clone(),
                    run_id: run_id(6, 0),
                    course_id: None,
                    cursor: None,
                },
            )
            .await;
        eprintln!("bench-scale: N = {n}: the fan-out took {steps} steps");
        costs.push(cost);
    }
    costs.push(
        scale
            .measure(
                "GET my runs, first page (N runs)",
                "runs-list",
                &event(
                    "runs-list",
                    "/v1/runs",
                    &[],
                    &[("limit", "20")],
                    Some(&alice),
                    None,
                ),
                iterations,
            )
            .await
            .0,
    );
    costs.push(
        scale
            .measure(
                "GET my stats (N runs)",
                "users-me-stats",
                &event(
                    "users-me-stats",
                    "/v1/users/me/stats",
                    &[],
                    &[],
                    Some(&alice),
                    None,
                ),
                iterations,
            )
            .await
            .0,
    );
    let (posted, _) = scale
            .measure(
                "POST run on the course",
                "runs-create",
                &event(
                    "runs-create",
                    "/v1/runs",
                    &[],
                    &[],
                    Some(&alice),
                    Some(json!({"started_at": "2026-11-29T07:00:00+09:00", "duration_s": 1500, "distance_m": 3000.0, "course_id": course})),
                ),
                0,
            )
            .await;
    costs.push(posted);
    // the record-holding run deleted: once (it is gone after)
    let record_run = run_id(4, n - 1);
    let run_path = format!("/v1/runs/{record_run}");
    costs.push(
        scale
            .measure(
                "DELETE my record-holding run",
                "runs-delete",
                &event(
                    "runs-delete",
                    &run_path,
                    &[("runId", &record_run)],
                    &[],
                    Some(&alice),
                    None,
                ),
                0,
            )
            .await
            .0,
    );
    // the course deleted, then its job; alice erased, then her job
    costs.extend(
        scale
            .request_then_job(
                "DELETE course (the request)",
                "courses-delete",
                &event(
                    "courses-delete",
                    &course_path,
                    &[("courseId", course)],
                    &[],
                    Some(&alice),
                    None,
                ),
                "course deletion job (all steps; ms in all)",
                jobs,
            )
            .await,
    );
    costs.extend(
        scale
            .request_then_job(
                "DELETE /v1/users/me (the request)",
                "users-me-delete",
                &event(
                    "users-me-delete",
                    "/v1/users/me",
                    &[],
                    &[],
                    Some(&alice),
                    None,
                ),
                "erasure job (all steps; ms in all)",
                jobs,
            )
            .await,
    );
    if let Table::Dynamo(store) = &scale.table {
        store
            .client()
            .delete_table()
            .table_name(store.table_name())
            .send()
            .await
            .expect("drop the table");
    }
    if matches!(scale.table, Table::Embedded(_)) {
        for cost in &mut costs {
            cost.read_units = f64::NAN;
            cost.write_units = f64::NAN;
        }
    }
    costs
}

/// Units to a tenth; "–" where the store reports none (the embedded store).
fn units(value: f64) -> String {
    if value.is_nan() {
        "–".into()
    } else {
        format!("{value:.1}")
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Without --dynamodb: the embedded store in a file (calls and rounds, no units).
    let endpoint = arg(&args, "--dynamodb");
    let sizes: Vec<usize> = arg(&args, "--sizes")
        .unwrap_or_else(|| "100,10000,100000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("a size"))
        .collect();
    let iterations: usize = arg(&args, "--iterations").map_or(5, |s| s.parse().expect("a count"));
    let jobs_up_to: usize =
        arg(&args, "--jobs-up-to").map_or(10_000, |s| s.parse().expect("a size"));
    let mut all = Vec::new();
    for &n in &sizes {
        all.extend(measure_size(endpoint.as_deref(), n, iterations, n <= jobs_up_to).await);
    }
    let mut by_route: BTreeMap<(usize, String), Vec<&Cost>> = BTreeMap::new();
    let order: Vec<String> = {
        let mut seen = Vec::new();
        for cost in &all {
            if !seen.contains(&cost.route) {
                seen.push(cost.route.clone());
            }
        }
        seen
    };
    for cost in &all {
        let position = order.iter().position(|r| *r == cost.route).unwrap_or(0);
        by_route
            .entry((position, cost.route.clone()))
            .or_default()
            .push(cost);
    }
    println!("| route | N | status | read units | write units | store calls | rounds | p50 ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for ((_, route), costs) in &by_route {
        for cost in costs {
            println!(
                "| {route} | {} | {} | {} | {} | {} | {} | {} |",
                cost.n,
                cost.status,
                units(cost.read_units),
                units(cost.write_units),
                cost.calls,
                cost.rounds,
                cost.p50_ms
            );
        }
    }
    if let Some(path) = arg(&args, "--json") {
        std::fs::write(&path, serde_json::to_string_pretty(&all).expect("json")).expect("write");
    }
}
