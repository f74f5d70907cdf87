//! Runs, leaderboards, statistics, follows and the feed, through the local gateway. The
//! leaderboard journey also runs over DynamoDB Local, whose conditional writes and
//! indexes it relies on.

use std::sync::Arc;

use runcrew_local::Running;
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
    let (api, _dir) = runcrew_tests::serve_on_dynamodb_local().await;
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
    let strava = runcrew_model::run::Run {
        run_id: runcrew_model::run::new_run_id(
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
        source: runcrew_model::run::Source::Strava,
        visibility: runcrew_model::run::RunVisibility::Public,
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
    // and b hears of one new follower (the notifier reads the follow off the stream)
    assert!(api.settle_streams().await, "the stream settles");
    let (status, inbox) = call(
        http()
            .get(url(&api, "/v1/notifications"))
            .bearer_auth(bearer(&b)),
    )
    .await;
    assert_eq!(status, 200, "{inbox}");
    let news: Vec<&Value> = inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|n| n["type"] == "new_follower")
        .collect();
    assert_eq!(news.len(), 1, "{inbox}");
    assert_eq!(news[0]["actor"]["user_id"], a_id.as_str());
    // and b's followers list a by name
    let (_, followers) = call(http().get(url(&api, &format!("/v1/users/{b_id}/followers")))).await;
    assert_eq!(followers["items"][0]["display_name"], "a");
    // and a's feed shows b's public runs newest first, two to a page, never the Strava one
    // (once the follow's backfill, written off the request, has landed)
    feed_holds(&api, &a, 3).await;
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
    // and unfollowing yourself has nothing to undo (found by schemathesis: it was a 500)
    let (status, _) = call(
        http()
            .delete(url(&api, &format!("/v1/users/{a_id}/follow")))
            .bearer_auth(bearer(&a)),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(profile(a_id.clone()).await["following_count"], 1);
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

/// `login`'s feed once it holds `count` runs: the feed is written off the request, from
/// the table's stream through the feed queue.
async fn feed_holds(api: &Running, login: &Value, count: usize) -> Value {
    runcrew_tests::eventually("the feed written", || async {
        let (status, feed) =
            call(http().get(url(api, "/v1/feed")).bearer_auth(bearer(login))).await;
        assert_eq!(status, 200, "{feed}");
        (feed["items"].as_array().map(Vec::len) == Some(count)).then_some(feed)
    })
    .await
}

// ---- issue 12: privacy, closed accounts, numbers, idempotency ----

/// The runs `login` sees as their own, newest first.
async fn my_runs(api: &Running, login: &Value) -> Vec<Value> {
    let (status, page) = call(
        http()
            .get(url(api, "/v1/runs?limit=50"))
            .bearer_auth(bearer(login)),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("items").clone()
}

async fn private_runs_journey(api: &Running) {
    // given a's public 2 km course
    let a = dev_login(api, "a").await;
    let b = dev_login(api, "b").await;
    let course = two_km_course(api, &a).await;
    let on = |seconds: i64, minutes_ago: i64, visibility: &str| json!({"started_at": seoul_time(minutes_ago), "duration_s": seconds, "distance_m": 2010.0, "course_id": course, "visibility": visibility});
    // when b runs it privately
    let hidden = run_ok(api, &b, on(500, 300, "private")).await;
    // then the run is b's alone: not on the board, for nobody
    assert_eq!(hidden["on_leaderboard"], false, "{hidden}");
    assert_eq!(hidden["personal_best_on_course"], false, "{hidden}");
    let hidden_id = hidden["run_id"].as_str().expect("id").to_owned();
    assert_eq!(board(api, &course, None).await.0, []);
    let (_, me) = board(api, &course, Some(&b)).await;
    assert_eq!(me, Value::Null, "b has no place on the board: {me}");
    // when b runs it publicly, slower
    let shown = run_ok(api, &b, on(600, 200, "public")).await;
    assert_eq!(shown["on_leaderboard"], true, "{shown}");
    // and privately once more, faster than both
    run_ok(api, &b, on(480, 100, "private")).await;
    // then the board shows b's public time, never hidden behind the private ones
    assert_eq!(board(api, &course, None).await.0, [row("b", 1, 600)]);
    let (_, me) = board(api, &course, Some(&b)).await;
    assert_eq!(
        (me["duration_s"].as_i64(), me["run_id"].as_str()),
        (Some(600), shown["run_id"].as_str())
    );
    // and no private run id reaches anyone reading the board
    let (_, body) = call(
        http()
            .get(url(api, &format!("/v1/courses/{course}/leaderboard")))
            .bearer_auth(bearer(&a)),
    )
    .await;
    assert!(!body.to_string().contains(&hidden_id), "{body}");
    // when b deletes the public run
    let shown_id = shown["run_id"].as_str().expect("id");
    let (status, _) = call(
        http()
            .delete(url(api, &format!("/v1/runs/{shown_id}")))
            .bearer_auth(bearer(&b)),
    )
    .await;
    assert_eq!(status, 204);
    // then no private run takes its place
    assert_eq!(board(api, &course, None).await.0, []);
    // and b still has both private runs
    assert_eq!(my_runs(api, &b).await.len(), 2);
}

#[tokio::test]
async fn a_private_run_stays_off_the_leaderboard_and_never_hides_a_public_one() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    private_runs_journey(&api).await;
    api.stop().await;
}

#[tokio::test]
async fn a_private_run_stays_off_the_leaderboard_on_dynamodb_local() {
    let (api, _dir) = runcrew_tests::serve_on_dynamodb_local().await;
    private_runs_journey(&api).await;
    api.stop().await;
}

#[tokio::test]
async fn a_feed_never_hands_out_the_id_of_a_course_its_reader_cannot_see() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let a = dev_login(&api, "a").await;
    let b = dev_login(&api, "b").await;
    let b_id = b["user_id"].as_str().expect("id").to_owned();
    // given b's three courses: one public, one private, one public that b deletes later
    let public = two_km_course(&api, &b).await;
    let (status, private) = call(
        http()
            .post(url(&api, "/v1/courses"))
            .bearer_auth(bearer(&b))
            .json(&json!({
                "name": "My secret loop",
                "visibility": "private",
                "route": {"type": "LineString", "coordinates": [[126.9779, 37.5663], [126.9779, 37.584286]]}
            })),
    )
    .await;
    assert_eq!(status, 201, "{private}");
    let private = private["course_id"].as_str().expect("id").to_owned();
    let gone = two_km_course(&api, &b).await;
    // and b's public runs on each of them
    for (course, minutes_ago) in [(&public, 300), (&private, 200), (&gone, 100)] {
        run_ok(
            &api,
            &b,
            json!({"started_at": seoul_time(minutes_ago), "duration_s": 600, "distance_m": 2000.0, "course_id": course}),
        )
        .await;
    }
    runcrew_tests::delete_and_wait(&api, &b, &format!("/v1/courses/{gone}"), 60).await;
    // when a, who follows b, reads the feed
    let (status, _) = call(
        http()
            .put(url(&api, &format!("/v1/users/{b_id}/follow")))
            .bearer_auth(bearer(&a)),
    )
    .await;
    assert_eq!(status, 204);
    let feed = feed_holds(&api, &a, 3).await;
    // then all three runs are there, but only the public course is named
    let courses: Vec<Value> = feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["course_id"].clone())
        .collect();
    assert_eq!(courses, [Value::Null, Value::Null, json!(public)]);
    assert!(!feed.to_string().contains(&private), "{feed}");
    assert!(!feed.to_string().contains(&gone), "{feed}");
    // while b still sees her own private course on her own run
    assert!(
        my_runs(&api, &b)
            .await
            .iter()
            .any(|run| run["course_id"] == json!(private))
    );
    api.stop().await;
}

