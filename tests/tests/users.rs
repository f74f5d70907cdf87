//! Profiles, export, erasure and external OIDC mode, through the local gateway; erasure and
//! first-login races also against DynamoDB Local.

use runcrew_tests::{bearer, call, dev_login};
use std::collections::BTreeSet;
use std::sync::Arc;

use runcrew_local::Running;
use runcrew_model::profile::find_or_create;
use runcrew_shared::identity::{Identity, Provider};
use runcrew_shared::store::Store;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_tests::fakes::OidcFake;
use serde_json::{Value, json};

fn url(api: &Running, path: &str) -> String {
    format!("{}{path}", api.url())
}

async fn patch_me(api: &Running, login: &Value, change: Value) -> (u16, Value) {
    call(
        runcrew_tests::http()
            .patch(url(api, "/v1/users/me"))
            .bearer_auth(bearer(login))
            .json(&change),
    )
    .await
}

/// Asks for an upload of a photo as `login`; returns the answer, with its `file_url` and
/// `thumbnail_urls`.
async fn upload(api: &Running, login: &Value) -> Value {
    let (status, body) = call(
        runcrew_tests::http()
            .post(url(api, "/v1/uploads"))
            .bearer_auth(bearer(login))
            .json(&json!({"purpose": "avatar", "content_type": "image/png", "size": 1000})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn get_me(api: &Running, login: &Value) -> (u16, Value) {
    call(
        runcrew_tests::http()
            .get(url(api, "/v1/users/me"))
            .bearer_auth(bearer(login)),
    )
    .await
}

#[tokio::test]
async fn a_profile_change_is_saved_and_each_bad_field_is_named() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let photo = upload(&api, &alice).await;

    let (status, me) = patch_me(
        &api,
        &alice,
        json!({
            "display_name": "Alice Kim",
            "bio": "Han river 10k\nevery Sunday",
            "time_zone": "Asia/Seoul",
            "units": "imperial",
            "avatar_url": photo["file_url"]
        }),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["display_name"], "Alice Kim");
    assert_eq!(me["time_zone"], "Asia/Seoul");
    assert_eq!(me["units"], "imperial");

    // null clears the avatar; absent fields stay
    let (status, me) = patch_me(&api, &alice, json!({"avatar_url": null})).await;
    assert_eq!(status, 200);
    assert_eq!(me["avatar_url"], Value::Null);
    assert_eq!(me["display_name"], "Alice Kim");

    for (change, field) in [
        (json!({"display_name": ""}), "display_name"),
        (json!({"display_name": "x".repeat(41)}), "display_name"),
        (json!({"bio": "b".repeat(281)}), "bio"),
        (
            json!({"avatar_url": "https://evil.example/a.png"}),
            "avatar_url",
        ),
        (json!({"time_zone": "Mars/Olympus_Mons"}), "time_zone"),
        (json!({"units": "furlongs"}), "units"),
        (json!({"email": "me@example.com"}), "email"),
    ] {
        let (status, body) = patch_me(&api, &alice, change.clone()).await;
        assert_eq!(status, 422, "{change}: {body}");
        assert_eq!(body["error"]["field"], field, "{change}: {body}");
    }
    // and nothing of the refused changes was written
    let (_, me) = call(
        runcrew_tests::http()
            .get(url(&api, "/v1/users/me"))
            .bearer_auth(bearer(&alice)),
    )
    .await;
    assert_eq!(me["display_name"], "Alice Kim");
    assert_eq!(me["time_zone"], "Asia/Seoul");
    api.stop().await;
}

#[tokio::test]
async fn the_public_profile_shows_no_email_provider_or_settings() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    patch_me(
        &api,
        &alice,
        json!({"bio": "hi", "time_zone": "Europe/Berlin"}),
    )
    .await;
    let user_id = alice["user_id"].as_str().expect("id");

    // anyone, without a token
    let (status, public) =
        call(runcrew_tests::http().get(url(&api, &format!("/v1/users/{user_id}")))).await;
    assert_eq!(status, 200, "{public}");
    assert_eq!(public["display_name"], "alice");
    assert_eq!(public["bio"], "hi");
    let keys: BTreeSet<&str> = public
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "avatar_url",
            "bio",
            "created_at",
            "display_name",
            "follower_count",
            "following_count",
            "user_id"
        ])
    );

    for missing in ["0123456789abcdef0123456789abcdef", "not-an-id"] {
        let (status, body) =
            call(runcrew_tests::http().get(url(&api, &format!("/v1/users/{missing}")))).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], "user_not_found");
    }
    api.stop().await;
}

