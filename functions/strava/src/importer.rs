//! `strava-import`: the Strava queue's consumer. It runs a connection's sync (the first
//! import, a sync-all, a sweep), imports or changes one activity for a webhook event, and
//! deletes every Strava-sourced run when access ends.
//!
//! - **Tokens.** An access token expiring within 5 minutes is refreshed first, by one
//!   importer at a time per athlete: a lease on the connection item, taken by a
//!   version-conditioned write; another importer that finds it taken comes back in 2 s.
//!   The new refresh token is sealed and saved at once (Strava kills the old one).
//! - **Budget.** Before each call the shared budget is read; a spent window or a 429
//!   puts the message off until the window reopens ([`Handled::Later`]: no waiting in the
//!   function). The sync's page is saved on the connection after each page, so the
//!   message, whenever it comes back, resumes where it stopped.
//! - **Never twice.** Each run is written with its import key in one transaction.
//! - **Revoked.** Strava's 401 marks the connection `reconnect_needed` and ends the sync.

use std::time::Duration;

use runcrew_model::notification::inbox::{Notification, NotificationId};
use runcrew_model::notification::{Kind, job as push_job};
use runcrew_model::profile::user_partition;
use runcrew_model::strava::budget;
use runcrew_model::strava::connection::{self, Connection, Problem, SyncKind};
use runcrew_model::strava::import::{self, StravaActivity};
use runcrew_shared::clock::{now_epoch_ms, now_rfc3339};
use runcrew_shared::queue::QueueName;
use runcrew_shared::store::{Query, SortRange, Store};
use runcrew_shared::tasks::queue::{Handled, MessageFuture, QueueFunction, QueueMessage};
use runcrew_shared::{ApiError, App, Needs, TaskError};

use crate::client::{Activity, Answer, StravaClient, StravaError, resume_at};
use crate::connect::token_context;
use crate::jobs::Job;
use crate::port;

/// The `strava-import` queue consumer.
pub static IMPORT: QueueFunction = QueueFunction {
    binary: "strava-import",
    queue: QueueName::Strava,
    needs: Needs::NOTHING
        .store()
        .queue()
        .cipher()
        .extension(port::build),
    handler: import_handler,
};

/// An access token expiring sooner than this is refreshed first.
const REFRESH_MARGIN_S: i64 = 300;
/// How long a refresh lease holds: longer than a refresh takes.
const LEASE_MS: i64 = 30_000;
/// When another importer holds the lease: come back after this.
const LEASE_WAIT: Duration = Duration::from_secs(2);
/// The longest a run may take: a manual entry or a watch left running is no run.
const MAX_RUN_S: i64 = 48 * 3600;
/// Activities per page of a sweep.
const SWEEP_PAGE: u32 = 100;

fn import_handler<'a>(app: &'a App, message: &'a QueueMessage) -> MessageFuture<'a> {
    Box::pin(async move {
        let job: Job = serde_json::from_value(message.body.clone())
            .map_err(|e| TaskError(format!("not a Strava job: {e}")))?;
        let client = app
            .extension::<StravaClient>()
            .ok_or_else(|| TaskError("Strava is not configured here (STRAVA_CLIENT_ID)".into()))?;
        run(app, client, &job).await
    })
}

fn now_s() -> i64 {
    now_epoch_ms() as i64 / 1000
}

/// Does `job`.
pub async fn run(app: &App, client: &StravaClient, job: &Job) -> Result<Handled, TaskError> {
    let store = app.store()?;
    match job {
        Job::Purge { user_id } => {
            let removed = purge(store, user_id).await?;
            tracing::info!(removed, "Strava-sourced runs deleted: access ended");
            Ok(Handled::Done)
        }
        // Webhook events are not signed: what one says is checked with Strava itself, so a
        // forged event can make us look, never delete or change a run.
        Job::Delete {
            user_id,
            activity_id,
        } => recheck(app, client, user_id, *activity_id, false).await,
        Job::Update {
            user_id,
            activity_id,
            ..
        } => recheck(app, client, user_id, *activity_id, true).await,
        Job::Revoked { user_id } => revoked(app, client, user_id).await,
        Job::Activity {
            user_id,
            activity_id,
        } => one_activity(app, client, user_id, *activity_id).await,
        Job::Sync { user_id } => sync(app, client, user_id).await,
    }
}

