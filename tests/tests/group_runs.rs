//! Group runs end to end through the local gateway: a host sets an event, runners join
//! until it is full, the waitlist moves, the host changes and cancels it, the reminder
//! schedule fires, and calendars read its file. The roster's concurrency runs on the
//! embedded store and on DynamoDB Local (with its stream, as Lambda reads it).

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::future::join_all;
use runcrew_local::Running;
use runcrew_tests::{bearer, call, create_course, dev_login, eventually, http, start_local};
use serde_json::{Value, json};

fn url(api: &Running, path: &str) -> String {
    format!("{}{path}", api.url())
}

/// `minutes` from now, as RFC 3339 in Seoul time, to the second.
fn in_minutes(minutes: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes);
    at.replace_nanosecond(0)
        .expect("whole seconds")
        .to_offset(time::macros::offset!(+9))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time")
}

const DAY: i64 = 24 * 60;

/// City Hall, Seoul, and a point ~325 km away in Busan.
const CITY_HALL: (f64, f64) = (37.5665, 126.978);
const BUSAN: (f64, f64) = (35.1796, 129.0756);

async fn create_event(api: &Running, host: &Value, body: Value) -> Value {
    let (status, event) = call(
        http()
            .post(url(api, "/v1/events"))
            .bearer_auth(bearer(host))
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{event}");
    event
}

fn event_at(title: &str, starts_at: &str, at: (f64, f64), visibility: &str) -> Value {
    json!({
        "title": title,
        "starts_at": starts_at,
        "time_zone": "Asia/Seoul",
        "meeting_point": {"lat": at.0, "lng": at.1, "name": title},
        "visibility": visibility,
    })
}

fn id_of(event: &Value) -> String {
    event["event_id"].as_str().expect("event id").to_owned()
}

async fn join(api: &Running, who: &Value, event: &str) -> (u16, Value) {
    call(
        http()
            .put(url(api, &format!("/v1/events/{event}/participation")))
            .bearer_auth(bearer(who)),
    )
    .await
}

async fn leave(api: &Running, who: &Value, event: &str) {
    let (status, body) = call(
        http()
            .delete(url(api, &format!("/v1/events/{event}/participation")))
            .bearer_auth(bearer(who)),
    )
    .await;
    assert_eq!(status, 204, "{body}");
}

async fn event_as(api: &Running, who: Option<&Value>, event: &str) -> (u16, Value) {
    let mut request = http().get(url(api, &format!("/v1/events/{event}")));
    if let Some(who) = who {
        request = request.bearer_auth(bearer(who));
    }
    call(request).await
}

/// The user ids of one list of the event (`going` or `waiting`), in order, every page.
async fn roster(api: &Running, who: &Value, event: &str, status: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/events/{event}/participants?status={status}&limit=7");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", urlencode(c)));
        }
        let (code, page) = call(http().get(url(api, &path)).bearer_auth(bearer(who))).await;
        assert_eq!(code, 200, "{page}");
        ids.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|p| p["user_id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn user_id(login: &Value) -> String {
    login["user_id"].as_str().expect("user id").to_owned()
}

/// The notification types in `who`'s inbox that are about `event`.
async fn news_about(api: &Running, who: &Value, event: &str) -> Vec<String> {
    let (status, inbox) = call(
        http()
            .get(url(api, "/v1/notifications?limit=50"))
            .bearer_auth(bearer(who)),
    )
    .await;
    assert_eq!(status, 200, "{inbox}");
    inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|n| n["event_id"] == event)
        .map(|n| n["type"].as_str().expect("type").to_owned())
        .collect()
}