#[tokio::test]
async fn the_export_holds_profile_identities_sessions_and_devices_but_no_secrets() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let first = dev_login(&api, "alice").await;
    let second = dev_login(&api, "alice").await;
    let (status, _) = call(
        runcrew_tests::http()
            .post(url(&api, "/v1/notifications/token"))
            .bearer_auth(bearer(&first))
            .json(&json!({"token": "alices-secret-device-token", "platform": "ios", "app_version": "2.0.1"})),
    )
    .await;
    assert_eq!(status, 204);
    // when she asks for her export: a job, whose status gives a download link when done
    let (status, job) = call(
        runcrew_tests::http()
            .post(url(&api, "/v1/users/me/export"))
            .bearer_auth(bearer(&second)),
    )
    .await;
    assert_eq!(
        (status, job["kind"].as_str()),
        (202, Some("export")),
        "{job}"
    );
    let job_url = url(
        &api,
        &format!("/v1/jobs/{}", job["job_id"].as_str().expect("id")),
    );
    let done = runcrew_tests::eventually("the export written", || async {
        let (_, job) = call(
            runcrew_tests::http()
                .get(&job_url)
                .bearer_auth(bearer(&first)),
        )
        .await;
        (job["state"] == "done").then_some(job)
    })
    .await;
    let download = done["download_url"].as_str().expect("a download link");
    let response = runcrew_tests::http()
        .get(download)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    let export: Value = serde_json::from_str(&text).expect("json");
    // then she is told in her inbox, with the job to fetch it from
    let (_, inbox) = call(
        runcrew_tests::http()
            .get(url(&api, "/v1/notifications"))
            .bearer_auth(bearer(&first)),
    )
    .await;
    assert_eq!(inbox["items"][0]["type"], "export_ready", "{inbox}");
    assert_eq!(inbox["items"][0]["job_id"], job["job_id"]);
    // and the file holds her account, and nobody else can read its status
    let bob = dev_login(&api, "bob").await;
    assert_eq!(
        call(
            runcrew_tests::http()
                .get(&job_url)
                .bearer_auth(bearer(&bob))
        )
        .await
        .0,
        404
    );
    assert_eq!(export["profile"]["user_id"], first["user_id"]);
    assert_eq!(export["identities"][0]["provider"], "dev");
    assert_eq!(export["identities"][0]["subject"], "alice");
    let sessions: Vec<&Value> = export["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .collect();
    assert_eq!(sessions.len(), 2);
    for login in [&first, &second] {
        let refresh = login["refresh_token"].as_str().expect("refresh");
        let secret = refresh.rsplit('.').next().expect("secret");
        assert!(!text.contains(secret), "the export leaks a refresh token");
    }
    assert!(!text.contains("refresh_hash"), "{text}");
    // her phone, without its token; her (empty) inbox and her notification settings
    assert_eq!(export["devices"][0]["platform"], "ios");
    assert_eq!(export["devices"][0]["app_version"], "2.0.1");
    assert!(
        !text.contains("alices-secret-device-token"),
        "the export leaks a device token"
    );
    assert_eq!(export["notifications"], json!([]));
    assert_eq!(
        export["notification_settings"]["types"]["new_follower"],
        true
    );
    api.stop().await;
}

/// An app over DynamoDB Local, served by the local gateway, with the dev provider.
async fn api_over_dynamodb() -> (Running, aws_sdk_dynamodb::Client, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = runcrew_tests::dynamodb_store().await;
    let client = store.client().clone();
    let table = store.table_name().to_owned();
    // With the table's stream, as on AWS: the projections (boards, notifications) exist.
    let store = runcrew_tests::streamed(store).await;
    let app = runcrew_tests::app_over(runcrew_tests::config(dir.path(), &[]), Arc::new(store));
    (runcrew_tests::serve_app(app).await, client, table, dir)
}

/// Every item in the table, as text with its key, by a Scan (tests only: no request path
/// scans).
async fn every_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<(String, String, String)> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            let text = |name: &str| {
                item.get(name)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            items.push((text("pk"), text("sk"), format!("{item:?}")));
        }
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => return items,
        }
    }
}

