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
        .chain(runcrew_local::tasks().iter().map(|t| t.binary))
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
const REFUSED_SAMPLES: &[(&str, u16)] = &[("auth-refresh", 401)];

/// The course the samples name: alice's, public, along the Han river in Yeouido.
const SAMPLE_COURSE_ID: &str = "019aa5c0e1f27d4b8c9d0e1f2a3b4c5d";

/// Puts the sample course and its route file in place, as `POST /v1/courses` would.
async fn seed_sample_course(app: &runcrew_shared::App, creator_id: &str) {
    let route = runcrew_shared::route::Route::from_json(
        &serde_json::json!({"type": "LineString", "coordinates": [
            [126.9356, 37.5283], [126.9410, 37.5262], [126.9502, 37.5231], [126.9672, 37.5170]
        ]}),
        "route",
    )
    .expect("route");
    let mut course = runcrew_courses::course::Course::new(
        creator_id,
        "Yeouido Han river 3k".into(),
        String::new(),
        runcrew_courses::course::Visibility::Public,
        &route,
        "2026-11-21T05:35:00.000Z",
    );
    course.course_id = SAMPLE_COURSE_ID.into();
    let store = app.store().expect("store");
    store
        .put(
            course.to_item(1).expect("item"),
            runcrew_shared::store::Condition::NotExists,
        )
        .await
        .expect("course");
    app.blobs()
        .expect("blobs")
        .put(
            &runcrew_courses::course::route_blob_key(SAMPLE_COURSE_ID),
            serde_json::to_vec(&route.to_geojson()).expect("json"),
            "application/geo+json",
        )
        .await
        .expect("route file");
}

/// The run the samples name: alice's 3 km on the sample course.
const SAMPLE_RUN_ID: &str = "019aa5c0f0a17b2c8d3e4f5a6b7c8d9e";

/// Puts alice's sample run in place, as `POST /v1/runs` would.
async fn seed_sample_run(app: &runcrew_shared::App, runner_id: &str) {
    let run = runcrew_runs::run::Run {
        run_id: SAMPLE_RUN_ID.into(),
        user_id: runner_id.into(),
        started_at: "2026-11-20T22:10:00.000Z".into(),
        started_ms: 1_795_212_600_000,
        utc_offset_minutes: 540,
        time_zone: Some("Asia/Seoul".into()),
        local_date: "2026-11-21".into(),
        duration_s: 1020,
        distance_m: 3050.0,
        course_id: Some(SAMPLE_COURSE_ID.into()),
        source: runcrew_runs::run::Source::App,
        visibility: runcrew_runs::run::RunVisibility::Public,
        flag: None,
        path_points: None,
        created_at: "2026-11-20T22:30:00.000Z".into(),
    };
    let store = app.store().expect("store");
    let mut writes = vec![runcrew_shared::store::Write::Put {
        item: run.to_item().expect("item"),
        condition: runcrew_shared::store::Condition::NotExists,
    }];
    writes.extend(runcrew_runs::stats::tally(&run, 1).expect("tally"));
    store.transact(writes).await.expect("run");
    runcrew_runs::board::offer(store, &run)
        .await
        .expect("board");
}

/// A fresh local app where `alice` (the user of the authenticated samples) has logged in
/// once with the dev provider, drawn the sample course and run it, and `bob` (whom the
/// social samples name) exists.
async fn app_with_alice() -> (tempfile::TempDir, std::sync::Arc<runcrew_shared::App>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = runcrew_tests::local_app(dir.path()).await;
    let login = samples()
        .into_iter()
        .find(|(b, _)| b == "auth-login")
        .expect("the login sample");
    let request = lambda_http::request::from_str(&login.1).expect("login sample");
    let response = runcrew_auth::LOGIN.call(&app, request).await;
    assert!(response.status().is_success(), "alice logs in");
    let body: serde_json::Value =
        serde_json::from_slice(response.body().as_ref()).expect("login json");
    let alice = body["user_id"].as_str().expect("user id");
    seed_sample_course(&app, alice).await;
    seed_sample_run(&app, alice).await;
    let bob = serde_json::json!({"provider": "dev", "token": "bob"}).to_string();
    let mut request = lambda_http::request::from_str(&login.1).expect("login sample");
    *request.body_mut() = lambda_http::Body::Text(bob);
    assert!(
        runcrew_auth::LOGIN
            .call(&app, request)
            .await
            .status()
            .is_success(),
        "bob logs in"
    );
    (dir, app)
}

#[tokio::test]
async fn every_sample_event_succeeds_against_its_handler() {
    let registry = runcrew_local::registry();
    let tasks = runcrew_local::tasks();
    for (binary, text) in samples() {
        let (_dir, app) = app_with_alice().await;
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
