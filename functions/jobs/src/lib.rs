//! Jobs that grow with the data behind them, run in bounded steps from the jobs queue, and
//! the route that tells their owner how far they are.
//!
//! | function | trigger | store calls |
//! |---|---|---|
//! | `jobs-get` | `GET /v1/jobs/{jobId}` | 1 GetItem (+ for a finished export, 1 S3 HEAD and a signed download link) |
//! | `jobs-run` | the jobs queue, one message per step | erasure, course deletion: at most [`STEP_STORE_CALLS`] + 2 (the job read and its progress) per step, and 1 SendMessage for the next; export: one step reading the whole account (1 Query per 1,000 items) and 1 S3 PUT |
//!
//! The request that asks for a job ([`runcrew_model::job`]) has already done what the user
//! must see at once (the account closed, the course gone from every list). A step runs the
//! job's whole loop ([`runcrew_erasure::erase`], [`delete_course`]) over a store that
//! refuses calls beyond the step's allowance ([`BudgetedStore`]). Those loops find what is
//! left by querying and delete as they go, so stopping anywhere loses nothing: a step that
//! ran out of allowance saves its progress and queues the next; one that finished marks the
//! job `done`. A step that failed for another reason (the table down) fails its message,
//! which SQS brings back, and after the queue's `maxReceiveCount` moves to the dead-letter
//! queue, whose alarm pages. A step delivered twice does its work twice, harmlessly.
//!
//! An export ([`runcrew_erasure::export`]) is the one job done in a single step: it reads
//! the account and writes one file, and a file cannot be half-written and resumed. Its
//! cost grows with the account (about 100 pages for 100,000 runs: seconds), off the
//! request; the owner downloads it through a link signed for [`DOWNLOAD_LINK`].

use lambda_http::{Body, Request, Response};
use runcrew_model::course::delete_course;
use runcrew_model::job::{self, Job, JobKind, JobState, step_message};
use runcrew_model::notification::Kind;
use runcrew_model::notification::inbox::{Notification, NotificationId};
use runcrew_model::notification::job as push_job;
use runcrew_shared::blobs::Blobs;
use runcrew_shared::queue::QueueName;
use runcrew_shared::store::Store;
use runcrew_shared::store::budget::BudgetedStore;
use runcrew_shared::tasks::queue::{Handled, MessageFuture, QueueFunction, QueueMessage};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, TaskError, request, response};

/// `GET /v1/jobs/{jobId}`.
pub static GET: HttpFunction = HttpFunction {
    binary: "jobs-get",
    needs: Needs::NOTHING.store().blobs(),
    handler: |app, req| Box::pin(get_job(app, req)),
};

/// The `jobs-run` queue consumer.
pub static RUN: QueueFunction = QueueFunction {
    binary: "jobs-run",
    queue: QueueName::Jobs,
    needs: Needs::NOTHING.store().blobs().queue(),
    handler: run_handler,
};

/// Every HTTP function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[&GET];

/// Every queue consumer of this crate, for the local gateway's registry.
pub static QUEUE_TASKS: &[&QueueFunction] = &[&RUN];

/// Store calls one step may make. DynamoDB answers one in about 5 ms, so a step takes a
/// few seconds, far inside the function's timeout, and deletes up to about 1,000 × 100
/// items when the work is all deletions; its cost is the same for any account or course.
pub const STEP_STORE_CALLS: u64 = 1_000;

/// How long an export's download link works: long enough to start the download, short
/// enough that a link copied somewhere is soon worthless. Each status read signs a new one.
pub const DOWNLOAD_LINK: std::time::Duration = std::time::Duration::from_secs(15 * 60);

fn job_not_found() -> ApiError {
    ApiError::not_found("job_not_found", "no such job")
}

/// `GET /v1/jobs/{jobId}`: the job's state, for the user who asked for it (anyone else,
/// or a job that has expired, is 404). An erased account's token, still valid for up to
/// 15 minutes, can read its erasure's status: this route needs no open account.
pub async fn get_job(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let job_id = request::path_param(&req, "jobId")?;
    if !runcrew_shared::ids::has_id_shape(job_id) {
        return Err(job_not_found());
    }
    let Some((job, _)) = job::load(app.store()?, job_id).await? else {
        return Err(job_not_found());
    };
    if job.owner != job::owner_of(app, &caller.user_id).await? {
        return Err(job_not_found());
    }
    let mut status = job.status(&app.config.public_base_url);
    let blobs = app.blobs()?;
    let key = runcrew_erasure::export::file_key(&caller.user_id, &job.job_id);
    // Done, and the file is there (not when the account was closed meanwhile, nor once the
    // bucket's lifecycle removed it).
    if job.kind == JobKind::Export
        && job.state == JobState::Done
        && blobs.head(&key).await?.is_some()
    {
        status["download_url"] = blobs.presign_get(&key, DOWNLOAD_LINK).await?.into();
        let expires = time::OffsetDateTime::now_utc() + DOWNLOAD_LINK;
        status["download_expires_at"] = runcrew_shared::clock::rfc3339_of_ms(
            i64::try_from(expires.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
        )
        .into();
    }
    response::no_store(http::StatusCode::OK, &status)
}

fn run_handler<'a>(app: &'a App, message: &'a QueueMessage) -> MessageFuture<'a> {
    Box::pin(run_message(app, message))
}

/// Runs one step of the job a message names, and queues the next when more is left.
pub async fn run_message(app: &App, message: &QueueMessage) -> Result<Handled, TaskError> {
    let Some(job_id) = message.body.get("job_id").and_then(|v| v.as_str()) else {
        return Err(TaskError(format!("message {} names no job_id", message.id)));
    };
    let step = step(app, job_id, STEP_STORE_CALLS).await?;
    if step == Step::More {
        // Sent before this message is deleted: if the send fails, this message comes back
        // and runs the step again, so the job never stalls with nothing queued.
        app.queue()?
            .send(QueueName::Jobs, &step_message(job_id))
            .await
            .map_err(|err| TaskError(format!("the next step could not be queued: {err}")))?;
    }
    Ok(Handled::Done)
}

/// What became of a job after one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It is done (now or before).
    Done,
    /// The step's allowance ran out; the next step goes on.
    More,
    /// No such job: it expired, or the message is not ours.
    Gone,
}