/// A key with the ids taken out: `USER#<userId> / SESSION#<sessionId>`.
fn key_pattern(pk: &str, sk: &str, user_id: &str) -> String {
    let pk = pk.replace(user_id, "<userId>");
    let pk = match pk.split('#').collect::<Vec<_>>().as_slice() {
        ["IDENTITY", _, _] => "IDENTITY#<provider>#<subject>".to_owned(),
        ["DEVICE", _] => "DEVICE#<digest>".to_owned(),
        _ => pk,
    };
    let pk = match pk.split_once('#') {
        Some(("COURSE", _)) => "COURSE#<courseId>".to_owned(),
        Some(("EVENT", _)) => "EVENT#<eventId>".to_owned(),
        // Another user's partition holding something of hers (a follow of her).
        Some(("USER", _)) => "USER#<userId>".to_owned(),
        _ => pk,
    };
    let sk = match sk.split_once('#') {
        Some(("SESSION", _)) => "SESSION#<sessionId>".to_owned(),
        Some(("IDEMPOTENCY", _)) => "IDEMPOTENCY#<digest>".to_owned(),
        Some((kind @ ("RUN" | "RUNPATH" | "FEED"), _)) => format!("{kind}#<runId>"),
        Some(("STATS", _)) => "STATS#<period>".to_owned(),
        Some(("DEVICE", _)) => "DEVICE#<digest>".to_owned(),
        Some(("NOTIF", _)) => "NOTIF#<notificationId>".to_owned(),
        Some((kind @ ("FOLLOWS" | "BEST"), _)) => format!("{kind}#<userId>"),
        Some((kind @ ("LIKE" | "FAVORITE" | "REVIEW" | "MEMBER"), _)) => format!("{kind}#<userId>"),
        Some(("SEAT", _)) => "SEAT#<place>#<seq>".to_owned(),
        Some(("RESULT", _)) => "RESULT#<duration>#<userId>#<runId>".to_owned(),
        _ => sk.to_owned(),
    };
    format!("{pk} / {sk}")
}

