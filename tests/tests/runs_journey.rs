//! Runs, leaderboards, statistics, follows and the feed, through the local gateway. The
//! leaderboard journey also runs over DynamoDB Local, whose conditional writes and
//! indexes it relies on.

use std::sync::Arc;

use runcrew_local::Running;
use runcrew_shared::queue::QueueName;
use runcrew_tests::{bearer, call, dev_login, http};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

fn url(api: &Running, path: &str) -> String {
    format!("{}{path}", api.url())
}

/// A 2 km course due north of Seoul City Hall, drawn by `login`; returns its id.
async fn two_km_course(api: &Running, login: &Value) -> String {
    let (status, course) = call(
        http()
            .post(url(api, "/v1/courses"))
            .bearer_auth(bearer(login))
            .json(&json!({
                "name": "City Hall 2k",
                "route": {"type": "LineString", "coordinates": [[126.9779, 37.5663], [126.9779, 37.584286]]}
            })),
    )
    .await;
    assert_eq!(status, 201, "{course}");
    course["course_id"].as_str().expect("id").to_owned()
}

/// `minutes_ago` minutes before now, in Seoul's offset.
fn seoul_time(minutes_ago: i64) -> String {
    (OffsetDateTime::now_utc() - Duration::minutes(minutes_ago))
        .to_offset(UtcOffset::from_hms(9, 0, 0).expect("offset"))
        .replace_nanosecond(0)
        .expect("whole seconds")
        .format(&Rfc3339)
        .expect("format")
}

async fn run(api: &Running, login: &Value, body: Value) -> (u16, Value) {
    call(
        http()
            .post(url(api, "/v1/runs"))
            .bearer_auth(bearer(login))
            .json(&body),
    )
    .await
}

async fn run_ok(api: &Running, login: &Value, body: Value) -> Value {
    let (status, answer) = run(api, login, body).await;
    assert_eq!(status, 201, "{answer}");
    answer
}

/// The board as (display name, rank, seconds), and my entry.
async fn board(
    api: &Running,
    course: &str,
    login: Option<&Value>,
) -> (Vec<(String, u64, i64)>, Value) {
    let mut request = http().get(url(api, &format!("/v1/courses/{course}/leaderboard")));
    if let Some(login) = login {
        request = request.bearer_auth(bearer(login));
    }
    let (status, body) = call(request).await;
    assert_eq!(status, 200, "{body}");
    let rows = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["display_name"].as_str().unwrap_or_default().to_owned(),
                r["rank"].as_u64().unwrap_or_default(),
                r["duration_s"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    (rows, body["me"].clone())
}

fn row(name: &str, rank: u64, seconds: i64) -> (String, u64, i64) {
    (name.to_owned(), rank, seconds)
}

async fn leaderboard_journey(api: &Running) {
    // given a's 2 km course
    let a = dev_login(api, "a").await;
    let b = dev_login(api, "b").await;
    let course = two_km_course(api, &a).await;
    let on = |seconds: i64, minutes_ago: i64| json!({"started_at": seoul_time(minutes_ago), "duration_s": seconds, "distance_m": 2010.0, "course_id": course});
    // when b runs it slower, then faster
    let slower = run_ok(api, &b, on(600, 300)).await;
    assert_eq!(slower["personal_best_on_course"], true);
    let faster = run_ok(api, &b, on(540, 200)).await;
    assert_eq!(faster["personal_best_on_course"], true);
    // then the board shows b's faster time
    assert_eq!(board(api, &course, None).await.0, [row("b", 1, 540)]);
    // when a runs it in between
    run_ok(api, &a, on(570, 100)).await;
    // then the ranks are right for both, and each sees their own
    assert_eq!(
        board(api, &course, None).await.0,
        [row("b", 1, 540), row("a", 2, 570)]
    );
    let (_, me) = board(api, &course, Some(&a)).await;
    assert_eq!(
        (me["rank"].as_u64(), me["duration_s"].as_i64()),
        (Some(2), Some(570))
    );
    // when b deletes the faster run
    let faster_id = faster["run_id"].as_str().expect("id");
    let (status, _) = call(
        http()
            .delete(url(api, &format!("/v1/runs/{faster_id}")))
            .bearer_auth(bearer(&b)),
    )
    .await;
    assert_eq!(status, 204);
    // then b's slower run is back on the board, behind a
    assert_eq!(
        board(api, &course, None).await.0,
        [row("a", 1, 570), row("b", 2, 600)]
    );
    // when b runs at 1:00 min/km
    let implausible = run_ok(api, &b, on(121, 50)).await;
    // then the run is kept, flagged with its reason, and off the board
    assert_eq!(implausible["flag"]["reason"], "too_fast");
    assert_eq!(implausible["on_leaderboard"], false);
    assert_eq!(
        board(api, &course, None).await.0,
        [row("a", 1, 570), row("b", 2, 600)]
    );
    // and a run far from the course's distance is kept off too
    let short = run_ok(
        api,
        &b,
        json!({"started_at": seoul_time(40), "duration_s": 300, "distance_m": 1000.0, "course_id": course}),
    )
    .await;
    assert_eq!(short["flag"]["reason"], "distance_mismatch");
    assert_eq!(
        board(api, &course, None).await.0,
        [row("a", 1, 570), row("b", 2, 600)]
    );
}

#[tokio::test]
async fn the_leaderboard_follows_faster_runs_deletions_and_plausibility() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    leaderboard_journey(&api).await;
    api.stop().await;
}

