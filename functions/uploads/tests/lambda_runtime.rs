//! The real `thumbnails` binary, run as Lambda runs it against a loopback Lambda Runtime
//! API with its sample S3 event, over a data folder holding the sample course.

use std::path::Path;

use runcrew_lambda_fake::{FakeRuntimeApi, invoke_once, lambda_env, refused_start, sample_event};
use runcrew_model::course::{Course, Visibility, course_key, route_blob_key};
use runcrew_shared::blobs::Blobs;
use runcrew_shared::blobs::filesystem::FilesystemBlobs;
use runcrew_shared::route::Route;
use runcrew_shared::store::cursor::CursorCodec;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::{Condition, Store};

/// The course the sample event's route file belongs to.
const SAMPLE_COURSE_ID: &str = "019aa5c0e1f27d4b8c9d0e1f2a3b4c5d";

#[tokio::test]
async fn the_thumbnails_binary_draws_the_map_of_the_sample_course() {
    // given the sample course and its route file in a local data folder
    let dir = tempfile::tempdir().expect("tempdir");
    let route = Route::from_json(
        &serde_json::json!({"type": "LineString", "coordinates": [[126.9356, 37.5283], [126.9672, 37.5170]]}),
        "route",
    )
    .expect("route");
    let mut course = Course::new(
        "9abf35084b4364dbea7b4b9994a2165a",
        "Sample".into(),
        String::new(),
        Visibility::Public,
        &route,
        "2026-11-21T05:35:00.000Z",
    );
    course.course_id = SAMPLE_COURSE_ID.into();
    {
        let store = EmbeddedStore::open(&dir.path().join("store.redb"), CursorCodec::new("x"))
            .expect("store");
        store
            .put(course.to_item(1).expect("item"), Condition::NotExists)
            .await
            .expect("course");
    }
    let blobs = FilesystemBlobs::new(dir.path().join("blobs"), "http://cdn", "http://api", "x");
    blobs
        .put(
            &route_blob_key(SAMPLE_COURSE_ID),
            serde_json::to_vec(&route.to_geojson()).expect("json"),
            "application/geo+json",
        )
        .await
        .expect("route file");
    // when the binary handles the sample S3 event
    let response = invoke_once(
        Path::new(env!("CARGO_BIN_EXE_thumbnails")),
        &sample_event("thumbnails"),
        dir.path(),
        &[],
    )
    .await;
    // then it succeeded, stored the PNG and recorded it on the course
    assert_eq!(response, serde_json::Value::Null);
    let png = blobs
        .get(&format!("thumbnails/courses/{SAMPLE_COURSE_ID}.png"))
        .await
        .expect("get")
        .expect("the thumbnail");
    assert!(png.bytes.starts_with(b"\x89PNG"));
    // The function's process holds the store file until it has exited.
    let mut store = None;
    for _ in 0..200 {
        match EmbeddedStore::open(&dir.path().join("store.redb"), CursorCodec::new("x")) {
            Ok(opened) => {
                store = Some(opened);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    let store = store.expect("the store opens once the function has exited");
    let item = store
        .get(&course_key(SAMPLE_COURSE_ID))
        .await
        .expect("get")
        .expect("course");
    assert_eq!(
        item.str("thumbnail_key"),
        Some(format!("thumbnails/courses/{SAMPLE_COURSE_ID}.png").as_str())
    );
}

#[tokio::test]
async fn a_mapbox_client_that_cannot_be_built_stops_the_start_with_a_clear_error() {
    // given a Mapbox token and no TLS roots where SSL_CERT_FILE points (a wrong bundle
    // path in the function's configuration)
    let runtime = FakeRuntimeApi::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let empty_bundle = dir.path().join("no-roots.pem");
    std::fs::write(&empty_bundle, "").expect("empty bundle");
    runtime.queue("req-1", &sample_event("thumbnails"));
    let mut env = lambda_env(&runtime, dir.path());
    env.extend(
        [
            ("MAPBOX_ACCESS_TOKEN", "pk.test-token"),
            ("SSL_CERT_FILE", empty_bundle.to_str().expect("path")),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    // when it starts, then it exits with an error naming the Mapbox client, and handles
    // no event (rather than drawing every map without the client's timeouts)
    let logs = refused_start(Path::new(env!("CARGO_BIN_EXE_thumbnails")), &env).await;
    assert!(logs.contains("Mapbox HTTP client"), "{logs}");
    assert!(
        !logs.contains("pk.test-token"),
        "the token stays out of the logs"
    );
    assert_eq!(
        runtime
            .outcome("req-1", std::time::Duration::from_millis(100))
            .await,
        None
    );
}
