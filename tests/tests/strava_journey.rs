//! Strava end to end: through the local gateway against the Strava fake (connect, callback,
//! the first import, sync-all, webhook events, disconnect, what another person sees), and
//! the importer called directly for what needs a clock or a race (a 429 mid-import, two
//! importers refreshing one athlete's token).

use std::sync::Arc;
use std::time::Duration;

use runcrew_local::Running;
use runcrew_model::strava::budget;
use runcrew_model::strava::connection::{
    self, Connection, MAX_SYNC_ACTIVITIES, SyncKind, SyncProgress,
};
use runcrew_shared::App;
use runcrew_shared::cipher::TokenCipher;
use runcrew_shared::cipher::local::LocalCipher;
use runcrew_shared::queue::memory::MemoryQueue;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::{Condition, Item, Store};
use runcrew_shared::tasks::queue::Handled;
use runcrew_strava::connect::token_context;
use runcrew_strava::importer;
use runcrew_strava::jobs::Job;
use runcrew_strava_fake::{Athlete, CLIENT_ID, CLIENT_SECRET, StravaFake, activity};
use runcrew_tests::{bearer, call, dev_login, eventually, http, start_local};
use serde_json::{Value, json};

const SUBSCRIPTION: i64 = 120_475;

/// The local API talking to `fake` as it would to Strava.
async fn api_with_strava(fake: &StravaFake) -> (Running, tempfile::TempDir) {
    start_local(&[
        ("STRAVA_CLIENT_ID", CLIENT_ID.to_owned()),
        ("STRAVA_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("STRAVA_API_URL", fake.url_api()),
        ("STRAVA_OAUTH_URL", fake.url_oauth()),
        ("STRAVA_WEBHOOK_VERIFY_TOKEN", "verify-me".to_owned()),
        ("STRAVA_SUBSCRIPTION_ID", SUBSCRIPTION.to_string()),
    ])
    .await
}

fn url(api: &Running, path: &str) -> String {
    format!("{}{path}", api.url())
}

/// The state of the authorize URL `GET /v1/strava/connect` hands `login`.
async fn connect_state(api: &Running, login: &Value) -> String {
    let (status, body) = call(
        http()
            .get(url(api, "/v1/strava/connect"))
            .bearer_auth(bearer(login)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let authorize = url::Url::parse(body["authorize_url"].as_str().expect("url")).expect("a URL");
    assert_eq!(authorize.path(), "/oauth/authorize");
    let param = |name: &str| {
        authorize
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param("scope").as_deref(), Some("activity:read_all"));
    param("state").expect("a state")
}

async fn callback(api: &Running, query: &str) -> (u16, Value) {
    call(http().get(url(api, &format!("/v1/strava/callback?{query}")))).await
}

async fn status(api: &Running, login: &Value) -> Value {
    let (code, body) = call(
        http()
            .get(url(api, "/v1/strava/status"))
            .bearer_auth(bearer(login)),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    body
}

/// The ids of `login`'s runs that came from Strava.
async fn strava_runs(api: &Running, login: &Value) -> Vec<String> {
    let (code, body) = call(
        http()
            .get(url(api, "/v1/runs?limit=50"))
            .bearer_auth(bearer(login)),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|r| r["source"] == "strava")
        .map(|r| r["run_id"].as_str().expect("id").to_owned())
        .collect()
}

/// Waits until the importer has nothing running for `login` and `count` Strava runs exist.
async fn settles_at(api: &Running, login: &Value, count: usize) -> Vec<String> {
    eventually(&format!("{count} Strava runs"), || async {
        let runs = strava_runs(api, login).await;
        let idle = status(api, login).await["import_in_progress"] != true;
        (idle && runs.len() == count).then_some(runs)
    })
    .await
}

fn seed(fake: &StravaFake, athlete: &Athlete) {
    for (id, sport, start) in [
        (9001, "Run", "2026-11-20T22:10:00Z"),
        (9002, "TrailRun", "2026-11-22T23:00:00Z"),
        (9003, "VirtualRun", "2026-11-24T11:00:00Z"),
        (9004, "Ride", "2026-11-25T09:00:00Z"),
        (9005, "Walk", "2026-11-26T09:00:00Z"),
    ] {
        fake.add_activity(athlete, activity(id, sport, start));
    }
}

#[tokio::test]
async fn connect_import_sync_webhooks_and_disconnect_keep_exactly_the_runs_of_strava() {
    // given an athlete on Strava with three runs, a ride and a walk
    let fake = StravaFake::start().await;
    let athlete = fake.add_athlete(4_100_001, "code-mina");
    seed(&fake, &athlete);
    let (api, _dir) = api_with_strava(&fake).await;
    let mina = dev_login(&api, "Mina").await;
    let mina_id = mina["user_id"].as_str().expect("id").to_owned();
    // when Mina connects and Strava sends her back with the code
    let state = connect_state(&api, &mina).await;
    let (code, connected) = callback(
        &api,
        &format!("code=code-mina&state={state}&scope=read,activity:read_all"),
    )
    .await;
    // then she is connected, and the first import brings exactly the three runs
    assert_eq!(code, 200, "{connected}");
    assert_eq!(connected["athlete_id"], 4_100_001);
    let runs = settles_at(&api, &mina, 3).await;
    assert_eq!(status(&api, &mina).await["runs_imported"], 3);
    // and the state cannot be used twice
    let (code, replay) = callback(
        &api,
        &format!("code=code-mina&state={state}&scope=read,activity:read_all"),
    )
    .await;
    assert_eq!(
        (code, replay["error"]["code"].as_str()),
        (400, Some("invalid_state"))
    );
    // when she syncs again, then nothing is imported twice
    let (code, body) = call(
        http()
            .post(url(&api, "/v1/strava/sync-all"))
            .bearer_auth(bearer(&mina)),
    )
    .await;
    assert_eq!(code, 202, "{body}");
    settles_at(&api, &mina, 3).await;
    assert_eq!(status(&api, &mina).await["runs_imported"], 3);
    // and the inbox said so once
    let (_, inbox) = call(
        http()
            .get(url(&api, "/v1/notifications"))
            .bearer_auth(bearer(&mina)),
    )
    .await;
    let told: Vec<&Value> = inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|n| n["type"] == "strava_imported")
        .collect();
    assert_eq!(told.len(), 1, "{inbox}");
    assert_eq!(told[0]["body"], "3 runs imported from Strava");
    // and Joon, who follows her, sees none of them anywhere
    let joon = dev_login(&api, "Joon").await;
    let (code, _) = call(
        http()
            .put(url(&api, &format!("/v1/users/{mina_id}/follow")))
            .bearer_auth(bearer(&joon)),
    )
    .await;
    assert_eq!(code, 204);
    assert!(api.settle_streams().await);
    let (_, feed) = call(http().get(url(&api, "/v1/feed")).bearer_auth(bearer(&joon))).await;
    assert_eq!(feed["items"], json!([]), "{feed}");
    // every read route that shows another person's things: no Strava run, not even a count
    for path in [
        format!("/v1/users/{mina_id}"),
        format!("/v1/users/{mina_id}/followers"),
        format!("/v1/users/{mina_id}/following"),
        "/v1/feed".to_owned(),
        "/v1/courses".to_owned(),
    ] {
        let (code, body) = call(http().get(url(&api, &path)).bearer_auth(bearer(&joon))).await;
        assert_eq!(code, 200, "{path}: {body}");
        let text = body.to_string();
        assert!(!text.contains("strava"), "{path} shows Strava data: {text}");
        for run in &runs {
            assert!(!text.contains(run.as_str()), "{path} shows a Strava run");
        }
    }
    for run in &runs {
        let (code, _) = call(
            http()
                .get(url(&api, &format!("/v1/runs/{run}")))
                .bearer_auth(bearer(&joon)),
        )
        .await;
        assert_eq!(code, 404, "another person's view of a Strava run");
        let (code, _) = call(http().get(url(&api, &format!("/v1/runs/{run}")))).await;
        assert!(
            code == 404 || code == 401,
            "anonymous view of a Strava run: {code}"
        );
    }
    // when Strava says a new run was made, then it arrives; when one is deleted, it goes
    fake.add_activity(&athlete, activity(9006, "Run", "2026-11-28T22:00:00Z"));
    let webhook = |aspect: &str, id: i64| {
        http().post(url(&api, "/v1/strava/webhook")).json(&json!({
            "object_type": "activity", "object_id": id, "aspect_type": aspect, "updates": {},
            "owner_id": 4_100_001, "subscription_id": SUBSCRIPTION, "event_time": 1_796_000_000
        }))
    };
    assert_eq!(call(webhook("create", 9006)).await.0, 200);
    settles_at(&api, &mina, 4).await;
    fake.remove_activity(9001);
    assert_eq!(call(webhook("delete", 9001)).await.0, 200);
    settles_at(&api, &mina, 3).await;
    // and a forged delete of a run still on Strava changes nothing (events are not signed:
    // the importer asks Strava first)
    assert_eq!(call(webhook("delete", 9002)).await.0, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    settles_at(&api, &mina, 3).await;
    // and an event of another subscription changes nothing
    let (code, _) = call(http().post(url(&api, "/v1/strava/webhook")).json(&json!({
        "object_type": "activity", "object_id": 9002, "aspect_type": "delete", "updates": {},
        "owner_id": 4_100_001, "subscription_id": 1, "event_time": 1_796_000_000
    })))
    .await;
    assert_eq!(code, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(strava_runs(&api, &mina).await.len(), 3);
    // when she disconnects, then Strava forgets us and every Strava run goes
    let (code, _) = call(
        http()
            .delete(url(&api, "/v1/strava/connection"))
            .bearer_auth(bearer(&mina)),
    )
    .await;
    assert_eq!(code, 204);
    settles_at(&api, &mina, 0).await;
    assert_eq!(status(&api, &mina).await["connected"], false);
    assert!(!fake.is_connected(&athlete));
    api.stop().await;
}

#[tokio::test]
async fn a_forged_refused_or_narrowed_connect_stores_nothing() {
    let fake = StravaFake::start().await;
    fake.add_athlete(4_100_002, "code-sol");
    let (api, _dir) = api_with_strava(&fake).await;
    let sol = dev_login(&api, "Sol").await;
    // a state we never issued
    let (code, body) = callback(&api, "code=code-sol&state=0123456789abcdef0123456789abcdef.9999999999.AAAA&scope=read,activity:read_all").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("invalid_state"))
    );
    // the person said no on Strava
    let state = connect_state(&api, &sol).await;
    let (code, body) = callback(&api, &format!("error=access_denied&state={state}")).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("access_denied"))
    );
    // the person unticked reading activities
    let state = connect_state(&api, &sol).await;
    let (code, body) = callback(&api, &format!("code=code-sol&state={state}&scope=read")).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("scope_missing"))
    );
    // and nothing was stored: not connected, the code never traded
    assert_eq!(status(&api, &sol).await["connected"], false);
    assert_eq!(fake.grants(&Athlete { id: 4_100_002 }).codes, 0);
    api.stop().await;
}