#[tokio::test]
async fn erasing_an_account_leaves_no_item_with_its_id() {
    // given alice with two sessions, a changed profile and an export, and bob beside her
    let (api, client, table, _dir) = api_over_dynamodb().await;
    let alice = dev_login(&api, "alice").await;
    dev_login(&api, "alice").await;
    let bob = dev_login(&api, "bob").await;
    let (status, _) = patch_me(&api, &alice, json!({"bio": "erase me"})).await;
    assert_eq!(status, 200);
    let alice_id = alice["user_id"].as_str().expect("id").to_owned();
    let bob_id = bob["user_id"].as_str().expect("id").to_owned();
    // and a course of each, which both like, favorite and review
    let her_course = course_of(&api, &alice, "Alice's loop").await;
    let his_course_id = course_of(&api, &bob, "Bob's hills").await;
    for (login, course) in [
        (&alice, &her_course),
        (&alice, &his_course_id),
        (&bob, &her_course),
        (&bob, &his_course_id),
    ] {
        react_to(&api, login, course).await;
    }
    // and a photo she uploaded, with its thumbnails
    let blobs = api.app.blobs().expect("blobs");
    let photo_key = format!("uploads/{alice_id}/0190aaaa.jpg");
    let mut jpeg = Vec::new();
    image::RgbImage::from_pixel(300, 200, image::Rgb([10, 20, 30]))
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .expect("jpeg");
    blobs
        .put(&photo_key, jpeg, "image/jpeg")
        .await
        .expect("upload");
    let photo_thumbnail = format!("thumbnails/uploads/{alice_id}/0190aaaa_256.jpg");
    runcrew_tests::eventually("her photo's thumbnail", || async {
        blobs.head(&photo_thumbnail).await.ok().flatten()
    })
    .await;
    // and she runs bob's course (a leaderboard place), and they follow each other
    let (status, _) = call(
        runcrew_tests::http()
            .post(url(&api, "/v1/runs"))
            .bearer_auth(bearer(&alice))
            .json(&json!({
                "started_at": "2026-11-01T07:00:00+09:00",
                "duration_s": 600,
                "distance_m": 1300.0,
                "course_id": his_course_id,
                "path": {"type": "LineString", "coordinates": [[126.97, 37.56], [126.98, 37.57]]}
            })),
    )
    .await;
    assert_eq!(status, 201);
    for (who, whom) in [(&alice, &bob_id), (&bob, &alice_id)] {
        let (status, body) = call(
            runcrew_tests::http()
                .put(url(&api, &format!("/v1/users/{whom}/follow")))
                .bearer_auth(bearer(who)),
        )
        .await;
        assert_eq!(status, 204, "{body}");
    }
    // and she has a phone registered and quiet hours set
    let (status, _) = call(
        runcrew_tests::http()
            .post(url(&api, "/v1/notifications/token"))
            .bearer_auth(bearer(&alice))
            .json(&json!({"token": "alice-phone", "platform": "ios"})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        runcrew_tests::http()
            .patch(url(&api, "/v1/users/me/notification-settings"))
            .bearer_auth(bearer(&alice))
            .json(&json!({"quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Asia/Seoul"}})),
    )
    .await;
    assert_eq!(status, 200);
    // and she hosts a group run bob joined, joined one of his, and ran at it
    let start = (time::OffsetDateTime::now_utc() + time::Duration::days(3))
        .replace_nanosecond(0)
        .expect("whole seconds")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let mut events = Vec::new();
    for (host, title) in [(&alice, "Alice's tempo"), (&bob, "Bob's long run")] {
        let (status, event) = call(
            runcrew_tests::http()
                .post(url(&api, "/v1/events"))
                .bearer_auth(bearer(host))
                .json(&json!({
                    "title": title,
                    "starts_at": start,
                    "meeting_point": {"lat": 37.5665, "lng": 126.978},
                    "visibility": "public",
                })),
        )
        .await;
        assert_eq!(status, 201, "{event}");
        events.push(event["event_id"].as_str().expect("id").to_owned());
    }
    let (her_event, his_event) = (events[0].clone(), events[1].clone());
    for (who, event) in [(&bob, &her_event), (&alice, &his_event)] {
        let (status, body) = call(
            runcrew_tests::http()
                .put(url(&api, &format!("/v1/events/{event}/participation")))
                .bearer_auth(bearer(who)),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let result = runcrew_model::event::results::EventResult {
        event_id: his_event.clone(),
        user_id: alice_id.clone(),
        run_id: "0190bbbbbbbbbbbbbbbbbbbbbbbbbbbb".into(),
        started_at: start.clone(),
        duration_s: 1800,
        distance_m: 5000.0,
        source: runcrew_model::run::Source::App,
        visibility: runcrew_model::run::RunVisibility::Public,
    };
    api.app
        .store()
        .expect("store")
        .put(
            result.to_item().expect("item"),
            runcrew_shared::store::Condition::None,
        )
        .await
        .expect("her result");
    // and the notifications of all this are in both inboxes
    assert!(api.settle_streams().await, "the stream settles");
    let thumbnail = runcrew_tests::eventually("her course's thumbnail", || async {
        let (_, course) =
            call(runcrew_tests::http().get(url(&api, &format!("/v1/courses/{her_course}")))).await;
        course["thumbnail_url"].as_str().map(str::to_owned)
    })
    .await;

    let before = every_item(&client, &table).await;
    let hers: BTreeSet<String> = before
        .iter()
        .filter(|(_, _, text)| text.contains(&alice_id))
        .map(|(pk, sk, _)| key_pattern(pk, sk, &alice_id))
        .collect();
    assert!(hers.len() >= 3, "alice owns items before: {hers:?}");
    assert!(hers.contains("DEVICE#<digest> / OWNER"), "{hers:?}");
    // bob's inbox tells of her follow: her id in his partition
    assert!(
        before
            .iter()
            .any(|(pk, sk, text)| *pk == format!("USER#{bob_id}")
                && sk.starts_with("NOTIF#")
                && text.contains(&alice_id)),
        "bob was told of alice's follow"
    );
    // every kind of item she owns is one the erasure knows about
    for pattern in &hers {
        assert!(
            runcrew_erasure::ERASED_KEY_PATTERNS.contains(&pattern.as_str()),
            "{pattern} carries the user id but erasure does not list it"
        );
    }

    // when she erases her account
    runcrew_tests::delete_and_wait(&api, &alice, "/v1/users/me", 60).await;

    // then no item anywhere carries her id, and bob's are untouched
    let after = every_item(&client, &table).await;
    let left: Vec<&(String, String, String)> = after
        .iter()
        .filter(|(_, _, text)| text.contains(&alice_id) || text.contains("erase me"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(after.iter().any(|(_, _, text)| text.contains(&bob_id)));
    // her course went with everything on it, bob's reactions included, and its files
    assert!(
        !after
            .iter()
            .any(|(pk, _, _)| *pk == format!("COURSE#{her_course}"))
    );
    let thumbnail_key = thumbnail.split("/_cdn/").nth(1).expect("a local CDN URL");
    assert_eq!(blobs.head(thumbnail_key).await.expect("head"), None);
    // and her photo and its thumbnails are gone too
    for key in [&photo_key, &photo_thumbnail] {
        assert_eq!(blobs.head(key).await.expect("head"), None, "{key}");
    }
    // and bob's course counts only bob now
    let (_, his_course) =
        call(runcrew_tests::http().get(url(&api, &format!("/v1/courses/{his_course_id}")))).await;
    assert_eq!(his_course["like_count"], 1, "{his_course}");
    assert_eq!(his_course["favorite_count"], 1);
    assert_eq!(his_course["review_count"], 1);
    assert_eq!(his_course["average_rating"], 4.0);
    // and his leaderboard no longer shows her, and his follow counts are back to zero
    let (_, board) = call(runcrew_tests::http().get(url(
        &api,
        &format!("/v1/courses/{his_course_id}/leaderboard"),
    )))
    .await;
    assert_eq!(board["items"], json!([]));
    let (_, him) = call(runcrew_tests::http().get(url(&api, &format!("/v1/users/{bob_id}")))).await;
    assert_eq!(
        (
            him["follower_count"].as_i64(),
            him["following_count"].as_i64()
        ),
        (Some(0), Some(0))
    );
    // and her group run is cancelled without her, bob told of it, and bob's has room again
    assert!(api.settle_streams().await, "the stream settles");
    let (_, hers) =
        call(runcrew_tests::http().get(url(&api, &format!("/v1/events/{her_event}")))).await;
    assert_eq!(
        (hers["status"].as_str(), &hers["host"]),
        (Some("cancelled"), &Value::Null),
        "{hers}"
    );
    let (_, inbox) = call(
        runcrew_tests::http()
            .get(url(&api, "/v1/notifications"))
            .bearer_auth(bearer(&bob)),
    )
    .await;
    assert!(
        inbox["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|n| n["type"] == "event_cancelled" && n["event_id"] == her_event.as_str()),
        "{inbox}"
    );
    let (_, his) =
        call(runcrew_tests::http().get(url(&api, &format!("/v1/events/{his_event}")))).await;
    assert_eq!(his["participant_count"], 0, "{his}");
    // the audit trail kept the erasure, under a pseudonym
    assert!(
        after
            .iter()
            .any(|(pk, _, text)| pk.starts_with("AUDIT#") && text.contains("erase"))
    );

    // and her tokens find nothing: the profile is gone and the session cannot refresh
    let (status, _) = call(
        runcrew_tests::http()
            .get(url(&api, "/v1/users/me"))
            .bearer_auth(bearer(&alice)),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        runcrew_tests::http()
            .post(url(&api, "/v1/auth/refresh"))
            .json(&json!({"refresh_token": alice["refresh_token"]})),
    )
    .await;
    assert_eq!(status, 401);
    api.stop().await;
}

/// Draws a public course for `login`; returns its id.
async fn course_of(api: &Running, login: &Value, name: &str) -> String {
    let (status, course) = call(
        runcrew_tests::http()
            .post(url(api, "/v1/courses"))
            .bearer_auth(bearer(login))
            .json(&json!({
                "name": name,
                "route": {"type": "LineString", "coordinates": [[126.97, 37.56], [126.98, 37.57]]}
            })),
    )
    .await;
    assert_eq!(status, 201, "{course}");
    course["course_id"].as_str().expect("id").to_owned()
}

/// Likes, favorites and reviews (4 stars) `course` as `login`.
async fn react_to(api: &Running, login: &Value, course: &str) {
    for reaction in ["like", "favorite"] {
        let (status, _) = call(
            runcrew_tests::http()
                .put(url(api, &format!("/v1/courses/{course}/{reaction}")))
                .bearer_auth(bearer(login)),
        )
        .await;
        assert_eq!(status, 204);
    }
    let (status, _) = call(
        runcrew_tests::http()
            .post(url(api, &format!("/v1/courses/{course}/reviews")))
            .bearer_auth(bearer(login))
            .json(&json!({"rating": 4, "text": "four stars"})),
    )
    .await;
    assert_eq!(status, 201);
}

async fn race_first_logins(store: Arc<dyn Store>) {
    let identity = Identity {
        provider: Provider::Kakao,
        subject: "race-4242".into(),
        email: None,
        display_name: Some("racer".into()),
    };
    let attempts = (0..8).map(|_| {
        let store = store.clone();
        let identity = identity.clone();
        tokio::spawn(async move {
            find_or_create(
                store.as_ref(),
                &identity,
                runcrew_model::profile::new_user_id,
            )
            .await
            .expect("login")
        })
    });
    let accounts: Vec<_> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let ids: BTreeSet<&str> = accounts.iter().map(|a| a.user_id.as_str()).collect();
    assert_eq!(ids.len(), 1, "one user for one account: {ids:?}");
    assert_eq!(accounts.iter().filter(|a| a.created).count(), 1);
}

#[tokio::test]
async fn parallel_first_logins_of_one_account_create_one_user_in_dynamodb() {
    race_first_logins(Arc::new(runcrew_tests::dynamodb_store().await)).await;
}

#[tokio::test]
async fn parallel_first_logins_of_one_account_create_one_user_embedded() {
    race_first_logins(Arc::new(EmbeddedStore::in_memory(runcrew_tests::codec()))).await;
}

#[tokio::test]
async fn external_oidc_mode_accepts_that_issuers_tokens_and_creates_the_user_on_first_use() {
    // given an external issuer (Cognito, Auth0, ...) and the API configured to trust it
    let issuer = OidcFake::start("/.well-known/jwks.json", "ext-1", 3600).await;
    let (api, _dir) = runcrew_tests::start_local(&[
        ("OIDC_ISSUER_URL", issuer.url()),
        ("OIDC_AUDIENCE", "runcrew-mobile".into()),
    ])
    .await;
    let now = runcrew_tests::now();
    let claims = json!({
        "iss": issuer.url(), "aud": "runcrew-mobile", "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
        "name": "External Runner", "email": "ext@example.com", "email_verified": true,
        "iat": now, "exp": now + 600,
    });
    let token = issuer.sign(&claims);

    // when the user calls /v1/users/me for the first time, the user is created
    let (status, me) = call(
        runcrew_tests::http()
            .get(url(&api, "/v1/users/me"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["display_name"], "External Runner");
    assert_eq!(me["providers"], json!(["oidc"]));
    let (_, again) = call(
        runcrew_tests::http()
            .get(url(&api, "/v1/users/me"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(again["user_id"], me["user_id"]);

    // then our own tokens and other audiences are refused, and login is not ours to do
    let ours = runcrew_tests::token_for(&api.app, "0123456789abcdef0123456789abcdef");
    let (status, _) = call(
        runcrew_tests::http()
            .get(url(&api, "/v1/users/me"))
            .bearer_auth(ours),
    )
    .await;
    assert_eq!(status, 401);
    let other_audience = issuer.sign(&json!({
        "iss": issuer.url(), "aud": "someone-else", "sub": "x", "iat": now, "exp": now + 600,
    }));
    let (status, _) = call(
        runcrew_tests::http()
            .get(url(&api, "/v1/users/me"))
            .bearer_auth(other_audience),
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = call(
        runcrew_tests::http()
            .post(url(&api, "/v1/auth/login"))
            .json(&json!({"provider": "dev", "token": "alice"})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "external_identity_provider");
    api.stop().await;
}

#[tokio::test]
async fn the_dev_provider_is_refused_outside_local_and_production_will_not_enable_it() {
    // production refuses to start with DEV_LOGIN on
    let refused = runcrew_shared::config::Config::from_lookup(|k| {
        match k {
            "ENVIRONMENT" => Some("production"),
            "PUBLIC_BASE_URL" => Some("https://api.runcrew.app"),
            "SIGNING_KEY_SECRET_ID" => Some("runcrew/prod/token-keys"),
            "CURSOR_SECRET_ID" => Some("runcrew/prod/cursor"),
            "DEV_LOGIN" => Some("true"),
            _ => None,
        }
        .map(str::to_owned)
    })
    .expect_err("refused");
    assert!(refused.to_string().contains("DEV_LOGIN"), "{refused}");

    // and on a deployed stage without it, a dev login is a 422 naming the provider
    let dir = tempfile::tempdir().expect("tempdir");
    let config = runcrew_tests::config(
        dir.path(),
        &[
            ("ENVIRONMENT", "stage"),
            ("PUBLIC_BASE_URL", "https://api.runcrew.app"),
            ("SIGNING_KEY_SECRET_ID", "runcrew/prod/token-keys"),
            ("CURSOR_SECRET", "0123456789abcdef0123456789abcdef"),
        ],
    );
    let app = runcrew_tests::app_over(
        config,
        Arc::new(EmbeddedStore::in_memory(runcrew_tests::codec())),
    );
    let response = runcrew_auth::LOGIN
        .call(&app, runcrew_tests::sample("auth-login"))
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).expect("json"),
        other => panic!("{other:?}"),
    };
    assert_eq!(body["error"]["field"], "provider");
}

#[tokio::test]
async fn an_avatar_url_of_another_users_photo_is_refused() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let mallory = dev_login(&api, "mallory").await;
    let alices_photo = upload(&api, &alice).await;

    // Mallory cannot show Alice's photo (nor its thumbnails) as her own
    let mut urls = vec![alices_photo["file_url"].clone()];
    urls.extend(
        alices_photo["thumbnail_urls"]
            .as_object()
            .expect("thumbnails")
            .values()
            .cloned(),
    );
    for theirs in urls {
        let (status, body) = patch_me(&api, &mallory, json!({"avatar_url": theirs})).await;
        assert_eq!(status, 422, "{theirs}: {body}");
        assert_eq!(body["error"]["field"], "avatar_url");
    }
    let (_, me) = get_me(&api, &mallory).await;
    assert_eq!(me["avatar_url"], Value::Null);

    // Alice can, and her thumbnails too
    let (status, me) = patch_me(
        &api,
        &alice,
        json!({"avatar_url": alices_photo["file_url"]}),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["avatar_url"], alices_photo["file_url"]);
    let thumbnail = alices_photo["thumbnail_urls"]["256"].clone();
    let (status, me) = patch_me(&api, &alice, json!({"avatar_url": thumbnail})).await;
    assert_eq!(status, 200, "{me}");
    api.stop().await;
}

#[tokio::test]
async fn an_avatar_url_elsewhere_on_the_cdn_is_refused() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let alice_id = alice["user_id"].as_str().expect("id");
    let mine = upload(&api, &alice).await["file_url"]
        .as_str()
        .expect("file_url")
        .to_owned();
    let cdn = format!("{}/_cdn", api.url());
    let course = course_of(&api, &alice, "Private loop").await;
    for url in [
        format!("{cdn}/routes/{course}.geojson"),
        format!("{cdn}/private/routes/{course}.geojson"),
        format!("{cdn}/thumbnails/courses/{course}.png"),
        format!("{cdn}/uploads/{alice_id}/%2e%2e/%2e%2e/routes/{course}.geojson"),
        format!("{cdn}/uploads/{alice_id}/../../routes/{course}.geojson"),
        format!("{mine}?v=2"),
        format!("{mine}#me"),
        format!("{cdn}/uploads/{alice_id}/avatar.png"),
    ] {
        let (status, body) = patch_me(&api, &alice, json!({"avatar_url": url})).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["error"]["field"], "avatar_url", "{url}");
    }
    api.stop().await;
}

#[tokio::test]
async fn an_erased_users_photo_cannot_be_taken_up_by_anyone() {
    // given bob's photo, as the CDN still serves it from caches after his erasure
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let bob = dev_login(&api, "bob").await;
    let his_photo = upload(&api, &bob).await["file_url"].clone();
    runcrew_tests::delete_and_wait(&api, &bob, "/v1/users/me", 60).await;
    // when alice names it as her avatar, then it is refused: his photo lives on nowhere
    let (status, body) = patch_me(&api, &alice, json!({"avatar_url": his_photo})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "avatar_url");
    api.stop().await;
}

#[tokio::test]
async fn a_json_array_does_not_change_the_profile() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    for body in [
        json!(["Mallory", "bio"]),
        json!(["Mallory"]),
        json!("Mallory"),
        json!(42),
    ] {
        let (status, error) = patch_me(&api, &alice, body.clone()).await;
        assert_eq!(status, 422, "{body}: {error}");
        assert_eq!(error["error"]["field"], "body", "{body}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("expected an object")),
            "{error}"
        );
    }
    let (_, me) = get_me(&api, &alice).await;
    assert_eq!(me["display_name"], "alice");
    assert_eq!(me["bio"], "");
    api.stop().await;
}

#[tokio::test]
async fn errors_speak_json_and_do_not_echo_a_long_value_back() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    for (change, field, message) in [
        (
            json!({"display_name": 5}),
            "display_name",
            "expected a string, got 5",
        ),
        (
            json!({"bio": ["a"]}),
            "bio",
            "expected a string, got a list",
        ),
        (
            json!({"units": true}),
            "units",
            "expected one of `metric`, `imperial`",
        ),
        (
            json!({"units": "furlongs"}),
            "units",
            r#"expected one of `metric`, `imperial`, got "furlongs""#,
        ),
    ] {
        let (status, body) = patch_me(&api, &alice, change.clone()).await;
        assert_eq!(status, 422, "{change}: {body}");
        assert_eq!(body["error"]["field"], field, "{change}");
        assert_eq!(body["error"]["message"], message, "{change}");
    }
    let long = "u".repeat(60 * 1024);
    let (status, body) = patch_me(&api, &alice, json!({"units": long})).await;
    assert_eq!(status, 422);
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.len() < 300, "{} bytes echoed back", message.len());
    assert!(message.contains("uuuu…"), "{message}");
    api.stop().await;
}

#[tokio::test]
async fn invisible_or_disguised_names_and_bios_are_refused() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    for (change, field) in [
        (
            json!({"display_name": "\u{200B}\u{200B}\u{200B}"}),
            "display_name",
        ),
        (
            json!({"display_name": "\u{200C}\u{200D}\u{2060}\u{FEFF}"}),
            "display_name",
        ),
        (json!({"display_name": "\u{3164}"}), "display_name"),
        (
            json!({"display_name": "admin\u{202E}txt.exe"}),
            "display_name",
        ),
        (
            json!({"display_name": "eve\u{2066}bob\u{2069}"}),
            "display_name",
        ),
        (
            json!({"display_name": "eve\u{E0041}\u{E0042}"}),
            "display_name",
        ),
        (json!({"bio": "\u{200B}\u{FEFF}"}), "bio"),
        (json!({"bio": "see \u{202E}kniL"}), "bio"),
    ] {
        let (status, body) = patch_me(&api, &alice, change.clone()).await;
        assert_eq!(status, 422, "{change}: {body}");
        assert_eq!(body["error"]["field"], field, "{change}");
    }
    // while names in any script, with emoji sequences, still go
    let (status, me) = patch_me(
        &api,
        &alice,
        json!({"display_name": "김민준 👩‍👩‍👧", "bio": "می‌خواهم run\n"}),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["display_name"], "김민준 👩‍👩‍👧");
    api.stop().await;
}

#[tokio::test]
async fn after_erasure_the_same_token_can_neither_change_the_profile_nor_log_out() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    let alice_id = alice["user_id"].as_str().expect("id");
    let bob = dev_login(&api, "bob").await;
    let bob_id = bob["user_id"].as_str().expect("id");
    runcrew_tests::delete_and_wait(&api, &alice, "/v1/users/me", 60).await;

    // her access token still verifies for a few minutes, but the account is closed
    let (status, body) = patch_me(&api, &alice, json!({"display_name": "Back again"})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(body["error"]["message"], "this account is closed");
    for all in [false, true] {
        let (status, body) = call(
            runcrew_tests::http()
                .post(url(&api, "/v1/auth/logout"))
                .bearer_auth(bearer(&alice))
                .json(&json!({"all": all})),
        )
        .await;
        assert_eq!(status, 401, "all={all}: {body}");
        assert_eq!(body["error"]["message"], "this account is closed");
    }
    // nor follow anyone: bob gains no follower from a closed account
    let (status, body) = call(
        runcrew_tests::http()
            .put(url(&api, &format!("/v1/users/{bob_id}/follow")))
            .bearer_auth(bearer(&alice)),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["message"], "this account is closed");
    let (_, bob_profile) =
        call(runcrew_tests::http().get(url(&api, &format!("/v1/users/{bob_id}")))).await;
    assert_eq!(bob_profile["follower_count"], 0, "{bob_profile}");
    // and nothing came back: no profile under her id
    let (status, _) =
        call(runcrew_tests::http().get(url(&api, &format!("/v1/users/{alice_id}")))).await;
    assert_eq!(status, 404);
    api.stop().await;
}

#[tokio::test]
async fn logout_of_an_open_account_still_answers_204() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    for all in [false, true] {
        let (status, body) = call(
            runcrew_tests::http()
                .post(url(&api, "/v1/auth/logout"))
                .bearer_auth(bearer(&alice))
                .json(&json!({"all": all})),
        )
        .await;
        assert_eq!(status, 204, "all={all}: {body}");
    }
    api.stop().await;
}
