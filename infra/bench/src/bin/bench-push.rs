//! The push consumer's throughput: FCM sends per second through the `push` function's
//! handler, batches of 10 as the template's event source hands them over, against a fake
//! Google on 127.0.0.1 (token endpoint and FCM, `runcrew-fcm-fake`) and an in-memory
//! table. Each job is for its own person with one device, so every job is one claim, one
//! send; the token is fetched once for the run. Prints a Markdown table.
//!
//! `bench-push [--jobs N] [--out FILE]`
//!
//! `bench-push --serve SECONDS --account FILE` instead serves the fake for that long, with
//! its service account written to FILE, and prints the fake's URL: the cold-start bench
//! points the `push` binary at it (`FCM_SERVICE_ACCOUNT_PATH`, `FCM_API_URL`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use runcrew_bench::{ms, quantile};
use runcrew_fcm_fake::{Fake, account_json};
use runcrew_model::notification::Kind;
use runcrew_model::notification::device::{self, DeviceToken, NewDevice, Platform};
use runcrew_model::notification::inbox::{Notification, NotificationId};
use runcrew_model::notification::job;
use runcrew_model::profile::profile_key;
use runcrew_notifications::push::PUSH;
use runcrew_shared::App;
use runcrew_shared::config::Config;
use runcrew_shared::store::cursor::CursorCodec;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::{Condition, Item, Store};
use runcrew_shared::tasks::queue::QueueMessage;
use serde_json::json;

const SECRET: &str = "bench-cursor-secret-of-at-least-32-bytes";
const BATCH: usize = 10;

fn user(n: usize) -> String {
    format!("01{n:030x}")
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

async fn google() -> Fake {
    let fake = Fake::start().await;
    fake.grants_tokens(3600, Duration::ZERO).await;
    fake.accepts_messages_with("ya29.token-1").await;
    fake
}

#[tokio::main]
async fn main() -> Result<(), String> {
    if let Some(seconds) = arg("--serve") {
        let seconds: u64 = seconds.parse().map_err(|_| "--serve SECONDS")?;
        let account = arg("--account").ok_or("--serve needs --account FILE")?;
        let fake = google().await;
        std::fs::write(&account, account_json(&fake.token_url()))
            .map_err(|e| format!("{account}: {e}"))?;
        println!("{}", fake.server.uri());
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        return Ok(());
    }
    let jobs: usize = arg("--jobs")
        .map(|n| n.parse().map_err(|_| "--jobs N"))
        .transpose()?
        .unwrap_or(500);
    let fake = google().await;
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory(CursorCodec::new(SECRET)));
    for n in 0..jobs {
        let id = user(n);
        let profile = json!({"user_id": id, "display_name": format!("runner {n}")});
        store
            .put(
                Item::new(
                    profile_key(&id),
                    profile.as_object().cloned().unwrap_or_default(),
                ),
                Condition::None,
            )
            .await
            .map_err(|e| e.to_string())?;
        let phone = NewDevice {
            token: DeviceToken::parse(&format!("bench-device-{n}")).ok_or("token")?,
            platform: Platform::Android,
            app_version: None,
        };
        device::register(store.as_ref(), &id, &phone, 1_795_000_000_000)
            .await
            .map_err(|e| e.to_string())?;
    }
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = Config::from_lookup(|name| match name {
        "RUNCREW_DATA_DIR" => Some(data.path().display().to_string()),
        _ => None,
    })
    .map_err(|e| e.to_string())?;
    let app = App::from_parts(config, Some(store), None, None).with_push(Arc::new(fake.client()));
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let messages: Vec<QueueMessage> = (0..jobs)
        .map(|n| {
            let notification = Notification {
                id: NotificationId::new(now_ms, &format!("bench#{n}")),
                user_id: user(n),
                kind: Kind::NewFollower,
                title: "New follower".into(),
                body: "Minji started following you".into(),
                actor_id: Some(user(jobs + 1)),
                course_id: None,
                event_id: None,
                job_id: None,
                read: false,
            };
            Ok(QueueMessage {
                id: format!("m{n}"),
                body: job::message(&notification).map_err(|e| e.to_string())?,
                receive_count: 1,
                sent_ms: now_ms,
                receipt: None,
            })
        })
        .collect::<Result<_, String>>()?;
    let mut batch_times = Vec::new();
    let started = Instant::now();
    for batch in messages.chunks(BATCH) {
        let at = Instant::now();
        let outcome = PUSH.call(&app, batch).await;
        batch_times.push(at.elapsed());
        if !outcome.failed_ids.is_empty() {
            return Err(format!("failed: {:?}", outcome.failed_ids));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let sent = fake.requests_to(&Fake::send_path()).await.len();
    if sent != jobs {
        return Err(format!("{sent} sends for {jobs} jobs"));
    }
    let table = format!(
        "| jobs | batch | sends | token requests | sends/s | batch p50 | batch p95 |\n|---|---|---|---|---|---|---|\n| {jobs} | {BATCH} | {sent} | {} | {:.0} | {} ms | {} ms |\n",
        fake.tokens_granted(),
        sent as f64 / seconds,
        ms(quantile(&batch_times, 0.5)),
        ms(quantile(&batch_times, 0.95)),
    );
    match arg("--out") {
        Some(path) => std::fs::write(&path, &table).map_err(|e| format!("{path}: {e}"))?,
        None => eprint!("{table}"),
    }
    Ok(())
}
