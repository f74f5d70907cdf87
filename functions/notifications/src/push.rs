//! The `push` consumer: one job per notification, one FCM request per device of the person
//! it concerns, if their settings allow it now.
//!
//! - **Settings.** A type they turned off: nothing is sent (the inbox has it). Quiet hours:
//!   the message is put off until they end ([`Handled::Later`]); a job older than
//!   [`STALE_AFTER`] by then is dropped from the lock screen, never from the inbox.
//! - **Once per device.** Before a send, a claim (`PUSHSENT#<notificationId>` /
//!   `<token digest>`, kept 2 days) is written on the condition that none exists: a
//!   redelivered job skips the devices it already reached, and two deliveries racing send
//!   once. A send that must be retried gives its claim back.
//! - **FCM's answers.** A dead token (`UNREGISTERED`, `SENDER_ID_MISMATCH`, an invalid
//!   registration token) removes the device. `UNAVAILABLE`, `INTERNAL`, `QUOTA_EXCEEDED`
//!   and timeouts put the message off by `Retry-After`, or by a backoff that doubles with
//!   each receive; the devices already reached are not sent again. A refused payload or
//!   `THIRD_PARTY_AUTH_ERROR` (APNs credentials) keeps the device and is logged at error
//!   level with a metric, not retried: another try would fail the same way.
//! - **No service account** (`FCM_SERVICE_ACCOUNT_*` unset): nothing is sent and the
//!   function says so once per execution environment; the inbox works all the same.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::join_all;
use runcrew_model::notification::device::{self, Device};
use runcrew_model::notification::inbox::Notification;
use runcrew_model::notification::job;
use runcrew_model::notification::settings::{self, STALE_AFTER};
use runcrew_shared::function::METRICS_NAMESPACE;
use runcrew_shared::push::{PushMessage, PushSender, SendError};
use runcrew_shared::queue::QueueName;
use runcrew_shared::store::{Condition, Item, Key, Store, StoreError};
use runcrew_shared::tasks::queue::{Handled, MessageFuture, QueueFunction, QueueMessage};
use runcrew_shared::telemetry::{self, Unit};
use runcrew_shared::{ApiError, App, Needs, TaskError};

/// The `push` queue consumer.
pub static PUSH: QueueFunction = QueueFunction {
    binary: "push",
    queue: QueueName::Push,
    needs: Needs::NOTHING.store().queue().push(crate::fcm_port::build),
    handler: push_handler,
};

/// How long a claim on a (job, device) is kept: longer than any job lives on the queue.
const CLAIM_SECONDS: i64 = 2 * 24 * 3600;
/// The first retry's pause without a `Retry-After`; it doubles per receive.
const FIRST_RETRY: Duration = Duration::from_secs(30);
/// The longest pause between retries without a `Retry-After`.
const MAX_RETRY: Duration = Duration::from_secs(15 * 60);

fn push_handler<'a>(app: &'a App, message: &'a QueueMessage) -> MessageFuture<'a> {
    Box::pin(async move {
        let notification = job::read(&message.body).map_err(TaskError)?;
        deliver(
            app.store()?,
            app.push(),
            &notification,
            message.receive_count,
            jiff::Timestamp::now(),
        )
        .await
    })
}

/// What one job did, for the log line and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sends {
    /// Devices FCM accepted the message for.
    pub sent: usize,
    /// Devices skipped: a delivery before this one reached them.
    pub already_sent: usize,
    /// Devices removed as dead.
    pub removed: usize,
    /// Devices whose send must be tried again.
    pub to_retry: usize,
    /// Sends refused for good (payload, third-party credentials): logged, not retried.
    pub refused: usize,
}

/// Delivers `notification`'s push to its person's devices as their settings allow at
/// `now`. `receive_count` paces retries without a `Retry-After`.
pub async fn deliver(
    store: &dyn Store,
    sender: Option<&dyn PushSender>,
    notification: &Notification,
    receive_count: u32,
    now: jiff::Timestamp,
) -> Result<Handled, TaskError> {
    let Some(sender) = sender else {
        pushes_off();
        return Ok(Handled::Done);
    };
    let kind = notification.kind.as_str();
    let settings = settings::load(store, &notification.user_id).await?;
    if !settings.allows(notification.kind) {
        tracing::info!(kind, "push not sent: the person turned this type off");
        return Ok(Handled::Done);
    }
    let age =
        Duration::from_millis((now.as_millisecond() - notification.id.created_ms()).max(0) as u64);
    if age > STALE_AFTER {
        tracing::info!(
            kind,
            age_s = age.as_secs(),
            "push not sent: stale (the inbox has it)"
        );
        return Ok(Handled::Done);
    }
    if let Some(remaining) = settings.quiet_hours.as_ref().and_then(|q| q.remaining(now)) {
        if age + remaining > STALE_AFTER {
            tracing::info!(
                kind,
                "push not sent: quiet hours outlast it (the inbox has it)"
            );
            return Ok(Handled::Done);
        }
        tracing::info!(
            kind,
            hold_s = remaining.as_secs(),
            "push held for quiet hours"
        );
        return Ok(Handled::Later(remaining));
    }
    let devices = device::list(store, &notification.user_id).await?;
    let outcomes = join_all(
        devices
            .iter()
            .map(|device| send_once(store, sender, notification, device)),
    )
    .await;
    let mut sends = Sends::default();
    let mut retry_after: Option<Duration> = None;
    for outcome in outcomes {
        match outcome? {
            DeviceOutcome::Sent => sends.sent += 1,
            DeviceOutcome::AlreadySent => sends.already_sent += 1,
            DeviceOutcome::Removed => sends.removed += 1,
            DeviceOutcome::Refused => sends.refused += 1,
            DeviceOutcome::Retry(after) => {
                sends.to_retry += 1;
                let pause = after.unwrap_or_else(|| backoff(receive_count));
                retry_after = Some(retry_after.map_or(pause, |p| p.max(pause)));
            }
        }
    }
    emit_metrics(&sends);
    tracing::info!(
        kind,
        devices = devices.len(),
        sent = sends.sent,
        already_sent = sends.already_sent,
        removed = sends.removed,
        to_retry = sends.to_retry,
        refused = sends.refused,
        "push job handled"
    );
    Ok(retry_after.map_or(Handled::Done, Handled::Later))
}

