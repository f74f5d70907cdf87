//! The Strava API v3 client against a fake Strava on 127.0.0.1 (wiremock,
//! `runcrew_strava_fake`): the grants, the activities, the rate-limit usage and Strava's
//! error answers, each sorted into what the import does next.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use runcrew_strava::client::{
    Activity, RateUsage, SCOPE, StravaClient, StravaError, StravaSettings, TokenGrant, granted,
    resume_at,
};
use runcrew_strava_fake::{
    ACCESS_LIFETIME_S, Athlete, CLIENT_ID, CLIENT_SECRET, Grants, SEOUL, SEOUL_OFFSET_S,
    SEOUL_POLYLINE, StravaFake, Usage, activity,
};
use time::macros::datetime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// The athlete of most stories.
const ATHLETE: i64 = 4_711_001;
/// The code of their approval redirect.
const CODE: &str = "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0";

/// A fixed "now" for the rate-limit stories: 2026-11-20 22:10:07 UTC.
fn fixed_now() -> i64 {
    datetime!(2026-11-20 22:10:07 UTC).unix_timestamp()
}

/// Now, epoch seconds.
fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A fake with one athlete who approved us, and the grant of their code.
async fn connected() -> (StravaFake, Athlete, TokenGrant) {
    let fake = StravaFake::start().await;
    let athlete = fake.add_athlete(ATHLETE, CODE);
    let grant = fake.client().exchange_code(CODE).await.expect("the grant");
    (fake, athlete, grant)
}

/// The ids of `activities`.
fn ids(activities: &[Activity]) -> Vec<i64> {
    activities.iter().map(|a| a.id).collect()
}

/// A query parameter of a recorded request.
fn param(request: &wiremock::Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

// ---- OAuth ----

#[tokio::test]
async fn a_code_exchange_names_the_athlete_and_grants_six_hours() {
    // given an athlete who approved us with a code
    let fake = StravaFake::start().await;
    let athlete = fake.add_athlete(ATHLETE, CODE);

    // when the code is exchanged
    let grant = fake.client().exchange_code(CODE).await.expect("the grant");

    // then the grant names the athlete and carries the tokens Strava issued
    assert_eq!(grant.athlete_id, Some(ATHLETE));
    let issued = fake.tokens(&athlete).expect("tokens were issued");
    assert_eq!(grant.access_token, issued.access_token);
    assert_eq!(grant.refresh_token, issued.refresh_token);
    assert!(
        (grant.expires_at - (now() + ACCESS_LIFETIME_S)).abs() < 60,
        "expires_at {}",
        grant.expires_at
    );
    assert_eq!(
        fake.grants(&athlete),
        Grants {
            codes: 1,
            refreshes: 0
        }
    );
    // and the form carried our credentials and the code
    let requests = fake.requests_to("/oauth/token").await;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&requests[0].body)
        .into_owned()
        .collect();
    for field in [
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("grant_type", "authorization_code"),
        ("code", CODE),
    ] {
        assert!(
            form.contains(&(field.0.to_owned(), field.1.to_owned())),
            "{field:?} in {form:?}"
        );
    }
}