/// What a Strava call gave: its value, or what to do with the message instead.
enum Called<T> {
    Got(T),
    Stop(Handled),
}

/// Calls Strava if the shared budget allows, and writes what the answer says of it.
async fn call<T>(
    store: &dyn Store,
    user_id: &str,
    request: impl std::future::Future<Output = Result<Answer<T>, StravaError>>,
) -> Result<Called<T>, TaskError> {
    let now = now_s();
    let budget = budget::load(store).await?;
    if !budget.allows(now) {
        let wait = (budget.paused_until_s - now).max(1) as u64;
        tracing::info!(
            wait_s = wait,
            "Strava's request budget is spent: the import waits"
        );
        return Ok(Called::Stop(Handled::Later(Duration::from_secs(wait))));
    }
    match request.await {
        Ok(answer) => {
            if let Some(usage) = &answer.usage {
                let (short, daily) = usage.used_percent();
                for (window, percent) in [("15min", short), ("daily", daily)] {
                    runcrew_shared::telemetry::emit_metric(
                        "RunCrew",
                        "StravaBudgetUsedPercent",
                        percent,
                        runcrew_shared::telemetry::Unit::Percent,
                        &[("Window", window)],
                    );
                }
                budget::record(
                    store,
                    usage.headroom(),
                    now,
                    Some(resume_at(now, Some(usage))),
                )
                .await?;
            }
            Ok(Called::Got(answer.value))
        }
        Err(StravaError::RateLimited { resume_at }) => {
            budget::record(store, 0, now, Some(resume_at)).await?;
            set_problem(
                store,
                user_id,
                "rate_limited",
                "Strava asked us to slow down; the import resumes by itself",
            )
            .await?;
            Ok(Called::Stop(Handled::Later(Duration::from_secs(
                (resume_at - now).max(1) as u64,
            ))))
        }
        Err(StravaError::Revoked) => {
            end_sync(
                store,
                user_id,
                Some((
                    "reconnect_needed",
                    "Strava no longer accepts this connection; connect again",
                )),
            )
            .await?;
            Ok(Called::Stop(Handled::Done))
        }
        Err(StravaError::AthleteLimit) => {
            end_sync(
                store,
                user_id,
                Some((
                    "athlete_limit",
                    "Strava's limit of connected athletes for this app is reached",
                )),
            )
            .await?;
            Ok(Called::Stop(Handled::Done))
        }
        Err(StravaError::NotFound) => Ok(Called::Stop(Handled::Done)),
        Err(err @ StravaError::Unavailable { .. }) => {
            Err(TaskError(format!("Strava is unavailable: {err}")))
        }
        Err(err @ StravaError::Rejected { .. }) => {
            end_sync(
                store,
                user_id,
                Some((
                    "unavailable",
                    "Strava refused the import; it will be tried again later",
                )),
            )
            .await?;
            tracing::error!(error = %err, "Strava refused a request of ours");
            Ok(Called::Stop(Handled::Done))
        }
    }
}