#[tokio::test]
async fn the_leaderboard_journey_on_dynamodb_local() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = runcrew_tests::dynamodb_store().await;
    let app = runcrew_tests::app_over(runcrew_tests::config(dir.path(), &[]), Arc::new(store));
    let api = runcrew_tests::serve_app(app).await;
    leaderboard_journey(&api).await;
    api.stop().await;
}

#[tokio::test]
async fn concurrent_runs_never_lose_the_best_time() {
    // given a course and a runner who finishes eight runs at once
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let a = dev_login(&api, "a").await;
    let course = two_km_course(&api, &a).await;
    let runs = (0..8).map(|i| {
        let body = json!({"started_at": seoul_time(100 + i), "duration_s": 600 + i * 7, "distance_m": 2000.0, "course_id": course});
        let request = http()
            .post(url(&api, "/v1/runs"))
            .bearer_auth(bearer(&a))
            .json(&body);
        async move { call(request).await.0 }
    });
    for status in futures::future::join_all(runs).await {
        assert_eq!(status, 201);
    }
    // then the board keeps the fastest of them
    assert_eq!(board(&api, &course, None).await.0, [row("a", 1, 600)]);
    api.stop().await;
}

#[tokio::test]
async fn runs_are_idempotent_private_to_their_runner_and_validated() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let a = dev_login(&api, "a").await;
    let b = dev_login(&api, "b").await;
    let body = json!({"started_at": seoul_time(30), "duration_s": 1500, "distance_m": 5000.0});
    // when the same run is sent twice with one Idempotency-Key
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = http()
            .post(url(&api, "/v1/runs"))
            .bearer_auth(bearer(&a))
            .header("idempotency-key", "watch-sync-42")
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), 201);
        let answer: Value = response.json().await.expect("json");
        ids.push(answer["run_id"].as_str().expect("id").to_owned());
    }
    // then one run exists and both answers name it
    assert_eq!(ids[0], ids[1]);
    let (_, mine) = call(http().get(url(&api, "/v1/runs")).bearer_auth(bearer(&a))).await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1));
    // and another runner cannot see or delete it
    let address = url(&api, &format!("/v1/runs/{}", ids[0]));
    assert_eq!(
        call(http().get(&address).bearer_auth(bearer(&b))).await.0,
        404
    );
    assert_eq!(
        call(http().delete(&address).bearer_auth(bearer(&b)))
            .await
            .0,
        404
    );
    assert_eq!(
        call(http().get(&address).bearer_auth(bearer(&a))).await.0,
        200
    );
    // and bad fields are named
    for (body, field) in [
        (
            json!({"started_at": "2026-11-21 07:00", "duration_s": 60, "distance_m": 100.0}),
            "started_at",
        ),
        (
            json!({"started_at": "2026-11-21T07:00:00", "duration_s": 60, "distance_m": 100.0}),
            "started_at",
        ),
        (
            json!({"started_at": seoul_time(-120), "duration_s": 60, "distance_m": 100.0}),
            "started_at",
        ),
        (
            json!({"started_at": seoul_time(5), "duration_s": 0, "distance_m": 100.0}),
            "duration_s",
        ),
        (
            json!({"started_at": seoul_time(5), "duration_s": 172_801, "distance_m": 100.0}),
            "duration_s",
        ),
        (
            json!({"started_at": seoul_time(5), "duration_s": 60, "distance_m": 0.0}),
            "distance_m",
        ),
        (
            json!({"started_at": seoul_time(5), "duration_s": 60, "distance_m": 100.0, "source": "strava"}),
            "source",
        ),
        (
            json!({"started_at": seoul_time(5), "duration_s": 60, "distance_m": 100.0, "course_id": "0123456789abcdef0123456789abcdef"}),
            "course_id",
        ),
        (
            json!({"started_at": seoul_time(5), "duration_s": 60, "distance_m": 100.0, "path": {"type": "LineString", "coordinates": [[1.0, 95.0], [1.0, 2.0]]}}),
            "path.coordinates[0][1]",
        ),
    ] {
        let (status, answer) = run(&api, &a, body).await;
        assert_eq!(status, 422, "{field}: {answer}");
        assert_eq!(answer["error"]["field"].as_str(), Some(field), "{answer}");
    }
    api.stop().await;
}