#[tokio::test]
async fn without_a_client_id_the_strava_routes_say_so() {
    let (api, _dir) = start_local(&[]).await;
    let nari = dev_login(&api, "Nari").await;
    let (code, body) = call(
        http()
            .get(url(&api, "/v1/strava/connect"))
            .bearer_auth(bearer(&nari)),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (503, Some("strava_not_configured"))
    );
    api.stop().await;
}

#[tokio::test]
async fn the_webhook_subscription_is_validated_with_our_token_only() {
    let fake = StravaFake::start().await;
    let (api, _dir) = api_with_strava(&fake).await;
    let verify = |token: &str| {
        http().get(url(&api, &format!("/v1/strava/webhook?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=15f7d1a91c1f40f8a748fd134752feb3")))
    };
    let (code, body) = call(verify("verify-me")).await;
    assert_eq!(code, 200);
    assert_eq!(
        body,
        json!({"hub.challenge": "15f7d1a91c1f40f8a748fd134752feb3"})
    );
    assert_eq!(call(verify("guess")).await.0, 403);
    api.stop().await;
}

/// An app over an in-memory table with `user` connected to `athlete` (tokens from the fake,
/// sealed), a sync of `kind` pending; and the fake's client as its Strava port.
async fn connected(
    fake: &StravaFake,
    athlete: &Athlete,
    user: &str,
    expires_at: Option<i64>,
) -> App {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory(runcrew_tests::codec()));
    let profile = json!({"user_id": user, "display_name": "Ara"});
    store
        .put(
            Item::new(
                runcrew_model::profile::profile_key(user),
                profile.as_object().cloned().expect("object"),
            ),
            Condition::None,
        )
        .await
        .expect("profile");
    let cipher = Arc::new(LocalCipher::new([7; 32]));
    let tokens = fake.connect(athlete);
    let context = token_context(user);
    let connection = Connection {
        user_id: user.into(),
        athlete_id: athlete.id,
        scopes: vec!["read".into(), "activity:read_all".into()],
        access_token: cipher
            .seal(&tokens.access_token, &context)
            .await
            .expect("sealed"),
        refresh_token: cipher
            .seal(&tokens.refresh_token, &context)
            .await
            .expect("sealed"),
        token_expires_at: expires_at.unwrap_or(tokens.expires_at),
        connected_at: "2026-12-01T00:00:00Z".into(),
        last_sync_at: None,
        newest_start_s: 0,
        runs_imported: 0,
        sync: Some(SyncProgress {
            kind: SyncKind::Initial,
            page: 1,
            remaining: MAX_SYNC_ACTIVITIES,
            imported: 0,
            started_ms: time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
            after_s: 0,
        }),
        problem: None,
        refresh_lease_until_ms: 0,
    };
    connection::connect(store.as_ref(), &connection)
        .await
        .expect("stored")
        .expect("linked");
    let config = runcrew_tests::config(&std::env::temp_dir(), &[]);
    App::from_parts(config, Some(store), None, None)
        .with_queue(Arc::new(MemoryQueue::default()))
        .with_cipher(cipher)
        .with_extension(Arc::new(fake.client()))
}