#[tokio::test]
async fn a_code_works_once_and_a_second_exchange_is_rejected() {
    // given a code already exchanged
    let (fake, _, _) = connected().await;

    // when it is exchanged again
    let error = fake
        .client()
        .exchange_code(CODE)
        .await
        .expect_err("a used code");

    // then Strava's refusal is kept, and it is not worth retrying
    assert_eq!(
        error,
        StravaError::Rejected {
            status: 400,
            reason: "HTTP 400: Bad Request (AuthorizationCode.code invalid)".to_owned()
        }
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_refresh_rotates_the_refresh_token_and_the_old_one_is_refused() {
    // given a connected athlete
    let (fake, athlete, first) = connected().await;
    let client = fake.client();

    // when their tokens are refreshed
    let second = client
        .refresh(&first.refresh_token)
        .await
        .expect("refreshed");

    // then both tokens are new, the grant names no athlete, and it was one refresh
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(second.athlete_id, None);
    assert_eq!(fake.grants(&athlete).refreshes, 1);
    // and the old refresh token is dead at once
    let error = client
        .refresh(&first.refresh_token)
        .await
        .expect_err("the replaced refresh token");
    assert_eq!(error, StravaError::Revoked);
    // while the new one refreshes again
    let third = client
        .refresh(&second.refresh_token)
        .await
        .expect("the new refresh token works");
    assert_eq!(fake.grants(&athlete).refreshes, 2);
    client
        .activities(&third.access_token, 0, 1, 30)
        .await
        .expect("the newest access token reads");
}

#[tokio::test]
async fn deauthorizing_revokes_every_token_of_the_athlete() {
    // given a connected athlete
    let (fake, athlete, grant) = connected().await;
    let client = fake.client();

    // when they disconnect Strava from RunCrew
    client
        .deauthorize(&grant.access_token)
        .await
        .expect("deauthorized");

    // then Strava forgets us: their tokens read as revoked
    assert!(!fake.is_connected(&athlete));
    assert_eq!(
        client.activities(&grant.access_token, 0, 1, 30).await,
        Err(StravaError::Revoked)
    );
    assert_eq!(
        client.refresh(&grant.refresh_token).await,
        Err(StravaError::Revoked)
    );
    // and deauthorizing again says so
    assert_eq!(
        client.deauthorize(&grant.access_token).await,
        Err(StravaError::Revoked)
    );
}

#[test]
fn the_authorize_url_encodes_its_parameters() {
    // given a client and a redirect URI with a query of its own and a state with `&`
    let settings = StravaSettings::production("163042", "s3cret");
    let client = StravaClient::new(reqwest::Client::new(), settings);
    let redirect = "https://api.runcrew.app/v1/strava/callback?from=app&x=1 2";
    let state = "a&b=c/d+e é";

    // when the authorize URL is built
    let link = client.authorize_url(redirect, SCOPE, state);

    // then it is Strava's page with each parameter whole and the secret nowhere
    let parsed = url::Url::parse(&link).expect("a URL");
    assert_eq!(
        format!(
            "{}://{}{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or(""),
            parsed.path()
        ),
        "https://www.strava.com/oauth/authorize"
    );
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let expected: Vec<(String, String)> = [
        ("client_id", "163042"),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "activity:read_all"),
        ("approval_prompt", "auto"),
        ("state", state),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(pairs, expected);
    assert!(link.contains("scope=activity%3Aread_all"), "{link}");
    assert!(!link.contains("s3cret"), "{link}");
}

#[test]
fn the_redirect_scope_says_whether_every_activity_was_granted() {
    assert!(granted("read,activity:read_all", SCOPE));
    assert!(granted("activity:read_all", SCOPE));
    // the athlete unticked "private activities"
    assert!(!granted("read,activity:read", SCOPE));
    assert!(!granted("", SCOPE));
}

// ---- activities ----

#[tokio::test]
async fn activities_are_read_page_by_page_until_an_empty_page() {
    // given five runs over five days
    let (fake, athlete, grant) = connected().await;
    for day in 1..=5_i64 {
        fake.add_activity(
            &athlete,
            activity(100 + day, "Run", &format!("2026-11-0{day}T22:10:00Z")),
        );
    }
    let client = fake.client();

    // when they are read two at a time until a page comes back empty
    let mut pages = Vec::new();
    for page in 1.. {
        let answer = client
            .activities(&grant.access_token, 0, page, 2)
            .await
            .expect("a page");
        if answer.value.is_empty() {
            break;
        }
        pages.push(ids(&answer.value));
    }

    // then every run came, oldest first, in pages of two
    assert_eq!(pages, vec![vec![101, 102], vec![103, 104], vec![105]]);
    // and each request carried the page, the size, `after` and the bearer token
    let requests = fake.requests_to("/api/v3/athlete/activities").await;
    assert_eq!(requests.len(), 4);
    for (n, request) in requests.iter().enumerate() {
        assert_eq!(param(request, "page"), Some((n + 1).to_string()));
        assert_eq!(param(request, "per_page").as_deref(), Some("2"));
        assert_eq!(param(request, "after").as_deref(), Some("0"));
        let bearer = format!("Bearer {}", grant.access_token);
        assert_eq!(
            request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            Some(bearer.as_str())
        );
    }
}

#[tokio::test]
async fn only_activities_that_started_after_the_given_time_are_listed() {
    // given runs on the 1st, 10th and 20th of November
    let (fake, athlete, grant) = connected().await;
    fake.add_activity(&athlete, activity(1, "Run", "2026-11-01T07:00:00Z"));
    fake.add_activity(&athlete, activity(10, "Run", "2026-11-10T07:00:00Z"));
    fake.add_activity(&athlete, activity(20, "Run", "2026-11-20T07:00:00Z"));
    // and a run of another athlete
    let other = fake.add_athlete(ATHLETE + 1, "other-code");
    fake.add_activity(&other, activity(15, "Run", "2026-11-15T07:00:00Z"));

    // when the activities after the 10th's run are asked for
    let after = datetime!(2026-11-10 07:00:00 UTC).unix_timestamp();
    let answer = fake
        .client()
        .activities(&grant.access_token, after, 1, 200)
        .await
        .expect("a page");

    // then only the 20th's run is there (the 10th's started at `after`, not after it)
    assert_eq!(ids(&answer.value), vec![20]);
    assert_eq!(answer.value[0].start_epoch_s(), Some(after + 10 * 86_400));
}

#[tokio::test]
async fn a_page_is_never_asked_for_with_more_than_two_hundred_activities_or_page_zero() {
    let (fake, _, grant) = connected().await;

    fake.client()
        .activities(&grant.access_token, 0, 0, 1_000)
        .await
        .expect("a page");

    let requests = fake.requests_to("/api/v3/athlete/activities").await;
    assert_eq!(param(&requests[0], "per_page").as_deref(), Some("200"));
    assert_eq!(param(&requests[0], "page").as_deref(), Some("1"));
}

#[tokio::test]
async fn runs_trail_runs_and_virtual_runs_are_runs_and_nothing_else_is() {
    // given a week of mixed sports
    let (fake, athlete, grant) = connected().await;
    let sports = [
        "Run",
        "Ride",
        "TrailRun",
        "Walk",
        "VirtualRun",
        "Hike",
        "VirtualRide",
        "Swim",
    ];
    for (n, sport) in sports.iter().enumerate() {
        fake.add_activity(
            &athlete,
            activity(
                n as i64 + 1,
                sport,
                &format!("2026-11-0{}T06:30:00Z", n + 1),
            ),
        );
    }

    // when they are read
    let answer = fake
        .client()
        .activities(&grant.access_token, 0, 1, 200)
        .await
        .expect("a page");

    // then the sport types came through and only the three runs are runs
    let runs: Vec<&str> = answer
        .value
        .iter()
        .filter(|a| a.is_run())
        .map(|a| a.sport_type.as_str())
        .collect();
    assert_eq!(answer.value.len(), sports.len());
    assert_eq!(runs, vec!["Run", "TrailRun", "VirtualRun"]);
}

#[tokio::test]
async fn an_activity_reads_with_its_local_time_offset_and_route() {
    // given a private evening run in Seoul
    let (fake, athlete, grant) = connected().await;
    let mut run = activity(9_876_543_210, "Run", "2026-11-20T10:05:00Z");
    run.private = true;
    fake.add_activity(&athlete, run.clone());

    // when it is read by id (a webhook's "create" event)
    let answer = fake
        .client()
        .activity(&grant.access_token, run.id)
        .await
        .expect("the activity");

    // then every field the import uses is Strava's
    let read = answer.value;
    assert_eq!(read, run);
    assert_eq!(read.start_date_local, "2026-11-20T19:05:00Z");
    assert_eq!(read.utc_offset_s, SEOUL_OFFSET_S);
    assert_eq!(read.timezone.as_deref(), Some(SEOUL));
    assert_eq!(read.summary_polyline.as_deref(), Some(SEOUL_POLYLINE));
    assert!(read.private);
    assert!(answer.usage.is_some());
}

#[tokio::test]
async fn an_empty_summary_polyline_reads_as_none() {
    // given a treadmill run without a route (Strava writes "")
    let (fake, athlete, grant) = connected().await;
    let mut treadmill = activity(31, "Run", "2026-11-20T10:05:00Z");
    treadmill.summary_polyline = None;
    fake.add_activity(&athlete, treadmill);

    // when it is read
    let answer = fake
        .client()
        .activities(&grant.access_token, 0, 1, 30)
        .await
        .expect("a page");

    // then it has no route
    assert_eq!(answer.value[0].summary_polyline, None);
}

#[tokio::test]
async fn an_activity_without_a_map_or_optional_fields_reads_with_defaults() {
    // given Strava answers an activity with no map, no time zone and a legacy type only
    let (fake, _, grant) = connected().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/activities/77"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": 77,
            "name": "Lunch Run",
            "type": "Run",
            "start_date": "2026-11-20T03:00:00Z",
            "start_date_local": "2026-11-20T12:00:00Z",
            "utc_offset": 32400.0,
            "moving_time": 1800,
            "elapsed_time": 1900,
            "distance": 6000.5,
            "private": false
        })))
        .with_priority(1)
        .mount(&fake.server)
        .await;

    // when it is read
    let answer = fake
        .client()
        .activity(&grant.access_token, 77)
        .await
        .expect("the activity");

    // then what is missing reads as absent and the legacy type stands in
    assert_eq!(answer.usage, None, "no rate-limit headers, no usage");
    let read = answer.value;
    assert_eq!(read.summary_polyline, None);
    assert_eq!(read.timezone, None);
    assert_eq!(read.sport_type, "Run");
    assert!(read.is_run());
    assert_eq!(read.distance_m, 6000.5);
}

