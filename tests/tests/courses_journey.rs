//! The course library through the local gateway: drawing courses, their thumbnails (our
//! renderer and the Mapbox fake), near search, privacy, likes, favorites, reviews and
//! deletion. The near search also runs over DynamoDB Local, whose indexes it relies on.

use std::sync::Arc;

use runcrew_local::Running;
use runcrew_tests::fakes::MapboxFake;
use runcrew_tests::{bearer, call, dev_login, eventually, http};
use serde_json::{Value, json};

/// Seoul City Hall.
const CENTER: (f64, f64) = (37.5663, 126.9779);
/// Kilometres per degree of latitude on the haversine sphere.
const KM_PER_DEGREE: f64 = 111.195_08;

fn url(api: &Running, path: &str) -> String {
    format!("{}{path}", api.url())
}

/// A point `km` from `from` towards `bearing` (N, E, S or W).
fn offset(from: (f64, f64), km: f64, bearing: char) -> (f64, f64) {
    let (lat, lng) = from;
    let dlat = km / KM_PER_DEGREE;
    let dlng = km / (KM_PER_DEGREE * lat.to_radians().cos());
    match bearing {
        'N' => (lat + dlat, lng),
        'S' => (lat - dlat, lng),
        'E' => (lat, lng + dlng),
        _ => (lat, lng - dlng),
    }
}

/// A GeoJSON LineString through `points` given as (lat, lng).
fn line(points: &[(f64, f64)]) -> Value {
    let coordinates: Vec<[f64; 2]> = points.iter().map(|&(lat, lng)| [lng, lat]).collect();
    json!({"type": "LineString", "coordinates": coordinates})
}

/// A short course starting at `start` and heading 300 m north.
fn short_route(start: (f64, f64)) -> Value {
    line(&[start, offset(start, 0.3, 'N')])
}

/// A long wiggly route of `n` positions along the river.
fn wiggly_route(n: usize) -> Value {
    let points: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let t = i as f64 / n as f64;
            (
                37.52 + 0.01 * (t * 40.0).sin() * 0.2 + t * 0.01,
                126.93 + t * 0.05,
            )
        })
        .collect();
    line(&points)
}

async fn create(api: &Running, login: &Value, body: Value) -> (u16, Value) {
    call(
        http()
            .post(url(api, "/v1/courses"))
            .bearer_auth(bearer(login))
            .json(&body),
    )
    .await
}