async fn imported(app: &App, user: &str) -> usize {
    let store = app.store().expect("store");
    runcrew_shared::store::read_all(store, runcrew_model::run::runs_of(user))
        .await
        .expect("runs")
        .len()
}

const ARA: &str = "0196f1a2b3c4d5e6f708192a3b4c5d01";

#[tokio::test]
async fn a_429_mid_import_resumes_later_with_nothing_lost_or_repeated() {
    // given 150 runs on Strava, and a Strava that answers 429 to the first page
    let fake = StravaFake::start().await;
    let athlete = fake.add_athlete(4_100_003, "code-ara");
    for n in 0..150 {
        fake.add_activity(
            &athlete,
            activity(
                20_000 + n,
                "Run",
                &format!("2026-10-{:02}T{:02}:00:00Z", 1 + n / 24, n % 24),
            ),
        );
    }
    let app = connected(&fake, &athlete, ARA, None).await;
    let client = app
        .extension::<runcrew_strava::client::StravaClient>()
        .expect("client")
        .clone();
    fake.answer_429_next(1);
    // when the import runs, then it is put off until the window reopens, having written nothing
    let sync = Job::Sync {
        user_id: ARA.into(),
    };
    match importer::run(&app, &client, &sync).await.expect("handled") {
        Handled::Later(wait) => assert!(wait <= Duration::from_secs(15 * 60), "{wait:?}"),
        Handled::Done => panic!("a 429 must put the import off"),
    }
    assert_eq!(imported(&app, ARA).await, 0);
    // and a second importer arriving meanwhile waits too, without calling Strava
    let calls = fake.requests_to("/api/v3/athlete/activities").await.len();
    assert!(matches!(
        importer::run(&app, &client, &sync).await.expect("handled"),
        Handled::Later(_)
    ));
    assert_eq!(
        fake.requests_to("/api/v3/athlete/activities").await.len(),
        calls
    );
    // when the window reopens and the message comes back
    budget::record(app.store().expect("store"), 100, 0, None)
        .await
        .expect("reopened");
    assert_eq!(
        importer::run(&app, &client, &sync).await.expect("handled"),
        Handled::Done
    );
    // then every run is there once, and running it again changes nothing
    assert_eq!(imported(&app, ARA).await, 150);
    assert_eq!(
        importer::run(&app, &client, &sync).await.expect("handled"),
        Handled::Done
    );
    assert_eq!(imported(&app, ARA).await, 150);
}