#[tokio::test]
async fn an_activity_deleted_meanwhile_is_not_found() {
    // given an activity the webhook announced, deleted before we read it
    let (fake, athlete, grant) = connected().await;
    fake.add_activity(&athlete, activity(55, "Run", "2026-11-20T10:05:00Z"));
    fake.remove_activity(55);

    // when it is read
    let error = fake
        .client()
        .activity(&grant.access_token, 55)
        .await
        .expect_err("deleted");

    // then it is not found, and not worth retrying
    assert_eq!(error, StravaError::NotFound);
    assert!(!error.is_retryable());
}

// ---- rate limits ----

#[tokio::test]
async fn the_usage_headers_are_read_and_headroom_is_the_fewest_requests_left() {
    // given the application already used part of its windows
    let (fake, _, grant) = connected().await;
    fake.set_usage(Usage {
        usage_15min: 12,
        usage_daily: 340,
        read_usage_15min: 10,
        read_usage_daily: 300,
    });

    // when a page is read
    let answer = fake
        .client()
        .activities(&grant.access_token, 0, 1, 30)
        .await
        .expect("a page");

    // then the usage after this request came with it
    let usage = answer.usage.expect("Strava's headers");
    assert_eq!(
        usage,
        RateUsage {
            limit_15min: 200,
            limit_daily: 2_000,
            usage_15min: 13,
            usage_daily: 341,
            read_limit_15min: Some(100),
            read_limit_daily: Some(1_000),
            read_usage_15min: Some(11),
            read_usage_daily: Some(301),
        }
    );
    // and the 15-minute read window is the tightest: 100 - 11
    assert_eq!(usage.headroom(), 89);
}