async fn create_ok(
    api: &Running,
    login: &Value,
    name: &str,
    route: Value,
    visibility: &str,
) -> Value {
    let (status, body) = create(
        api,
        login,
        json!({"name": name, "route": route, "visibility": visibility}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn get_course(api: &Running, id: &str, login: Option<&Value>) -> (u16, Value) {
    let mut request = http().get(url(api, &format!("/v1/courses/{id}")));
    if let Some(login) = login {
        request = request.bearer_auth(bearer(login));
    }
    call(request).await
}

fn id_of(course: &Value) -> String {
    course["course_id"].as_str().expect("course id").to_owned()
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn fetch(address: &str) -> (u16, Option<String>, Vec<u8>) {
    let response = http().get(address).send().await.expect("fetch");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        kind,
        response.bytes().await.expect("bytes").to_vec(),
    )
}

/// Waits until the course shows its thumbnail URL and returns it.
async fn thumbnail_of(api: &Running, id: &str, login: &Value) -> String {
    eventually("the course's thumbnail", || async {
        let (_, course) = get_course(api, id, Some(login)).await;
        course["thumbnail_url"].as_str().map(str::to_owned)
    })
    .await
}

#[tokio::test]
async fn a_new_course_gets_its_distance_and_a_drawn_map_thumbnail() {
    // given the local API with no Mapbox token
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    // when alice draws a 2 km course due north
    let start = CENTER;
    let course = create_ok(
        &api,
        &alice,
        "City Hall north 2k",
        line(&[start, offset(start, 1.0, 'N'), offset(start, 2.0, 'N')]),
        "public",
    )
    .await;
    // then the server measured it and placed it
    let distance = course["distance_m"].as_f64().expect("distance");
    assert!((distance - 2000.0).abs() < 1.0, "{distance}");
    assert_eq!(course["start"]["lat"], start.0);
    assert_eq!(course["geohash"].as_str().map(str::len), Some(9));
    assert!(course["thumbnail_url"].is_null());
    // and the full route is a file on the CDN
    let (status, kind, bytes) = fetch(course["route_url"].as_str().expect("route url")).await;
    assert_eq!(
        (status, kind.as_deref()),
        (200, Some("application/geo+json"))
    );
    let file: Value = serde_json::from_slice(&bytes).expect("geojson");
    assert_eq!(file["coordinates"].as_array().map(Vec::len), Some(3));
    // and soon the course shows a thumbnail our renderer drew: 1200x800 with an orange line
    let thumbnail = thumbnail_of(&api, &id_of(&course), &alice).await;
    let (status, kind, png) = fetch(&thumbnail).await;
    assert_eq!((status, kind.as_deref()), (200, Some("image/png")));
    let image = image::load_from_memory(&png).expect("png").to_rgba8();
    assert_eq!(image.dimensions(), (1200, 800));
    let orange = image
        .pixels()
        .filter(|p| p[0] > 230 && (80..140).contains(&p[1]) && p[2] < 40)
        .count();
    assert!(orange > 1_000, "only {orange} orange pixels");
    api.stop().await;
}

#[tokio::test]
async fn with_a_mapbox_token_the_map_comes_from_mapbox_in_the_documented_form() {
    // given a Mapbox fake and the local API configured with its token
    let mapbox = MapboxFake::start("pk.test-token").await;
    let (api, _dir) = runcrew_tests::start_local(&[
        ("MAPBOX_ACCESS_TOKEN", "pk.test-token".into()),
        ("MAPBOX_API_URL", mapbox.url()),
    ])
    .await;
    let alice = dev_login(&api, "alice").await;
    // when alice draws a detailed course of 5,000 positions
    let course = create_ok(&api, &alice, "River detail", wiggly_route(5_000), "public").await;
    // then the thumbnail is Mapbox's image
    let thumbnail = thumbnail_of(&api, &id_of(&course), &alice).await;
    let (status, _, png) = fetch(&thumbnail).await;
    assert_eq!(status, 200);
    assert_eq!(png, mapbox.png);
    // and Mapbox received one request of the documented form
    let requests = mapbox.server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert!(
        request.url.as_str().len() <= 8_192,
        "{} bytes",
        request.url.as_str().len()
    );
    let path = request.url.path();
    let overlay = path
        .strip_prefix("/styles/v1/mapbox/outdoors-v12/static/path-5+ff6a00-0.9(")
        .and_then(|rest| rest.strip_suffix(")/auto/600x400@2x"))
        .unwrap_or_else(|| panic!("unexpected path {path}"));
    let encoded = percent_encoding::percent_decode_str(overlay)
        .decode_utf8()
        .expect("utf-8");
    let shown = polyline::decode_polyline(&encoded, 5).expect("a valid polyline");
    assert!(
        (2..=100).contains(&shown.0.len()),
        "{} points",
        shown.0.len()
    );
    let first = shown.0[0];
    assert!((first.y - 37.52).abs() < 1e-4 && (first.x - 126.93).abs() < 1e-4);
    let token = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned());
    assert_eq!(token.as_deref(), Some("pk.test-token"));
    api.stop().await;
}

#[tokio::test]
async fn when_mapbox_is_down_the_course_still_gets_a_drawn_thumbnail() {
    // given Mapbox answering 503 to everything
    let down = runcrew_tests::fakes::down().await;
    let (api, _dir) = runcrew_tests::start_local(&[
        ("MAPBOX_ACCESS_TOKEN", "pk.test-token".into()),
        ("MAPBOX_API_URL", down.uri()),
    ])
    .await;
    let alice = dev_login(&api, "alice").await;
    // when a course is drawn
    let course = create_ok(&api, &alice, "Fallback", short_route(CENTER), "public").await;
    // then after Mapbox's retries our own renderer makes the picture
    let thumbnail = thumbnail_of(&api, &id_of(&course), &alice).await;
    let (_, _, png) = fetch(&thumbnail).await;
    let image = image::load_from_memory(&png).expect("png");
    assert_eq!((image.width(), image.height()), (1200, 800));
    assert!(down.received_requests().await.expect("recorded").len() >= 3);
    api.stop().await;
}

/// Fixture courses around City Hall; returns alice's and bob's logins.
async fn seed_city(api: &Running) -> (Value, Value) {
    let alice = dev_login(api, "alice").await;
    let bob = dev_login(api, "bob").await;
    for (name, km, bearing, who, visibility) in [
        ("A 0.8 km N", 0.8, 'N', &alice, "public"),
        ("B 2.5 km E", 2.5, 'E', &alice, "public"),
        ("H 3.3 km W", 3.3, 'W', &bob, "public"),
        ("C 4.2 km S", 4.2, 'S', &alice, "public"),
        ("D 7 km W", 7.0, 'W', &bob, "public"),
        ("E 20 km N", 20.0, 'N', &alice, "public"),
        ("F 45 km S", 45.0, 'S', &bob, "public"),
        ("G 70 km N", 70.0, 'N', &alice, "public"),
        ("P 1 km E private", 1.0, 'E', &alice, "private"),
    ] {
        create_ok(
            api,
            who,
            name,
            short_route(offset(CENTER, km, bearing)),
            visibility,
        )
        .await;
    }
    (alice, bob)
}

async fn near(api: &Running, radius_km: &str) -> (u16, Value) {
    call(http().get(url(
        api,
        &format!(
            "/v1/courses?near={},{}&radius_km={radius_km}&limit=50",
            CENTER.0, CENTER.1
        ),
    )))
    .await
}

async fn near_search_finds_the_right_courses_nearest_first(api: &Running) {
    // given courses at known distances around City Hall, one of them private
    seed_city(api).await;
    // when searching 5 km around City Hall
    let (status, within_5) = near(api, "5").await;
    assert_eq!(status, 200, "{within_5}");
    // then exactly the public ones within 5 km come back, nearest first, with distances
    assert_eq!(
        names(&within_5),
        ["A 0.8 km N", "B 2.5 km E", "H 3.3 km W", "C 4.2 km S"]
    );
    let distances: Vec<f64> = within_5["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["distance_away_m"].as_f64().expect("distance"))
        .collect();
    for (got, want) in distances.iter().zip([800.0, 2500.0, 3300.0, 4200.0]) {
        assert!((got - want).abs() < 5.0, "{got} vs {want}");
    }
    // and 50 km reaches further, but not 70 km
    let (_, within_50) = near(api, "50").await;
    assert_eq!(
        names(&within_50),
        [
            "A 0.8 km N",
            "B 2.5 km E",
            "H 3.3 km W",
            "C 4.2 km S",
            "D 7 km W",
            "E 20 km N",
            "F 45 km S"
        ]
    );
    // and a radius smaller than the nearest course finds nothing
    let (_, within_half) = near(api, "0.5").await;
    assert_eq!(names(&within_half), Vec::<String>::new());
    // and a radius over 50 km is refused naming it
    let (status, body) = near(api, "51").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("radius_km"))
    );
}

#[tokio::test]
async fn near_search_on_the_embedded_store() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    near_search_finds_the_right_courses_nearest_first(&api).await;
    api.stop().await;
}

