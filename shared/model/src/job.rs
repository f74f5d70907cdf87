//! Jobs: work that grows with the data behind it (erasing an account, deleting a busy
//! course), taken off the request and done on the jobs queue in bounded steps.
//!
//! | item | pk / sk |
//! |---|---|
//! | job | `JOB#<jobId>` / `JOB` |
//!
//! The request does the part a user must see at once (the account closed, the course gone
//! from every list) in one transaction with the job item, answers 202 with the job's status
//! URL, and queues the job's first step. Each step does a bounded amount of work, saves its
//! progress on the item and queues the next; the last marks it `done`, and the item expires
//! a week later.
//!
//! A job's id is a keyed digest of what it works on ([`job_id`]), so asking twice (a retried
//! `DELETE`) finds the same job instead of starting another. Its owner is kept as the
//! audit pseudonym ([`runcrew_shared::audit::actor_pseudonym`]), never the user id: an
//! erasure's job outlives the account and must hold nothing of it. The user id an erasure
//! needs while it runs (`subject`) is dropped when it is done.

use runcrew_shared::clock::now_rfc3339;
use runcrew_shared::queue::{QueueName, send_or_park};
use runcrew_shared::store::versioned::{Change, Versioned};
use runcrew_shared::store::{Condition, Item, Key, Store, Write, from_body, to_body};
use runcrew_shared::{ApiError, App};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// `DELETE /v1/users/me`: everything the account owned.
    EraseAccount,
    /// `DELETE /v1/courses/{courseId}`: the course's likes, favorites, reviews, board and
    /// files.
    DeleteCourse,
    /// `POST /v1/users/me/export`: everything the account owns, as a file to download.
    Export,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::EraseAccount => "erase_account",
            JobKind::DeleteCourse => "delete_course",
            JobKind::Export => "export",
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted; its first step is on the queue.
    Queued,
    /// At least one step ran; more are queued.
    Running,
    /// Everything is done.
    Done,
}

/// How long a finished job's status stays readable.
pub const DONE_KEPT_SECONDS: i64 = 7 * 24 * 3600;

/// How long an unfinished job is kept: far beyond any job's steps, so one stuck in the
/// dead-letter queue does not keep the id it works on (an erased account's) for ever.
pub const UNFINISHED_KEPT_SECONDS: i64 = 30 * 24 * 3600;

/// A job whose last step reported longer ago than this is queued again when asked for
/// again (a step takes seconds; the queue's retries take minutes).
pub const STALLED_AFTER_MS: i64 = 15 * 60 * 1000;

/// One job, as stored and as its status shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// [`job_id`] of its kind and subject.
    pub job_id: String,
    /// What it does.
    pub kind: JobKind,
    /// The audit pseudonym of the user who asked: only they may read its status.
    pub owner: String,
    /// What it works on (the user id to erase, the course id to delete) while it runs;
    /// `None` once done, so a finished erasure keeps no trace of the account.
    #[serde(default)]
    pub subject: Option<String>,
    /// Where it stands.
    pub state: JobState,
    /// Steps run so far.
    #[serde(default)]
    pub steps: u32,
    /// Table items deleted so far, over every step.
    #[serde(default)]
    pub items_deleted: u64,
    /// When it was asked for (UTC).
    pub created_at: String,
    /// When a step last reported (UTC).
    pub updated_at: String,
    /// When it was done (UTC).
    #[serde(default)]
    pub finished_at: Option<String>,
}

/// The key of job `job_id`.
pub fn job_key(job_id: &str) -> Key {
    Key::new(format!("JOB#{job_id}"), "JOB")
}

/// The id of the job of `kind` on `subject`: a keyed digest (32 hex digits, the shape of
/// every id), the same for the same work, which carries nothing of the subject.
pub fn job_id(key: &[u8], kind: JobKind, subject: &str) -> String {
    runcrew_shared::audit::actor_pseudonym(key, &format!("{}:{subject}", kind.as_str()))
}

/// Where a job's status is read, under the API's public base URL.
pub fn status_url(public_base_url: &str, job_id: &str) -> String {
    format!("{}/v1/jobs/{job_id}", public_base_url.trim_end_matches('/'))
}

/// The message that asks the jobs queue for a job's next step.
pub fn step_message(job_id: &str) -> Value {
    json!({ "job_id": job_id })
}

