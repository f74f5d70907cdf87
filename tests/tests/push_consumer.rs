//! The `push` consumer against a fake Google (token endpoint and FCM on 127.0.0.1, with
//! FCM's real error bodies), over an in-memory table: what each answer does to the device
//! and the message, once-per-device under redelivery, settings, and a batch.

use std::sync::Arc;
use std::time::Duration;

use runcrew_fcm_fake::{Fake, bad_request, fcm_error};
use runcrew_model::notification::Kind;
use runcrew_model::notification::device::{self, DeviceToken, NewDevice, Platform};
use runcrew_model::notification::inbox::{Notification, NotificationId};
use runcrew_model::notification::job;
use runcrew_model::notification::settings::{self, SettingsPatch};
use runcrew_model::profile::profile_key;
use runcrew_notifications::push::{PUSH, deliver};
use runcrew_shared::App;
use runcrew_shared::push::PushSender;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::{Condition, Item, Store};
use runcrew_shared::tasks::queue::{Handled, QueueMessage};
use serde_json::json;
use wiremock::ResponseTemplate;

const USER: &str = "0196f1a2b3c4d5e6f708192a3b4c5d6e";

/// A table holding the user's profile and `devices`.
async fn table_with_devices(devices: &[&str]) -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory(runcrew_tests::codec()));
    // Only the account-open check reads it here: a profile item is enough.
    let body = json!({"user_id": USER, "display_name": "Bora"});
    store
        .put(
            Item::new(
                profile_key(USER),
                body.as_object().cloned().expect("object"),
            ),
            Condition::None,
        )
        .await
        .expect("profile");
    for (n, token) in devices.iter().enumerate() {
        let device = NewDevice {
            token: DeviceToken::parse(token).expect("token"),
            platform: Platform::Android,
            app_version: None,
        };
        device::register(store.as_ref(), USER, &device, 1_000 + n as i64)
            .await
            .expect("registered");
    }
    store
}

fn notification(minutes_ago: i64, cause: &str) -> Notification {
    let at = jiff::Timestamp::now().as_millisecond() - minutes_ago * 60_000;
    Notification {
        id: NotificationId::new(at, cause),
        user_id: USER.into(),
        kind: Kind::NewFollower,
        title: "New follower".into(),
        body: "Minji started following you".into(),
        actor_id: Some("0196f1a2b3c4d5e6f708192a3b4c5d6f".into()),
        course_id: None,
        event_id: None,
        job_id: None,
        read: false,
    }
}

async fn google() -> Fake {
    let fake = Fake::start().await;
    fake.grants_tokens(3600, Duration::ZERO).await;
    fake.accepts_messages_with("ya29.token-1").await;
    fake
}

async fn tokens_left(store: &dyn Store) -> Vec<String> {
    let mut tokens: Vec<String> = device::list(store, USER)
        .await
        .expect("devices")
        .into_iter()
        .map(|d| d.token)
        .collect();
    tokens.sort();
    tokens
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

#[tokio::test]
async fn each_fcm_answer_does_to_the_device_and_the_message_what_it_says() {
    // given six devices, and an FCM that answers each differently
    let fake = google().await;
    let store = table_with_devices(&[
        "ok-device",
        "unregistered",
        "bad-token",
        "payload-error",
        "apns-broken",
        "busy-device",
    ])
    .await;
    let answers = [
        (
            "unregistered",
            ResponseTemplate::new(404).set_body_json(fcm_error(
                404,
                "NOT_FOUND",
                "Requested entity was not found.",
                Some("UNREGISTERED"),
                vec![],
            )),
        ),
        (
            "bad-token",
            ResponseTemplate::new(400).set_body_json(fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                Some("INVALID_ARGUMENT"),
                vec![bad_request("message.token", "Invalid registration token")],
            )),
        ),
        (
            "payload-error",
            ResponseTemplate::new(400).set_body_json(fcm_error(
                400,
                "INVALID_ARGUMENT",
                "Invalid value at 'message.data[0].value'",
                Some("INVALID_ARGUMENT"),
                vec![bad_request("message.data[0].value", "Invalid value")],
            )),
        ),
        (
            "apns-broken",
            ResponseTemplate::new(401).set_body_json(fcm_error(
                401,
                "UNAUTHENTICATED",
                "Auth error from APNS or Web Push Service",
                Some("THIRD_PARTY_AUTH_ERROR"),
                vec![],
            )),
        ),
        (
            "busy-device",
            ResponseTemplate::new(503)
                .insert_header("retry-after", "40")
                .set_body_json(fcm_error(
                    503,
                    "UNAVAILABLE",
                    "The service is currently unavailable.",
                    Some("UNAVAILABLE"),
                    vec![],
                )),
        ),
    ];
    for (device, answer) in answers {
        // The busy device's FCM recovers after one answer; the others answer the same always.
        let times = if device == "busy-device" { 1 } else { u64::MAX };
        fake.answers_device_times(device, answer, times).await;
    }
    let sender = fake.client();
    let job = notification(1, "new_follower#a#b");
    // when the job is delivered
    let handled = deliver(
        store.as_ref(),
        Some(&sender as &dyn PushSender),
        &job,
        1,
        now(),
    )
    .await
    .expect("handled");
    // then the message comes back after FCM's Retry-After, for the busy device only
    assert_eq!(handled, Handled::Later(Duration::from_secs(40)));
    // and the dead and invalid tokens are gone; the payload error and APNs problem kept theirs
    assert_eq!(
        tokens_left(store.as_ref()).await,
        ["apns-broken", "busy-device", "ok-device", "payload-error"]
    );
    // when FCM is back and the message comes again
    fake.answers_device_with(
        "busy-device",
        ResponseTemplate::new(200)
            .set_body_json(json!({"name": "projects/runcrew-test/messages/1"})),
    )
    .await;
    let again = deliver(
        store.as_ref(),
        Some(&sender as &dyn PushSender),
        &job,
        2,
        now(),
    )
    .await
    .expect("handled");
    // then only the busy device is sent to again: every other device got exactly one request
    assert_eq!(again, Handled::Done);
    let mut sent = fake.devices_sent_to().await;
    sent.sort();
    assert_eq!(
        sent,
        [
            "apns-broken",
            "bad-token",
            "busy-device",
            "busy-device",
            "ok-device",
            "payload-error",
            "unregistered"
        ]
    );
    // and one access token served both deliveries
    assert_eq!(fake.tokens_granted(), 1);
}