#[tokio::test]
async fn near_search_on_dynamodb_local() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = runcrew_tests::dynamodb_store().await;
    let app = runcrew_tests::app_over(runcrew_tests::config(dir.path(), &[]), Arc::new(store));
    let api = runcrew_tests::serve_app(app).await;
    near_search_finds_the_right_courses_nearest_first(&api).await;
    api.stop().await;
}

#[tokio::test]
async fn lists_page_newest_first_and_private_courses_stay_with_their_creator() {
    // given the fixture city
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let (alice, bob) = seed_city(&api).await;
    // when anyone pages through the newest public courses, three at a time
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut address = url(&api, "/v1/courses?limit=3");
        if let Some(c) = &cursor {
            address.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = call(http().get(address)).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    // then every public course comes once, newest first, and the private one never
    assert_eq!(
        seen,
        [
            "G 70 km N",
            "F 45 km S",
            "E 20 km N",
            "D 7 km W",
            "C 4.2 km S",
            "H 3.3 km W",
            "B 2.5 km E",
            "A 0.8 km N"
        ]
    );
    // and a creator's list shows only theirs; her private list only to her
    let alice_id = alice["user_id"].as_str().expect("id");
    let (_, hers) = call(http().get(url(&api, &format!("/v1/courses?creator={alice_id}")))).await;
    assert_eq!(
        names(&hers),
        [
            "G 70 km N",
            "E 20 km N",
            "C 4.2 km S",
            "B 2.5 km E",
            "A 0.8 km N"
        ]
    );
    let private = format!("/v1/courses?creator={alice_id}&visibility=private");
    let (status, mine) = call(http().get(url(&api, &private)).bearer_auth(bearer(&alice))).await;
    assert_eq!(
        (status, names(&mine)),
        (200, vec!["P 1 km E private".to_owned()])
    );
    let (status, _) = call(http().get(url(&api, &private)).bearer_auth(bearer(&bob))).await;
    assert_eq!(status, 403);
    let (status, _) = call(http().get(url(&api, &private))).await;
    assert_eq!(status, 403);
    // and a cursor that was tampered with is refused
    let (status, body) = call(http().get(url(&api, "/v1/courses?cursor=abc.def"))).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("cursor"))
    );
    api.stop().await;
}

