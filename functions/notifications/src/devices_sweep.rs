//! `devices-sweep`: once a day, removes devices not registered again for 60 days. Apps
//! register their token on every start, so such a device is a phone given away, an app
//! removed, or a token FCM has long forgotten; keeping it would cost a failed send per
//! push and leave a stranger's token on the account.
//!
//! Bounded per tick ([`MAX_PER_TICK`]); what is left goes the next day. Idempotent: a tick
//! repeated or retried finds only what is still stale.

use runcrew_model::notification::device;
use runcrew_shared::tasks::schedule::{ScheduleFunction, Tick, TickFuture};
use runcrew_shared::{App, Needs, TaskError};

/// The `devices-sweep` scheduled task.
pub static DEVICES_SWEEP: ScheduleFunction = ScheduleFunction {
    binary: "devices-sweep",
    needs: Needs::NOTHING.store(),
    handler: sweep_handler,
};

/// The most devices one tick removes, so a tick stays well inside its timeout.
pub const MAX_PER_TICK: usize = 2_000;

fn sweep_handler<'a>(app: &'a App, tick: &'a Tick) -> TickFuture<'a> {
    Box::pin(sweep(app, tick))
}

/// Removes the devices stale at the tick's time.
pub async fn sweep(app: &App, tick: &Tick) -> Result<(), TaskError> {
    let swept = device::sweep_stale(app.store()?, tick.at_ms, MAX_PER_TICK).await?;
    tracing::info!(
        schedule = %tick.schedule,
        removed = swept.removed,
        more = swept.more,
        "stale devices removed"
    );
    Ok(())
}