/// Headers with Strava's rate-limit pairs; `None` leaves one out.
fn headers(pairs: [(&'static str, Option<&'static str>); 4]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let Some(value) = value {
            map.insert(name, HeaderValue::from_static(value));
        }
    }
    map
}

#[test]
fn usage_headers_without_read_limits_count_the_overall_windows_only() {
    let map = headers([
        ("x-ratelimit-limit", Some("200,2000")),
        ("x-ratelimit-usage", Some("190, 1500")),
        ("x-readratelimit-limit", None),
        ("x-readratelimit-usage", None),
    ]);

    let usage = RateUsage::from_headers(&map).expect("the overall headers");

    assert_eq!(usage.usage_15min, 190);
    assert_eq!(usage.read_usage_15min, None);
    assert_eq!(usage.headroom(), 10);
}

#[test]
fn the_daily_window_can_be_the_tightest_and_a_window_over_its_limit_leaves_none() {
    let tight_day = headers([
        ("X-RateLimit-Limit", Some("200,2000")),
        ("X-RateLimit-Usage", Some("3,1990")),
        ("X-ReadRateLimit-Limit", Some("100,1000")),
        ("X-ReadRateLimit-Usage", Some("3,700")),
    ]);
    let over = headers([
        ("X-RateLimit-Limit", Some("200,2000")),
        ("X-RateLimit-Usage", Some("214,1990")),
        ("X-ReadRateLimit-Limit", Some("100,1000")),
        ("X-ReadRateLimit-Usage", Some("114,700")),
    ]);

    let tight_day = RateUsage::from_headers(&tight_day).expect("usage");
    let over = RateUsage::from_headers(&over).expect("usage");

    assert_eq!(tight_day.headroom(), 10);
    assert!(!tight_day.daily_window_full());
    assert_eq!(over.headroom(), 0);
    assert!(over.short_window_full());
}

