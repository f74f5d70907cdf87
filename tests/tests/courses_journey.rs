//! The course library through the local gateway: drawing courses, their thumbnails (our
//! renderer and the Mapbox fake), near search, privacy, likes, favorites, reviews and
//! deletion. The near search also runs over DynamoDB Local, whose indexes it relies on.

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
    // and a radius without near, or a near search for private courses, is refused rather
    // than answered with some other list (found by schemathesis)
    for (query, field) in [
        ("radius_km=5", "radius_km"),
        ("near=37.5665,126.978&visibility=private", "visibility"),
        ("near=37.5665,126.978&visibility=hidden", "visibility"),
    ] {
        let (status, body) = call(http().get(url(api, &format!("/v1/courses?{query}")))).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (422, Some(field)),
            "{query}"
        );
    }
}

#[tokio::test]
async fn near_search_on_the_embedded_store() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    near_search_finds_the_right_courses_nearest_first(&api).await;
    api.stop().await;
}

#[tokio::test]
async fn near_search_on_dynamodb_local() {
    let (api, _dir) = runcrew_tests::serve_on_dynamodb_local().await;
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
    let job = runcrew_tests::delete_and_wait(&api, &alice, &format!("/v1/courses/{id}"), 60).await;
    assert_eq!(job["kind"], "delete_course");
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
    // and bob cannot read alice's job
    let job_url = url(
        &api,
        &format!("/v1/jobs/{}", job["job_id"].as_str().expect("id")),
    );
    assert_eq!(
        call(http().get(&job_url).bearer_auth(bearer(&bob))).await.0,
        404
    );
    // and deleting again is 404
    let course_url = url(&api, &format!("/v1/courses/{id}"));
    assert_eq!(
        call(http().delete(&course_url).bearer_auth(bearer(&alice)))
            .await
            .0,
        404
    );
    api.stop().await;
}

/// The bytes of a base64url text without padding, if it is one (a store cursor is two).
fn base64url(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut held = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | value;
        held += 6;
        if held >= 8 {
            held -= 8;
            out.push((bits >> held) as u8);
        }
    }
    Some(out)
}

/// Whether `id` shows anywhere in `answer`, in the clear or inside a base64url cursor.
fn gives_away(answer: &Value, id: &str) -> bool {
    let cursor = answer["next_cursor"].as_str().unwrap_or_default();
    answer.to_string().contains(id)
        || cursor
            .split('.')
            .filter_map(base64url)
            .any(|bytes| String::from_utf8_lossy(&bytes).contains(id))
}

/// The file a course's view points at, fetched as anyone holding the URL would.
async fn fetched(course: &Value, field: &str) -> (u16, Option<String>, Vec<u8>) {
    fetch(
        course[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {course}")),
    )
    .await
}

#[tokio::test]
async fn a_private_course_route_file_and_map_are_not_served_to_others() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    // given alice's private course, its map drawn
    let course = create_ok(&api, &alice, "Home loop", short_route(CENTER), "private").await;
    let id = id_of(&course);
    thumbnail_of(&api, &id, &alice).await;
    let (_, mine) = get_course(&api, &id, Some(&alice)).await;
    // then nothing is served at the course's public CDN addresses
    for path in [
        format!("/_cdn/routes/{id}.geojson"),
        format!("/_cdn/thumbnails/courses/{id}.png"),
    ] {
        assert_eq!(fetch(&url(&api, &path)).await.0, 404, "{path}");
    }
    // and the CDN does not serve the private folder to whoever guesses the address
    for path in [
        format!("/_cdn/private/routes/{id}.geojson"),
        format!("/_cdn/private/thumbnails/courses/{id}.png"),
    ] {
        assert_eq!(fetch(&url(&api, &path)).await.0, 403, "{path}");
    }
    // and alice reads her route and map through the signed URLs of her view
    let (status, kind, route) = fetched(&mine, "route_url").await;
    assert_eq!(
        (status, kind.as_deref()),
        (200, Some("application/geo+json"))
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&route).expect("geojson")["type"],
        "LineString"
    );
    let (status, kind, png) = fetched(&mine, "thumbnail_url").await;
    assert_eq!((status, kind.as_deref()), (200, Some("image/png")));
    assert!(png.starts_with(b"\x89PNG"));
    // and a signed URL edited to reach another file, or re-signed by hand, is refused
    let route_url = mine["route_url"].as_str().expect("route url");
    let other = route_url.replace(&format!("{id}.geojson"), &format!("{id}.png"));
    assert_eq!(fetch(&other).await.0, 403);
    let (base, _) = route_url.split_once("signature=").expect("signed");
    assert_eq!(fetch(&format!("{base}signature=forged")).await.0, 403);
    api.stop().await;
}