#[tokio::test]
async fn an_erased_account_cannot_create_runs_with_its_still_valid_token() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let a = dev_login(&api, "a").await;
    let a_id = a["user_id"].as_str().expect("id").to_owned();
    // given a closed her account; her access token lives on for up to 15 minutes
    runcrew_tests::delete_and_wait(&api, &a, "/v1/users/me", 60).await;
    // when the token sends a run, with and without an Idempotency-Key
    let body = json!({"started_at": seoul_time(30), "duration_s": 1500, "distance_m": 5000.0});
    let (status, answer) = run(&api, &a, body.clone()).await;
    // then it is refused as a closed account
    assert_eq!(status, 401, "{answer}");
    let (status, answer) = call(
        http()
            .post(url(&api, "/v1/runs"))
            .bearer_auth(bearer(&a))
            .header("idempotency-key", "after-erasure-1")
            .json(&body),
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    // and nothing of hers is left in the table
    let left = api
        .app
        .store()
        .expect("store")
        .query(&runcrew_shared::store::Query::partition(
            runcrew_model::profile::user_partition(&a_id),
        ))
        .await
        .expect("query");
    assert_eq!(left.items, [], "items written for a closed account");
    api.stop().await;
}

async fn vanishing_distance_journey(api: &Running) {
    let a = dev_login(api, "a").await;
    // when a run says it covered 1e-131 m, or 0.04 m
    for distance in [1e-131, 0.04] {
        let (status, answer) = run(
            api,
            &a,
            json!({"started_at": seoul_time(5), "duration_s": 60, "distance_m": distance}),
        )
        .await;
        // then it is refused naming the field, not a server error
        assert_eq!(status, 422, "{distance}: {answer}");
        assert_eq!(answer["error"]["field"], "distance_m", "{answer}");
    }
    // and a distance is kept to the 0.1 m it means
    let kept = run_ok(
        api,
        &a,
        json!({"started_at": seoul_time(5), "duration_s": 1800, "distance_m": 5000.04999}),
    )
    .await;
    assert_eq!(kept["distance_m"], 5000.0);
    assert_eq!(my_runs(api, &a).await.len(), 1);
}