#[test]
fn the_budget_metric_reports_the_fuller_of_the_overall_and_read_window_of_each_length() {
    // given reads nearer their 15-minute limit than all requests, and a daily window at 99.5%
    let usage = RateUsage::from_headers(&headers([
        ("X-RateLimit-Limit", Some("200,2000")),
        ("X-RateLimit-Usage", Some("100,1990")),
        ("X-ReadRateLimit-Limit", Some("100,1000")),
        ("X-ReadRateLimit-Usage", Some("95,700")),
    ]))
    .expect("usage");

    // then the 15-minute figure is the reads' 95% and the daily one the overall 99.5%
    let (short, daily) = usage.used_percent();
    assert!((short - 95.0).abs() < 1e-9, "{short}");
    assert!((daily - 99.5).abs() < 1e-9, "{daily}");
}

#[test]
fn missing_or_garbled_usage_headers_give_no_usage() {
    let none = headers([
        ("x-ratelimit-limit", None),
        ("x-ratelimit-usage", None),
        ("x-readratelimit-limit", Some("100,1000")),
        ("x-readratelimit-usage", Some("1,1")),
    ]);
    let garbled = headers([
        ("x-ratelimit-limit", Some("200")),
        ("x-ratelimit-usage", Some("1,1")),
        ("x-readratelimit-limit", None),
        ("x-readratelimit-usage", None),
    ]);

    assert_eq!(RateUsage::from_headers(&none), None);
    assert_eq!(RateUsage::from_headers(&garbled), None);
}