#[tokio::test]
async fn a_course_made_private_leaves_the_cdn_and_returns_when_made_public_again() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let bob = dev_login(&api, "bob").await;
    // given alice's public course with its map, both on the CDN
    let course = create_ok(&api, &alice, "Riverside", short_route(CENTER), "public").await;
    let id = id_of(&course);
    let public_route = course["route_url"].as_str().expect("route url").to_owned();
    let public_map = thumbnail_of(&api, &id, &alice).await;
    assert_eq!(fetch(&public_route).await.0, 200);
    assert_eq!(fetch(&public_map).await.0, 200);
    let course_url = url(&api, &format!("/v1/courses/{id}"));
    let set = |visibility: &'static str| {
        call(
            http()
                .patch(&course_url)
                .bearer_auth(bearer(&alice))
                .json(&json!({ "visibility": visibility })),
        )
    };
    // when alice makes it private
    assert_eq!(set("private").await.0, 200);
    // then its public addresses serve nothing, to bob or anyone
    assert_eq!(fetch(&public_route).await.0, 404);
    assert_eq!(fetch(&public_map).await.0, 404);
    assert_eq!(get_course(&api, &id, Some(&bob)).await.0, 404);
    // and alice gets her map again, drawn in the private folder, through signed URLs
    let private_map = eventually("the map in its private place", || async {
        let (_, course) = get_course(&api, &id, Some(&alice)).await;
        course["thumbnail_url"]
            .as_str()
            .filter(|u| u.contains("/private/") && u.contains("signature="))
            .map(str::to_owned)
    })
    .await;
    assert_eq!(fetch(&private_map).await.0, 200);
    let (_, mine) = get_course(&api, &id, Some(&alice)).await;
    assert_eq!(fetched(&mine, "route_url").await.0, 200);
    // and asking again changes nothing
    assert_eq!(set("private").await.0, 200);
    assert_eq!(fetch(&public_route).await.0, 404);
    // when she makes it public again
    assert_eq!(set("public").await.0, 200);
    // then the CDN serves its route and, once drawn, its map at the public addresses
    assert_eq!(fetch(&public_route).await.0, 200);
    let map_again = thumbnail_of(&api, &id, &bob).await;
    assert_eq!(map_again, public_map);
    assert_eq!(fetch(&map_again).await.0, 200);
    // and nothing is left in the private folder
    let blobs = api.app.blobs().expect("blobs");
    for key in [
        format!("private/routes/{id}.geojson"),
        format!("private/thumbnails/courses/{id}.png"),
    ] {
        assert_eq!(blobs.head(&key).await.expect("head"), None, "{key}");
    }
    // and when she makes it private and deletes it, no file of it remains anywhere
    assert_eq!(set("private").await.0, 200);
    eventually("the private map", || async {
        let (_, course) = get_course(&api, &id, Some(&alice)).await;
        course["thumbnail_url"].as_str().map(str::to_owned)
    })
    .await;
    runcrew_tests::delete_and_wait(&api, &alice, &format!("/v1/courses/{id}"), 60).await;
    for key in [
        format!("routes/{id}.geojson"),
        format!("thumbnails/courses/{id}.png"),
        format!("private/routes/{id}.geojson"),
        format!("private/thumbnails/courses/{id}.png"),
    ] {
        assert_eq!(blobs.head(&key).await.expect("head"), None, "{key}");
    }
    api.stop().await;
}

#[tokio::test]
async fn erasing_an_account_removes_its_private_course_files() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    // given alice's private course with its map drawn
    let course = create_ok(&api, &alice, "Secret hill", short_route(CENTER), "private").await;
    let id = id_of(&course);
    thumbnail_of(&api, &id, &alice).await;
    let blobs = api.app.blobs().expect("blobs");
    let files = [
        format!("private/routes/{id}.geojson"),
        format!("private/thumbnails/courses/{id}.png"),
    ];
    for key in &files {
        assert!(blobs.head(key).await.expect("head").is_some(), "{key}");
    }
    // when alice erases her account
    runcrew_tests::delete_and_wait(&api, &alice, "/v1/users/me", 60).await;
    // then her course's files are gone from the private folder too
    for key in &files {
        assert_eq!(blobs.head(key).await.expect("head"), None, "{key}");
    }
    api.stop().await;
}