impl Job {
    /// A new job of `kind` on `subject`, asked for by the user with pseudonym `owner`.
    pub fn new(job_id: String, kind: JobKind, owner: String, subject: &str) -> Job {
        let now = now_rfc3339();
        Job {
            job_id,
            kind,
            owner,
            subject: Some(subject.to_owned()),
            state: JobState::Queued,
            steps: 0,
            items_deleted: 0,
            created_at: now.clone(),
            updated_at: now,
            finished_at: None,
        }
    }

    /// The item; a finished job expires [`DONE_KEPT_SECONDS`] after it was done, an
    /// unfinished one [`UNFINISHED_KEPT_SECONDS`] after its last step.
    pub fn to_item(&self, version: u64) -> Result<Item, ApiError> {
        let item = Item::new(job_key(&self.job_id), to_body(self)?).with_version(version);
        let now = i64::try_from(runcrew_shared::clock::now_epoch_ms() / 1000).unwrap_or(i64::MAX);
        let kept = if self.state == JobState::Done {
            DONE_KEPT_SECONDS
        } else {
            UNFINISHED_KEPT_SECONDS
        };
        Ok(item.expiring_at(now.saturating_add(kept)))
    }

    /// The job in an item; anything else is an internal error.
    pub fn from_item(item: &Item) -> Result<Job, ApiError> {
        from_body(item)
    }

    /// The write that creates it, only if no job with its id exists: the transaction of
    /// the request that asks for it fails instead of starting the same work twice.
    pub fn create(&self) -> Result<Write, ApiError> {
        Ok(Write::Put {
            item: self.to_item(1)?,
            condition: Condition::NotExists,
        })
    }

    /// The write that puts it in place of a finished job of the same id (at `version`): an
    /// account erased, then opened again under the same id (the same external login) and
    /// erased again within the week the first job is kept.
    pub fn replace(&self, version: u64) -> Result<Write, ApiError> {
        Ok(Write::Put {
            item: self.to_item(version + 1)?,
            condition: Condition::VersionIs(version),
        })
    }