#[tokio::test]
async fn a_redelivered_job_sends_nothing_twice() {
    let fake = google().await;
    let store = table_with_devices(&["phone", "watch"]).await;
    let sender = fake.client();
    let job = notification(1, "course_liked#c#u");
    for receive in 1..=3 {
        let handled = deliver(
            store.as_ref(),
            Some(&sender as &dyn PushSender),
            &job,
            receive,
            now(),
        )
        .await
        .expect("handled");
        assert_eq!(handled, Handled::Done);
    }
    let mut sent = fake.devices_sent_to().await;
    sent.sort();
    assert_eq!(sent, ["phone", "watch"]);
}

#[tokio::test]
async fn quiet_hours_hold_the_push_opt_outs_skip_it_and_stale_ones_are_dropped() {
    let fake = google().await;
    let store = table_with_devices(&["phone"]).await;
    let sender = fake.client();
    let push = |job: Notification| {
        let (store, sender) = (store.clone(), sender.clone());
        async move {
            deliver(
                store.as_ref(),
                Some(&sender as &dyn PushSender),
                &job,
                1,
                now(),
            )
            .await
            .expect("handled")
        }
    };
    // given quiet hours from an hour ago to an hour from now, in UTC
    // (to the minute: whole hours would leave seconds of quiet near an hour's end)
    let hour = |offset: i64| {
        let t = now().to_zoned(jiff::tz::TimeZone::UTC);
        let minute =
            (i64::from(t.hour()) * 60 + i64::from(t.minute()) + offset * 60).rem_euclid(24 * 60);
        format!("{:02}:{:02}", minute / 60, minute % 60)
    };
    settings::update(
        store.as_ref(),
        USER,
        SettingsPatch::parse(
            &json!({"quiet_hours": {"start": hour(-1), "end": hour(1), "time_zone": "UTC"}}),
        )
        .expect("patch"),
    )
    .await
    .expect("saved");
    // when a job arrives, then it is held until they end (within the next hour), unsent
    match push(notification(1, "a")).await {
        Handled::Later(hold) => assert!(
            hold > Duration::ZERO && hold <= Duration::from_secs(3600),
            "{hold:?}"
        ),
        other => panic!("not held: {other:?}"),
    }
    // and a job that would be a day old when they end is not held, and not sent
    assert_eq!(push(notification(24 * 60 - 10, "b")).await, Handled::Done);
    // given no quiet hours but new followers turned off
    settings::update(
        store.as_ref(),
        USER,
        SettingsPatch::parse(&json!({"quiet_hours": null, "types": {"new_follower": false}}))
            .expect("patch"),
    )
    .await
    .expect("saved");
    // then a new-follower job sends nothing
    assert_eq!(push(notification(1, "c")).await, Handled::Done);
    // given new followers on again, a job 25 hours old is stale: the inbox has it, no push
    settings::update(
        store.as_ref(),
        USER,
        SettingsPatch::parse(&json!({"types": {"new_follower": true}})).expect("patch"),
    )
    .await
    .expect("saved");
    assert_eq!(push(notification(25 * 60, "d")).await, Handled::Done);
    assert!(fake.devices_sent_to().await.is_empty());
    // and a fresh one goes out
    assert_eq!(push(notification(1, "e")).await, Handled::Done);
    assert_eq!(fake.devices_sent_to().await, ["phone"]);
}

#[tokio::test]
async fn a_batch_of_ten_shares_one_token_and_reports_only_its_bad_message() {
    // given a batch of ten jobs for a user with one device, the seventh unreadable
    let fake = google().await;
    let store = table_with_devices(&["phone"]).await;
    let config = runcrew_tests::config(&std::env::temp_dir(), &[]);
    let app = App::from_parts(config, Some(store), None, None).with_push(Arc::new(fake.client()));
    let messages: Vec<QueueMessage> = (0..10)
        .map(|n| QueueMessage {
            id: format!("m{n}"),
            body: if n == 6 {
                json!({"type": "new_follower"})
            } else {
                job::message(&notification(1, &format!("job-{n}"))).expect("json")
            },
            receive_count: 1,
            sent_ms: now().as_millisecond(),
            receipt: None,
        })
        .collect();
    // when the batch is handled
    let outcome = PUSH.call(&app, &messages).await;
    // then exactly the bad one is reported, nine pushes went out, on one access token
    assert_eq!(outcome.failed_ids, ["m6"]);
    assert_eq!(outcome.counts.processed, 9);
    assert_eq!(fake.devices_sent_to().await.len(), 9);
    assert_eq!(fake.tokens_granted(), 1);
}

#[tokio::test]
async fn without_a_service_account_a_job_is_done_and_nothing_is_sent() {
    let store = table_with_devices(&["phone"]).await;
    let handled = deliver(store.as_ref(), None, &notification(1, "x"), 1, now())
        .await
        .expect("handled");
    assert_eq!(handled, Handled::Done);
}
