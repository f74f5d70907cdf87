//! The hot paths under criterion: the work requests do besides waiting on DynamoDB
//! (verifying an access token, reading a JSON body, writing the JSON answer or the error
//! envelope, paging cursors), the geometry of courses (reading and measuring a GeoJSON
//! route, simplifying it for a map, polylines, the geohash cells of a near search) and the
//! thumbnails task's CPU work (drawing a course map, resizing a photo).
//!
//! Shared by `cargo bench -p runcrew-bench` (benches/hot_paths.rs) and the `bench-hot-paths`
//! binary, which infra/scripts/bench runs from the release build: `cargo bench` would build
//! every dependency again with `panic = "unwind"`, minutes the report cannot spare.

use criterion::Criterion;
use runcrew_shared::error::ApiError;
use runcrew_shared::geocell;
use runcrew_shared::route::{LatLng, Route};
use runcrew_shared::store::Key;
use runcrew_shared::store::cursor::{CursorCodec, Position};
use runcrew_shared::tokens::{SigningKey, TokenKeys};
use runcrew_shared::{request, response};
use serde_json::{Value, json};
use std::hint::black_box;

fn keys() -> TokenKeys {
    let pem = SigningKey::generate_pem().expect("key");
    TokenKeys::new(
        SigningKey::from_pem("rc-2026-11-21", pem.as_bytes()).expect("key"),
        None,
    )
}

fn tokens(c: &mut Criterion) {
    let keys = keys();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "sub": "9abf35084b4364dbea7b4b9994a2165a", "iss": "https://api.runcrew.app",
        "aud": "runcrew-api", "iat": now, "nbf": now, "exp": now + 900,
        "jti": "5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50", "sid": "019aa5c0d2f07c3e9b8a1c2d3e4f5a6b",
    });
    let token = keys.sign(&claims).expect("sign");
    c.bench_function("token/verify RS256", |b| {
        b.iter(|| {
            keys.verify::<serde_json::Map<String, Value>>(
                black_box(&token),
                "https://api.runcrew.app",
                &["runcrew-api"],
            )
            .expect("valid")
        })
    });
    c.bench_function("token/sign RS256", |b| {
        b.iter(|| keys.sign(black_box(&claims)).expect("sign"))
    });
}

#[derive(serde::Deserialize)]
#[allow(dead_code, reason = "read to measure parsing")]
struct Change {
    display_name: Option<String>,
    bio: Option<String>,
    time_zone: Option<String>,
}

fn json_in_and_out(c: &mut Criterion) {
    let body = br#"{"display_name":"Alice Kim","bio":"Han river 10k every Sunday","time_zone":"Asia/Seoul"}"#;
    c.bench_function("request/parse a profile change", |b| {
        b.iter(|| request::parse_json::<Change>(black_box(body)).expect("parses"))
    });
    let profile = json!({
        "user_id": "9abf35084b4364dbea7b4b9994a2165a", "display_name": "Alice Kim",
        "bio": "Han river 10k every Sunday", "avatar_url": null,
        "created_at": "2026-11-21T07:37:08.602Z",
    });
    c.bench_function("response/ok a public profile", |b| {
        b.iter(|| response::ok(black_box(&profile)).expect("serializes"))
    });
    let error = ApiError::invalid("route.coordinates[3]", "latitude must be within -90..90");
    c.bench_function("response/error envelope 422", |b| {
        b.iter(|| response::error(black_box(&error), "Zx1bQhJ7oAMEbKw="))
    });
}

fn cursors(c: &mut Criterion) {
    let codec = CursorCodec::new("bench-cursor-secret-of-at-least-32-bytes");
    let position = Position {
        key: Key::new(
            "USER#9abf35084b4364dbea7b4b9994a2165a",
            "SESSION#019aa5c0d2f07c3e9b8a1c2d3e4f5a6b",
        ),
        index_key: None,
    };
    let cursor = codec.encode("table|asc|USER#9abf", &position);
    c.bench_function("cursor/encode", |b| {
        b.iter(|| codec.encode(black_box("table|asc|USER#9abf"), black_box(&position)))
    });
    c.bench_function("cursor/decode", |b| {
        b.iter(|| codec.decode(black_box("table|asc|USER#9abf"), black_box(&cursor)))
    });
}

/// A 10 km river route of `n` positions, as a client sends it.
fn river(n: usize) -> Value {
    let coordinates: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let t = i as f64 / n as f64;
            [126.93 + t * 0.11, 37.52 + 0.004 * (t * 60.0).sin()]
        })
        .collect();
    json!({"type": "LineString", "coordinates": coordinates})
}

fn geometry(c: &mut Criterion) {
    let body =
        serde_json::to_vec(&json!({"name": "River 10k", "route": river(2_000)})).expect("body");
    c.bench_function("route/parse+measure (2,000 positions)", |b| {
        b.iter(|| {
            let value: Value = serde_json::from_slice(black_box(&body)).expect("json");
            let route = Route::from_json(&value["route"], "route").expect("route");
            black_box((
                route.distance_m(),
                route.bbox(),
                geocell::encode(route.start()),
            ))
        })
    });
    let route = Route::from_json(&river(2_000), "route").expect("route");
    c.bench_function("route/simplify to 100 (2,000 positions)", |b| {
        b.iter(|| black_box(&route).simplified(100))
    });
    let big = Route::from_json(&river(10_000), "route").expect("route");
    c.bench_function("route/simplify to 100 (10,000 positions)", |b| {
        b.iter(|| black_box(&big).simplified(100))
    });
    let preview = route.simplified(200);
    c.bench_function("polyline/encode (200 positions)", |b| {
        b.iter(|| black_box(&preview).to_polyline())
    });
    let encoded = route.to_polyline();
    c.bench_function("polyline/decode (2,000 positions)", |b| {
        b.iter(|| Route::from_json(&Value::String(black_box(&encoded).clone()), "route"))
    });
    let seoul = LatLng {
        lat: 37.5665,
        lng: 126.978,
    };
    c.bench_function("geohash/search cells (5 km)", |b| {
        b.iter(|| geocell::search_cells(black_box(seoul), black_box(5_000.0)))
    });
}

/// A 1600x1200 JPEG as a phone would upload it (a smooth gradient with some texture).
fn photo() -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(1600, 1200, |x, y| {
        image::Rgb([(x / 7) as u8, (y / 5) as u8, ((x ^ y) & 0xff) as u8])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&pixels)
        .expect("jpeg");
    jpeg
}

fn thumbnails(c: &mut Criterion) {
    let mut group = c.benchmark_group("thumbnails");
    group.sample_size(10);
    let route = Route::from_json(&river(2_000), "route")
        .expect("route")
        .simplified(100);
    group.bench_function("draw a course map 1200x800 (100 positions)", |b| {
        b.iter(|| runcrew_uploads::route_maps::drawn::draw(black_box(&route)).expect("png"))
    });
    let jpeg = photo();
    group.bench_function("photo 1600x1200 JPEG to 256 and 1024 px", |b| {
        b.iter(|| runcrew_uploads::photos::thumbnails(black_box(&jpeg)).expect("thumbnails"))
    });
    group.finish();
}

/// The settings every hot path runs with: short, since each one is fast and steady.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
}

/// Registers every hot path with `c`.
pub fn all(c: &mut Criterion) {
    tokens(c);
    json_in_and_out(c);
    cursors(c);
    geometry(c);
    thumbnails(c);
}