#[tokio::test]
async fn a_rate_limited_answer_resumes_at_the_next_quarter_hour() {
    // given a connected athlete and one read left in the 15-minute window, at 22:10:07 UTC
    let (fake, _, grant) = connected().await;
    let client = fake.client().with_clock(fixed_now);
    fake.answer_429_after(1);
    client
        .activities(&grant.access_token, 0, 1, 30)
        .await
        .expect("the last read of the window");

    // when the next page is asked for
    let error = client
        .activities(&grant.access_token, 0, 2, 30)
        .await
        .expect_err("over the limit");

    // then the import waits for the window to reopen at 22:15 UTC
    assert_eq!(
        error,
        StravaError::RateLimited {
            resume_at: datetime!(2026-11-20 22:15:00 UTC).unix_timestamp()
        }
    );
    assert!(error.is_retryable());
    // and once the quarter hour passed, Strava answers again
    fake.reset_15min();
    client
        .activities(&grant.access_token, 0, 2, 30)
        .await
        .expect("the window reopened");
}

#[tokio::test]
async fn a_rate_limited_answer_with_the_daily_window_full_resumes_at_midnight_utc() {
    // given the application used its whole day, at 22:10:07 UTC
    let (fake, _, grant) = connected().await;
    let client = fake.client().with_clock(fixed_now);
    fake.set_usage(Usage {
        usage_15min: 40,
        usage_daily: 2_000,
        read_usage_15min: 20,
        read_usage_daily: 950,
    });

    // when a page is asked for
    let error = client
        .activity(&grant.access_token, 1)
        .await
        .expect_err("over the daily limit");

    // then the import waits for midnight UTC, not for the quarter hour
    assert_eq!(
        error,
        StravaError::RateLimited {
            resume_at: datetime!(2026-11-21 00:00:00 UTC).unix_timestamp()
        }
    );
    // and the refused request counted too
    assert_eq!(fake.usage().usage_daily, 2_001);
}

#[tokio::test]
async fn a_passing_429_without_a_full_window_resumes_at_the_next_quarter_hour() {
    // given Strava refuses the next two reads although the windows have room
    let (fake, _, grant) = connected().await;
    let client = fake.client().with_clock(fixed_now);
    fake.answer_429_next(2);

    // when three reads are made
    let first = client.activities(&grant.access_token, 0, 1, 30).await;
    let second = client.activities(&grant.access_token, 0, 1, 30).await;
    let third = client.activities(&grant.access_token, 0, 1, 30).await;

    // then the first two say when to come back and the third reads
    let quarter = datetime!(2026-11-20 22:15:00 UTC).unix_timestamp();
    assert_eq!(first, Err(StravaError::RateLimited { resume_at: quarter }));
    assert_eq!(second, Err(StravaError::RateLimited { resume_at: quarter }));
    assert!(third.is_ok(), "{third:?}");
}

#[test]
fn resume_at_is_the_next_quarter_hour_or_the_next_midnight_utc() {
    let at = |t: time::OffsetDateTime| t.unix_timestamp();
    let room = RateUsage {
        limit_15min: 200,
        limit_daily: 2_000,
        usage_15min: 201,
        usage_daily: 900,
        read_limit_15min: Some(100),
        read_limit_daily: Some(1_000),
        read_usage_15min: Some(101),
        read_usage_daily: Some(800),
    };
    let day_full = RateUsage {
        usage_daily: 2_000,
        ..room
    };
    let reads_of_the_day_full = RateUsage {
        read_usage_daily: Some(1_003),
        ..room
    };

    // without a usage, or with the 15-minute window full: the next quarter hour
    assert_eq!(
        resume_at(at(datetime!(2026-11-20 22:10:07 UTC)), None),
        at(datetime!(2026-11-20 22:15:00 UTC))
    );
    assert_eq!(
        resume_at(at(datetime!(2026-11-20 22:14:59 UTC)), Some(&room)),
        at(datetime!(2026-11-20 22:15:00 UTC))
    );
    // on the quarter hour itself: the one after, never now
    assert_eq!(
        resume_at(at(datetime!(2026-11-20 22:15:00 UTC)), Some(&room)),
        at(datetime!(2026-11-20 22:30:00 UTC))
    );
    // the last quarter of the day ends at midnight
    assert_eq!(
        resume_at(at(datetime!(2026-11-20 23:50:00 UTC)), Some(&room)),
        at(datetime!(2026-11-21 00:00:00 UTC))
    );
    // a full day, overall or of reads: the next midnight UTC
    assert_eq!(
        resume_at(at(datetime!(2026-11-20 00:00:01 UTC)), Some(&day_full)),
        at(datetime!(2026-11-21 00:00:00 UTC))
    );
    assert_eq!(
        resume_at(
            at(datetime!(2026-12-31 12:00:00 UTC)),
            Some(&reads_of_the_day_full)
        ),
        at(datetime!(2027-01-01 00:00:00 UTC))
    );
}