/// Twenty runners join a five-place event at once: five go, fifteen wait, and a late
/// twenty-first waits last. When one who goes leaves, the first on the waitlist moves up
/// and is told.
async fn twenty_join_a_five_place_event(api: &Running) {
    // given a host's five-place event at her course, and twenty-one runners
    let host = dev_login(api, "host").await;
    let course = create_course(api, &host, "Seoul Forest 2k").await;
    let event = create_event(
        api,
        &host,
        json!({
            "title": "Forest tempo",
            "starts_at": in_minutes(2 * DAY),
            "course_id": course,
            "capacity": 5,
            "visibility": "public",
        }),
    )
    .await;
    assert_eq!(event["meeting_point"]["name"], "Seoul Forest 2k");
    let event = id_of(&event);
    let mut runners = Vec::new();
    for n in 0..21 {
        runners.push(dev_login(api, &format!("runner-{n}")).await);
    }

    // when twenty of them join at the same moment
    let answers = join_all(runners[..20].iter().map(|r| join(api, r, &event))).await;

    // then exactly five go and fifteen wait, and the lists say the same
    let mut going = BTreeSet::new();
    let mut waiting = BTreeSet::new();
    for ((status, body), runner) in answers.iter().zip(&runners) {
        assert_eq!(*status, 200, "{body}");
        match body["my_status"].as_str() {
            Some("going") => going.insert(user_id(runner)),
            Some("waiting") => waiting.insert(user_id(runner)),
            other => panic!("a join answered {other:?}"),
        };
    }
    assert_eq!((going.len(), waiting.len()), (5, 15));
    let (_, seen) = event_as(api, Some(&host), &event).await;
    assert_eq!(
        (
            seen["participant_count"].as_u64(),
            seen["waitlist_count"].as_u64()
        ),
        (Some(5), Some(15))
    );
    let listed_going: BTreeSet<String> = roster(api, &host, &event, "going")
        .await
        .into_iter()
        .collect();
    assert_eq!(listed_going, going);

    // and a twenty-first who comes later waits last, in order of arrival
    let (status, late) = join(api, &runners[20], &event).await;
    assert_eq!((status, late["my_status"].as_str()), (200, Some("waiting")));
    let waitlist = roster(api, &host, &event, "waiting").await;
    assert_eq!(waitlist.len(), 16);
    assert_eq!(waitlist.last(), Some(&user_id(&runners[20])));
    assert_eq!(
        waitlist[..15].iter().cloned().collect::<BTreeSet<_>>(),
        waiting
    );

    // and joining again changes nothing
    let goer = runners
        .iter()
        .find(|r| going.contains(&user_id(r)))
        .expect("someone goes");
    let (status, again) = join(api, goer, &event).await;
    assert_eq!((status, again["my_status"].as_str()), (200, Some("going")));
    assert_eq!(again["participant_count"], 5);

    // when one who goes leaves
    leave(api, goer, &event).await;

    // then the first on the waitlist moves up and is told, and the counts hold
    let first = runners
        .iter()
        .find(|r| user_id(r) == waitlist[0])
        .expect("first waiter");
    eventually("the first waiter moves up", || async {
        let (_, seen) = event_as(api, Some(first), &event).await;
        (seen["my_status"] == "going").then_some(())
    })
    .await;
    let (_, seen) = event_as(api, Some(&host), &event).await;
    assert_eq!(
        (
            seen["participant_count"].as_u64(),
            seen["waitlist_count"].as_u64()
        ),
        (Some(5), Some(15))
    );
    eventually("the one moved up is told", || async {
        news_about(api, first, &event)
            .await
            .contains(&"event_promoted".to_owned())
            .then_some(())
    })
    .await;
    let (_, gone) = event_as(api, Some(goer), &event).await;
    assert_eq!(gone["my_status"], Value::Null);
}

/// Twenty-two people log in from one address within a minute: more than the login rate
/// limit lets one address do by default.
const MANY_LOGINS: &str = "50";

#[tokio::test]
async fn capacity_holds_when_twenty_join_at_once_on_the_embedded_store() {
    let (api, _dir) = start_local(&[("AUTH_RATE_LIMIT_PER_IP", MANY_LOGINS.into())]).await;
    twenty_join_a_five_place_event(&api).await;
}

#[tokio::test]
async fn capacity_holds_when_twenty_join_at_once_on_dynamodb_local() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(runcrew_tests::dynamodb_store_with_stream().await);
    let config = runcrew_tests::config(dir.path(), &[("AUTH_RATE_LIMIT_PER_IP", MANY_LOGINS)]);
    let api = runcrew_tests::serve_app(runcrew_tests::app_over(config, store)).await;
    twenty_join_a_five_place_event(&api).await;
}

