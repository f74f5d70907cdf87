//! Per-route warm latency in process (p50, p99) and the store round trips of each route,
//! against the embedded store (a file, as on a laptop) and against DynamoDB Local.
//!
//! Every handler registered in the local gateway is called with its `events/<binary>.json`
//! sample, as `alice` (who logs in first, over the data the samples name), `--iterations`
//! times after 10 warm-up calls; samples that delete something get it back, untimed,
//! before each call.
//! Prints a Markdown table.
//!
//! `bench-routes [--iterations N] [--dynamodb http://127.0.0.1:PORT] [--json FILE]`
//!
//! `--json` also writes, per binary, the ports it builds and its round trips, for the report.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::{Body, Request};
use runcrew_bench::{CountingBlobs, CountingStore, Trips, ms, quantile};
use runcrew_shared::blobs::filesystem::FilesystemBlobs;
use runcrew_shared::config::Config;
use runcrew_shared::identity::IdentityProviders;
use runcrew_shared::store::Store;
use runcrew_shared::store::cursor::CursorCodec;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::tokens::TokenKeys;
use runcrew_shared::{App, HttpFunction, Needs};
use serde_json::{Map, Value, json};

const SECRET: &str = "bench-cursor-secret-of-at-least-32-bytes";

struct Figures {
    p50: Duration,
    p99: Duration,
    /// The cheapest and the dearest call's store traffic (by calls).
    trips: (Trips, Trips),
    /// The most calls one request made to the bucket (a presigned URL is none).
    bucket_calls: u64,
    status: u16,
}

/// The ports a function builds at init, which decide the floor the report compares it with.
fn ports(needs: &Needs) -> Map<String, Value> {
    let built = |port: bool| Value::from(port);
    Map::from_iter([
        ("store".to_owned(), built(needs.store.is_some())),
        ("blobs".to_owned(), built(needs.blobs.is_some())),
        ("file_urls".to_owned(), built(needs.file_urls.is_some())),
        ("keys".to_owned(), built(needs.keys.is_some())),
        ("identity".to_owned(), built(needs.identity.is_some())),
        ("queue".to_owned(), built(needs.queue.is_some())),
    ])
}

/// `n`, or `n–m` when the calls differed.
fn span(least: u64, most: u64) -> String {
    if least == most {
        least.to_string()
    } else {
        format!("{least}–{most}")
    }
}

