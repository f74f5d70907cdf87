//! Test support shared by the workspace-level tests: configurations on temporary folders,
//! adapters pointed at the local test servers, a local gateway on a free port, and tokens.
//!
//! DynamoDB Local and moto's S3 server are started by `infra/scripts/test`, which exports
//! `RUNCREW_TEST_DYNAMODB_ENDPOINT` and `RUNCREW_TEST_S3_ENDPOINT`. A test that needs one
//! and finds no endpoint fails and says how to run it: nothing is skipped silently.

pub mod fakes;
pub mod logs;

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use runcrew_shared::blobs::s3::S3Blobs;
use runcrew_shared::config::Config;
use runcrew_shared::store::cursor::CursorCodec;
use runcrew_shared::store::dynamodb::DynamoStore;
use runcrew_shared::{App, Needs};
use serde_json::{Value, json};

/// The cursor secret every test adapter uses.
pub const TEST_CURSOR_SECRET: &str = "test-cursor-secret-of-at-least-32-bytes!";

/// A cursor codec for adapters built in tests.
pub fn codec() -> CursorCodec {
    CursorCodec::new(TEST_CURSOR_SECRET)
}

fn endpoint(var: &str, what: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: {what} is started by the test command. Run `infra/scripts/test` \
             (README.md), or start {what} yourself and export {var}."
        )
    })
}

/// The DynamoDB Local endpoint.
pub fn dynamodb_endpoint() -> String {
    endpoint("RUNCREW_TEST_DYNAMODB_ENDPOINT", "DynamoDB Local")
}

/// The S3-compatible (moto) endpoint.
pub fn s3_endpoint() -> String {
    endpoint("RUNCREW_TEST_S3_ENDPOINT", "the S3 test server (moto)")
}

/// AWS configuration with dummy credentials; nothing here reaches AWS.
pub fn sdk_config() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "tests",
        )))
        .build()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh table in DynamoDB Local, created as template.yaml defines it.
pub async fn dynamodb_store() -> DynamoStore {
    let store = DynamoStore::from_sdk_config(
        &sdk_config(),
        Some(&dynamodb_endpoint()),
        unique("runcrew-test"),
        codec(),
    );
    store
        .create_table()
        .await
        .expect("create the test table in DynamoDB Local");
    store
}

/// A fresh table in DynamoDB Local whose stream this process reads, as Lambda reads the
/// table's: what the local gateway needs to run the stream consumers over DynamoDB.
pub async fn dynamodb_store_with_stream() -> runcrew_local::dynamo_stream::StreamedStore {
    streamed(dynamodb_store().await).await
}

/// `store` with its table's stream read as Lambda reads it.
pub async fn streamed(store: DynamoStore) -> runcrew_local::dynamo_stream::StreamedStore {
    let stream = runcrew_local::dynamo_stream::DynamoTableStream::of(
        &store,
        &sdk_config(),
        Some(&dynamodb_endpoint()),
    )
    .await
    .expect("the test table's stream");
    runcrew_local::dynamo_stream::StreamedStore::new(Arc::new(store), Arc::new(stream))
}

/// A fresh bucket on the S3 test server.
pub async fn s3_blobs() -> S3Blobs {
    let bucket = unique("runcrew-test");
    let blobs = S3Blobs::from_sdk_config(
        &sdk_config(),
        Some(&s3_endpoint()),
        bucket.clone(),
        "https://cdn.test",
    );
    blobs
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the test bucket");
    blobs
}

/// A configuration over `data_dir`, local by default, with `pairs` on top.
pub fn config(data_dir: &std::path::Path, pairs: &[(&str, &str)]) -> Config {
    let mut map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    map.entry("RUNCREW_DATA_DIR".into())
        .or_insert_with(|| data_dir.display().to_string());
    Config::from_lookup(|k| map.get(k).cloned()).expect("test configuration")
}

/// An app with every port on embedded defaults under `data_dir`.
pub async fn local_app(data_dir: &std::path::Path) -> Arc<App> {
    Arc::new(
        App::build(config(data_dir, &[]), Needs::EVERYTHING)
            .await
            .expect("local app"),
    )
}

/// An app over `store` with `config`: token keys generated under its data folder, files in
/// its `blobs` folder (served by the local gateway) and the identity providers it enables
/// (for handlers called directly, or through [`serve_app`]).
pub fn app_over(config: Config, store: Arc<dyn runcrew_shared::store::Store>) -> App {
    let keys = runcrew_shared::tokens::TokenKeys::load_or_generate(
        &config.data_dir.join("keys"),
        time::OffsetDateTime::now_utc().date(),
    )
    .expect("token keys");
    let identity = Arc::new(runcrew_shared::identity::IdentityProviders::from_config(
        &config,
    ));
    let blobs = runcrew_shared::blobs::filesystem::FilesystemBlobs::new(
        config.data_dir.join("blobs"),
        &config.cdn_base_url,
        &config.public_base_url,
        TEST_CURSOR_SECRET,
    );
    App::from_parts(
        config,
        Some(store),
        Some(Arc::new(blobs)),
        Some(Arc::new(keys)),
    )
    .with_identity(identity)
    .with_queue(Arc::new(
        runcrew_shared::queue::memory::MemoryQueue::default(),
    ))
}

