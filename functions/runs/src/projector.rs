//! The projector: a consumer of the table's stream that keeps every run's derived data
//! right, whoever wrote the run (the API today, the Strava importer later).
//!
//! - a run inserted: its course's leaderboard entry for the runner and the runner's
//!   records take it if it beats them;
//! - a run removed: if it held the entry or a record, the runner's next best takes its
//!   place, or the records are rebuilt;
//! - a run changed: both, the old version out and the new one in.
//!
//! Totals move in the run's own transaction and need nothing here. The API still tries the
//! board and records at once (its answer says whether the run is a personal best), but
//! correctness no longer depends on that attempt: a failure or timeout after the commit is
//! repaired when the record arrives here.
//!
//! Idempotent and order-tolerant: offering a run twice changes nothing the second time,
//! withdrawing a run that holds nothing changes nothing, and an insert delivered after the
//! run was deleted is ignored (the run is read back first, consistently).

use runcrew_model::run::Run;
use runcrew_model::{leaderboard, stats};
use runcrew_shared::store::stream::Change;
use runcrew_shared::tasks::stream::{ChangeFuture, StreamFunction};
use runcrew_shared::{ApiError, App, Needs, TaskError};

/// The `projector` stream consumer.
pub static PROJECTOR: StreamFunction = StreamFunction {
    binary: "projector",
    needs: Needs::NOTHING.store(),
    handler: project_handler,
};

/// Every stream consumer of this crate, for the local gateway's registry.
pub static STREAM_TASKS: &[&StreamFunction] = &[&PROJECTOR];

/// The sort-key prefix of run items: the only records the projector reads (template.yaml's
/// filter lets no other record reach it on AWS).
pub const RUN_PREFIX: &str = "RUN#";

fn project_handler<'a>(app: &'a App, change: &'a Change) -> ChangeFuture<'a> {
    Box::pin(project(app, change))
}

/// Applies one stream record to the leaderboard and the records.
pub async fn project(app: &App, change: &Change) -> Result<(), TaskError> {
    if !change.key.sk.starts_with(RUN_PREFIX) {
        return Ok(());
    }
    let store = app.store()?;
    let old = change.old.as_ref().map(Run::from_item).transpose()?;
    let new = change.new.as_ref().map(Run::from_item).transpose()?;
    if let Some(old) = &old {
        leaderboard::withdraw(store, old).await?;
        stats::withdraw_records(store, old).await?;
    }
    if let Some(new) = &new {
        // A record delivered again after the run was deleted must not bring it back.
        if store
            .get(&change.key)
            .await
            .map_err(ApiError::from)?
            .is_none()
        {
            return Ok(());
        }
        leaderboard::offer(store, new).await?;
        stats::offer_records(store, new).await?;
    }
    Ok(())
}