#[tokio::test]
async fn invalid_routes_are_refused_naming_the_field_and_nothing_is_written() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let a = CENTER;
    let too_many: Vec<(f64, f64)> = (0..10_001).map(|i| (a.0 + i as f64 * 1e-5, a.1)).collect();
    let cases = [
        (
            json!({"name": "x", "route": line(&[a])}),
            "route.coordinates",
        ),
        (
            json!({"name": "x", "route": {"type": "LineString", "coordinates": [[a.1, a.0], [a.1, 91.0]]}}),
            "route.coordinates[1][1]",
        ),
        (
            // JSON has no NaN: JavaScript's JSON.stringify writes it as null
            json!({"name": "x", "route": {"type": "LineString", "coordinates": [[a.1, a.0], [null, a.0]]}}),
            "route.coordinates[1][0]",
        ),
        (
            json!({"name": "x", "route": {"type": "Point", "coordinates": [a.1, a.0]}}),
            "route.type",
        ),
        (
            json!({"name": "x", "route": line(&too_many)}),
            "route.coordinates",
        ),
        (json!({"name": "  ", "route": short_route(a)}), "name"),
        (
            json!({"name": "x", "visibility": "friends", "route": short_route(a)}),
            "visibility",
        ),
        (
            json!({"name": "x", "description": "d".repeat(2_001), "route": short_route(a)}),
            "description",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = create(&api, &alice, body).await;
        assert_eq!(status, 422, "{field}: {answer}");
        assert_eq!(answer["error"]["field"].as_str(), Some(field), "{answer}");
    }
    // a body that is not JSON at all (a literal NaN) is a 400
    let (status, _) = call(
        http()
            .post(url(&api, "/v1/courses"))
            .bearer_auth(bearer(&alice))
            .header("content-type", "application/json")
            .body(r#"{"name":"x","route":{"type":"LineString","coordinates":[[1,2],[NaN,2]]}}"#),
    )
    .await;
    assert_eq!(status, 400);
    // nothing was written
    let alice_id = alice["user_id"].as_str().expect("id");
    for visibility in ["public", "private"] {
        let (_, list) = call(
            http()
                .get(url(
                    &api,
                    &format!("/v1/courses?creator={alice_id}&visibility={visibility}"),
                ))
                .bearer_auth(bearer(&alice)),
        )
        .await;
        assert_eq!(names(&list), Vec::<String>::new(), "{visibility}");
    }
    // and an encoded polyline is accepted as a route
    let (status, course) = create(
        &api,
        &alice,
        json!({"name": "Polyline", "route": "_p~iF~ps|U_ulLnnqC_mqNvxq`@"}),
    )
    .await;
    assert_eq!((status, course["point_count"].as_u64()), (201, Some(3)));
    api.stop().await;
}

#[tokio::test]
async fn the_same_idempotency_key_creates_one_course() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let body = json!({"name": "Retry-safe", "route": short_route(CENTER)});
    let send = |key: &str, body: &Value| {
        http()
            .post(url(&api, "/v1/courses"))
            .bearer_auth(bearer(&alice))
            .header("idempotency-key", key)
            .json(body)
            .send()
    };
    // when the same create is sent twice with one key (a retry after a timeout)
    let first = send("run-club-7f3a", &body).await.expect("first");
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    let again = send("run-club-7f3a", &body).await.expect("again");
    // then the retry replays the first answer
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["course_id"], first["course_id"]);
    // and the same key with another body is refused naming the header
    let other = json!({"name": "Something else", "route": short_route(CENTER)});
    let (status, answer) = call(
        http()
            .post(url(&api, "/v1/courses"))
            .bearer_auth(bearer(&alice))
            .header("idempotency-key", "run-club-7f3a")
            .json(&other),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (422, Some("Idempotency-Key"))
    );
    // and only one course exists
    let alice_id = alice["user_id"].as_str().expect("id");
    let (_, list) = call(http().get(url(&api, &format!("/v1/courses?creator={alice_id}")))).await;
    assert_eq!(names(&list), ["Retry-safe"]);
    api.stop().await;
}