#[tokio::test]
async fn a_vanishingly_small_distance_is_refused_naming_distance_m() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    vanishing_distance_journey(&api).await;
    api.stop().await;
}

#[tokio::test]
async fn a_vanishingly_small_distance_is_refused_on_dynamodb_local() {
    let (api, _dir) = runcrew_tests::serve_on_dynamodb_local().await;
    vanishing_distance_journey(&api).await;
    api.stop().await;
}

/// `POST /v1/runs` as API Gateway hands it to the function: `user_id`'s claims and an
/// `Idempotency-Key` that is not ASCII (API Gateway passes header values as text).
fn run_event(user_id: &str, key: &str, body: &Value) -> lambda_http::Request {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/runs-create.json");
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("json");
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(user_id);
    event["headers"]["idempotency-key"] = json!(key);
    event["body"] = json!(body.to_string());
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event")
}

#[tokio::test]
async fn a_non_ascii_idempotency_key_still_makes_one_run() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let a = dev_login(&api, "a").await;
    let a_id = a["user_id"].as_str().expect("id").to_owned();
    let body = json!({"started_at": seoul_time(30), "duration_s": 1500, "distance_m": 5000.0});
    // when the same run is sent twice with the key "café-1"
    let mut ids = Vec::new();
    for _ in 0..2 {
        let request = run_event(&a_id, "café-1", &body);
        assert!(
            request.headers()["idempotency-key"].to_str().is_err(),
            "the key is not ASCII text"
        );
        let response = runcrew_runs::CREATE.call(&api.app, request).await;
        assert_eq!(response.status(), 201);
        let answer: Value = serde_json::from_slice(response.body().as_ref()).expect("json");
        ids.push(answer["run_id"].as_str().expect("id").to_owned());
    }
    // then one run exists and both answers name it
    assert_eq!(ids[0], ids[1]);
    assert_eq!(my_runs(&api, &a).await.len(), 1);
    api.stop().await;
}

#[tokio::test]
async fn a_replay_answers_exactly_what_the_first_request_answered() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let a = dev_login(&api, "a").await;
    let course = two_km_course(&api, &a).await;
    let body = json!({"started_at": seoul_time(30), "duration_s": 600, "distance_m": 2000.0, "course_id": course});
    let send = || {
        http()
            .post(url(&api, "/v1/runs"))
            .bearer_auth(bearer(&a))
            .header("idempotency-key", "best-1")
            .json(&body)
            .send()
    };
    // given a first run on a course, which is a personal best
    let first: Value = send().await.expect("post").json().await.expect("json");
    assert_eq!(first["personal_best_on_course"], true, "{first}");
    // when the client retries
    let again = send().await.expect("post");
    assert_eq!(again.status(), 201);
    // then the replay is the first answer, including what was learnt after the commit
    let again: Value = again.json().await.expect("json");
    assert_eq!(again, first);
    api.stop().await;
}

