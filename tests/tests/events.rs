//! Every sample under events/ is a real input of its function: each file `events/<binary>.json`
//! is fed to the handler registered under that binary and must succeed, so the samples that
//! `sam local invoke -e` and `cargo lambda invoke --data-file` use never rot.

use std::path::{Path, PathBuf};

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn samples() -> Vec<(String, String)> {
    let mut samples: Vec<(String, String)> = std::fs::read_dir(events_dir())
        .expect("events/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let binary = p
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("utf-8 name")
                .to_owned();
            (binary, std::fs::read_to_string(&p).expect("readable"))
        })
        .collect();
    samples.sort();
    samples
}

#[test]
fn every_function_has_a_sample_event_and_every_sample_a_function() {
    let binaries: Vec<&str> = runcrew_local::registry()
        .iter()
        .map(|f| f.binary)
        .chain(
            runcrew_local::every_task()
                .into_iter()
                .map(|(binary, _)| binary),
        )
        .collect();
    let names: Vec<String> = samples().into_iter().map(|(b, _)| b).collect();
    for binary in &binaries {
        assert!(
            names.iter().any(|n| n == binary),
            "events/{binary}.json is missing"
        );
    }
    for name in &names {
        assert!(
            binaries.contains(&name.as_str()),
            "events/{name}.json names no registered function"
        );
    }
}

/// Samples that cannot succeed from a file: a refresh token is live only after a login, so
/// its sample must reach the handler and be refused as a stale token would be.
const REFUSED_SAMPLES: &[(&str, u16)] = &[("auth-refresh", 401), ("strava-callback", 400)];

/// Strava set up, at an address where nothing answers: the samples that reach Strava
/// (a disconnect's courtesy deauthorization) must not need it.
const STRAVA: &[(&str, &str)] = &[
    ("STRAVA_CLIENT_ID", "163042"),
    ("STRAVA_CLIENT_SECRET", "sample-client-secret"),
    ("STRAVA_API_URL", "http://127.0.0.1:9/api/v3"),
    ("STRAVA_OAUTH_URL", "http://127.0.0.1:9/oauth"),
    ("STRAVA_WEBHOOK_VERIFY_TOKEN", "runcrew-local-verify-token"),
];

/// Alice's Strava connection, so the samples about it find one.
async fn connect_alice_to_strava(app: &runcrew_shared::App) {
    use runcrew_model::strava::connection::{self, Connection};
    let alice = runcrew_local::samples::dev_user_id("alice");
    let cipher = app.cipher().expect("cipher");
    let context = runcrew_strava::connect::token_context(&alice);
    let connection = Connection {
        user_id: alice.clone(),
        athlete_id: 134_815,
        scopes: vec!["read".into(), "activity:read_all".into()],
        access_token: cipher
            .seal("sample-access", &context)
            .await
            .expect("sealed"),
        refresh_token: cipher
            .seal("sample-refresh", &context)
            .await
            .expect("sealed"),
        token_expires_at: i64::MAX / 2,
        connected_at: "2026-12-01T00:00:00Z".into(),
        last_sync_at: None,
        newest_start_s: 0,
        runs_imported: 0,
        sync: None,
        problem: None,
        refresh_lease_until_ms: 0,
    };
    connection::connect(app.store().expect("store"), &connection)
        .await
        .expect("stored")
        .expect("linked");
}

/// A fresh local app where `alice` (the user of the authenticated samples) has logged in
/// once with the dev provider, drawn the sample course and run it, and `bob` (whom the
/// social samples name) exists.
async fn app_with_alice() -> (tempfile::TempDir, std::sync::Arc<runcrew_shared::App>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let needs = runcrew_shared::Needs::EVERYTHING.extension(runcrew_strava::port::build);
    let app = std::sync::Arc::new(
        runcrew_shared::App::build(runcrew_tests::config(dir.path(), STRAVA), needs)
            .await
            .expect("local app"),
    );
    let login = samples()
        .into_iter()
        .find(|(b, _)| b == "auth-login")
        .expect("the login sample");
    let request = lambda_http::request::from_str(&login.1).expect("login sample");
    let response = runcrew_auth::LOGIN.call(&app, request).await;
    assert!(response.status().is_success(), "alice logs in");
    let body: serde_json::Value =
        serde_json::from_slice(response.body().as_ref()).expect("login json");
    assert_eq!(
        body["user_id"].as_str(),
        Some(runcrew_local::samples::dev_user_id("alice").as_str())
    );
    runcrew_local::samples::seed(&app)
        .await
        .expect("sample data");
    connect_alice_to_strava(&app).await;
    (dir, app)
}

#[tokio::test]
async fn every_sample_event_succeeds_against_its_handler() {
    let registry = runcrew_local::registry();
    let tasks = runcrew_local::tasks();
    let stream_tasks = runcrew_local::stream_tasks();
    let queue_tasks = runcrew_local::queue_tasks();
    let schedule_tasks = runcrew_local::schedule_tasks();
    for (binary, text) in samples() {
        let (_dir, app) = app_with_alice().await;
        if let Some(task) = queue_tasks.iter().find(|t| t.binary == binary) {
            let event =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{binary}.json: {e}"));
            let response = runcrew_shared::tasks::queue::handle_event(task, &app, event).await;
            assert!(
                response.batch_item_failures.is_empty(),
                "events/{binary}.json: a message failed"
            );
            continue;
        }
        if let Some(task) = schedule_tasks.iter().find(|t| t.binary == binary) {
            let input: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{binary}.json: {e}"));
            task.invoke(&app, &input)
                .await
                .unwrap_or_else(|e| panic!("events/{binary}.json failed: {e}"));
            continue;
        }
        if let Some(task) = stream_tasks.iter().find(|t| t.binary == binary) {
            let event =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{binary}.json: {e}"));
            let response = runcrew_shared::tasks::stream::handle_event(task, &app, event).await;
            assert!(
                response.batch_item_failures.is_empty(),
                "events/{binary}.json: a record failed"
            );
            continue;
        }
        if let Some(task) = tasks.iter().find(|t| t.binary == binary) {
            let event =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{binary}.json: {e}"));
            task.call(&app, event)
                .await
                .unwrap_or_else(|e| panic!("events/{binary}.json failed: {e}"));
            continue;
        }
        let function = registry
            .iter()
            .find(|f| f.binary == binary)
            .expect("registered");
        let request = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("events/{binary}.json: {e}"));
        let response = function.call(&app, request).await;
        match REFUSED_SAMPLES.iter().find(|(b, _)| *b == binary) {
            Some((_, status)) => {
                assert_eq!(response.status().as_u16(), *status, "events/{binary}.json")
            }
            None => assert!(
                response.status().is_success(),
                "events/{binary}.json answered {}",
                response.status()
            ),
        }
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{binary}"
        );
    }
}
