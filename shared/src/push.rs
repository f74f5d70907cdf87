//! The push port: one notification to one device. The adapter is FCM HTTP v1
//! (`runcrew-notifications`'s `fcm`), supplied to [`crate::Needs::push`] by the function
//! that sends; tests point it at a loopback fake.
//!
//! What the caller does with each [`SendError`] is the point of the type: some answers mean
//! the device is gone for good, some mean "later", some mean an operator must act.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

/// One notification for one device, as the push consumer hands it to a [`PushSender`].
#[derive(Clone, PartialEq, Eq)]
pub struct PushMessage {
    /// The FCM registration token of the device (never logged or printed).
    pub device_token: String,
    /// The notification's title.
    pub title: String,
    /// The notification's text; shortened with "…" when the message would not fit.
    pub body: String,
    /// What the app reads when the notification is opened; FCM wants string values.
    pub data: BTreeMap<String, String>,
    /// The kind of notification (`new_follower`, say): newer ones of a kind replace older
    /// ones on the device, and Android shows them in the channel of that name.
    pub collapse_key: String,
}

impl std::fmt::Debug for PushMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushMessage")
            .field("device_token", &"<redacted>")
            .field("title", &self.title)
            .field("body", &self.body)
            .field("data", &self.data)
            .field("collapse_key", &self.collapse_key)
            .finish()
    }
}

/// Why one message was not delivered, sorted by what the caller does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// FCM says the device token is gone or not ours (UNREGISTERED, SENDER_ID_MISMATCH, an
    /// invalid registration token): delete the device; sending again cannot succeed.
    #[error("FCM no longer accepts the device token ({code})")]
    DeadToken {
        /// FCM's error code, e.g. `UNREGISTERED`.
        code: String,
    },
    /// FCM, the token endpoint or the network could not take the message now (QUOTA_EXCEEDED,
    /// UNAVAILABLE, INTERNAL, 5xx, timeouts): send it again later, after `after` when FCM
    /// said how long to wait (`Retry-After`).
    #[error("FCM could not take the message now: {reason}")]
    Retry {
        /// FCM's `Retry-After`, when it gave one.
        after: Option<Duration>,
        /// What happened, for the log.
        reason: String,
    },
    /// FCM could not reach APNs or web push with the credentials in the Firebase project
    /// (THIRD_PARTY_AUTH_ERROR): keep the device, do not retry; someone must fix the
    /// project's APNs key, so the caller logs it and counts it.
    #[error("FCM could not authenticate with APNs or web push: {reason}")]
    ThirdPartyAuth {
        /// FCM's message, for the log.
        reason: String,
    },
    /// FCM refused this message (a payload error, a message that cannot fit 4096 bytes, a
    /// project FCM does not know): keep the device, do not retry the same message.
    #[error("FCM rejected the message: {reason}")]
    Rejected {
        /// What FCM or we objected to.
        reason: String,
    },
    /// Our service account or access token was refused (the token endpoint's invalid_grant,
    /// FCM's UNAUTHENTICATED or PERMISSION_DENIED): retry later; the caller logs it at error
    /// level, since no message goes out until the credentials are fixed.
    #[error("our FCM credentials were refused: {reason}")]
    Unauthorized {
        /// What the token endpoint or FCM said.
        reason: String,
    },
}

impl SendError {
    /// Whether sending the same message again later may succeed (`Retry`, `Unauthorized`),
    /// so the consumer leaves the job on the queue instead of dropping it.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SendError::Retry { .. } | SendError::Unauthorized { .. }
        )
    }

    /// How long FCM asked us to wait before trying again, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SendError::Retry { after, .. } => *after,
            _ => None,
        }
    }
}

/// Sends one push message to one device. The adapter is FCM; tests of the consumer
/// can use a fake.
#[async_trait]
pub trait PushSender: Send + Sync {
    /// Sends `message`; the error says whether to delete the device, retry or give up.
    async fn send(&self, message: &PushMessage) -> Result<(), SendError>;
}