/// A usable access token for `user_id`, refreshed under the athlete's lease when it is
/// about to expire; or what to do with the message instead.
async fn access_token(
    app: &App,
    client: &StravaClient,
    user_id: &str,
) -> Result<Called<String>, TaskError> {
    let store = app.store()?;
    let cipher = app.cipher()?;
    let context = token_context(user_id);
    let Some((current, _)) = connection::load(store, user_id).await? else {
        return Ok(Called::Stop(Handled::Done));
    };
    if current.token_expires_at - now_s() > REFRESH_MARGIN_S {
        let token = cipher
            .open(&current.access_token, &context)
            .await
            .map_err(ApiError::from)?;
        return Ok(Called::Got(token.expose().to_owned()));
    }
    let now_ms = now_epoch_ms() as i64;
    let leased = connection::update(store, user_id, |c| {
        if c.refresh_lease_until_ms > now_ms {
            return Err(ApiError::Conflict {
                code: "leased",
                message: "another importer refreshes".into(),
            });
        }
        c.refresh_lease_until_ms = now_ms + LEASE_MS;
        Ok(())
    })
    .await;
    let connection = match leased {
        Ok(Some(connection)) => connection,
        Ok(None) => return Ok(Called::Stop(Handled::Done)),
        Err(ApiError::Conflict { code: "leased", .. }) => {
            return Ok(Called::Stop(Handled::Later(LEASE_WAIT)));
        }
        Err(other) => return Err(other.into()),
    };
    if connection.token_expires_at - now_s() > REFRESH_MARGIN_S {
        // Refreshed by another importer between our two reads.
        release(store, user_id).await?;
        let token = cipher
            .open(&connection.access_token, &context)
            .await
            .map_err(ApiError::from)?;
        return Ok(Called::Got(token.expose().to_owned()));
    }
    let refresh_token = cipher
        .open(&connection.refresh_token, &context)
        .await
        .map_err(ApiError::from)?;
    let grant = match call(store, user_id, async {
        client
            .refresh(refresh_token.expose())
            .await
            .map(|value| Answer { value, usage: None })
    })
    .await
    {
        Ok(Called::Got(grant)) => grant,
        other => {
            release(store, user_id).await?;
            return other.map(|called| match called {
                Called::Got(_) => Called::Stop(Handled::Done),
                Called::Stop(handled) => Called::Stop(handled),
            });
        }
    };
    let access = cipher
        .seal(&grant.access_token, &context)
        .await
        .map_err(ApiError::from)?;
    let refresh = cipher
        .seal(&grant.refresh_token, &context)
        .await
        .map_err(ApiError::from)?;
    connection::update(store, user_id, |c| {
        c.access_token = access.clone();
        c.refresh_token = refresh.clone();
        c.token_expires_at = grant.expires_at;
        c.refresh_lease_until_ms = 0;
        Ok(())
    })
    .await?;
    Ok(Called::Got(grant.access_token))
}

async fn release(store: &dyn Store, user_id: &str) -> Result<(), ApiError> {
    connection::update(store, user_id, |c| {
        c.refresh_lease_until_ms = 0;
        Ok(())
    })
    .await?;
    Ok(())
}

async fn set_problem(
    store: &dyn Store,
    user_id: &str,
    code: &str,
    message: &str,
) -> Result<(), ApiError> {
    connection::update(store, user_id, |c| {
        c.problem = Some(Problem {
            code: code.into(),
            message: message.into(),
            at: now_rfc3339(),
        });
        Ok(())
    })
    .await?;
    Ok(())
}

/// Ends the sync, with a problem to show or none.
async fn end_sync(
    store: &dyn Store,
    user_id: &str,
    problem: Option<(&str, &str)>,
) -> Result<(), ApiError> {
    connection::update(store, user_id, |c| {
        c.sync = None;
        c.problem = problem.map(|(code, message)| Problem {
            code: code.into(),
            message: message.into(),
            at: now_rfc3339(),
        });
        Ok(())
    })
    .await?;
    Ok(())
}

fn activity_of(activity: &Activity) -> StravaActivity {
    StravaActivity {
        id: activity.id,
        start_date: activity.start_date.clone(),
        utc_offset_s: activity.utc_offset_s,
        moving_time_s: activity.moving_time_s,
        distance_m: activity.distance_m,
        summary_polyline: activity.summary_polyline.clone(),
        private: activity.private,
    }
}

/// Imports `activity` for `user_id` if it is a run; returns whether a run is new.
async fn import_one(
    store: &dyn Store,
    user_id: &str,
    activity: &Activity,
) -> Result<bool, ApiError> {
    if !activity.is_run() {
        return Ok(false);
    }
    if activity.moving_time_s < 1 || activity.moving_time_s > MAX_RUN_S || activity.distance_m < 0.1
    {
        tracing::info!(
            activity_id = activity.id,
            "a Strava run without a plausible time or distance is not imported"
        );
        return Ok(false);
    }
    let strava = activity_of(activity);
    let run = import::run_of(user_id, &strava, time::OffsetDateTime::now_utc())?;
    import::import(store, &run, activity.id, strava.summary_polyline.as_deref()).await
}