#[tokio::test]
async fn two_importers_of_one_athlete_refresh_the_token_once() {
    // given a connection whose access token expires now
    let fake = StravaFake::start().await;
    let athlete = fake.add_athlete(4_100_004, "code-bom");
    fake.add_activity(&athlete, activity(30_001, "Run", "2026-11-20T22:10:00Z"));
    let now_s = time::OffsetDateTime::now_utc().unix_timestamp();
    let app = connected(&fake, &athlete, ARA, Some(now_s)).await;
    let client = app
        .extension::<runcrew_strava::client::StravaClient>()
        .expect("client")
        .clone();
    let sync = Job::Sync {
        user_id: ARA.into(),
    };
    // when two importers start at once, each retrying when told to come back
    let importer_run = || async {
        loop {
            match importer::run(&app, &client, &sync).await.expect("handled") {
                Handled::Done => return,
                Handled::Later(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    };
    futures::join!(importer_run(), importer_run());
    // then Strava saw one refresh, and the run is there once
    assert_eq!(fake.grants(&athlete).refreshes, 1);
    assert_eq!(imported(&app, ARA).await, 1);
}

#[tokio::test]
async fn a_revocation_event_disconnects_only_when_strava_confirms_it() {
    // given Hyejin connected with her runs imported
    let fake = StravaFake::start().await;
    let athlete = fake.add_athlete(4_100_005, "code-hyejin");
    seed(&fake, &athlete);
    let (api, _dir) = api_with_strava(&fake).await;
    let hyejin = dev_login(&api, "Hyejin").await;
    let state = connect_state(&api, &hyejin).await;
    let (code, _) = callback(
        &api,
        &format!("code=code-hyejin&state={state}&scope=read,activity:read_all"),
    )
    .await;
    assert_eq!(code, 200);
    settles_at(&api, &hyejin, 3).await;
    let revoked = || {
        http().post(url(&api, "/v1/strava/webhook")).json(&json!({
            "object_type": "athlete", "object_id": 4_100_005, "aspect_type": "update",
            "updates": {"authorized": "false"}, "owner_id": 4_100_005,
            "subscription_id": SUBSCRIPTION, "event_time": 1_796_000_000
        }))
    };
    // when a forged revocation arrives (Strava still accepts her tokens)
    assert_eq!(call(revoked()).await.0, 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    // then nothing changes
    assert_eq!(status(&api, &hyejin).await["connected"], true);
    assert_eq!(strava_runs(&api, &hyejin).await.len(), 3);
    // when she really revokes us on Strava and Strava says so
    fake.revoke(&athlete);
    assert_eq!(call(revoked()).await.0, 200);
    // then she is disconnected and her Strava runs are gone
    settles_at(&api, &hyejin, 0).await;
    assert_eq!(status(&api, &hyejin).await["connected"], false);
    api.stop().await;
}