#[tokio::test]
async fn a_repeat_while_the_first_request_runs_is_told_when_to_retry() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let a = dev_login(&api, "a").await;
    let a_id = a["user_id"].as_str().expect("id").to_owned();
    let body =
        json!({"started_at": seoul_time(30), "duration_s": 1500, "distance_m": 5000.0}).to_string();
    // given a first request with key "slow-1" that is still running (its claim is held)
    let mut pending = serde_json::Map::new();
    pending.insert("state".into(), json!("pending"));
    pending.insert(
        "fingerprint".into(),
        json!(runcrew_shared::digest::sha256_hex(&[body.as_bytes()])),
    );
    api.app
        .store()
        .expect("store")
        .put(
            runcrew_shared::store::Item::new(
                runcrew_model::idempotency::item_key(&a_id, "POST /v1/runs", b"slow-1"),
                pending,
            )
            .with_version(7)
            .expiring_at(runcrew_tests::now() + 60),
            runcrew_shared::store::Condition::NotExists,
        )
        .await
        .expect("claim");
    // when the client sends it again
    let response = http()
        .post(url(&api, "/v1/runs"))
        .bearer_auth(bearer(&a))
        .header("idempotency-key", "slow-1")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    // then it is 409 and told when to retry
    assert_eq!(response.status(), 409);
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry_after.is_some_and(|s| (1..=2).contains(&s)),
        "{retry_after:?}"
    );
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["error"]["code"], "idempotent_request_in_progress");
    assert_eq!(my_runs(&api, &a).await.len(), 0);
    api.stop().await;
}

/// How a request is cut off right after its run committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CutOffAt {
    /// The transaction committed but its reply was lost: the handler hears an outage
    /// (a timeout on the way back) and fails the request.
    ReplyLost,
    /// The transaction committed and the function died right after (a Lambda timeout): no
    /// write after the commit happens, and the client never hears the answer.
    FunctionDies,
}

/// A store that, once armed, cuts the next transaction off as `CutOffAt` says.
struct CutOffStore {
    inner: Arc<dyn runcrew_shared::store::Store>,
    armed: std::sync::Mutex<Option<CutOffAt>>,
    dead: std::sync::atomic::AtomicBool,
}

