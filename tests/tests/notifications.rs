//! Notifications end to end through the local gateway: devices, the inbox, settings, and
//! what a follow, a like or a faster run sends to a fake FCM on 127.0.0.1 (the notifier
//! reads the table's stream, the push consumer polls the in-process queue).

use std::time::Duration;

use runcrew_fcm_fake::{Fake, account_json};
use runcrew_local::Running;
use runcrew_model::notification::Kind;
use runcrew_model::notification::device;
use runcrew_model::notification::inbox::{self, Notification, NotificationId};
use runcrew_tests::{
    bearer, call, create_course, dev_login, eventually, http, record_run_started, start_local,
};
use serde_json::{Value, json};

/// The local API with pushes going to `fake`, as a developer would set it up: the service
/// account in a file, `FCM_API_URL` naming the fake. Keep both folders alive with the API.
async fn api_pushing_to(fake: &Fake) -> (Running, [tempfile::TempDir; 2]) {
    let secrets = tempfile::tempdir().expect("tempdir");
    let account = secrets.path().join("service-account.json");
    std::fs::write(&account, account_json(&fake.token_url())).expect("account file");
    let (api, data) = start_local(&[
        ("FCM_SERVICE_ACCOUNT_PATH", account.display().to_string()),
        ("FCM_API_URL", fake.server.uri()),
    ])
    .await;
    (api, [data, secrets])
}

/// A Google whose token endpoint grants tokens and whose FCM accepts what carries one.
async fn fcm_accepting() -> Fake {
    let fake = Fake::start().await;
    fake.grants_tokens(3600, Duration::ZERO).await;
    fake.accepts_messages_with("ya29.token-1").await;
    fake
}

fn url(api: &Running, path: &str) -> String {
    format!("{}{path}", api.url())
}