/// A webhook said the athlete revoked us: one call with their tokens tells. Refused
/// (401, or a refresh refused): disconnected here too, and every Strava run goes.
async fn revoked(app: &App, client: &StravaClient, user_id: &str) -> Result<Handled, TaskError> {
    let store = app.store()?;
    let refused = match access_token(app, client, user_id).await? {
        Called::Got(token) => matches!(
            client.recent_activities(&token, 1, 1).await,
            Err(StravaError::Revoked)
        ),
        Called::Stop(Handled::Done) => connection::load(store, user_id)
            .await?
            .is_some_and(|(c, _)| c.problem.is_some_and(|p| p.code == "reconnect_needed")),
        Called::Stop(later) => return Ok(later),
    };
    if refused {
        connection::remove(store, user_id).await?;
        let removed = purge(store, user_id).await?;
        tracing::info!(
            removed,
            "the athlete revoked us on Strava: disconnected, Strava runs deleted"
        );
    } else {
        tracing::info!("a revocation event Strava does not confirm is ignored");
    }
    Ok(Handled::Done)
}

/// Brings the run of `activity_id` in line with Strava: gone there (or no longer a run),
/// it goes here; otherwise it takes the activity's privacy. `import_if_missing`: an
/// activity that became a run (a ride changed to a run) is imported.
async fn recheck(
    app: &App,
    client: &StravaClient,
    user_id: &str,
    activity_id: i64,
    import_if_missing: bool,
) -> Result<Handled, TaskError> {
    let store = app.store()?;
    if import::imported_run(store, user_id, activity_id)
        .await?
        .is_none()
    {
        return if import_if_missing {
            one_activity(app, client, user_id, activity_id).await
        } else {
            Ok(Handled::Done)
        };
    }
    let token = match access_token(app, client, user_id).await? {
        Called::Got(token) => token,
        Called::Stop(handled) => return Ok(handled),
    };
    match client.activity(&token, activity_id).await {
        Err(StravaError::NotFound) => {
            import::remove(store, user_id, activity_id).await?;
            Ok(Handled::Done)
        }
        other => {
            let activity = match call(store, user_id, async { other }).await? {
                Called::Got(activity) => activity,
                Called::Stop(handled) => return Ok(handled),
            };
            if activity.is_run() {
                import::set_private(store, user_id, activity_id, activity.private).await?;
            } else {
                import::remove(store, user_id, activity_id).await?;
            }
            Ok(Handled::Done)
        }
    }
}

async fn one_activity(
    app: &App,
    client: &StravaClient,
    user_id: &str,
    activity_id: i64,
) -> Result<Handled, TaskError> {
    let store = app.store()?;
    let token = match access_token(app, client, user_id).await? {
        Called::Got(token) => token,
        Called::Stop(handled) => return Ok(handled),
    };
    let activity = match call(store, user_id, client.activity(&token, activity_id)).await? {
        Called::Got(activity) => activity,
        Called::Stop(handled) => return Ok(handled),
    };
    if import_one(store, user_id, &activity).await? {
        connection::update(store, user_id, |c| {
            c.runs_imported += 1;
            c.newest_start_s = c.newest_start_s.max(activity.start_epoch_s().unwrap_or(0));
            Ok(())
        })
        .await?;
    }
    Ok(Handled::Done)
}