impl CutOffStore {
    fn new(inner: Arc<dyn runcrew_shared::store::Store>) -> Self {
        CutOffStore {
            inner,
            armed: std::sync::Mutex::new(None),
            dead: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn arm(&self, at: CutOffAt) {
        *self.armed.lock().expect("lock") = Some(at);
    }

    fn revive(&self) {
        self.dead.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    fn alive(&self) -> Result<(), runcrew_shared::store::StoreError> {
        if self.dead.load(std::sync::atomic::Ordering::SeqCst) {
            Err(runcrew_shared::store::StoreError::Unavailable(
                "the function was stopped".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl runcrew_shared::store::Store for CutOffStore {
    async fn get(
        &self,
        key: &runcrew_shared::store::Key,
    ) -> Result<Option<runcrew_shared::store::Item>, runcrew_shared::store::StoreError> {
        self.alive()?;
        self.inner.get(key).await
    }

    async fn get_many(
        &self,
        keys: &[runcrew_shared::store::Key],
    ) -> Result<Vec<runcrew_shared::store::Item>, runcrew_shared::store::StoreError> {
        self.alive()?;
        self.inner.get_many(keys).await
    }

    async fn put(
        &self,
        item: runcrew_shared::store::Item,
        condition: runcrew_shared::store::Condition,
    ) -> Result<(), runcrew_shared::store::StoreError> {
        self.alive()?;
        self.inner.put(item, condition).await
    }

    async fn delete(
        &self,
        key: &runcrew_shared::store::Key,
        condition: runcrew_shared::store::Condition,
    ) -> Result<(), runcrew_shared::store::StoreError> {
        self.alive()?;
        self.inner.delete(key, condition).await
    }

    async fn query(
        &self,
        query: &runcrew_shared::store::Query,
    ) -> Result<runcrew_shared::store::Page, runcrew_shared::store::StoreError> {
        self.alive()?;
        self.inner.query(query).await
    }

    async fn count(
        &self,
        query: &runcrew_shared::store::Query,
    ) -> Result<usize, runcrew_shared::store::StoreError> {
        self.alive()?;
        self.inner.count(query).await
    }

    async fn add(
        &self,
        key: &runcrew_shared::store::Key,
        field: &str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, runcrew_shared::store::StoreError> {
        self.alive()?;
        self.inner.add(key, field, delta, expires_at).await
    }

    async fn transact(
        &self,
        writes: Vec<runcrew_shared::store::Write>,
    ) -> Result<(), runcrew_shared::store::StoreError> {
        self.alive()?;
        let at = self.armed.lock().expect("lock").take();
        self.inner.transact(writes).await?;
        match at {
            None => Ok(()),
            Some(CutOffAt::ReplyLost) => Err(runcrew_shared::store::StoreError::Unavailable(
                "the reply was lost".into(),
            )),
            Some(CutOffAt::FunctionDies) => {
                self.dead.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
        }
    }

    async fn ping(&self) -> Result<(), runcrew_shared::store::StoreError> {
        self.alive()?;
        self.inner.ping().await
    }
}

/// A run sent with an `Idempotency-Key` is cut off right after its commit, then sent again:
/// the retry replays the run, and there is one run.
async fn cut_off_journey(inner: Arc<dyn runcrew_shared::store::Store>, at: CutOffAt) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(CutOffStore::new(inner));
    let app = runcrew_tests::app_over(runcrew_tests::config(dir.path(), &[]), store.clone());
    let api = runcrew_tests::serve_app(app).await;
    let a = dev_login(&api, "a").await;
    let course = two_km_course(&api, &a).await;
    let body = json!({"started_at": seoul_time(30), "duration_s": 600, "distance_m": 2000.0, "course_id": course});
    let send = || {
        http()
            .post(url(&api, "/v1/runs"))
            .bearer_auth(bearer(&a))
            .header("idempotency-key", format!("cut-off-{at:?}"))
            .json(&body)
            .send()
    };
    // given a run cut off right after its commit
    store.arm(at);
    let first = send().await.expect("post");
    let first_status = first.status().as_u16();
    let first: Value = first.json().await.unwrap_or(Value::Null);
    store.revive();
    // when the client retries with the same key, now and again
    let mut replays = Vec::new();
    for _ in 0..2 {
        let response = send().await.expect("post");
        assert_eq!(response.status(), 201, "{at:?}: a retry after the cut-off");
        assert_eq!(
            response
                .headers()
                .get("idempotent-replayed")
                .and_then(|v| v.to_str().ok()),
            Some("true"),
            "{at:?}: the retry replays"
        );
        let answer: Value = response.json().await.expect("json");
        replays.push(answer["run_id"].as_str().expect("id").to_owned());
    }
    // then there is exactly one run, the one every answer names
    let runs = my_runs(&api, &a).await;
    assert_eq!(runs.len(), 1, "{at:?}: {runs:?}");
    assert_eq!(replays[0], replays[1]);
    assert_eq!(runs[0]["run_id"].as_str(), Some(replays[0].as_str()));
    if first_status == 201 {
        assert_eq!(first["run_id"].as_str(), Some(replays[0].as_str()));
    }
    api.stop().await;
}

#[tokio::test]
async fn a_run_cut_off_after_its_commit_is_replayed_not_created_again() {
    for at in [CutOffAt::ReplyLost, CutOffAt::FunctionDies] {
        let store =
            runcrew_shared::store::embedded::EmbeddedStore::in_memory(runcrew_tests::codec());
        cut_off_journey(Arc::new(store), at).await;
    }
}

#[tokio::test]
async fn a_run_cut_off_after_its_commit_is_replayed_on_dynamodb_local() {
    for at in [CutOffAt::ReplyLost, CutOffAt::FunctionDies] {
        cut_off_journey(Arc::new(runcrew_tests::dynamodb_store().await), at).await;
    }
}
