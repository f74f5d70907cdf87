//! The FCM HTTP v1 client: one `messages:send` request per message, with a cached access
//! token, and FCM's answer sorted into what the push consumer does next ([`SendError`]).
//!
//! The client tries each message once; retrying (with backoff, after `Retry-After`) is the
//! queue's job, so a slow FCM never holds a batch past the function's timeout.

use std::sync::Arc;

use async_trait::async_trait;

use super::PushSender;
use super::access_token::TokenSource;
use super::errors::{FcmSetupError, SendError, classify, describe, retry_after};
use super::message::message_body;
use super::service_account::{DEFAULT_TOKEN_URL, ServiceAccount};
use runcrew_shared::push::PushMessage;

/// Sends push messages through FCM HTTP v1 for one service account. Cheap to clone; the
/// clones share one token cache, so build one per execution environment.
#[derive(Clone)]
pub struct FcmClient {
    http: reqwest::Client,
    send_url: String,
    tokens: Arc<TokenSource>,
}

impl std::fmt::Debug for FcmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmClient")
            .field("send_url", &self.send_url)
            .field("token_url", &self.tokens.token_url())
            .field("account", self.tokens.account())
            .finish_non_exhaustive()
    }
}

impl FcmClient {
    /// A client sending to `api_url` (e.g. "https://fcm.googleapis.com"; a trailing slash is
    /// tolerated) with `http` (see [`super::http_client`]). The token endpoint is
    /// `token_url` when given, else the account's `token_uri`, else Google's.
    pub fn new(
        http: reqwest::Client,
        account: ServiceAccount,
        api_url: &str,
        token_url: Option<&str>,
    ) -> Result<FcmClient, FcmSetupError> {
        let api_url = checked_url("API", api_url)?;
        let token_url = checked_url(
            "token",
            token_url
                .or(account.token_uri())
                .unwrap_or(DEFAULT_TOKEN_URL),
        )?;
        let send_url = format!(
            "{}/v1/projects/{}/messages:send",
            api_url.trim_end_matches('/'),
            account.project_id()
        );
        Ok(FcmClient {
            tokens: Arc::new(TokenSource::new(http.clone(), account, token_url)),
            http,
            send_url,
        })
    }

    /// The URL messages are sent to (`{api_url}/v1/projects/{project_id}/messages:send`).
    pub fn send_url(&self) -> &str {
        &self.send_url
    }

    /// The token endpoint the access tokens come from.
    pub fn token_url(&self) -> &str {
        self.tokens.token_url()
    }
}

/// `url` if it is an absolute http(s) URL.
fn checked_url(what: &'static str, url: &str) -> Result<String, FcmSetupError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| FcmSetupError::Url {
        what,
        reason: format!("{url:?}: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
        return Err(FcmSetupError::Url {
            what,
            reason: format!("{url:?} is not an http(s) URL"),
        });
    }
    Ok(url.to_owned())
}

#[async_trait]
impl PushSender for FcmClient {
    async fn send(&self, message: &PushMessage) -> Result<(), SendError> {
        let body = message_body(message)?;
        let token = self.tokens.token().await?;
        let response = self
            .http
            .post(&self.send_url)
            .bearer_auth(token.secret())
            .json(&body)
            .send()
            .await
            .map_err(|e| SendError::Retry {
                after: None,
                reason: format!("FCM: {}", describe(e)),
            })?;
        let status = response.status();
        if status.is_success() {
            // Read to the end so the connection can serve the next send.
            let _ = response.bytes().await;
            return Ok(());
        }
        let after = retry_after(response.headers());
        // An answer cut off half-way is judged by its status alone.
        let text = response.text().await.unwrap_or_default();
        let error = classify(status.as_u16(), after, &text, &message.device_token);
        if matches!(error, SendError::Unauthorized { .. }) {
            // Our access token may be what was refused: the next send asks for a new one.
            self.tokens.forget(&token).await;
        }
        Err(error)
    }
}
