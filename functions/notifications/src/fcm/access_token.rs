//! The OAuth access token FCM wants, traded for a signed assertion at the token endpoint
//! and cached until shortly before it expires.
//!
//! One cache serves every send of the execution environment. Its lock is held across the
//! request, so sends that arrive while no token is cached wait for the one request rather
//! than each asking; a refused request is handed to the sends that waited on it for a
//! moment ([`FAILURE_HOLD`]) instead of being asked again by each of them.

use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use tokio::sync::Mutex;

use super::errors::{SendError, clip, describe, retry_after};
use super::service_account::ServiceAccount;

/// How long before its expiry a token is replaced, so a send never carries a token that
/// expires on the way.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// How long a failed token request answers the sends that come after it without a new
/// request: the sends of one batch, queued behind a 5 s timeout, fail at once instead of
/// taking 5 s each.
pub const FAILURE_HOLD: Duration = Duration::from_secs(2);
/// The grant type of a JWT-bearer assertion (RFC 7523).
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The lifetime assumed when the token endpoint does not say (Google says 3600).
const DEFAULT_EXPIRES_IN: u64 = 3600;

/// An access token. Never printed: `Debug` shows only that there is one.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AccessToken(String);

impl AccessToken {
    /// The token itself, for the `Authorization` header only.
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// The token endpoint's answer to a grant.
#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    expires_in: Option<u64>,
}

/// The token endpoint's answer to a refused grant.
#[derive(Deserialize)]
struct TokenRefusal {
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Debug, Default)]
struct State {
    /// The token and when to replace it.
    token: Option<(AccessToken, Instant)>,
    /// The last failed request and when it failed.
    failure: Option<(SendError, Instant)>,
}

/// Access tokens for one service account from one token endpoint.
#[derive(Debug)]
pub(crate) struct TokenSource {
    http: reqwest::Client,
    account: ServiceAccount,
    token_url: String,
    state: Mutex<State>,
}

impl TokenSource {
    /// A source with nothing cached yet.
    pub(crate) fn new(http: reqwest::Client, account: ServiceAccount, token_url: String) -> Self {
        TokenSource {
            http,
            account,
            token_url,
            state: Mutex::new(State::default()),
        }
    }

    /// The account the tokens are for.
    pub(crate) fn account(&self) -> &ServiceAccount {
        &self.account
    }

    /// The token endpoint.
    pub(crate) fn token_url(&self) -> &str {
        &self.token_url
    }

    /// A token valid for at least [`REFRESH_MARGIN`] more, from the cache or from one
    /// request that every concurrent caller waits for.
    pub(crate) async fn token(&self) -> Result<AccessToken, SendError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some((token, refresh_at)) = &state.token
            && now < *refresh_at
        {
            return Ok(token.clone());
        }
        if let Some((error, at)) = &state.failure
            && now.duration_since(*at) < FAILURE_HOLD
        {
            return Err(error.clone());
        }
        match self.request().await {
            Ok((token, refresh_at)) => {
                state.token = Some((token.clone(), refresh_at));
                state.failure = None;
                Ok(token)
            }
            Err(error) => {
                state.token = None;
                state.failure = Some((error.clone(), Instant::now()));
                Err(error)
            }
        }
    }

    /// Forgets `refused` (FCM did not accept it), so the next send asks for a new token; a
    /// newer token another send already fetched is kept.
    pub(crate) async fn forget(&self, refused: &AccessToken) {
        let mut state = self.state.lock().await;
        if state
            .token
            .as_ref()
            .is_some_and(|(token, _)| token == refused)
        {
            state.token = None;
        }
    }

    /// One grant request: the token and when to replace it.
    async fn request(&self) -> Result<(AccessToken, Instant), SendError> {
        let assertion = self
            .account
            .assertion(&self.token_url, SystemTime::now())
            .map_err(|e| SendError::Unauthorized {
                reason: format!("signing the token request: {e}"),
            })?;
        // Counted from before the request, so the token is replaced early rather than late.
        let asked_at = Instant::now();
        let response = self
            .http
            .post(&self.token_url)
            .form(&[
                ("grant_type", JWT_BEARER_GRANT),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| SendError::Retry {
                after: None,
                reason: format!("the token endpoint: {}", describe(e)),
            })?;
        let status = response.status();
        let after = retry_after(response.headers());
        let body = response.text().await.map_err(|e| SendError::Retry {
            after: None,
            reason: format!("the token endpoint's answer: {}", describe(e)),
        })?;
        if status.is_success() {
            let reply: TokenReply = serde_json::from_str(&body).map_err(|e| SendError::Retry {
                after: None,
                reason: format!("the token endpoint's answer is not a token: {e}"),
            })?;
            if reply.access_token.is_empty() {
                return Err(SendError::Retry {
                    after: None,
                    reason: "the token endpoint answered an empty token".to_owned(),
                });
            }
            let lifetime = Duration::from_secs(reply.expires_in.unwrap_or(DEFAULT_EXPIRES_IN));
            // A lifetime shorter than the margin: used for this send, replaced on the next.
            let refresh_at = asked_at + lifetime.saturating_sub(REFRESH_MARGIN);
            tracing::debug!(
                expires_in_s = lifetime.as_secs(),
                "fetched an FCM access token"
            );
            return Ok((AccessToken(reply.access_token), refresh_at));
        }
        let detail = match serde_json::from_str::<TokenRefusal>(&body) {
            Ok(refusal) if refusal.error_description.is_empty() => refusal.error,
            Ok(refusal) => format!("{}: {}", refusal.error, refusal.error_description),
            Err(_) => "no OAuth error in the answer".to_owned(),
        };
        let reason = clip(&format!(
            "the token endpoint answered HTTP {}: {detail}",
            status.as_u16()
        ));
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Err(SendError::Retry { after, reason })
        } else {
            // 400/401 invalid_grant (wrong key, deleted account, clock), 403, a wrong URL.
            Err(SendError::Unauthorized {
                reason: format!("{reason} (service account {})", self.account.client_email()),
            })
        }
    }
}