#[tokio::test]
async fn a_private_course_is_404_to_everyone_but_its_creator_and_only_she_changes_it() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let bob = dev_login(&api, "bob").await;
    // given alice's private course
    let course = create_ok(&api, &alice, "Home loop", short_route(CENTER), "private").await;
    let id = id_of(&course);
    // then bob and anonymous readers get 404, and so do bob's like and review
    assert_eq!(get_course(&api, &id, Some(&bob)).await.0, 404);
    assert_eq!(get_course(&api, &id, None).await.0, 404);
    let like = url(&api, &format!("/v1/courses/{id}/like"));
    assert_eq!(
        call(http().put(&like).bearer_auth(bearer(&bob))).await.0,
        404
    );
    let reviews = url(&api, &format!("/v1/courses/{id}/reviews"));
    let (status, _) = call(
        http()
            .post(&reviews)
            .bearer_auth(bearer(&bob))
            .json(&json!({"rating": 5})),
    )
    .await;
    assert_eq!(status, 404);
    // and alice sees it on the open route with her token
    assert_eq!(get_course(&api, &id, Some(&alice)).await.0, 200);
    // and a token that does not verify is 401, not a quiet anonymous view
    let (status, _) = call(
        http()
            .get(url(&api, &format!("/v1/courses/{id}")))
            .bearer_auth("not-a-token"),
    )
    .await;
    assert_eq!(status, 401);
    // when alice makes it public, bob sees it but may not change or delete it
    let course_url = url(&api, &format!("/v1/courses/{id}"));
    let (status, changed) = call(
        http()
            .patch(&course_url)
            .bearer_auth(bearer(&alice))
            .json(&json!({"visibility": "public", "name": "Riverside loop"})),
    )
    .await;
    assert_eq!(
        (status, changed["name"].as_str()),
        (200, Some("Riverside loop"))
    );
    assert_eq!(get_course(&api, &id, Some(&bob)).await.0, 200);
    let (status, _) = call(
        http()
            .patch(&course_url)
            .bearer_auth(bearer(&bob))
            .json(&json!({"name": "Mine"})),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        call(http().delete(&course_url).bearer_auth(bearer(&bob)))
            .await
            .0,
        403
    );
    // and the route cannot change
    let (status, body) = call(
        http()
            .patch(&course_url)
            .bearer_auth(bearer(&alice))
            .json(&json!({"route": short_route(CENTER)})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("route"))
    );
    api.stop().await;
}