/// What became of one device's send.
enum DeviceOutcome {
    Sent,
    AlreadySent,
    Removed,
    Refused,
    Retry(Option<Duration>),
}

/// Claims (job, device), sends, and acts on FCM's answer.
async fn send_once(
    store: &dyn Store,
    sender: &dyn PushSender,
    notification: &Notification,
    device: &Device,
) -> Result<DeviceOutcome, ApiError> {
    let digest = device.digest();
    let claim = claim_key(notification, &digest);
    let expires = jiff::Timestamp::now().as_second() + CLAIM_SECONDS;
    match store
        .put(
            Item::new(claim.clone(), Default::default()).expiring_at(expires),
            Condition::NotExists,
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Ok(DeviceOutcome::AlreadySent),
        Err(other) => return Err(other.into()),
    }
    let message = PushMessage {
        device_token: device.token.clone(),
        title: notification.title.clone(),
        body: notification.body.clone(),
        data: job::push_data(notification),
        collapse_key: notification.kind.as_str().to_owned(),
    };
    let kind = notification.kind.as_str();
    match sender.send(&message).await {
        Ok(()) => Ok(DeviceOutcome::Sent),
        Err(SendError::DeadToken { code }) => {
            tracing::info!(kind, platform = ?device.platform, code, "device removed: FCM says its token is dead");
            device::remove(store, &notification.user_id, &digest).await?;
            Ok(DeviceOutcome::Removed)
        }
        Err(err @ (SendError::Retry { .. } | SendError::Unauthorized { .. })) => {
            // Give the claim back, so the retry sends to this device.
            store.delete(&claim, Condition::None).await?;
            let after = match &err {
                SendError::Retry { after, .. } => *after,
                _ => None,
            };
            if matches!(err, SendError::Unauthorized { .. }) {
                tracing::error!(kind, error = %err, "FCM refused our credentials; the push will be retried");
            } else {
                tracing::warn!(kind, error = %err, "FCM asked to try again later");
            }
            Ok(DeviceOutcome::Retry(after))
        }
        Err(err @ SendError::ThirdPartyAuth { .. }) => {
            tracing::error!(kind, platform = ?device.platform, error = %err, "APNs or web-push credentials of the Firebase project were refused; the device is kept");
            emit(THIRD_PARTY_AUTH_METRIC, 1);
            Ok(DeviceOutcome::Refused)
        }
        Err(err @ SendError::Rejected { .. }) => {
            tracing::error!(kind, error = %err, "FCM refused the message itself; it is not retried");
            Ok(DeviceOutcome::Refused)
        }
    }
}

/// The claim on sending `notification` to the device with token digest `digest`.
fn claim_key(notification: &Notification, digest: &str) -> Key {
    Key::new(format!("PUSHSENT#{}", notification.id.as_str()), digest)
}

/// The pause before try `receive_count + 1` when FCM gave no `Retry-After`: 30 s, doubling,
/// at most 15 minutes.
pub fn backoff(receive_count: u32) -> Duration {
    let doublings = receive_count.saturating_sub(1).min(10);
    (FIRST_RETRY * 2u32.pow(doublings)).min(MAX_RETRY)
}

/// The metric an alarm watches for APNs / web-push credential failures.
pub const THIRD_PARTY_AUTH_METRIC: &str = "FcmThirdPartyAuthErrors";

fn emit(name: &str, value: usize) {
    telemetry::emit_metric(
        METRICS_NAMESPACE,
        name,
        value as f64,
        Unit::Count,
        &[("Function", "push")],
    );
}

fn emit_metrics(sends: &Sends) {
    for (name, value) in [
        ("PushesSent", sends.sent),
        ("PushDevicesRemoved", sends.removed),
        ("PushSendsRetried", sends.to_retry),
    ] {
        if value > 0 {
            emit(name, value);
        }
    }
}

/// Says once per execution environment that pushes are off.
fn pushes_off() {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "pushes are off: no FCM service account is configured (set FCM_SERVICE_ACCOUNT_PATH, \
             or FCM_SERVICE_ACCOUNT_SECRET_ID on AWS); notifications still reach the inbox"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_without_retry_after_back_off_to_a_ceiling() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(4), Duration::from_secs(240));
        assert_eq!(backoff(9), MAX_RETRY);
        assert_eq!(backoff(u32::MAX), MAX_RETRY);
    }
}