    /// Whether no step has reported for [`STALLED_AFTER_MS`] (by `now_ms`): its message may
    /// have been lost to a dead letter.
    pub fn stalled(&self, now_ms: i128) -> bool {
        time::OffsetDateTime::parse(
            &self.updated_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map(|at| now_ms - at.unix_timestamp_nanos() / 1_000_000 > i128::from(STALLED_AFTER_MS))
        .unwrap_or(true)
    }

    /// What its owner reads at its status URL (an export's download link is added by the
    /// status route, which signs it).
    pub fn status(&self, public_base_url: &str) -> Value {
        json!({
            "download_url": null,
            "download_expires_at": null,
            "job_id": self.job_id,
            "kind": self.kind,
            "state": self.state,
            "steps": self.steps,
            "items_deleted": self.items_deleted,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
            "status_url": status_url(public_base_url, &self.job_id),
        })
    }
}

/// Who may read a job asked for by `user_id`: their audit pseudonym.
pub async fn owner_of(app: &App, user_id: &str) -> Result<String, ApiError> {
    let key = app.audit_key().await?;
    Ok(runcrew_shared::audit::actor_pseudonym(key, user_id))
}

/// The job of `kind` on `subject` that `user_id` asks for, owned under their pseudonym.
/// An erasure's id is [`job_id`] of the account, keyed under this deployment's secret, so a
/// repeated `DELETE /v1/users/me` (whose profile is already gone) finds the same job; a
/// course deletion's is new (the course is gone after the first, so a repeat is a 404), and
/// so is an export's (each is a new file).
pub async fn asked(
    app: &App,
    kind: JobKind,
    subject: &str,
    user_id: &str,
) -> Result<Job, ApiError> {
    let id = match kind {
        JobKind::EraseAccount => job_id(&app.derived_key("job-ids").await?, kind, subject),
        JobKind::DeleteCourse | JobKind::Export => uuid::Uuid::now_v7().simple().to_string(),
    };
    Ok(Job::new(id, kind, owner_of(app, user_id).await?, subject))
}

/// Queues the next step of `job_id`. A queue that stays down parks the message in the
/// table for an operator (never lost); the job's status then stays `queued`.
pub async fn queue_step(app: &App, job_id: &str) -> Result<(), ApiError> {
    send_or_park(
        app.queue()?,
        app.store()?,
        QueueName::Jobs,
        &step_message(job_id),
    )
    .await;
    Ok(())
}

/// The 202 of a request that started (or found) `job`: its status, and its status URL in
/// `Location` and `status_url`.
pub fn accepted(
    app: &App,
    job: &Job,
) -> Result<lambda_http::Response<lambda_http::Body>, ApiError> {
    let base = &app.config.public_base_url;
    let mut resp =
        runcrew_shared::response::no_store(http::StatusCode::ACCEPTED, &job.status(base))?;
    if let Ok(location) = http::HeaderValue::from_str(&status_url(base, &job.job_id)) {
        resp.headers_mut().insert(http::header::LOCATION, location);
    }
    Ok(resp)
}

/// Job `job_id` and its version, if it exists.
pub async fn load(store: &dyn Store, job_id: &str) -> Result<Option<(Job, u64)>, ApiError> {
    match store.get(&job_key(job_id)).await? {
        Some(item) => Ok(Some((Job::from_item(&item)?, item.version))),
        None => Ok(None),
    }
}

/// Saves one step's progress: `deleted` more items, and `done` when nothing is left. A
/// step delivered twice may count its items twice; the state is right whatever the order.
pub async fn record_step(
    store: &dyn Store,
    job_id: &str,
    deleted: u64,
    done: bool,
) -> Result<Option<Job>, ApiError> {
    Versioned::new(job_key(job_id))
        .apply(store, |current| async move {
            let Some(item) = current else {
                return Ok::<_, ApiError>(Change::keep(None));
            };
            let mut job = Job::from_item(&item)?;
            if job.state == JobState::Done {
                return Ok(Change::keep(Some(job)));
            }
            let now = now_rfc3339();
            job.steps += 1;
            job.items_deleted += deleted;
            job.updated_at = now.clone();
            if done {
                job.state = JobState::Done;
                job.subject = None;
                job.finished_at = Some(now);
            } else {
                job.state = JobState::Running;
            }
            Ok(Change::put(job.to_item(0)?, Some(job)))
        })
        .await
        .map_err(|err| {
            err.or_conflict(|| ApiError::busy("job_busy", "the job changed meanwhile", 1))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a-job-key-of-at-least-32-bytes!!";

    #[test]
    fn the_same_work_has_the_same_id_and_other_work_another() {
        // given an erasure of one account asked twice
        let first = job_id(
            KEY,
            JobKind::EraseAccount,
            "0123456789abcdef0123456789abcdef",
        );
        let again = job_id(
            KEY,
            JobKind::EraseAccount,
            "0123456789abcdef0123456789abcdef",
        );
        // then both find one job, shaped like every id, which does not contain the account
        assert_eq!(first, again);
        assert!(runcrew_shared::ids::has_id_shape(&first));
        assert!(!first.contains("0123456789abcdef0123"));
        // and deleting a course of the same id is another job
        assert_ne!(
            first,
            job_id(
                KEY,
                JobKind::DeleteCourse,
                "0123456789abcdef0123456789abcdef"
            )
        );
    }

    #[test]
    fn a_finished_job_keeps_no_subject_and_expires() {
        // given a job that is done
        let mut job = Job::new("j".into(), JobKind::EraseAccount, "p".into(), "the-user");
        job.state = JobState::Done;
        job.subject = None;
        // then its item carries no subject and expires within the week
        let item = job.to_item(3).expect("item");
        assert!(!format!("{:?}", item.body).contains("the-user"));
        assert!(item.expires_at.is_some());
        // while a running one is kept far longer (but not for ever)
        let running = Job::new("j".into(), JobKind::EraseAccount, "p".into(), "u");
        let done_at = item.expires_at.expect("done expiry");
        let running_at = running
            .to_item(1)
            .expect("item")
            .expires_at
            .expect("expiry");
        assert!(running_at - done_at > 20 * 24 * 3600);
    }

    #[test]
    fn the_status_names_the_state_and_where_to_read_it_again() {
        let job = Job::new("abc".into(), JobKind::DeleteCourse, "p".into(), "c");
        let status = job.status("https://api.example.com/");
        assert_eq!(status["state"], "queued");
        assert_eq!(status["kind"], "delete_course");
        assert_eq!(status["status_url"], "https://api.example.com/v1/jobs/abc");
        // and neither the owner's pseudonym nor the subject is shown
        assert!(status.get("owner").is_none() && status.get("subject").is_none());
    }
}