#[tokio::test]
async fn likes_favorites_and_reviews_count_once_per_runner() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let bob = dev_login(&api, "bob").await;
    let carol = dev_login(&api, "carol").await;
    let first = id_of(&create_ok(&api, &alice, "First", short_route(CENTER), "public").await);
    let second = id_of(&create_ok(&api, &alice, "Second", short_route(CENTER), "public").await);
    let like = url(&api, &format!("/v1/courses/{first}/like"));
    // when bob likes twice and alice once
    for login in [&bob, &bob, &alice] {
        assert_eq!(
            call(http().put(&like).bearer_auth(bearer(login))).await.0,
            204
        );
    }
    // then the course has two likes
    assert_eq!(get_course(&api, &first, None).await.1["like_count"], 2);
    // and taking a like back twice takes one
    for _ in 0..2 {
        assert_eq!(
            call(http().delete(&like).bearer_auth(bearer(&bob))).await.0,
            204
        );
    }
    assert_eq!(get_course(&api, &first, None).await.1["like_count"], 1);

    // when bob favorites both courses, the first one first
    for id in [&first, &second] {
        let favorite = url(&api, &format!("/v1/courses/{id}/favorite"));
        for _ in 0..2 {
            assert_eq!(
                call(http().put(&favorite).bearer_auth(bearer(&bob)))
                    .await
                    .0,
                204
            );
        }
    }
    // then his favorites list them newest first, each counted once
    let favorites = url(&api, "/v1/users/me/favorites");
    let (status, list) = call(http().get(&favorites).bearer_auth(bearer(&bob))).await;
    assert_eq!(status, 200, "{list}");
    let listed: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| f["course"]["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(listed, ["Second", "First"]);
    assert_eq!(get_course(&api, &first, None).await.1["favorite_count"], 1);

    // when bob reviews, then changes his mind, and carol reviews
    let reviews = url(&api, &format!("/v1/courses/{first}/reviews"));
    let post = |login: &Value, body: Value| {
        call(http().post(&reviews).bearer_auth(bearer(login)).json(&body))
    };
    assert_eq!(
        post(&bob, json!({"rating": 4, "text": "Nice"})).await.0,
        201
    );
    assert_eq!(
        post(&bob, json!({"rating": 2, "text": "Crowded at noon"}))
            .await
            .0,
        200
    );
    assert_eq!(post(&carol, json!({"rating": 5})).await.0, 201);
    // then one review each counts, and the average follows
    let (_, course) = get_course(&api, &first, None).await;
    assert_eq!(course["review_count"], 2);
    assert_eq!(course["average_rating"], 3.5);
    // and anyone reads them newest first with the authors' names
    let (status, list) = call(http().get(&reviews)).await;
    assert_eq!(status, 200, "{list}");
    let authors: Vec<(&str, i64)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["author"]["display_name"].as_str().unwrap_or_default(),
                r["rating"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(authors, [("carol", 5), ("bob", 2)]);
    // and ratings outside 1..5 or not whole are refused naming the field
    for rating in [json!(0), json!(6), json!(4.5), json!("5")] {
        let (status, body) = post(&carol, json!({"rating": rating})).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (422, Some("rating")),
            "{rating}"
        );
    }
    api.stop().await;
}

#[tokio::test]
async fn deleting_a_course_removes_its_files_likes_favorites_and_reviews() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let bob = dev_login(&api, "bob").await;
    // given alice's course with its thumbnail, liked, favorited and reviewed by bob
    let course = create_ok(&api, &alice, "Short-lived", short_route(CENTER), "public").await;
    let id = id_of(&course);
    let thumbnail = thumbnail_of(&api, &id, &alice).await;
    for reaction in ["like", "favorite"] {
        let address = url(&api, &format!("/v1/courses/{id}/{reaction}"));
        assert_eq!(
            call(http().put(&address).bearer_auth(bearer(&bob))).await.0,
            204
        );
    }
    let reviews = url(&api, &format!("/v1/courses/{id}/reviews"));
    let (status, _) = call(
        http()
            .post(&reviews)
            .bearer_auth(bearer(&bob))
            .json(&json!({"rating": 3})),
    )
    .await;
    assert_eq!(status, 201);
    // when alice deletes it
    let course_url = url(&api, &format!("/v1/courses/{id}"));
    assert_eq!(
        call(http().delete(&course_url).bearer_auth(bearer(&alice)))
            .await
            .0,
        204
    );
    // then the course, its files and bob's favorite are gone
    assert_eq!(get_course(&api, &id, Some(&alice)).await.0, 404);
    assert_eq!(
        fetch(course["route_url"].as_str().expect("url")).await.0,
        404
    );
    assert_eq!(fetch(&thumbnail).await.0, 404);
    let (_, favorites) = call(
        http()
            .get(url(&api, "/v1/users/me/favorites"))
            .bearer_auth(bearer(&bob)),
    )
    .await;
    assert_eq!(favorites["items"], json!([]));
    // and its partition holds nothing
    let page = api
        .app
        .store()
        .expect("store")
        .query(&runcrew_shared::store::Query::partition(format!(
            "COURSE#{id}"
        )))
        .await
        .expect("query");
    assert!(page.items.is_empty(), "{:?}", page.items);
    // and deleting again is 404
    assert_eq!(
        call(http().delete(&course_url).bearer_auth(bearer(&alice)))
            .await
            .0,
        404
    );
    api.stop().await;
}