/// Runs the connection's sync page by page until it is done, or stops where it stands.
async fn sync(app: &App, client: &StravaClient, user_id: &str) -> Result<Handled, TaskError> {
    let store = app.store()?;
    loop {
        let Some((current, _)) = connection::load(store, user_id).await? else {
            return Ok(Handled::Done);
        };
        let Some(progress) = current.sync.clone() else {
            return Ok(Handled::Done);
        };
        let token = match access_token(app, client, user_id).await? {
            Called::Got(token) => token,
            Called::Stop(handled) => return Ok(handled),
        };
        let per_page = match progress.kind {
            SyncKind::Sweep => SWEEP_PAGE,
            _ => progress.remaining.clamp(1, crate::client::MAX_PER_PAGE),
        };
        // A sweep reads page 1 after a bound it moves past what it read; the most recent
        // (first import, sync-all) page newest first.
        let page = match progress.kind {
            SyncKind::Sweep => {
                call(
                    store,
                    user_id,
                    client.activities(&token, progress.after_s, 1, per_page),
                )
                .await?
            }
            _ => {
                call(
                    store,
                    user_id,
                    client.recent_activities(&token, progress.page, per_page),
                )
                .await?
            }
        };
        let activities = match page {
            Called::Got(activities) => activities,
            Called::Stop(handled) => return Ok(handled),
        };
        let mut new = 0u32;
        let mut newest = 0;
        for activity in &activities {
            if import_one(store, user_id, activity).await? {
                new += 1;
            }
            newest = newest.max(activity.start_epoch_s().unwrap_or(0));
        }
        let looked = activities.len() as u32;
        let done =
            looked < per_page || (progress.kind != SyncKind::Sweep && looked >= progress.remaining);
        // Only the sync this job read moves on: a second job of the same sync (a message
        // delivered twice, a reconnect meanwhile) finds it moved and stops.
        let read = (progress.started_ms, progress.page, progress.after_s);
        let updated = connection::update(store, user_id, |c| {
            if c.sync.as_ref().map(|s| (s.started_ms, s.page, s.after_s)) != Some(read) {
                return Err(ApiError::Conflict {
                    code: "sync_moved",
                    message: String::new(),
                });
            }
            c.runs_imported += i64::from(new);
            c.newest_start_s = c.newest_start_s.max(newest);
            c.problem = None;
            if done {
                c.sync = None;
                c.last_sync_at = Some(now_rfc3339());
            } else if let Some(sync) = c.sync.as_mut() {
                match sync.kind {
                    SyncKind::Sweep => sync.after_s = sync.after_s.max(newest),
                    _ => sync.page += 1,
                }
                sync.remaining = sync.remaining.saturating_sub(looked);
                sync.imported += new;
            }
            Ok(())
        })
        .await;
        let updated = match updated {
            Ok(updated) => updated,
            Err(ApiError::Conflict {
                code: "sync_moved", ..
            }) => return Ok(Handled::Done),
            Err(other) => return Err(other.into()),
        };
        if done {
            let total = progress.imported + new;
            if let Some(connection) = updated.filter(|_| total > 0) {
                tell(app, &connection, total, progress.started_ms).await?;
            }
            tracing::info!(kind = ?progress.kind, imported = total, "Strava sync finished");
            return Ok(Handled::Done);
        }
    }
}

/// "12 runs imported from Strava", in the inbox and as a push as the person allows.
async fn tell(
    app: &App,
    connection: &Connection,
    runs: u32,
    started_ms: i64,
) -> Result<(), ApiError> {
    let notification = Notification {
        // The sync's start, not now: two jobs finishing one sync make one notification.
        id: NotificationId::new(
            started_ms,
            &format!("strava_imported#{}#{started_ms}", connection.user_id),
        ),
        user_id: connection.user_id.clone(),
        kind: Kind::StravaImported,
        title: "Strava".into(),
        body: if runs == 1 {
            "1 run imported from Strava".into()
        } else {
            format!("{runs} runs imported from Strava")
        },
        actor_id: None,
        course_id: None,
        event_id: None,
        job_id: None,
        read: false,
    };
    push_job::deliver_and_queue(app, &notification).await
}

/// Deletes every Strava-sourced run of `user_id`, found through their import keys.
pub async fn purge(store: &dyn Store, user_id: &str) -> Result<usize, ApiError> {
    let mut removed = 0;
    loop {
        // Always the first page: what was removed is gone from it.
        let page = store
            .query(
                &Query::partition(user_partition(user_id))
                    .range(SortRange::BeginsWith("IMPORT#strava#".into()))
                    .limit(100),
            )
            .await?;
        if page.items.is_empty() {
            return Ok(removed);
        }
        for item in page.items {
            let id = item
                .key
                .sk
                .strip_prefix("IMPORT#strava#")
                .and_then(|id| id.parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::Internal(format!("an import key reads {}", item.key.sk))
                })?;
            import::remove(store, user_id, id).await?;
            removed += 1;
        }
    }
}