/// One step of job `job_id`: at most `allowance` store calls of its work (and two more to
/// read and save the job).
pub async fn step(app: &App, job_id: &str, allowance: u64) -> Result<Step, TaskError> {
    let (store, blobs) = (app.store()?, app.blobs()?);
    let Some((job, _)) = job::load(store, job_id).await? else {
        tracing::warn!(job_id, "a step of a job that does not exist; nothing to do");
        return Ok(Step::Gone);
    };
    if job.state == JobState::Done {
        return Ok(Step::Done);
    }
    let budget = BudgetedStore::new(store, allowance);
    // Each kind's whole work, as if it had no bound: the budgeted store stops it.
    let outcome = match (job.kind, job.subject.as_deref()) {
        // One step, not budgeted: a file cannot be resumed half-written.
        (JobKind::Export, _) => {
            if let Some(user_id) = export(store, blobs, &job).await? {
                tell_export_ready(app, &job, &user_id).await?;
            }
            job::record_step(store, job_id, 0, true).await?;
            return Ok(Step::Done);
        }
        (_, None) => Ok(()),
        (JobKind::EraseAccount, Some(user_id)) => runcrew_erasure::erase(&budget, blobs, user_id)
            .await
            .map(|erased| {
                tracing::info!(job_id, files = erased.files, "account erased");
            }),
        (JobKind::DeleteCourse, Some(course_id)) => {
            delete_course(&budget, blobs, course_id).await.map(|_| ())
        }
    };
    let deleted = budget.deleted();
    match outcome {
        Ok(()) => {
            job::record_step(store, job_id, deleted, true).await?;
            tracing::info!(job_id, kind = ?job.kind, steps = job.steps + 1, "job done");
            Ok(Step::Done)
        }
        // A step that spent its allowance without deleting anything would be followed by
        // the same step for ever: it fails instead, so the message ends in the dead-letter
        // queue and its alarm calls a person.
        Err(_) if budget.spent() && deleted == 0 => Err(TaskError(format!(
            "job {job_id}: a step spent {allowance} store calls and deleted nothing"
        ))),
        Err(_) if budget.spent() => {
            job::record_step(store, job_id, deleted, false).await?;
            Ok(Step::More)
        }
        Err(err) => {
            // What this step deleted stays counted; the message comes back for the rest.
            if deleted > 0 {
                job::record_step(store, job_id, deleted, false).await?;
            }
            Err(err.into())
        }
    }
}

/// Writes the export file of the account the job names; returns whose it is (`None` for
/// an account erased meanwhile: there is nothing left to hand over).
async fn export(
    store: &dyn Store,
    blobs: &dyn Blobs,
    job: &Job,
) -> Result<Option<String>, ApiError> {
    let Some(user_id) = job.subject.as_deref() else {
        return Ok(None);
    };
    let Some(account) = runcrew_erasure::export::account(store, user_id).await? else {
        return Ok(None);
    };
    let bytes = serde_json::to_vec(&account).map_err(|e| ApiError::Internal(e.to_string()))?;
    let size = bytes.len();
    let key = runcrew_erasure::export::file_key(user_id, &job.job_id);
    blobs.put(&key, bytes, "application/json").await?;
    // Closed while it was read: the erasure may have swept the exports folder already.
    if runcrew_model::profile::load_profile(store, user_id)
        .await?
        .is_none()
    {
        blobs.delete(&key).await?;
        return Ok(None);
    }
    tracing::info!(job_id = %job.job_id, bytes = size, "export written");
    Ok(Some(user_id.to_owned()))
}

/// "Your export is ready", in the inbox and as a push as the person allows. Keyed by the
/// job (its time and id), so a step delivered again tells once.
async fn tell_export_ready(app: &App, job: &Job, user_id: &str) -> Result<(), ApiError> {
    let asked_ms = time::OffsetDateTime::parse(
        &job.created_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map(|at| i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
    .unwrap_or(0);
    let notification = Notification {
        id: NotificationId::new(asked_ms, &format!("export_ready#{}", job.job_id)),
        user_id: user_id.to_owned(),
        kind: Kind::ExportReady,
        title: "Your export is ready".into(),
        body: "Download your RunCrew data within 7 days".into(),
        actor_id: None,
        course_id: None,
        event_id: None,
        job_id: Some(job.job_id.clone()),
        read: false,
    };
    push_job::deliver_and_queue(app, &notification).await
}
