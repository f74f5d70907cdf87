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
        .chain(runcrew_local::stream_tasks().iter().map(|t| t.binary))
        .chain(runcrew_local::queue_tasks().iter().map(|t| t.binary))
        .chain(runcrew_local::schedule_tasks().iter().map(|t| t.binary))
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
    assert_eq!(
        body["user_id"].as_str(),
        Some(runcrew_local::samples::dev_user_id("alice").as_str())
    );
    runcrew_local::samples::seed(&app)
        .await
        .expect("sample data");
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
