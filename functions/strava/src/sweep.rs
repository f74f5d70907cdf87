//! `strava-sweep`: every 6 hours, one sync per connected athlete, read from the sparse
//! `STRAVA_CONNECTED` index (never a scan). A connection already syncing, or waiting for
//! its person to reconnect, is left alone. The imports themselves run in `strava-import`,
//! inside the shared budget.

use runcrew_model::strava::connection::{self, SyncKind, SyncProgress};
use runcrew_shared::clock::now_epoch_ms;
use runcrew_shared::tasks::schedule::{ScheduleFunction, Tick, TickFuture};
use runcrew_shared::{App, Needs, TaskError};

use crate::jobs::{self, Job};

/// The `strava-sweep` scheduled task.
pub static SWEEP: ScheduleFunction = ScheduleFunction {
    binary: "strava-sweep",
    needs: Needs::NOTHING.store().queue(),
    handler: sweep_handler,
};

fn sweep_handler<'a>(app: &'a App, tick: &'a Tick) -> TickFuture<'a> {
    Box::pin(sweep(app, tick))
}

/// Queues a sweep for every connection that is idle and healthy.
pub async fn sweep(app: &App, tick: &Tick) -> Result<(), TaskError> {
    let store = app.store()?;
    let mut cursor = None;
    let (mut queued, mut skipped) = (0, 0);
    loop {
        let page = store
            .query(&connection::connected_users().limit(100).after(cursor))
            .await
            .map_err(runcrew_shared::ApiError::from)?;
        for item in &page.items {
            let Some(user_id) = item.str("user_id") else {
                continue;
            };
            let started = connection::update(store, user_id, |c| {
                if c.sync.is_some()
                    || c.problem
                        .as_ref()
                        .is_some_and(|p| p.code == "reconnect_needed")
                {
                    return Err(runcrew_shared::ApiError::Conflict {
                        code: "busy",
                        message: String::new(),
                    });
                }
                c.sync = Some(SyncProgress {
                    kind: SyncKind::Sweep,
                    page: 1,
                    remaining: u32::MAX,
                    imported: 0,
                    started_ms: now_epoch_ms() as i64,
                    after_s: c.newest_start_s,
                });
                Ok(())
            })
            .await;
            match started {
                Ok(Some(_)) => {
                    jobs::queue(
                        app,
                        &Job::Sync {
                            user_id: user_id.to_owned(),
                        },
                    )
                    .await?;
                    queued += 1;
                }
                Ok(None) | Err(runcrew_shared::ApiError::Conflict { code: "busy", .. }) => {
                    skipped += 1
                }
                Err(other) => return Err(other.into()),
            }
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    tracing::info!(schedule = %tick.schedule, queued, skipped, "Strava sweep queued");
    Ok(())
}