// ---- errors ----

#[tokio::test]
async fn an_athlete_who_revoked_us_reads_as_revoked_on_the_api_and_on_refresh() {
    // given a connected athlete who then revoked us on Strava
    let (fake, athlete, grant) = connected().await;
    fake.revoke(&athlete);
    let client = fake.client();

    // when the import reads their activities, then refreshes
    let read = client.activities(&grant.access_token, 0, 1, 30).await;
    let refresh = client.refresh(&grant.refresh_token).await;

    // then both say the athlete must reconnect
    assert_eq!(read, Err(StravaError::Revoked));
    assert_eq!(refresh, Err(StravaError::Revoked));
    assert!(!StravaError::Revoked.is_retryable());
    // and a new approval connects them again
    fake.add_code(&athlete, "second-code");
    let again = client
        .exchange_code("second-code")
        .await
        .expect("reconnected");
    assert_eq!(again.athlete_id, Some(ATHLETE));
}

#[tokio::test]
async fn an_expired_access_token_reads_as_revoked_and_one_refresh_recovers() {
    // given an athlete whose access token expired
    let (fake, athlete, grant) = connected().await;
    fake.expire_access(&athlete);
    let client = fake.client();

    // when a read is refused and the import refreshes once
    assert_eq!(
        client.activities(&grant.access_token, 0, 1, 30).await,
        Err(StravaError::Revoked)
    );
    let fresh = client
        .refresh(&grant.refresh_token)
        .await
        .expect("refreshed");

    // then the new token reads, after exactly one refresh
    client
        .activities(&fresh.access_token, 0, 1, 30)
        .await
        .expect("the fresh token reads");
    assert_eq!(fake.grants(&athlete).refreshes, 1);
}

#[tokio::test]
async fn the_cap_of_connected_athletes_reads_as_athlete_limit() {
    // given the application is at its cap of one connected athlete
    let (fake, first, _) = connected().await;
    fake.limit_connected_athletes(1);
    let newcomer = fake.add_athlete(ATHLETE + 2, "newcomer-code");

    // when a new athlete's code is exchanged
    let error = fake
        .client()
        .exchange_code("newcomer-code")
        .await
        .expect_err("over the cap");

    // then nobody new can connect, while the connected athlete may approve again
    assert_eq!(error, StravaError::AthleteLimit);
    assert!(!fake.is_connected(&newcomer));
    fake.add_code(&first, "again");
    fake.client()
        .exchange_code("again")
        .await
        .expect("a connected athlete is not new");
}