/// The sample event `events/<binary>.json` as a request.
pub fn sample(binary: &str) -> lambda_http::Request {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../events/{binary}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    lambda_http::request::from_str(&text).expect("a sample is an API Gateway event")
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Access-token claims as our login will issue them, valid for a minute.
pub fn claims_for(app: &App, user_id: &str) -> Value {
    json!({
        "sub": user_id,
        "iss": app.config.issuer(),
        "aud": app.config.token_audience,
        "iat": now(),
        "exp": now() + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
        "sid": "session-1",
    })
}

/// A valid access token for `user_id`.
pub fn token_for(app: &App, user_id: &str) -> String {
    app.keys()
        .expect("keys")
        .sign(&claims_for(app, user_id))
        .expect("sign")
}

/// An HTTP client for the local gateway (no proxies, short timeouts).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("http client")
}

/// The local API on a free port over a fresh data folder, with `pairs` as its environment.
pub async fn start_local(pairs: &[(&str, String)]) -> (runcrew_local::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    env.entry("PORT".into()).or_insert_with(|| "0".into());
    env.entry("RUNCREW_DATA_DIR".into())
        .or_insert_with(|| dir.path().display().to_string());
    let running = runcrew_local::start(move |k| env.get(k).cloned())
        .await
        .expect("the local API starts");
    (running, dir)
}

/// The local API serving the real template and handlers over an app built by the test (a
/// store in DynamoDB Local, fakes of providers), on a free port.
pub async fn serve_app(app: App) -> runcrew_local::Running {
    let listener = runcrew_local::bind(0).await.expect("bind");
    let no_env = |_: &str| None;
    let spec = runcrew_local::template::parse(
        runcrew_local::TEMPLATE,
        &runcrew_local::template_overrides(&app.config, &no_env),
    )
    .expect("template.yaml");
    runcrew_local::serve(listener, Arc::new(app), spec, &runcrew_local::registry())
        .expect("the local API serves")
}

/// The local API over a fresh table in DynamoDB Local and a fresh data folder (keep the
/// folder alive as long as the API).
pub async fn serve_on_dynamodb_local() -> (runcrew_local::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dynamodb_store().await;
    let app = app_over(config(dir.path(), &[]), Arc::new(store));
    (serve_app(app).await, dir)
}

/// Sends `request` and returns the status and the JSON body (`null` when not JSON).
pub async fn call(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Logs `name` in on `api` with the dev provider; returns the login answer.
pub async fn dev_login(api: &runcrew_local::Running, name: &str) -> Value {
    let (status, body) = call(
        http()
            .post(format!("{}/v1/auth/login", api.url()))
            .json(&serde_json::json!({"provider": "dev", "token": name})),
    )
    .await;
    assert!(status == 200 || status == 201, "{status}: {body}");
    body
}

/// The access token of a login answer.
pub fn bearer(login: &Value) -> String {
    login["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

/// Polls `check` every 50 ms until it yields a value, for work the API finishes in the
/// background (S3 events). Gives up after 20 s: that is a hang, not a slow machine.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(what, 20, check).await
}

/// [`eventually`] with a longer bound, for background work whose size the test chose (an
/// erasure of 10,000 runs).
pub async fn eventually_within<T, F, Fut>(what: &str, seconds: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not happen within {seconds} s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `DELETE path` as `login`, which answers 202 with a job (an erasure, a course deletion):
/// checks the answer's status URL, then waits up to `seconds` for the job to read `done`.
/// Returns the finished job's status.
pub async fn delete_and_wait(
    api: &runcrew_local::Running,
    login: &Value,
    path: &str,
    seconds: u64,
) -> Value {
    let (status, job) = call(
        http()
            .delete(format!("{}{path}", api.url()))
            .bearer_auth(bearer(login)),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let job_id = job["job_id"].as_str().expect("a job id").to_owned();
    assert!(
        job["status_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/v1/jobs/{job_id}"))),
        "{job}"
    );
    let status_url = format!("{}/v1/jobs/{job_id}", api.url());
    eventually_within("the job done", seconds, || {
        let status_url = status_url.clone();
        async move {
            let (status, job) = call(http().get(&status_url).bearer_auth(bearer(login))).await;
            assert_eq!(status, 200, "{job}");
            (job["state"] == "done").then_some(job)
        }
    })
    .await
}

/// Creates a public 2 km course named `name` as `login`; returns its id.
pub async fn create_course(api: &runcrew_local::Running, login: &Value, name: &str) -> String {
    let (status, course) = call(
        http()
            .post(format!("{}/v1/courses", api.url()))
            .bearer_auth(bearer(login))
            .json(&json!({
                "name": name,
                "route": {"type": "LineString", "coordinates": [[126.9779, 37.5663], [126.9779, 37.584286]]}
            })),
    )
    .await;
    assert_eq!(status, 201, "{course}");
    course["course_id"].as_str().expect("id").to_owned()
}

/// Records a 2 km run of `seconds` on `course` as `login`, an hour ago; returns its id.
pub async fn record_run(
    api: &runcrew_local::Running,
    login: &Value,
    course: &str,
    seconds: i64,
) -> String {
    record_run_started(api, login, course, seconds, 60).await
}

/// [`record_run`] of a run that started `minutes_ago`, for stories where the order in
/// which runs were run matters.
pub async fn record_run_started(
    api: &runcrew_local::Running,
    login: &Value,
    course: &str,
    seconds: i64,
    minutes_ago: i64,
) -> String {
    let started = time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes_ago);
    let started = started
        .replace_nanosecond(0)
        .expect("whole seconds")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let (status, run) = call(
        http()
            .post(format!("{}/v1/runs", api.url()))
            .bearer_auth(bearer(login))
            .json(&json!({
                "started_at": started,
                "duration_s": seconds,
                "distance_m": 2000.0,
                "course_id": course,
            })),
    )
    .await;
    assert_eq!(status, 201, "{run}");
    run["run_id"].as_str().expect("run id").to_owned()
}
