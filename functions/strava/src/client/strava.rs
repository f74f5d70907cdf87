//! [`StravaClient`] and the one way it sends a request and reads the answer: the usage
//! headers kept, an error answer sorted ([`super::errors`]), a body that cannot be read
//! reported without quoting secrets.

use serde::de::DeserializeOwned;

use super::errors::{Call, StravaError, classify, describe, redact};
use super::rate_limits::RateUsage;
use super::settings::StravaSettings;

/// A client of Strava for our application. Cheap to clone (the HTTP client is shared);
/// build one per execution environment. `Debug` leaves the client secret out.
#[derive(Clone)]
pub struct StravaClient {
    http: reqwest::Client,
    settings: StravaSettings,
    clock: fn() -> i64,
}

impl std::fmt::Debug for StravaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StravaClient")
            .field("client_id", &self.settings.client_id)
            .field("api_url", &self.settings.api_url)
            .field("oauth_url", &self.settings.oauth_url)
            .finish_non_exhaustive()
    }
}

/// A successful answer: its body and the usage it reported.
pub(crate) struct Reply {
    /// The body as text.
    pub(crate) body: String,
    /// The rate-limit usage of the answer's headers.
    pub(crate) usage: Option<RateUsage>,
}

/// Now, epoch seconds (UTC).
fn system_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl StravaClient {
    /// A client of the Strava at `settings`' URLs (trailing slashes dropped) sending with
    /// `http` (see [`super::http_client`]: our timeouts, no redirects).
    pub fn new(http: reqwest::Client, settings: StravaSettings) -> StravaClient {
        let settings = StravaSettings {
            api_url: settings.api_url.trim_end_matches('/').to_owned(),
            oauth_url: settings.oauth_url.trim_end_matches('/').to_owned(),
            ..settings
        };
        StravaClient {
            http,
            settings,
            clock: system_now,
        }
    }

    /// The same client reading the time from `now_epoch_s` (for [`StravaError::RateLimited`]
    /// and a grant without `expires_at`), so tests can fix it.
    pub fn with_clock(self, now_epoch_s: fn() -> i64) -> StravaClient {
        StravaClient {
            clock: now_epoch_s,
            ..self
        }
    }

    /// Our application's client id (public).
    pub fn client_id(&self) -> &str {
        &self.settings.client_id
    }

    /// The API base, without a trailing slash.
    pub fn api_url(&self) -> &str {
        &self.settings.api_url
    }

    /// The OAuth base, without a trailing slash.
    pub fn oauth_url(&self) -> &str {
        &self.settings.oauth_url
    }

    /// Our client secret, for the token endpoint's form only.
    pub(crate) fn client_secret(&self) -> &str {
        &self.settings.client_secret
    }

    /// Now, epoch seconds, from the client's clock.
    pub(crate) fn now(&self) -> i64 {
        (self.clock)()
    }

    /// The HTTP client, to build a request with.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends `request` (a `call`) once. A 2xx is its body and usage; anything else is
    /// sorted into a [`StravaError`] whose reason never quotes `secrets`.
    pub(crate) async fn send(
        &self,
        call: Call,
        request: reqwest::RequestBuilder,
        secrets: &[&str],
    ) -> Result<Reply, StravaError> {
        let response = request.send().await.map_err(|e| StravaError::Unavailable {
            reason: redact(&format!("Strava: {}", describe(e)), secrets),
        })?;
        let status = response.status();
        let usage = RateUsage::from_headers(response.headers());
        if status.is_success() {
            let body = response
                .text()
                .await
                .map_err(|e| StravaError::Unavailable {
                    reason: redact(&format!("Strava's answer: {}", describe(e)), secrets),
                })?;
            return Ok(Reply { body, usage });
        }
        // An answer cut off half-way is judged by its status alone.
        let body = response.text().await.unwrap_or_default();
        Err(classify(
            call,
            status.as_u16(),
            &body,
            usage.as_ref(),
            self.now(),
            secrets,
        ))
    }
}

/// `body` read as `T` (`what` names it in the error): an answer that is not what Strava
/// documents is `Unavailable` (a proxy's page, an answer cut off), with serde's message.
pub(crate) fn decode<T: DeserializeOwned>(body: &str, what: &str) -> Result<T, StravaError> {
    serde_json::from_str(body).map_err(|e| StravaError::Unavailable {
        reason: format!("Strava's {what} is not what was expected: {e}"),
    })
}

/// [`decode`] for an answer carrying secrets (tokens): the error says where reading
/// failed, never what it read (serde's message may quote a value).
pub(crate) fn decode_secret<T: DeserializeOwned>(body: &str, what: &str) -> Result<T, StravaError> {
    serde_json::from_str(body).map_err(|e| StravaError::Unavailable {
        reason: format!(
            "Strava's {what} is not what was expected ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}
