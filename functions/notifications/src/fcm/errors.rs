//! What can go wrong: setting the client up ([`FcmSetupError`]) and sending one message
//! ([`SendError`]), and how FCM's error answers map to what the push consumer does next.
//!
//! FCM puts its own code in `error.details[]` as an `FcmError` detail; the top-level
//! `status` may be generic (`NOT_FOUND`, `INVALID_ARGUMENT`), so the detail decides first,
//! then the status, then the HTTP code. A device is deleted only on an answer that names
//! the device token as the problem: a payload error, a wrong project or our own credentials
//! must never cost users their devices.

use std::time::Duration;

use serde::Deserialize;

pub use runcrew_shared::push::SendError;

/// Why the FCM client could not be set up: a start-up problem of the push consumer,
/// refused loudly rather than discovered on the first message.
#[derive(Debug, thiserror::Error)]
pub enum FcmSetupError {
    /// The service account JSON is not a usable service account (never quotes the key).
    #[error("the FCM service account: {0}")]
    ServiceAccount(String),
    /// The API or token URL is not an absolute http(s) URL.
    #[error("the FCM {what} URL: {reason}")]
    Url {
        /// Which URL: "API" or "token".
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (no TLS roots, say).
    #[error("the FCM HTTP client: {0}")]
    HttpClient(String),
}

/// The longest piece of a third party's error text kept in a reason: enough for a log
/// line, never a whole page of HTML from a proxy.
const MAX_REASON_CHARS: usize = 300;

/// `text` cut to [`MAX_REASON_CHARS`] characters.
pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The `Retry-After` header in seconds (the form FCM uses); an HTTP date is ignored.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A reqwest error as text, with its causes and without its URL.
pub(crate) fn describe(error: reqwest::Error) -> String {
    runcrew_shared::outbound::error_chain(&error.without_url())
}

#[derive(Deserialize)]
struct Envelope {
    error: Status,
}

/// A `google.rpc.Status`, FCM's error body.
#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<serde_json::Value>,
}

const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST_TYPE: &str = "type.googleapis.com/google.rpc.BadRequest";
/// The field a BadRequest violation names when the registration token itself is bad.
const TOKEN_FIELD: &str = "message.token";

impl Status {
    /// The `errorCode` of the FcmError detail, when there is one.
    fn fcm_code(&self) -> Option<&str> {
        self.details
            .iter()
            .filter(|d| d["@type"] == FCM_ERROR_TYPE)
            .find_map(|d| d["errorCode"].as_str())
    }

    /// The fields named by the BadRequest details' field violations.
    fn violated_fields(&self) -> Vec<&str> {
        self.details
            .iter()
            .filter(|d| d["@type"] == BAD_REQUEST_TYPE)
            .filter_map(|d| d["fieldViolations"].as_array())
            .flatten()
            .filter_map(|v| v["field"].as_str())
            .collect()
    }

    /// Whether an INVALID_ARGUMENT is about the registration token rather than the payload:
    /// a violation on `message.token`, or, with no violations at all, FCM's message "The
    /// registration token is not a valid FCM registration token".
    fn blames_the_token(&self) -> bool {
        let fields = self.violated_fields();
        if !fields.is_empty() {
            return fields.contains(&TOKEN_FIELD);
        }
        let message = self.message.to_ascii_lowercase();
        message.contains("registration token") && message.contains("not a valid")
    }
}

/// What an FCM error answer (`status`, its `Retry-After`, its body) means for the message
/// sent to `device_token`. The device token never appears in the reasons, even if FCM
/// quoted it.
pub(crate) fn classify(
    status: u16,
    after: Option<Duration>,
    body: &str,
    device_token: &str,
) -> SendError {
    let parsed = serde_json::from_str::<Envelope>(body).ok().map(|e| e.error);
    let reason = {
        let message = parsed.as_ref().map_or("", |s| s.message.as_str());
        let code = parsed
            .as_ref()
            .and_then(|s| s.fcm_code().or(Some(s.status.as_str())))
            .filter(|c| !c.is_empty())
            .unwrap_or("no error code");
        let text = format!("HTTP {status} {code}: {message}");
        let text = if device_token.is_empty() {
            text
        } else {
            text.replace(device_token, "<device token>")
        };
        clip(&text)
    };
    let retry = |reason: String| SendError::Retry { after, reason };

    if let Some(status_body) = &parsed {
        if let Some(code) = status_body.fcm_code() {
            match code {
                "UNREGISTERED" | "SENDER_ID_MISMATCH" => {
                    return SendError::DeadToken {
                        code: code.to_owned(),
                    };
                }
                "THIRD_PARTY_AUTH_ERROR" => return SendError::ThirdPartyAuth { reason },
                "QUOTA_EXCEEDED" | "UNAVAILABLE" | "INTERNAL" => return retry(reason),
                "INVALID_ARGUMENT" => return invalid_argument(status_body, reason),
                // UNSPECIFIED_ERROR and codes added later: the status decides.
                _ => {}
            }
        }
        match status_body.status.as_str() {
            "INVALID_ARGUMENT" => return invalid_argument(status_body, reason),
            "UNAUTHENTICATED" | "PERMISSION_DENIED" => {
                return SendError::Unauthorized { reason };
            }
            "RESOURCE_EXHAUSTED" | "UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED" => {
                return retry(reason);
            }
            _ => {}
        }
    }
    match status {
        401 | 403 => SendError::Unauthorized { reason },
        408 | 429 | 500..=599 => retry(reason),
        // A bare NOT_FOUND names no device (a wrong project id, say): keep the devices.
        _ => SendError::Rejected { reason },
    }
}

/// An INVALID_ARGUMENT: the device is dead only when the token itself is what is invalid.
fn invalid_argument(status: &Status, reason: String) -> SendError {
    if status.blames_the_token() {
        SendError::DeadToken {
            code: "INVALID_ARGUMENT".to_owned(),
        }
    } else {
        SendError::Rejected { reason }
    }
}
