//! The Strava importer's throughput: activities imported per second by `strava-import`'s
//! own code, against the Strava fake on 127.0.0.1 (`runcrew-strava-fake`) and an in-memory
//! table. One athlete with `--activities` runs; sync-all style pages of 200, newest first,
//! each run written with its import key, path and totals in one transaction. Prints a
//! Markdown table.
//!
//! `bench-strava [--activities N] [--out FILE]`

use std::sync::Arc;
use std::time::Instant;

use runcrew_model::strava::connection::{self, Connection, SyncKind, SyncProgress};
use runcrew_shared::App;
use runcrew_shared::cipher::TokenCipher;
use runcrew_shared::cipher::local::LocalCipher;
use runcrew_shared::config::Config;
use runcrew_shared::queue::memory::MemoryQueue;
use runcrew_shared::store::cursor::CursorCodec;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::{Condition, Item, Store};
use runcrew_shared::tasks::queue::Handled;
use runcrew_strava::connect::token_context;
use runcrew_strava::importer;
use runcrew_strava::jobs::Job;
use runcrew_strava_fake::{StravaFake, activity};
use serde_json::json;

const SECRET: &str = "bench-cursor-secret-of-at-least-32-bytes";
const USER: &str = "0196f1a2b3c4d5e6f708192a3b4c5dbe";

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let activities: u32 = arg("--activities")
        .map(|n| n.parse().map_err(|_| "--activities N"))
        .transpose()?
        .unwrap_or(1_000);
    let fake = StravaFake::start().await;
    let athlete = fake.add_athlete(5_000_001, "bench");
    for n in 0..i64::from(activities) {
        let day = 1 + n / 48;
        let start = format!(
            "2026-{:02}-{:02}T{:02}:{:02}:00Z",
            1 + day / 28,
            1 + day % 28,
            (n % 48) / 2,
            (n % 2) * 30
        );
        fake.add_activity(&athlete, activity(70_000 + n, "Run", &start));
    }
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory(CursorCodec::new(SECRET)));
    let profile = json!({"user_id": USER, "display_name": "bench"});
    store
        .put(
            Item::new(
                runcrew_model::profile::profile_key(USER),
                profile.as_object().cloned().unwrap_or_default(),
            ),
            Condition::None,
        )
        .await
        .map_err(|e| e.to_string())?;
    let cipher = Arc::new(LocalCipher::new([9; 32]));
    let tokens = fake.connect(&athlete);
    let context = token_context(USER);
    let seal = |text: String| {
        let (cipher, context) = (cipher.clone(), context.clone());
        async move {
            cipher
                .seal(&text, &context)
                .await
                .map_err(|e| e.to_string())
        }
    };
    let connection = Connection {
        user_id: USER.into(),
        athlete_id: athlete.id,
        scopes: vec!["activity:read_all".into()],
        access_token: seal(tokens.access_token.clone()).await?,
        refresh_token: seal(tokens.refresh_token.clone()).await?,
        token_expires_at: tokens.expires_at,
        connected_at: "2026-12-01T00:00:00Z".into(),
        last_sync_at: None,
        newest_start_s: 0,
        runs_imported: 0,
        sync: Some(SyncProgress {
            kind: SyncKind::SyncAll,
            page: 1,
            remaining: activities,
            imported: 0,
            started_ms: time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
            after_s: 0,
        }),
        problem: None,
        refresh_lease_until_ms: 0,
    };
    connection::connect(store.as_ref(), &connection)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = Config::from_lookup(|name| match name {
        "RUNCREW_DATA_DIR" => Some(data.path().display().to_string()),
        _ => None,
    })
    .map_err(|e| e.to_string())?;
    let client = fake.client();
    let app = App::from_parts(config, Some(store.clone()), None, None)
        .with_queue(Arc::new(MemoryQueue::default()))
        .with_cipher(cipher);
    let started = Instant::now();
    let handled = importer::run(
        &app,
        &client,
        &Job::Sync {
            user_id: USER.into(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    if handled != Handled::Done {
        return Err(format!("the import did not finish: {handled:?}"));
    }
    let (after, _) = connection::load(store.as_ref(), USER)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the connection is gone")?;
    if after.runs_imported != i64::from(activities) {
        return Err(format!(
            "{} runs for {activities} activities",
            after.runs_imported
        ));
    }
    let pages = fake.requests_to("/api/v3/athlete/activities").await.len();
    let table = format!(
        "| activities | pages read | seconds | activities/s |\n|---|---|---|---|\n| {activities} | {pages} | {seconds:.2} | {:.0} |\n",
        f64::from(activities) / seconds
    );
    match arg("--out") {
        Some(path) => std::fs::write(&path, &table).map_err(|e| format!("{path}: {e}"))?,
        None => eprint!("{table}"),
    }
    Ok(())
}