#[tokio::test]
async fn stats_count_a_sunday_night_run_in_its_own_local_week() {
    // given a runner eight hours behind UTC (no daylight saving, so the test holds all year)
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let a = dev_login(&api, "a").await;
    let (status, _) = call(
        http()
            .patch(url(&api, "/v1/users/me"))
            .bearer_auth(bearer(&a))
            .json(&json!({"time_zone": "Etc/GMT+8"})),
    )
    .await;
    assert_eq!(status, 200);
    let offset = UtcOffset::from_hms(-8, 0, 0).expect("offset");
    let today = OffsetDateTime::now_utc().to_offset(offset).date();
    let monday = today - Duration::days(i64::from(today.weekday().number_days_from_monday()));
    let last_sunday = monday - Duration::days(1);
    let at = |date: time::Date, h: u8, m: u8, s: u8| {
        date.with_hms(h, m, s)
            .expect("time")
            .assume_offset(offset)
            .format(&Rfc3339)
            .expect("format")
    };
    // when she runs 5 km at 23:30 last Sunday (07:30 on Monday in UTC) and 3 km just after
    // midnight this Monday
    run_ok(
        &api,
        &a,
        json!({"started_at": at(last_sunday, 23, 30, 0), "duration_s": 1500, "distance_m": 5000.0}),
    )
    .await;
    run_ok(
        &api,
        &a,
        json!({"started_at": at(monday, 0, 0, 30), "duration_s": 1080, "distance_m": 3000.0}),
    )
    .await;
    // then this week holds only the Monday run; the Sunday run stays in its own week
    let (status, stats) = call(
        http()
            .get(url(&api, "/v1/users/me/stats"))
            .bearer_auth(bearer(&a)),
    )
    .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["time_zone"], "Etc/GMT+8");
    assert_eq!(stats["week"]["starts_on"], monday.to_string());
    assert_eq!(
        stats["week"]["totals"],
        json!({"distance_m": 3000.0, "duration_s": 1080, "runs": 1})
    );
    assert_eq!(
        stats["all_time"]["totals"],
        json!({"distance_m": 8000.0, "duration_s": 2580, "runs": 2})
    );
    // and the records come from the average paces of runs at least that long
    assert_eq!(stats["records"]["5k"]["seconds"], 1500.0);
    assert_eq!(stats["records"]["1k"]["seconds"], 300.0);
    assert_eq!(stats["records"]["10k"], Value::Null);
    api.stop().await;
}

