//! The push port: one notification to one device. The adapter is FCM HTTP v1
//! (`runcrew-notifications`'s `fcm`), supplied to [`crate::Needs::push`] by the function
//! that sends; tests point it at a loopback fake.
//!
//! What the caller does with each [`SendError`] is the point of the type: some answers mean
//! the device is gone for good, some mean "later", some mean an operator must act.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

/// One push to one device.
#[derive(Clone, PartialEq, Eq)]
pub struct PushMessage {
    /// The device's registration token (a secret of the device: never logged).
    pub device_token: String,
    /// The notification's title, as the device shows it.
    pub title: String,
    /// The notification's text; shortened when the whole message would pass 4 KB.
    pub body: String,
    /// What the app reads to open the right screen; FCM wants string values.
    pub data: BTreeMap<String, String>,
    /// One per notification type: a newer push of a type replaces an unread older one.
    pub collapse_key: String,
}

impl std::fmt::Debug for PushMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushMessage")
            .field("device_token", &"***")
            .field("title", &self.title)
            .field("collapse_key", &self.collapse_key)
            .finish_non_exhaustive()
    }
}

/// Why a push was not delivered, by what the caller must do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The device is gone for good (`UNREGISTERED`, `SENDER_ID_MISMATCH`, an invalid
    /// registration token): delete it.
    #[error("the device token is dead ({code})")]
    DeadToken {
        /// FCM's error code.
        code: String,
    },
    /// Try this message again later (`UNAVAILABLE`, `INTERNAL`, `QUOTA_EXCEEDED`, a
    /// timeout), after `after` when the service said so (`Retry-After`).
    #[error("try again later: {reason}")]
    Retry {
        /// The service's `Retry-After`, when it gave one.
        after: Option<Duration>,
        /// What went wrong, without any token.
        reason: String,
    },
    /// APNs or web-push credentials of the Firebase project are wrong
    /// (`THIRD_PARTY_AUTH_ERROR`): keep the device, alert an operator, do not retry.
    #[error("third-party push credentials were refused: {reason}")]
    ThirdPartyAuth {
        /// FCM's message.
        reason: String,
    },
    /// The message itself was refused (a payload error): keep the device, do not retry.
    #[error("the message was refused: {reason}")]
    Rejected {
        /// FCM's message.
        reason: String,
    },
    /// Our own service account or access token was refused: retry later; an operator must
    /// look (logged at error level).
    #[error("our FCM credentials were refused: {reason}")]
    Unauthorized {
        /// What the token endpoint or FCM said.
        reason: String,
    },
}

/// Sends pushes.
#[async_trait]
pub trait PushSender: Send + Sync {
    /// Sends one message to one device.
    async fn send(&self, message: &PushMessage) -> Result<(), SendError>;
}