#[tokio::test]
async fn only_the_host_changes_or_cancels_an_event_and_its_participants_hear_of_it() {
    // given a two-place event with bob and carol going and dave waiting
    let (api, _dir) = start_local(&[]).await;
    let host = dev_login(&api, "host").await;
    let (bob, carol, dave) = (
        dev_login(&api, "bob").await,
        dev_login(&api, "carol").await,
        dev_login(&api, "dave").await,
    );
    let mut body = event_at("Bridge repeats", &in_minutes(3 * DAY), CITY_HALL, "public");
    body["capacity"] = json!(2);
    let event = id_of(&create_event(&api, &host, body).await);
    for who in [&bob, &carol, &dave] {
        let (status, answer) = join(&api, who, &event).await;
        assert_eq!(status, 200, "{answer}");
    }

    // then nobody but the host changes, cancels or reads the waitlist
    let path = format!("/v1/events/{event}");
    let (status, _) = call(
        http()
            .patch(url(&api, &path))
            .bearer_auth(bearer(&bob))
            .json(&json!({"title": "Mine now"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(http().delete(url(&api, &path)).bearer_auth(bearer(&bob))).await;
    assert_eq!(status, 403);
    let (status, _) = call(
        http()
            .get(url(&api, &format!("{path}/participants?status=waiting")))
            .bearer_auth(bearer(&bob)),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        roster(&api, &host, &event, "waiting").await,
        [user_id(&dave)]
    );

    // when the host tries to leave someone without a seat
    let (status, refused) = call(
        http()
            .patch(url(&api, &path))
            .bearer_auth(bearer(&host))
            .json(&json!({"capacity": 1})),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("capacity_below_participants"))
    );

    // when the host adds a place, dave moves up and hears of it
    let (status, raised) = call(
        http()
            .patch(url(&api, &path))
            .bearer_auth(bearer(&host))
            .json(&json!({"capacity": 3})),
    )
    .await;
    assert_eq!(status, 200, "{raised}");
    eventually("dave moves up", || async {
        let (_, seen) = event_as(&api, Some(&dave), &event).await;
        (seen["my_status"] == "going").then_some(())
    })
    .await;

    // when the host moves the start a day later, those going hear of it and their list
    // of events shows the new start
    let later = in_minutes(4 * DAY);
    let (status, moved) = call(
        http()
            .patch(url(&api, &path))
            .bearer_auth(bearer(&host))
            .json(&json!({"starts_at": later})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    for who in [&bob, &carol, &dave] {
        eventually("a participant hears of the move", || async {
            news_about(&api, who, &event)
                .await
                .contains(&"event_changed".to_owned())
                .then_some(())
        })
        .await;
    }
    let (status, mine) = call(
        http()
            .get(url(&api, "/v1/users/me/events"))
            .bearer_auth(bearer(&bob)),
    )
    .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["items"][0]["event_id"], event.as_str());
    assert_eq!(mine["items"][0]["starts_at"], moved["starts_at"]);
    assert_eq!(mine["items"][0]["my_status"], "going");

    // when the host cancels it
    let (status, _) = call(http().delete(url(&api, &path)).bearer_auth(bearer(&host))).await;
    assert_eq!(status, 204);

    // then it reads as cancelled, nobody joins it, it is listed nowhere, and everyone
    // who was going hears of it
    let (status, seen) = event_as(&api, None, &event).await;
    assert_eq!((status, seen["status"].as_str()), (200, Some("cancelled")));
    let erin = dev_login(&api, "erin").await;
    let (status, refused) = join(&api, &erin, &event).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("event_cancelled"))
    );
    let (_, listed) = call(http().get(url(&api, "/v1/events?limit=50"))).await;
    assert!(
        !listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|e| e["event_id"] == event.as_str()),
        "{listed}"
    );
    for who in [&bob, &carol, &dave] {
        eventually("a participant hears of the cancellation", || async {
            news_about(&api, who, &event)
                .await
                .contains(&"event_cancelled".to_owned())
                .then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn the_reminder_schedule_fired_twice_reminds_each_participant_once() {
    // given an event starting in 30 minutes with bob and carol, and one in three hours
    // with dave
    let (api, _dir) = start_local(&[]).await;
    let host = dev_login(&api, "host").await;
    let (bob, carol, dave) = (
        dev_login(&api, "bob").await,
        dev_login(&api, "carol").await,
        dev_login(&api, "dave").await,
    );
    let soon_public = id_of(
        &create_event(
            &api,
            &host,
            event_at("Lunch loop", &in_minutes(30), CITY_HALL, "public"),
        )
        .await,
    );
    let later = id_of(
        &create_event(
            &api,
            &host,
            event_at("Evening loop", &in_minutes(180), CITY_HALL, "public"),
        )
        .await,
    );
    for who in [&bob, &carol] {
        assert_eq!(join(&api, who, &soon_public).await.0, 200);
    }
    assert_eq!(join(&api, &dave, &later).await.0, 200);

    // when the schedule fires twice (a retry, or two ticks)
    for _ in 0..2 {
        let (status, body) =
            call(http().post(url(&api, "/_local/schedules/EventRemindersFunction"))).await;
        assert_eq!(status, 200, "{body}");
    }

    // then bob and carol have one reminder each, and dave none yet
    for who in [&bob, &carol] {
        let news = news_about(&api, who, &soon_public).await;
        assert_eq!(news, ["event_reminder"], "one reminder");
    }
    assert!(news_about(&api, &dave, &later).await.is_empty());
}

#[tokio::test]
async fn lists_find_exactly_the_public_events_in_the_window_or_the_circle_on_the_embedded_store() {
    let (api, _dir) = start_local(&[]).await;
    lists_find_exactly_the_public_events(&api).await;
}

#[tokio::test]
async fn lists_find_exactly_the_public_events_in_the_window_or_the_circle_on_dynamodb_local() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(runcrew_tests::dynamodb_store().await);
    let config = runcrew_tests::config(dir.path(), &[]);
    let api = runcrew_tests::serve_app(runcrew_tests::app_over(config, store)).await;
    lists_find_exactly_the_public_events(&api).await;
}

/// The date list pages through exactly the public events of its window, by start, and the
/// near search finds exactly those of its circle and window: nothing private, nothing too
/// far or too late.
async fn lists_find_exactly_the_public_events(api: &Running) {
    // given public events at City Hall in 2, 10 and 40 days, one in Busan in 3 days, and
    // a private and a followers' event at City Hall in 2 days
    let host = dev_login(api, "host").await;
    let mut ids = std::collections::HashMap::new();
    for (name, minutes, at, visibility) in [
        ("hall-2d", 2 * DAY, CITY_HALL, "public"),
        ("hall-10d", 10 * DAY, CITY_HALL, "public"),
        ("hall-40d", 40 * DAY, CITY_HALL, "public"),
        ("busan-3d", 3 * DAY, BUSAN, "public"),
        ("private-2d", 2 * DAY + 1, CITY_HALL, "private"),
        ("followers-2d", 2 * DAY + 2, CITY_HALL, "followers"),
    ] {
        let event = create_event(
            api,
            &host,
            event_at(name, &in_minutes(minutes), at, visibility),
        )
        .await;
        ids.insert(id_of(&event), name);
    }
    let titles = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["title"].as_str().expect("title").to_owned())
            .collect()
    };

    // when a runner lists the next 30 days, two at a time
    let (status, first) = call(http().get(url(api, "/v1/events?limit=2"))).await;
    assert_eq!(status, 200, "{first}");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, second) = call(http().get(url(
        api,
        &format!("/v1/events?limit=2&cursor={}", urlencode(cursor)),
    )))
    .await;
    // then they are the public ones of the window, by start
    assert_eq!(titles(&first), ["hall-2d", "busan-3d"]);
    assert_eq!(titles(&second), ["hall-10d"]);
    assert_eq!(second["next_cursor"], Value::Null);

    // when they search 5 km around City Hall, over 60 days
    let to = urlencode(&in_minutes(60 * DAY));
    let (status, near) = call(http().get(url(
        api,
        &format!(
            "/v1/events?near={},{}&radius_km=5&to={to}",
            CITY_HALL.0, CITY_HALL.1
        ),
    )))
    .await;
    assert_eq!(status, 200, "{near}");
    // then they find City Hall's public events only, each with its distance
    let mut found = titles(&near);
    found.sort();
    assert_eq!(found, ["hall-10d", "hall-2d", "hall-40d"]);
    assert_eq!(near["items"][0]["distance_away_m"], 0.0);

    // and a window that ends before the 10th day leaves it out
    let to = urlencode(&in_minutes(5 * DAY));
    let (_, near) = call(http().get(url(
        api,
        &format!("/v1/events?near={},{}&to={to}", CITY_HALL.0, CITY_HALL.1),
    )))
    .await;
    assert_eq!(titles(&near), ["hall-2d"]);
}

#[tokio::test]
async fn followers_and_private_events_stay_hidden_from_everyone_else() {
    // given a host's followers' event and private event
    let (api, _dir) = start_local(&[]).await;
    let host = dev_login(&api, "host").await;
    let fan = dev_login(&api, "fan").await;
    let followers = id_of(
        &create_event(
            &api,
            &host,
            event_at("Club night", &in_minutes(DAY), CITY_HALL, "followers"),
        )
        .await,
    );
    let private = id_of(
        &create_event(
            &api,
            &host,
            event_at("Just us", &in_minutes(DAY), CITY_HALL, "private"),
        )
        .await,
    );
    // then a stranger finds neither
    assert_eq!(event_as(&api, Some(&fan), &followers).await.0, 404);
    assert_eq!(event_as(&api, None, &followers).await.0, 404);
    assert_eq!(event_as(&api, Some(&fan), &private).await.0, 404);
    // when the fan follows the host, they see and join the followers' event only
    let (status, _) = call(
        http()
            .put(url(&api, &format!("/v1/users/{}/follow", user_id(&host))))
            .bearer_auth(bearer(&fan)),
    )
    .await;
    assert!(status == 200 || status == 204, "{status}");
    assert_eq!(event_as(&api, Some(&fan), &followers).await.0, 200);
    assert_eq!(join(&api, &fan, &followers).await.0, 200);
    assert_eq!(event_as(&api, Some(&fan), &private).await.0, 404);
    // and the host sees both
    assert_eq!(event_as(&api, Some(&host), &private).await.0, 200);
}

#[tokio::test]
async fn bad_fields_are_named_and_nothing_is_created() {
    let (api, _dir) = start_local(&[]).await;
    let host = dev_login(&api, "host").await;
    let good = event_at("Tempo", &in_minutes(DAY), CITY_HALL, "public");
    let cases = [
        ("capacity", json!(0)),
        ("starts_at", json!(in_minutes(-60))),
        ("time_zone", json!("Asia/Atlantis")),
        ("course_id", json!("0193a1b2c3d4e5f60718293a4b5c6d7e")),
    ];
    for (field, value) in cases {
        let mut body = good.clone();
        body[field] = value;
        let (status, refused) = call(
            http()
                .post(url(&api, "/v1/events"))
                .bearer_auth(bearer(&host))
                .json(&body),
        )
        .await;
        assert_eq!(status, 422, "{field}: {refused}");
        assert_eq!(refused["error"]["field"], field, "{refused}");
    }
    let (_, mine) = call(
        http()
            .get(url(&api, "/v1/users/me/events"))
            .bearer_auth(bearer(&host)),
    )
    .await;
    assert_eq!(mine["items"], json!([]));
}

#[tokio::test]
async fn the_calendar_file_parses_and_starts_at_the_events_instant() {
    // given an event at 07:00 Seoul time
    let (api, _dir) = start_local(&[]).await;
    let host = dev_login(&api, "host").await;
    let mut body = event_at(
        "Sunrise, 10K; easy",
        &in_minutes(2 * DAY),
        CITY_HALL,
        "public",
    );
    body["description"] = json!("Meet at the fountain.\nBring water.");
    let event = create_event(&api, &host, body).await;
    let id = id_of(&event);
    // when a calendar app downloads its file
    let response = http()
        .get(url(&api, &format!("/v1/events/{id}/calendar.ics")))
        .send()
        .await
        .expect("calendar");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/calendar")
    );
    let text = response.text().await.expect("text");
    // then a real calendar parser reads it: one event, at the event's instant, with its
    // title and place as written, confirmed
    let parsed = parse_calendar(&text);
    assert_eq!(parsed["uid"], format!("{id}@runcrew"));
    assert_eq!(parsed["summary"], "Sunrise, 10K; easy");
    assert_eq!(parsed["description"], "Meet at the fountain.\nBring water.");
    assert_eq!(parsed["status"], "CONFIRMED");
    assert_eq!(parsed["tzid"], "Asia/Seoul");
    let starts = time::OffsetDateTime::parse(
        event["starts_at"].as_str().expect("starts_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("starts_at");
    assert_eq!(parsed["start_epoch"], starts.unix_timestamp());
    // when the host cancels it, the file says so
    let (status, _) = call(
        http()
            .delete(url(&api, &format!("/v1/events/{id}")))
            .bearer_auth(bearer(&host)),
    )
    .await;
    assert_eq!(status, 204);
    let text = http()
        .get(url(&api, &format!("/v1/events/{id}/calendar.ics")))
        .send()
        .await
        .expect("calendar")
        .text()
        .await
        .expect("text");
    assert_eq!(parse_calendar(&text)["status"], "CANCELLED");
}

/// The calendar read by Python's `icalendar` (installed in the test tools by
/// `infra/scripts/setup-tools`): its one event's fields as JSON.
fn parse_calendar(text: &str) -> Value {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/python");
    let script = r#"
import json, sys, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
events = [c for c in cal.walk() if c.name == "VEVENT"]
assert len(events) == 1, len(events)
ev = events[0]
start = ev.decoded("dtstart")
print(json.dumps({
    "uid": str(ev["uid"]),
    "summary": str(ev["summary"]),
    "description": str(ev.get("description", "")),
    "status": str(ev["status"]),
    "tzid": ev["dtstart"].params.get("TZID"),
    "start_epoch": int(start.timestamp()),
}))
"#;
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} (run infra/scripts/setup-tools): {e}", python.display()));
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("written");
    let output = child.wait_with_output().expect("python ran");
    assert!(
        output.status.success(),
        "icalendar refused the file: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("json")
}

/// The run ids of an event's results as `who` sees them, fastest first.
async fn results_as(api: &Running, who: &Value, event: &str) -> Vec<String> {
    let (status, page) = call(
        http()
            .get(url(api, &format!("/v1/events/{event}/results")))
            .bearer_auth(bearer(who)),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["run_id"].as_str().expect("run id").to_owned())
        .collect()
}

#[tokio::test]
async fn runs_at_the_event_are_its_results_and_a_strava_run_shows_to_its_runner_only() {
    // given an event at a course starting in ten minutes, with bob and carol going
    let (api, _dir) = start_local(&[]).await;
    let host = dev_login(&api, "host").await;
    let course = create_course(&api, &host, "Plaza 2k").await;
    let event = id_of(
        &create_event(
            &api,
            &host,
            json!({
                "title": "Plaza tempo",
                "starts_at": in_minutes(10),
                "course_id": course,
                "visibility": "public",
            }),
        )
        .await,
    );
    let (bob, carol, dave) = (
        dev_login(&api, "bob").await,
        dev_login(&api, "carol").await,
        dev_login(&api, "dave").await,
    );
    for who in [&bob, &carol] {
        assert_eq!(join(&api, who, &event).await.0, 200);
    }

    // when bob runs the course with the group, dave (who did not join) runs it too, and
    // carol's run of it arrives from Strava
    let bobs = runcrew_tests::record_run_started(&api, &bob, &course, 600, 1).await;
    runcrew_tests::record_run_started(&api, &dave, &course, 580, 1).await;
    let carols = strava_run(&api, &user_id(&carol), &course, 700).await;

    // then the host sees bob's run only; carol sees hers too, after bob's faster one
    eventually("bob's run is a result", || async {
        (results_as(&api, &host, &event).await == [bobs.clone()]).then_some(())
    })
    .await;
    eventually("carol sees her Strava run", || async {
        (results_as(&api, &carol, &event).await == [bobs.clone(), carols.clone()]).then_some(())
    })
    .await;
    assert_eq!(results_as(&api, &bob, &event).await, [bobs.as_str()]);

    // when bob deletes his run, it leaves the results
    let (status, _) = call(
        http()
            .delete(url(&api, &format!("/v1/runs/{bobs}")))
            .bearer_auth(bearer(&bob)),
    )
    .await;
    assert_eq!(status, 204);
    eventually("bob's deleted run leaves the results", || async {
        results_as(&api, &host, &event)
            .await
            .is_empty()
            .then_some(())
    })
    .await;
}

/// A Strava run of `user_id` on `course`, started two minutes ago, written as the importer
/// writes one (the table's stream sees it like any run).
async fn strava_run(api: &Running, user_id: &str, course: &str, seconds: i64) -> String {
    use runcrew_model::run::{Run, RunVisibility, Source};
    let started = time::OffsetDateTime::now_utc() - time::Duration::minutes(2);
    let started_ms = i64::try_from(started.unix_timestamp_nanos() / 1_000_000).expect("ms");
    let run = Run {
        run_id: uuid::Uuid::now_v7().simple().to_string(),
        user_id: user_id.to_owned(),
        started_at: runcrew_shared::clock::rfc3339_of_ms(started_ms),
        started_ms,
        utc_offset_minutes: 0,
        time_zone: None,
        local_date: runcrew_shared::clock::rfc3339_of_ms(started_ms)[..10].to_owned(),
        duration_s: seconds,
        distance_m: 2000.0,
        course_id: Some(course.to_owned()),
        source: Source::Strava,
        visibility: RunVisibility::Public,
        flag: None,
        path_points: None,
        created_at: runcrew_shared::clock::now_rfc3339(),
    };
    api.app
        .store()
        .expect("store")
        .put(
            run.to_item().expect("item"),
            runcrew_shared::store::Condition::NotExists,
        )
        .await
        .expect("stored");
    run.run_id
}