#[tokio::test]
async fn a_forbidden_answer_without_the_athlete_cap_is_rejected() {
    let (fake, _, grant) = connected().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/activities/8"))
        .respond_with(ResponseTemplate::new(403).set_body_json(serde_json::json!({
            "message": "Forbidden",
            "errors": [{ "resource": "Activity", "field": "private", "code": "forbidden" }]
        })))
        .with_priority(1)
        .mount(&fake.server)
        .await;

    let error = fake.client().activity(&grant.access_token, 8).await;

    assert!(
        matches!(error, Err(StravaError::Rejected { status: 403, .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_error_is_unavailable_and_worth_retrying() {
    // given Strava answers 503 with an HTML page
    let (fake, _, grant) = connected().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string("<html><body>Strava is temporarily unavailable</body></html>"),
        )
        .with_priority(1)
        .mount(&fake.server)
        .await;

    // when a page is read
    let error = fake
        .client()
        .activities(&grant.access_token, 0, 1, 30)
        .await
        .expect_err("a 503");

    // then it is worth asking again later
    let StravaError::Unavailable { reason } = &error else {
        panic!("expected Unavailable, got {error:?}");
    };
    assert!(reason.starts_with("HTTP 503"), "{reason}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_strava_that_does_not_answer_in_time_is_unavailable() {
    // given Strava takes 3 s to answer and the client waits 300 ms
    let (fake, _, grant) = connected().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!([]))
                .set_delay(Duration::from_secs(3)),
        )
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let http =
        runcrew_shared::outbound::https_client(Duration::from_secs(2), Duration::from_millis(300))
            .expect("an HTTP client");
    let client = StravaClient::new(http, fake.settings());

    // when a page is read
    let error = client.activities(&grant.access_token, 0, 1, 30).await;

    // then it is unavailable
    assert!(
        matches!(error, Err(StravaError::Unavailable { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_strava_that_cannot_be_reached_is_unavailable() {
    // given nothing listens where Strava should be
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = closed.local_addr().expect("an address").port();
    drop(closed);
    let settings = StravaSettings {
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        api_url: format!("http://127.0.0.1:{port}/api/v3"),
        oauth_url: format!("http://127.0.0.1:{port}/oauth"),
    };
    let client = StravaClient::new(
        runcrew_strava::client::http_client().expect("an HTTP client"),
        settings,
    );

    // when the tokens are refreshed
    let error = client.refresh("fake-refresh-1").await;

    // then it is unavailable
    assert!(
        matches!(error, Err(StravaError::Unavailable { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_wrong_client_secret_is_rejected_and_does_not_disconnect_the_athlete() {
    // given a connected athlete and a client with a wrong secret
    let (fake, athlete, grant) = connected().await;
    let settings = StravaSettings {
        client_secret: "not-our-secret".to_owned(),
        ..fake.settings()
    };
    let client = StravaClient::new(
        runcrew_strava::client::http_client().expect("an HTTP client"),
        settings,
    );

    // when their tokens are refreshed
    let error = client
        .refresh(&grant.refresh_token)
        .await
        .expect_err("a wrong secret");

    // then it is our configuration that is refused, not the athlete
    assert!(
        matches!(error, StravaError::Rejected { status: 401, .. }),
        "{error:?}"
    );
    assert!(fake.is_connected(&athlete));
}

// ---- secrets ----

#[tokio::test]
async fn secrets_never_show_in_debug_output_or_errors() {
    // given a connected athlete
    let (fake, _, grant) = connected().await;
    let client = fake.client();

    // when the settings, the client and the grant are printed
    let printed = [
        format!("{:?}", fake.settings()),
        format!("{client:?}"),
        format!("{grant:?}"),
    ];

    // then no secret shows
    for text in &printed {
        for secret in [CLIENT_SECRET, &grant.access_token, &grant.refresh_token] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    assert!(printed[0].contains(CLIENT_ID), "{}", printed[0]);
    assert!(printed[2].contains(&ATHLETE.to_string()), "{}", printed[2]);

    // and when a proxy's error page quotes the token, the error does not
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .respond_with(ResponseTemplate::new(502).set_body_string(format!(
            "Bad gateway for Authorization: Bearer {}",
            grant.access_token
        )))
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let error = client
        .activities(&grant.access_token, 0, 1, 30)
        .await
        .expect_err("a 502");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(&grant.access_token), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");

    // and a refused code is not quoted either
    let refused = client
        .exchange_code("a-code-nobody-issued")
        .await
        .expect_err("an unknown code");
    let shown = format!("{refused} {refused:?}");
    assert!(!shown.contains("a-code-nobody-issued"), "{shown}");
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
}