#[tokio::test]
async fn favorites_give_away_nothing_of_a_course_its_owner_made_private() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let bob = dev_login(&api, "bob").await;
    // given bob favorited alice's two public courses, "Secret" last
    let open = id_of(&create_ok(&api, &alice, "Open", short_route(CENTER), "public").await);
    let secret = id_of(&create_ok(&api, &alice, "Secret", short_route(CENTER), "public").await);
    for id in [&open, &secret] {
        let favorite = url(&api, &format!("/v1/courses/{id}/favorite"));
        assert_eq!(
            call(http().put(&favorite).bearer_auth(bearer(&bob)))
                .await
                .0,
            204
        );
    }
    // when alice makes "Secret" private
    let (status, _) = call(
        http()
            .patch(url(&api, &format!("/v1/courses/{secret}")))
            .bearer_auth(bearer(&alice))
            .json(&json!({"visibility": "private"})),
    )
    .await;
    assert_eq!(status, 200);
    // then bob, paging his favorites one at a time, sees "Open" only, and no page (nor its
    // cursor) carries the private course's id
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let mut request = http()
            .get(url(&api, "/v1/users/me/favorites"))
            .query(&[("limit", "1")])
            .bearer_auth(bearer(&bob));
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let (status, page) = call(request).await;
        assert_eq!(status, 200, "{page}");
        assert!(!gives_away(&page, &secret), "{page}");
        for item in page["items"].as_array().expect("items") {
            listed.push(
                item["course"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(listed, ["Open"]);
    assert_eq!(cursor, None, "the list ends");
    // and alice, whose course it is, still sees bob's favorite counted on it
    let (_, course) = get_course(&api, &secret, Some(&alice)).await;
    assert_eq!(course["favorite_count"], 1);
    api.stop().await;
}

#[tokio::test]
async fn after_erasure_the_old_token_writes_nothing_in_the_course_library() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let bob = dev_login(&api, "bob").await;
    // given bob's course and alice's own, and alice erases her account
    let theirs = id_of(&create_ok(&api, &bob, "Bob's hill", short_route(CENTER), "public").await);
    let hers = id_of(&create_ok(&api, &alice, "Alice's loop", short_route(CENTER), "public").await);
    runcrew_tests::delete_and_wait(&api, &alice, "/v1/users/me", 60).await;
    // when her access token, still unexpired, writes
    let token = bearer(&alice);
    let theirs_url = url(&api, &format!("/v1/courses/{theirs}"));
    let attempts = [
        http()
            .post(url(&api, "/v1/courses"))
            .json(&json!({"name": "Ghost", "route": short_route(CENTER)})),
        http().put(format!("{theirs_url}/like")),
        http().put(format!("{theirs_url}/favorite")),
        http().delete(format!("{theirs_url}/like")),
        http().delete(format!("{theirs_url}/favorite")),
        http()
            .post(format!("{theirs_url}/reviews"))
            .json(&json!({"rating": 1, "text": "from beyond"})),
    ];
    // then every write is refused as the closed account's
    for attempt in attempts {
        let (status, body) = call(attempt.bearer_auth(&token)).await;
        assert_eq!(status, 401, "{body}");
    }
    // and her own course, erased with her, cannot be changed or deleted
    let mine = url(&api, &format!("/v1/courses/{hers}"));
    let (status, _) = call(
        http()
            .patch(&mine)
            .bearer_auth(&token)
            .json(&json!({"name": "Back"})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(call(http().delete(&mine).bearer_auth(&token)).await.0, 404);
    // and nothing was written: bob's course has no like, favorite or review, no course
    // is hers, and no index lists anything of hers
    let (_, course) = get_course(&api, &theirs, None).await;
    assert_eq!(
        (
            &course["like_count"],
            &course["favorite_count"],
            &course["review_count"]
        ),
        (&json!(0), &json!(0), &json!(0))
    );
    let (_, reviews) = call(http().get(format!("{theirs_url}/reviews"))).await;
    assert_eq!(reviews["items"], json!([]));
    let user_id = alice["user_id"].as_str().expect("user id");
    let store = api.app.store().expect("store");
    for (index, partition) in [
        (
            runcrew_shared::store::Index::Gsi1,
            format!("CREATOR#{user_id}"),
        ),
        (
            runcrew_shared::store::Index::Gsi1,
            format!("LIKER#{user_id}"),
        ),
        (
            runcrew_shared::store::Index::Gsi1,
            format!("FAVORITES#{user_id}"),
        ),
        (
            runcrew_shared::store::Index::Gsi2,
            format!("REVIEWER#{user_id}"),
        ),
    ] {
        let page = store
            .query(&runcrew_shared::store::Query::index(
                index,
                partition.clone(),
            ))
            .await
            .expect("query");
        assert!(page.items.is_empty(), "{partition}: {:?}", page.items);
    }
    api.stop().await;
}

#[tokio::test]
async fn names_and_texts_that_show_nothing_or_reorder_text_are_refused_naming_the_field() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    // given names of zero-width characters only, or carrying a bidi override, an isolate
    // or hidden tag characters
    for (body, field) in [
        (json!({"name": "\u{200B}\u{200C}\u{200D}"}), "name"),
        (json!({"name": "\u{2060}\u{FEFF}"}), "name"),
        (json!({"name": "Loop \u{202E}gnp.exe"}), "name"),
        (json!({"name": "Loop \u{2066}x\u{2069}"}), "name"),
        (json!({"name": "Loop\u{E0041}\u{E0042}"}), "name"),
        (
            json!({"name": "Loop", "description": "fine \u{202D}reversed"}),
            "description",
        ),
        (
            json!({"name": "Loop", "description": "\u{200B}"}),
            "description",
        ),
    ] {
        let mut body = body;
        body["route"] = short_route(CENTER);
        // when alice draws a course with one, then it is refused naming the field
        let (status, answer) = create(&api, &alice, body.clone()).await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}"
        );
    }
    // and nothing was written
    let (_, list) = call(http().get(url(&api, "/v1/courses"))).await;
    assert_eq!(list["items"], json!([]));
    // and a rename or a review with one is refused the same way
    let id = id_of(&create_ok(&api, &alice, "Loop", short_route(CENTER), "public").await);
    let (status, answer) = call(
        http()
            .patch(url(&api, &format!("/v1/courses/{id}")))
            .bearer_auth(bearer(&alice))
            .json(&json!({"name": "\u{3164}"})),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (422, Some("name"))
    );
    let (status, answer) = call(
        http()
            .post(url(&api, &format!("/v1/courses/{id}/reviews")))
            .bearer_auth(bearer(&alice))
            .json(&json!({"rating": 5, "text": "great \u{202E}nur"})),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (422, Some("text"))
    );
    api.stop().await;
}

