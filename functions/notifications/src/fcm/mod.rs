//! FCM HTTP v1: the push consumer's way to a device.
//!
//! - [`service_account`]: the Firebase service account and the assertion it signs;
//! - [`access_token`]: the OAuth access token, one request per expiry for the whole
//!   execution environment;
//! - [`message`]: the message and its request body (both platforms, at most 4096 bytes);
//! - [`errors`]: FCM's answers sorted into delete the device, retry later, or give up;
//! - [`client`]: [`FcmClient`], one `messages:send` request per message.
//!
//! The access token, the private key and device tokens never appear in a log line, an
//! error or a `Debug` output.

pub mod access_token;
pub mod client;
pub mod errors;
pub mod message;
pub mod service_account;

use std::time::Duration;

pub use client::FcmClient;
pub use errors::{FcmSetupError, SendError};
pub use message::{MAX_PAYLOAD_BYTES, message_body};
pub use runcrew_shared::push::PushMessage;
pub use runcrew_shared::push::PushSender;
pub use service_account::ServiceAccount;

/// The longest a connection to FCM or the token endpoint may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest one request may take, so a stalled FCM cannot hold a batch until the
/// function's own timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP client for FCM and its token endpoint: our timeouts (a stalled Google cannot
/// hold a batch), no redirects (neither endpoint redirects, so one would only send our
/// assertion or a message somewhere unexpected), our user agent, rustls. Build it once per
/// execution environment; a client that cannot be built is an error, never a default
/// client without the timeouts.
pub fn http_client() -> Result<reqwest::Client, FcmSetupError> {
    runcrew_shared::outbound::https_client(CONNECT_TIMEOUT, REQUEST_TIMEOUT)
        .map_err(FcmSetupError::HttpClient)
}
