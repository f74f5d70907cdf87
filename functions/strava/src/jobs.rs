//! The messages of the Strava queue: what `strava-import` is asked to do. Each names the
//! user, so a message outliving a disconnect finds no connection and does nothing.

use runcrew_shared::ApiError;
use runcrew_shared::App;
use runcrew_shared::queue::{QueueName, send_or_park};
use serde::{Deserialize, Serialize};

/// One job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Run (or resume) the connection's sync: a first import, a sync-all or a sweep.
    Sync {
        /// Whose.
        user_id: String,
    },
    /// Import one activity (a webhook's `create`).
    Activity {
        /// Whose.
        user_id: String,
        /// Strava's id.
        activity_id: i64,
    },
    /// An activity changed on Strava (a webhook's `update`): privacy or type.
    Update {
        /// Whose.
        user_id: String,
        /// Strava's id.
        activity_id: i64,
        /// `updates.private`, when it changed.
        private: Option<bool>,
        /// `updates.type`, when it changed (not a run any more: the run goes).
        sport_type: Option<String>,
    },
    /// An activity was deleted on Strava: its run goes.
    Delete {
        /// Whose.
        user_id: String,
        /// Strava's id.
        activity_id: i64,
    },
    /// The athlete disconnected: every Strava-sourced run goes, as the API agreement
    /// requires.
    Purge {
        /// Whose.
        user_id: String,
    },
    /// A webhook says the athlete revoked us. Events are not signed, so the importer asks
    /// Strava first, and disconnects and purges only if Strava refuses our tokens.
    Revoked {
        /// Whose.
        user_id: String,
    },
}

impl Job {
    /// Whose job it is.
    pub fn user_id(&self) -> &str {
        match self {
            Job::Sync { user_id }
            | Job::Activity { user_id, .. }
            | Job::Update { user_id, .. }
            | Job::Delete { user_id, .. }
            | Job::Purge { user_id }
            | Job::Revoked { user_id } => user_id,
        }
    }
}

/// Queues `job`; when the queue is down, parks it as a dead letter (never dropped).
pub async fn queue(app: &App, job: &Job) -> Result<(), ApiError> {
    let message = serde_json::to_value(job)
        .map_err(|e| ApiError::Internal(format!("a Strava job cannot be written: {e}")))?;
    send_or_park(app.queue()?, app.store()?, QueueName::Strava, &message).await;
    Ok(())
}