fn sample(binary: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../events/{binary}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn request(text: &str) -> Request {
    lambda_http::request::from_str(text).expect("sample event")
}

fn body_json(response: &lambda_http::Response<Body>) -> Value {
    match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn app(store: Arc<dyn Store>, bucket: Arc<CountingBlobs>, dir: &Path) -> App {
    let dir_text = dir.display().to_string();
    let config = Config::from_lookup(|k| match k {
        "RUNCREW_DATA_DIR" => Some(dir_text.clone()),
        "CURSOR_SECRET" => Some(SECRET.into()),
        "AUTH_RATE_LIMIT_PER_IP" | "AUTH_RATE_LIMIT_PER_ACCOUNT" => Some("1000000000".into()),
        _ => None,
    })
    .expect("bench configuration");
    let keys =
        TokenKeys::load_or_generate(&dir.join("keys"), time::OffsetDateTime::now_utc().date())
            .expect("keys");
    let identity = Arc::new(IdentityProviders::from_config(&config));
    App::from_parts(config, Some(store), Some(bucket), Some(Arc::new(keys)))
        .with_identity(identity)
        .with_queue(Arc::new(
            runcrew_shared::queue::memory::MemoryQueue::default(),
        ))
}

async fn login(app: &App) -> Value {
    let response = runcrew_auth::LOGIN
        .call(app, request(&sample("auth-login")))
        .await;
    body_json(&response)
}

/// Times `function` over `iterations` calls; what a call needs first (a login, the latest
/// refresh token) is done untimed.
async fn measure(
    app: &App,
    counter: &CountingStore,
    bucket: &CountingBlobs,
    function: &HttpFunction,
    iterations: usize,
) -> Figures {
    let text = sample(function.binary);
    let mut refresh_token = login(app).await["refresh_token"].clone();
    runcrew_local::samples::seed(app)
        .await
        .expect("sample data");
    let mut samples = Vec::with_capacity(iterations);
    let (mut least, mut most, mut status) = (None::<Trips>, None::<Trips>, 0);
    let mut bucket_calls = 0;
    for i in 0..iterations + 10 {
        let mut req = request(&text);
        match function.binary {
            "auth-refresh" => {
                *req.body_mut() =
                    Body::Text(serde_json::json!({ "refresh_token": refresh_token }).to_string());
            }
            "users-me-delete" => {
                login(app).await;
                runcrew_local::samples::seed(app)
                    .await
                    .expect("sample data");
            }
            "courses-delete" => {
                runcrew_local::samples::seed_course(app)
                    .await
                    .expect("sample course");
            }
            "runs-delete" => {
                runcrew_local::samples::seed_run(app)
                    .await
                    .expect("sample run");
            }
            // A first join, a real leave and a cancel of a scheduled event, each time.
            "events-join" | "events-cancel" | "events-update" => {
                runcrew_local::samples::seed_event(app)
                    .await
                    .expect("sample event");
            }
            "events-leave" => {
                runcrew_local::samples::seed_event(app)
                    .await
                    .expect("sample event");
                let bob = runcrew_local::samples::dev_user_id("bob");
                let event = app
                    .store()
                    .expect("store")
                    .get(&runcrew_model::event::event_key(
                        runcrew_local::samples::EVENT_ID,
                    ))
                    .await
                    .expect("read")
                    .expect("the sample event");
                let known = runcrew_model::event::roster::Known {
                    event,
                    member: None,
                };
                runcrew_model::event::roster::join(app.store().expect("store"), known, &bob, 0)
                    .await
                    .expect("bob joins");
            }
            _ => {}
        }
        counter.reset();
        bucket.reset();
        let started = Instant::now();
        let response = function.call(app, req).await;
        let took = started.elapsed();
        let trips = counter.trips();
        let to_bucket = bucket.calls();
        status = response.status().as_u16();
        if function.binary == "auth-refresh" {
            refresh_token = body_json(&response)["refresh_token"].clone();
        }
        if function.binary == "users-me-delete" {
            // untimed: the erasure runs to its end, so the next login opens a new account
            // (while it runs, the closed account refuses the login)
            erase_to_the_end(app, &body_json(&response)).await;
        }
        if i >= 10 {
            samples.push(took);
            bucket_calls = bucket_calls.max(to_bucket);
            if least.is_none_or(|l| trips.calls() < l.calls()) {
                least = Some(trips);
            }
            if most.is_none_or(|m| trips.calls() > m.calls()) {
                most = Some(trips);
            }
        }
    }
    Figures {
        p50: quantile(&samples, 0.5),
        p99: quantile(&samples, 0.99),
        trips: (least.unwrap_or_default(), most.unwrap_or_default()),
        bucket_calls,
        status,
    }
}

/// Runs the erasure job a `DELETE /v1/users/me` answer names to its end.
async fn erase_to_the_end(app: &App, answer: &Value) {
    let job_id = answer["job_id"].as_str().expect("the erasure's job id");
    while runcrew_jobs::step(app, job_id, runcrew_jobs::STEP_STORE_CALLS)
        .await
        .expect("an erasure step")
        == runcrew_jobs::Step::More
    {}
}

async fn run_backend(
    name: &str,
    inner: Arc<dyn Store>,
    iterations: usize,
    results: &mut BTreeMap<&'static str, BTreeMap<String, Figures>>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let counter = Arc::new(CountingStore::new(inner));
    // the bucket a laptop has, at the local gateway's default URLs
    let local = Config::from_lookup(|_| None).expect("local defaults");
    let bucket = Arc::new(CountingBlobs::new(Arc::new(FilesystemBlobs::new(
        dir.path().join("blobs"),
        &local.cdn_base_url,
        &local.public_base_url,
        SECRET,
    ))));
    let app = app(counter.clone(), bucket.clone(), dir.path());
    for function in runcrew_local::registry() {
        let figures = measure(&app, &counter, &bucket, function, iterations).await;
        results
            .entry(function.binary)
            .or_default()
            .insert(name.to_owned(), figures);
    }
}

#[tokio::main]
async fn main() {
    let mut iterations = 200;
    let mut dynamodb = None;
    let mut json_path = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--iterations" => iterations = args.next().and_then(|n| n.parse().ok()).unwrap_or(200),
            "--dynamodb" => dynamodb = args.next(),
            "--json" => json_path = args.next(),
            _ => {}
        }
    }
    let mut results = BTreeMap::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = EmbeddedStore::open(&dir.path().join("store.redb"), CursorCodec::new(SECRET))
        .expect("embedded store");
    run_backend("embedded", Arc::new(embedded), iterations, &mut results).await;
    if let Some(endpoint) = &dynamodb {
        let store = runcrew_bench::local_table(endpoint, "runcrew-bench", SECRET).await;
        run_backend("dynamodb", Arc::new(store), iterations, &mut results).await;
    }

    let local = Config::from_lookup(|_| None).expect("local defaults");
    let routes: BTreeMap<String, String> = runcrew_local::template::parse(
        runcrew_local::TEMPLATE,
        &runcrew_local::template_overrides(&local, &|_| None),
    )
    .map(|spec| {
        spec.routes
            .iter()
            .map(|r| (r.binary.clone(), r.route_key()))
            .collect()
    })
    .unwrap_or_default();
    if let Some(path) = json_path {
        let mut per_binary = Map::new();
        for function in runcrew_local::registry() {
            let figures = results.get(function.binary).and_then(|b| b.values().next());
            let trips = figures.map(|f| f.trips).unwrap_or_default();
            let bucket_calls = figures.map_or(0, |f| f.bucket_calls);
            let mut entry = ports(&function.needs);
            entry.insert(
                "route".into(),
                Value::from(routes.get(function.binary).cloned().unwrap_or_default()),
            );
            entry.insert("trips".into(), json!([trips.0.calls(), trips.1.calls()]));
            entry.insert("reads".into(), json!([trips.0.reads, trips.1.reads]));
            entry.insert("writes".into(), json!([trips.0.writes, trips.1.writes]));
            entry.insert("rounds".into(), json!([trips.0.rounds, trips.1.rounds]));
            entry.insert("bucket_calls".into(), json!(bucket_calls));
            // the first request is one DynamoDB read and nothing else, as the floor's is
            let one_read = bucket_calls == 0
                && trips.1
                    == Trips {
                        reads: 1,
                        writes: 0,
                        rounds: 1,
                    };
            entry.insert("one_read".into(), Value::from(one_read));
            per_binary.insert(function.binary.to_owned(), Value::Object(entry));
        }
        // Tasks (S3 events, queues, the table's stream, schedules) have no route to time,
        // but their ports decide their floor.
        for (binary, needs) in runcrew_local::every_task() {
            per_binary.insert(binary.to_owned(), Value::Object(ports(needs)));
        }
        std::fs::write(&path, Value::Object(per_binary).to_string()).expect("write --json");
    }
    println!(
        "{iterations} warm calls per route after 10 warm-up calls, in process (handler + store), one task at a time."
    );
    println!();
    println!(
        "| route | binary | status | embedded p50 ms | embedded p99 ms | DynamoDB Local p50 ms | DynamoDB Local p99 ms | store calls | reads | writes | sequential rounds | bucket calls |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (binary, by_backend) in &results {
        let cell = |backend: &str| {
            by_backend
                .get(backend)
                .map(|f| (ms(f.p50), ms(f.p99)))
                .unwrap_or_else(|| ("–".into(), "–".into()))
        };
        let (e50, e99) = cell("embedded");
        let (d50, d99) = cell("dynamodb");
        let any = by_backend.values().next();
        let (least, most) = any.map(|f| f.trips).unwrap_or_default();
        let status = any.map(|f| f.status).unwrap_or(0);
        let bucket_calls = any.map_or(0, |f| f.bucket_calls);
        println!(
            "| `{}` | `{binary}` | {status} | {e50} | {e99} | {d50} | {d99} | {} | {} | {} | {} | {bucket_calls} |",
            routes.get(*binary).cloned().unwrap_or_default(),
            span(least.calls(), most.calls()),
            span(least.reads, most.reads),
            span(least.writes, most.writes),
            span(least.rounds, most.rounds),
        );
    }
}
