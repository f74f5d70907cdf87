//! What can go wrong: setting the client up ([`StravaSetupError`]) and one request
//! ([`StravaError`]), and how Strava's error answers map to what the import does next.
//!
//! Strava's error body is `{"message": "...", "errors": [{"resource", "field", "code"}]}`.
//! The reasons kept are built from those fields, or from the first few hundred characters
//! of a body that is not one (a proxy's page), with every secret of the request cut out:
//! an error may be logged, a token or the client secret never.

use serde::Deserialize;

use super::rate_limits::{RateUsage, resume_at};

/// Why the Strava client could not be set up: a start-up problem, refused loudly rather
/// than discovered on the first import.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StravaSetupError {
    /// The HTTP client could not be built (no TLS roots, say).
    #[error("the Strava HTTP client: {0}")]
    HttpClient(String),
}

/// Why a request to Strava did not give what was asked, sorted by what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StravaError {
    /// 401 (or a refresh token Strava calls invalid): the athlete revoked our access or the
    /// token is no longer valid. After an API call, refresh once and ask again; from a
    /// refresh, the athlete has to connect again.
    #[error("Strava refused the athlete's token: the athlete must reconnect")]
    Revoked,
    /// 403 "limit of connected athletes exceeded": our application has as many athletes as
    /// Strava allows it; nobody new can connect until Strava raises the cap.
    #[error("Strava's limit of connected athletes for our application is reached")]
    AthleteLimit,
    /// 429: the application's rate limit is used up. Ask again at `resume_at` (epoch
    /// seconds, see [`resume_at`]), not before: refused requests still count.
    #[error("Strava's rate limit is used up until {resume_at} (epoch s)")]
    RateLimited {
        /// When the full window reopens, epoch seconds.
        resume_at: i64,
    },
    /// 404: what was asked for is not there (an activity deleted meanwhile, or private to
    /// another athlete).
    #[error("Strava has no such record")]
    NotFound,
    /// 5xx, a timeout, a connection error or an answer that cannot be read: Strava may
    /// answer later.
    #[error("Strava is unavailable: {reason}")]
    Unavailable {
        /// What happened, for the logs (no secrets).
        reason: String,
    },
    /// Any other refusal (a bad or used code, a wrong client id): asking again gets the same
    /// answer.
    #[error("Strava refused the request (HTTP {status}): {reason}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// Strava's message and error codes, for the logs (no secrets).
        reason: String,
    },
}

impl StravaError {
    /// Whether asking again later may succeed (rate limited or unavailable).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StravaError::RateLimited { .. } | StravaError::Unavailable { .. }
        )
    }
}

/// Which kind of request an error answer came from: the same status means different
/// things on the token endpoint and on the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// Trading an authorization code for tokens.
    Code,
    /// Trading a refresh token for new tokens.
    Refresh,
    /// Revoking our access.
    Deauthorize,
    /// A read of the API with an access token.
    Api,
}

/// The longest piece of a third party's error text kept in a reason: enough for a log
/// line, never a whole page of HTML from a proxy.
const MAX_REASON_CHARS: usize = 300;

/// What replaces a secret that an answer quoted.
const REDACTED: &str = "<redacted>";

/// Strava's error body.
#[derive(Debug, Default, Deserialize)]
struct Fault {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<FaultItem>,
}

/// One entry of `errors`: what was wrong with which field of which resource.
#[derive(Debug, Default, Deserialize)]
struct FaultItem {
    #[serde(default)]
    resource: String,
    #[serde(default)]
    field: String,
    #[serde(default)]
    code: String,
}

impl Fault {
    /// Whether an entry names `resource` (case-insensitively).
    fn names_resource(&self, resource: &str) -> bool {
        self.errors
            .iter()
            .any(|e| e.resource.eq_ignore_ascii_case(resource))
    }

    /// Whether every entry names `resource`, and there is at least one.
    fn only_names_resource(&self, resource: &str) -> bool {
        !self.errors.is_empty()
            && self
                .errors
                .iter()
                .all(|e| e.resource.eq_ignore_ascii_case(resource))
    }