#[tokio::test]
async fn following_counts_once_queues_one_job_and_feeds_public_runs_newest_first() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let a = dev_login(&api, "a").await;
    let b = dev_login(&api, "b").await;
    let a_id = a["user_id"].as_str().expect("id").to_owned();
    let b_id = b["user_id"].as_str().expect("id").to_owned();
    // given b's runs: three public, one private
    for (minutes_ago, visibility) in [
        (300, "public"),
        (200, "private"),
        (100, "public"),
        (50, "public"),
    ] {
        run_ok(
            &api,
            &b,
            json!({"started_at": seoul_time(minutes_ago), "duration_s": 1800, "distance_m": 5000.0 + minutes_ago as f64, "visibility": visibility}),
        )
        .await;
    }
    // and one imported from Strava, as the importer writes it
    let strava = runcrew_runs::run::Run {
        run_id: runcrew_runs::run::new_run_id(
            OffsetDateTime::now_utc().unix_timestamp() * 1000 - 60_000,
        ),
        user_id: b_id.clone(),
        started_at: seoul_time(1),
        started_ms: OffsetDateTime::now_utc().unix_timestamp() * 1000 - 60_000,
        utc_offset_minutes: 540,
        time_zone: None,
        local_date: "2026-11-21".into(),
        duration_s: 1700,
        distance_m: 5000.0,
        course_id: None,
        source: runcrew_runs::run::Source::Strava,
        visibility: runcrew_runs::run::RunVisibility::Public,
        flag: None,
        path_points: None,
        created_at: seoul_time(0),
    };
    api.app
        .store()
        .expect("store")
        .put(
            strava.to_item().expect("item"),
            runcrew_shared::store::Condition::NotExists,
        )
        .await
        .expect("strava run");
    // when a follows b, twice
    let follow = url(&api, &format!("/v1/users/{b_id}/follow"));
    for _ in 0..2 {
        assert_eq!(
            call(http().put(&follow).bearer_auth(bearer(&a))).await.0,
            204
        );
    }
    // then the counts changed once
    let profile = |id: String| {
        let address = url(&api, &format!("/v1/users/{id}"));
        async move { call(http().get(address)).await.1 }
    };
    assert_eq!(profile(b_id.clone()).await["follower_count"], 1);
    assert_eq!(profile(a_id.clone()).await["following_count"], 1);
    // and one new-follower job is on the push queue
    let jobs = api
        .app
        .queue()
        .expect("queue")
        .as_memory()
        .expect("in-process queue")
        .messages(QueueName::Push);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["type"], "new_follower");
    assert_eq!(jobs[0]["user_id"], b_id.as_str());
    assert_eq!(jobs[0]["follower_id"], a_id.as_str());
    // and b's followers list a by name
    let (_, followers) = call(http().get(url(&api, &format!("/v1/users/{b_id}/followers")))).await;
    assert_eq!(followers["items"][0]["display_name"], "a");
    // and a's feed shows b's public runs newest first, two to a page, never the Strava one
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut address = url(&api, "/v1/feed?limit=2");
        if let Some(c) = &cursor {
            address.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = call(http().get(address).bearer_auth(bearer(&a))).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().expect("items") {
            assert_eq!(item["author"]["display_name"], "b");
            seen.push(item["distance_m"].as_f64().expect("distance"));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, [5050.0, 5100.0, 5300.0]);
    // and following yourself is refused naming the user
    let (status, body) = call(
        http()
            .put(url(&api, &format!("/v1/users/{a_id}/follow")))
            .bearer_auth(bearer(&a)),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("userId"))
    );
    // when a unfollows, twice
    for _ in 0..2 {
        assert_eq!(
            call(http().delete(&follow).bearer_auth(bearer(&a))).await.0,
            204
        );
    }
    // then the counts are back and the feed is empty
    assert_eq!(profile(b_id.clone()).await["follower_count"], 0);
    let (_, feed) = call(http().get(url(&api, "/v1/feed")).bearer_auth(bearer(&a))).await;
    assert_eq!(feed["items"], json!([]));
    api.stop().await;
}