async fn register(api: &Running, login: &Value, token: &str) {
    let (status, body) = call(
        http()
            .post(url(api, "/v1/notifications/token"))
            .bearer_auth(bearer(login))
            .json(&json!({"token": token, "platform": "android", "app_version": "1.4.2"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
}

async fn inbox_of(api: &Running, login: &Value, query: &str) -> Value {
    let (status, body) = call(
        http()
            .get(url(api, &format!("/v1/notifications{query}")))
            .bearer_auth(bearer(login)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The FCM requests the fake received, as JSON bodies.
async fn pushes(fake: &Fake) -> Vec<Value> {
    fake.requests_to(&Fake::send_path())
        .await
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect()
}

/// Waits for the stream and the queue to go quiet, then a little more for a push that
/// should not come.
async fn settle(api: &Running) {
    assert!(api.settle_streams().await, "the stream settles");
    tokio::time::sleep(Duration::from_millis(600)).await;
}

#[tokio::test]
async fn a_follow_ends_in_one_authorized_fcm_request_carrying_the_followers_name() {
    // given Bora with a phone, and Minji
    let fake = fcm_accepting().await;
    let (api, _dir) = api_pushing_to(&fake).await;
    let bora = dev_login(&api, "Bora").await;
    let minji = dev_login(&api, "Minji").await;
    register(&api, &bora, "bora-phone:APA91b-1").await;
    let bora_id = bora["user_id"].as_str().expect("id").to_owned();
    // when Minji follows Bora (twice: the second changes nothing)
    for _ in 0..2 {
        let (status, _) = call(
            http()
                .put(url(&api, &format!("/v1/users/{bora_id}/follow")))
                .bearer_auth(bearer(&minji)),
        )
        .await;
        assert_eq!(status, 204);
    }
    // then exactly one push reaches FCM, authorized, to Bora's phone, naming Minji
    eventually("a push reaches FCM", || async {
        (!pushes(&fake).await.is_empty()).then_some(())
    })
    .await;
    settle(&api).await;
    let sent = pushes(&fake).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let message = &sent[0]["message"];
    assert_eq!(message["token"], "bora-phone:APA91b-1");
    assert_eq!(
        message["notification"]["body"],
        "Minji started following you"
    );
    assert_eq!(message["data"]["type"], "new_follower");
    assert_eq!(message["android"]["collapse_key"], "new_follower");
    assert!(
        message["data"]
            .as_object()
            .expect("data")
            .values()
            .all(Value::is_string)
    );
    let request = &fake.requests_to(&Fake::send_path()).await[0];
    assert_eq!(request.headers["authorization"], "Bearer ya29.token-1");
    // and Bora's inbox holds it, unread, with Minji as she is now
    let inbox = inbox_of(&api, &bora, "").await;
    assert_eq!(inbox["unread_count"], 1, "{inbox}");
    assert_eq!(inbox["items"][0]["type"], "new_follower");
    assert_eq!(inbox["items"][0]["actor"]["display_name"], "Minji");
    assert_eq!(inbox["items"][0]["read"], false);
    // and Minji, who did it, got nothing
    assert_eq!(inbox_of(&api, &minji, "").await["items"], json!([]));
    api.stop().await;
}

#[tokio::test]
async fn a_like_pushes_to_every_device_of_the_creator_and_liking_ones_own_course_to_none() {
    // given Jisoo's course and her two devices, and Hana
    let fake = fcm_accepting().await;
    let (api, _dir) = api_pushing_to(&fake).await;
    let jisoo = dev_login(&api, "Jisoo").await;
    let hana = dev_login(&api, "Hana").await;
    register(&api, &jisoo, "jisoo-phone").await;
    register(&api, &jisoo, "jisoo-tablet").await;
    let course = create_course(&api, &jisoo, "Seokchon Lake").await;
    let like = |login: &Value| {
        http()
            .put(url(&api, &format!("/v1/courses/{course}/like")))
            .bearer_auth(bearer(login))
    };
    // when Jisoo likes her own course, then Hana likes it
    assert_eq!(call(like(&jisoo)).await.0, 204);
    assert_eq!(call(like(&hana)).await.0, 204);
    // then each of Jisoo's devices gets one push about Hana's like, and nothing else came
    eventually("two pushes reach FCM", || async {
        (pushes(&fake).await.len() >= 2).then_some(())
    })
    .await;
    settle(&api).await;
    let sent = pushes(&fake).await;
    let mut tokens: Vec<&str> = sent
        .iter()
        .map(|m| m["message"]["token"].as_str().expect("token"))
        .collect();
    tokens.sort_unstable();
    assert_eq!(tokens, ["jisoo-phone", "jisoo-tablet"], "{sent:?}");
    assert!(sent.iter().all(|m| m["message"]["notification"]["body"]
        == "Hana liked your course Seokchon Lake"));
    let inbox = inbox_of(&api, &jisoo, "").await;
    assert_eq!(
        inbox["items"].as_array().expect("items").len(),
        1,
        "{inbox}"
    );
    assert_eq!(inbox["items"][0]["course_id"], course.as_str());
    api.stop().await;
}

#[tokio::test]
async fn a_faster_run_tells_the_runners_it_passed_once_and_nobody_else() {
    // given a course where Ara ran 10:00 and Dami 12:00, and pushes off (inbox only)
    let (api, _dir) = start_local(&[]).await;
    let ara = dev_login(&api, "Ara").await;
    let dami = dev_login(&api, "Dami").await;
    let eun = dev_login(&api, "Eun").await;
    let course = create_course(&api, &ara, "Namsan 2k").await;
    record_run_started(&api, &ara, &course, 600, 90).await;
    record_run_started(&api, &dami, &course, 720, 80).await;
    settle(&api).await;
    // when Eun runs 11:00 (passing Dami only), then 9:00 (passing Ara), then 9:30 (slower)
    record_run_started(&api, &eun, &course, 660, 70).await;
    settle(&api).await;
    record_run_started(&api, &eun, &course, 540, 60).await;
    record_run_started(&api, &eun, &course, 570, 50).await;
    settle(&api).await;
    // then Dami was told once (the 9:00 passed only Ara), Ara once, and Eun nothing
    let told = |inbox: Value| -> Vec<String> {
        inbox["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|n| n["type"] == "leaderboard_overtaken")
            .map(|n| n["body"].as_str().expect("body").to_owned())
            .collect()
    };
    assert_eq!(
        told(inbox_of(&api, &dami, "").await),
        ["Eun beat your time on Namsan 2k with 11:00"]
    );
    assert_eq!(
        told(inbox_of(&api, &ara, "").await),
        ["Eun beat your time on Namsan 2k with 9:00"]
    );
    assert!(told(inbox_of(&api, &eun, "").await).is_empty());
    api.stop().await;
}

#[tokio::test]
async fn the_inbox_pages_newest_first_and_counts_what_is_unread() {
    // given 25 notifications in Yuna's inbox
    let (api, _dir) = start_local(&[]).await;
    let yuna = dev_login(&api, "Yuna").await;
    let yuna_id = yuna["user_id"].as_str().expect("id");
    let store = api.app.store().expect("store");
    let base = runcrew_tests::now() * 1000 - 60_000;
    let mut ids = Vec::new();
    for n in 0..25 {
        let notification = Notification {
            id: NotificationId::new(base + n, &format!("test#{n}")),
            user_id: yuna_id.to_owned(),
            kind: Kind::CourseLiked,
            title: format!("Course {n}"),
            body: format!("like {n}"),
            actor_id: None,
            course_id: None,
            event_id: None,
            job_id: None,
            read: false,
        };
        assert!(
            inbox::deliver(store, &notification)
                .await
                .expect("delivered")
        );
        // delivered again (a redelivered stream record): still one item
        assert!(
            !inbox::deliver(store, &notification)
                .await
                .expect("delivered")
        );
        ids.push(notification.id.as_str().to_owned());
    }
    // when she reads the first page of 10
    let first = inbox_of(&api, &yuna, "?limit=10").await;
    // then it is the newest ten, and all 25 are unread
    let bodies: Vec<&str> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| n["body"].as_str().expect("body"))
        .collect();
    assert_eq!(bodies[0], "like 24");
    assert_eq!(bodies[9], "like 15");
    assert_eq!(first["unread_count"], 25);
    assert_eq!(first["unread_more"], false);
    // and the pages after it hold the rest, once each
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let second = inbox_of(&api, &yuna, &format!("?limit=10&cursor={cursor}")).await;
    assert_eq!(second["items"][0]["body"], "like 14");
    let cursor = second["next_cursor"].as_str().expect("cursor");
    let third = inbox_of(&api, &yuna, &format!("?limit=10&cursor={cursor}")).await;
    assert_eq!(third["items"].as_array().expect("items").len(), 5);
    assert_eq!(third["next_cursor"], Value::Null);
    // when she marks two read (one twice), then 23 are unread and those two say read
    let mark = |body: Value| {
        http()
            .post(url(&api, "/v1/notifications/read"))
            .bearer_auth(bearer(&yuna))
            .json(&body)
    };
    assert_eq!(
        call(mark(json!({"ids": [ids[24], ids[23], ids[24]]})))
            .await
            .0,
        204
    );
    let after = inbox_of(&api, &yuna, "?limit=3").await;
    assert_eq!(after["unread_count"], 23);
    assert_eq!(after["items"][0]["read"], true);
    assert_eq!(after["items"][2]["read"], false);
    // when she marks all read, then none is unread
    assert_eq!(call(mark(json!({"all": true}))).await.0, 204);
    let all_read = inbox_of(&api, &yuna, "").await;
    assert_eq!(all_read["unread_count"], 0);
    assert!(
        all_read["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|n| n["read"] == true)
    );
    // and a bad request names its field
    let (status, body) = call(mark(json!({"ids": ["not-an-id"]}))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "ids[0]");
    api.stop().await;
}

#[tokio::test]
async fn a_device_has_one_owner_and_a_person_keeps_at_most_twenty() {
    let (api, _dir) = start_local(&[]).await;
    let store = api.app.store().expect("store");
    let minho = dev_login(&api, "Minho").await;
    let sora = dev_login(&api, "Sora").await;
    let id = |login: &Value| login["user_id"].as_str().expect("id").to_owned();
    let tokens = |user: String| async move {
        let mut devices: Vec<String> = device::list(store, &user)
            .await
            .expect("devices")
            .into_iter()
            .map(|d| d.token)
            .collect();
        devices.sort();
        devices
    };
    // given Minho's shared tablet, registered twice (a refresh)
    register(&api, &minho, "shared-tablet").await;
    register(&api, &minho, "shared-tablet").await;
    assert_eq!(tokens(id(&minho)).await, ["shared-tablet"]);
    // when Sora signs in on it, then it is hers alone
    register(&api, &sora, "shared-tablet").await;
    assert!(tokens(id(&minho)).await.is_empty());
    assert_eq!(tokens(id(&sora)).await, ["shared-tablet"]);
    // when Sora registers 20 more, then the least recent (the tablet) is dropped
    for n in 0..20 {
        register(&api, &sora, &format!("phone-{n:02}")).await;
    }
    let kept = tokens(id(&sora)).await;
    assert_eq!(kept.len(), device::MAX_DEVICES);
    assert!(!kept.contains(&"shared-tablet".to_owned()), "{kept:?}");
    // when she removes one, twice, then it is gone and both answers are 204
    for _ in 0..2 {
        let (status, _) = call(
            http()
                .delete(url(&api, "/v1/notifications/token"))
                .bearer_auth(bearer(&sora))
                .json(&json!({"token": "phone-00"})),
        )
        .await;
        assert_eq!(status, 204);
    }
    assert_eq!(tokens(id(&sora)).await.len(), device::MAX_DEVICES - 1);
    // and a registration without a platform is refused naming it
    let (status, body) = call(
        http()
            .post(url(&api, "/v1/notifications/token"))
            .bearer_auth(bearer(&sora))
            .json(&json!({"token": "abc"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "platform");
    api.stop().await;
}

#[tokio::test]
async fn settings_turn_types_off_and_set_quiet_hours() {
    let (api, _dir) = start_local(&[]).await;
    let hyun = dev_login(&api, "Hyun").await;
    let settings_url = url(&api, "/v1/users/me/notification-settings");
    // given the defaults: every type on, no quiet hours
    let (status, defaults) = call(http().get(&settings_url).bearer_auth(bearer(&hyun))).await;
    assert_eq!(status, 200);
    assert_eq!(defaults["types"]["course_liked"], true);
    assert_eq!(defaults["quiet_hours"], Value::Null);
    // when Hyun turns likes off and sets quiet hours
    let (status, saved) = call(http().patch(&settings_url).bearer_auth(bearer(&hyun)).json(
        &json!({
            "types": {"course_liked": false},
            "quiet_hours": {"start": "22:30", "end": "07:00", "time_zone": "Asia/Seoul"}
        }),
    ))
    .await;
    assert_eq!(status, 200, "{saved}");
    // then they read back as saved, the rest as before
    let (_, read) = call(http().get(&settings_url).bearer_auth(bearer(&hyun))).await;
    assert_eq!(read, saved);
    assert_eq!(read["types"]["course_liked"], false);
    assert_eq!(read["types"]["new_follower"], true);
    assert_eq!(read["quiet_hours"]["start"], "22:30");
    // and a zone that does not exist is refused naming it, with nothing changed
    let (status, body) = call(http().patch(&settings_url).bearer_auth(bearer(&hyun)).json(
        &json!({
            "types": {"course_liked": true},
            "quiet_hours": {"start": "22:30", "end": "07:00", "time_zone": "Seoul"}
        }),
    ))
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "quiet_hours.time_zone");
    let (_, unchanged) = call(http().get(&settings_url).bearer_auth(bearer(&hyun))).await;
    assert_eq!(unchanged, saved);
    // and without a token there is nothing to read
    assert_eq!(call(http().get(&settings_url)).await.0, 401);
    api.stop().await;
}

#[tokio::test]
async fn the_daily_sweep_removes_devices_not_registered_for_sixty_days() {
    // given Jun's old phone, last registered 61 days ago, and her new one registered today
    let (api, _dir) = start_local(&[]).await;
    let store = api.app.store().expect("store");
    let jun = dev_login(&api, "Jun").await;
    let jun_id = jun["user_id"].as_str().expect("id");
    let day_ms = 24 * 3600 * 1000;
    let old_phone = device::NewDevice::parse(&json!({"token": "old-phone", "platform": "android"}))
        .expect("device");
    device::register(
        store,
        jun_id,
        &old_phone,
        runcrew_tests::now() * 1000 - 61 * day_ms,
    )
    .await
    .expect("registered");
    register(&api, &jun, "new-phone").await;
    // when a person fires the daily schedule on the local gateway
    let (status, body) =
        call(http().post(url(&api, "/_local/schedules/DevicesSweepFunction"))).await;
    assert_eq!(status, 200, "{body}");
    // then only the new phone is left, and the old token names no owner any more
    let left: Vec<String> = device::list(store, jun_id)
        .await
        .expect("devices")
        .into_iter()
        .map(|d| d.token)
        .collect();
    assert_eq!(left, ["new-phone"]);
    let old_digest = device::DeviceToken::parse("old-phone")
        .expect("token")
        .digest();
    assert_eq!(
        store
            .get(&device::owner_key(&old_digest))
            .await
            .expect("read"),
        None
    );
    api.stop().await;
}