#[tokio::test]
async fn a_function_holding_only_the_bucket_addresses_signs_private_files_and_touches_none() {
    use runcrew_model::course::{Course, Visibility};
    use runcrew_shared::{App, Needs};

    // given: an app built as `courses-get` builds its own, with the bucket's addresses and
    // no bucket (its binary links S3's signing, not its reads and writes)
    assert!(runcrew_courses::GET.needs.blobs.is_none());
    let dir = tempfile::tempdir().expect("tempdir");
    let app = App::build(
        runcrew_tests::config(dir.path(), &[]),
        runcrew_courses::GET.needs,
    )
    .await
    .expect("the courses-get app");
    let route = runcrew_shared::route::Route::from_json(&short_route((37.5283, 126.9356)), "route")
        .expect("a route");
    let private = Course::new(
        "9abf35084b4364dbea7b4b9994a2165a",
        "Dawn loop".into(),
        String::new(),
        Visibility::Private,
        &route,
        "2026-12-03T06:00:00Z",
    );

    // when its creator reads the private course
    let view = private.view(&app).await.expect("the view");

    // then the files come as signed addresses (the CDN does not serve the private folder)
    let route_url = view["route_url"].as_str().expect("route_url");
    assert!(route_url.contains("/private/"), "{route_url}");
    assert!(route_url.contains("signature="), "{route_url}");
    // and the bucket itself is not there to read or write: a wiring bug answers 500
    let refused = app.blobs().err().expect("no bucket in this app");
    assert_eq!(refused.status(), 500);
    // while an app with the whole bucket (the local gateway) answers addresses from it
    drop(app);
    let gateway = App::build(runcrew_tests::config(dir.path(), &[]), Needs::EVERYTHING)
        .await
        .expect("the gateway's app");
    let signed = private.view(&gateway).await.expect("the view");
    assert!(
        signed["route_url"]
            .as_str()
            .expect("route_url")
            .contains("signature=")
    );
}