    /// The message and the entries on one line: `Bad Request (RefreshToken.refresh_token
    /// invalid)`.
    fn summary(&self) -> String {
        let entries: Vec<String> = self
            .errors
            .iter()
            .map(|e| format!("{}.{} {}", e.resource, e.field, e.code))
            .collect();
        match (self.message.is_empty(), entries.is_empty()) {
            (_, true) => self.message.clone(),
            (true, false) => entries.join(", "),
            (false, false) => format!("{} ({})", self.message, entries.join(", ")),
        }
    }
}

/// What an error answer (`status`, its `body`, the usage it reported) to a `call` means,
/// at `now_epoch_s`. `secrets` (what the request carried) never appear in a reason, even
/// if the answer quoted them.
pub(crate) fn classify(
    call: Call,
    status: u16,
    body: &str,
    usage: Option<&RateUsage>,
    now_epoch_s: i64,
    secrets: &[&str],
) -> StravaError {
    let fault = serde_json::from_str::<Fault>(body).ok();
    let reason = {
        let detail = match &fault {
            Some(fault) => fault.summary(),
            None => body.trim().to_owned(),
        };
        let text = if detail.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {detail}")
        };
        clip(&redact(&text, secrets))
    };
    let fault = fault.unwrap_or_default();
    match status {
        // Our application's own credentials refused (a wrong client secret): not the
        // athlete's doing, and reconnecting would not help.
        401 if fault.only_names_resource("Application") => StravaError::Rejected { status, reason },
        401 => StravaError::Revoked,
        // A refresh token Strava no longer knows: replaced by a later refresh, or the
        // athlete disconnected us. Either way the tokens we hold are dead.
        400 if call == Call::Refresh && fault.names_resource("RefreshToken") => {
            StravaError::Revoked
        }
        403 if body
            .to_ascii_lowercase()
            .contains("limit of connected athletes") =>
        {
            StravaError::AthleteLimit
        }
        404 => StravaError::NotFound,
        429 => StravaError::RateLimited {
            resume_at: resume_at(now_epoch_s, usage),
        },
        408 | 500..=599 => StravaError::Unavailable { reason },
        _ => StravaError::Rejected { status, reason },
    }
}

/// `text` with every non-empty secret replaced by a placeholder.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret, REDACTED)
        })
}

/// `text` cut to [`MAX_REASON_CHARS`] characters.
pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A reqwest error as text, with its causes and without its URL.
pub(crate) fn describe(error: reqwest::Error) -> String {
    runcrew_shared::outbound::error_chain(&error.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_client_secret_is_rejected_not_revoked() {
        let body = r#"{"message":"Authorization Error","errors":[{"resource":"Application","field":"","code":"invalid"}]}"#;
        let error = classify(Call::Code, 401, body, None, 0, &[]);
        assert!(
            matches!(error, StravaError::Rejected { status: 401, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn a_used_code_is_rejected() {
        let body = r#"{"message":"Bad Request","errors":[{"resource":"AuthorizationCode","field":"code","code":"invalid"}]}"#;
        let error = classify(Call::Code, 400, body, None, 0, &[]);
        assert_eq!(
            error,
            StravaError::Rejected {
                status: 400,
                reason: "HTTP 400: Bad Request (AuthorizationCode.code invalid)".to_owned()
            }
        );
    }

    #[test]
    fn a_quoted_secret_is_cut_out_and_a_long_page_clipped() {
        let body = format!("<html>bad token abc123 {}</html>", "x".repeat(1000));
        let StravaError::Unavailable { reason } =
            classify(Call::Api, 502, &body, None, 0, &["abc123", ""])
        else {
            panic!("a 502 is Unavailable");
        };
        assert!(!reason.contains("abc123"), "{reason}");
        assert!(reason.contains(REDACTED), "{reason}");
        assert!(reason.chars().count() <= MAX_REASON_CHARS + 1, "{reason}");
    }
}
