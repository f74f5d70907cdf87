//! The identity port: who a social-login token belongs to, checked with the provider itself.
//!
//! `POST /v1/auth/login` hands the client's provider token to an [`IdentityVerifier`] and
//! issues our own tokens only for the [`Identity`] it returns. One adapter per provider:
//! [`kakao`] and [`naver`] ask the provider's API about an access token, [`id_token`] checks
//! Google and Apple id_tokens against their published keys ([`jwks`]), and [`dev`] accepts
//! a bare name on a laptop.

pub mod dev;
pub mod id_token;
pub mod jwks;
pub mod kakao;
pub mod naver;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::config::{Config, Environment, ProviderConfig};
use crate::error::ApiError;

/// A login provider the API knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Kakao Login (access token).
    Kakao,
    /// Naver Login (access token).
    Naver,
    /// Sign in with Google (id_token).
    Google,
    /// Sign in with Apple (id_token).
    Apple,
    /// A name is enough: laptops only.
    Dev,
    /// The external OpenID Connect issuer of external OIDC mode.
    Oidc,
}

impl Provider {
    /// The name in requests and stored links.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Kakao => "kakao",
            Provider::Naver => "naver",
            Provider::Google => "google",
            Provider::Apple => "apple",
            Provider::Dev => "dev",
            Provider::Oidc => "oidc",
        }
    }

    /// The providers a client may name in `POST /v1/auth/login`.
    pub const LOGIN: [Provider; 5] = [
        Provider::Kakao,
        Provider::Naver,
        Provider::Google,
        Provider::Apple,
        Provider::Dev,
    ];

    /// Reads a provider name a client sent.
    pub fn parse_login(name: &str) -> Option<Provider> {
        Provider::LOGIN.into_iter().find(|p| p.as_str() == name)
    }
}

/// A person as a provider vouched for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Which provider.
    pub provider: Provider,
    /// The provider's stable id of the person (Kakao/Naver `id`, OIDC `sub`).
    pub subject: String,
    /// The e-mail address, when the provider shared one (kept private).
    pub email: Option<String>,
    /// A name to start the profile with.
    pub display_name: Option<String>,
}

/// Why a provider token did not give an identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The token is not valid for us (expired, forged, another app's, wrong audience).
    #[error("{0}")]
    Rejected(String),
    /// The request lacks something the provider needs (e.g. Apple's nonce).
    #[error("{field}: {message}")]
    Invalid {
        /// The request field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// This server has no settings for the provider.
    #[error("{0} login is not enabled on this server")]
    NotConfigured(Provider),
    /// The provider could not be asked (down, timing out, answering 5xx).
    #[error("{provider} is unavailable: {detail}")]
    Unavailable {
        /// Which provider.
        provider: Provider,
        /// What happened, for the log only.
        detail: String,
    },
}

impl From<IdentityError> for ApiError {
    fn from(err: IdentityError) -> Self {
        match err {
            IdentityError::Rejected(_) => {
                ApiError::Unauthorized("the provider token was not accepted".into())
            }
            IdentityError::Invalid { field, message } => ApiError::invalid(field, message),
            IdentityError::NotConfigured(p) => ApiError::invalid(
                "provider",
                format!("{} login is not enabled on this server", p.as_str()),
            ),
            IdentityError::Unavailable { provider, .. } => ApiError::unavailable(provider.as_str()),
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks one provider's tokens.
#[async_trait]
pub trait IdentityVerifier: Send + Sync {
    /// The identity behind `token`; `nonce` is the one the client generated for this login.
    async fn verify(&self, token: &str, nonce: Option<&str>) -> Result<Identity, IdentityError>;
}

#[derive(Clone, Default)]
struct Slots {
    kakao: Option<Arc<dyn IdentityVerifier>>,
    naver: Option<Arc<dyn IdentityVerifier>>,
    google: Option<Arc<dyn IdentityVerifier>>,
    apple: Option<Arc<dyn IdentityVerifier>>,
    dev: Option<Arc<dyn IdentityVerifier>>,
}

impl Slots {
    fn get(&self, provider: Provider) -> Option<&Arc<dyn IdentityVerifier>> {
        match provider {
            Provider::Kakao => self.kakao.as_ref(),
            Provider::Naver => self.naver.as_ref(),
            Provider::Google => self.google.as_ref(),
            Provider::Apple => self.apple.as_ref(),
            Provider::Dev => self.dev.as_ref(),
            Provider::Oidc => None,
        }
    }

    fn get_mut(&mut self, provider: Provider) -> Option<&mut Option<Arc<dyn IdentityVerifier>>> {
        match provider {
            Provider::Kakao => Some(&mut self.kakao),
            Provider::Naver => Some(&mut self.naver),
            Provider::Google => Some(&mut self.google),
            Provider::Apple => Some(&mut self.apple),
            Provider::Dev => Some(&mut self.dev),
            Provider::Oidc => None,
        }
    }
}

/// The verifiers this server has settings for, by provider.
///
/// [`IdentityProviders::ready`] builds them at start-up, as the identity port of
/// `auth-login` is built: the HTTP client loads TLS roots, and a client that cannot be built
/// (no CA certificates, a broken TLS set-up) must stop the start, loudly, rather than fail
/// every login after it. It costs a cold login nothing: that function's first request is a
/// login, which needs the client anyway; a server with only the `dev` provider builds no
/// client at all. [`IdentityProviders::from_config`] defers the building to the first
/// login (tests, tools); there a client that cannot be built makes logins 503, logged.
#[derive(Default)]
pub struct IdentityProviders {
    settings: Option<(ProviderConfig, bool)>,
    built: OnceLock<Result<Slots, HttpClientError>>,
    overrides: Slots,
}

impl std::fmt::Debug for IdentityProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProviders")
            .field("configured", &self.settings.is_some())
            .field("built", &self.built.get().is_some())
            .finish()
    }
}

/// Connect and whole-request timeouts of provider calls: a login waits at most this long
/// before answering 503, well inside API Gateway's 30 s.
pub const PROVIDER_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// See [`PROVIDER_CONNECT_TIMEOUT`].
pub const PROVIDER_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP client of provider calls could not be built (its TLS set-up failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the HTTPS client of the login providers cannot be built (check SSL_CERT_FILE and the CA \
     certificates): {0}"
)]
pub struct HttpClientError(String);

/// The HTTP client of provider calls: rustls, short timeouts, no redirects to follow.
///
/// An error when it cannot be built, never a client without these settings: a client with
/// no timeouts would hold a login until the function's own timeout whenever a provider
/// stalls, and one that follows redirects could be led off the provider's host.
pub fn http_client() -> Result<reqwest::Client, HttpClientError> {
    crate::outbound::https_client(PROVIDER_CONNECT_TIMEOUT, PROVIDER_REQUEST_TIMEOUT)
        .map_err(HttpClientError)
}

impl IdentityProviders {
    /// The verifiers `config` enables: each social provider with its id set, and `dev`
    /// when `ENVIRONMENT=local` and `DEV_LOGIN` is on. Nothing is built until a login.
    pub fn from_config(config: &Config) -> Self {
        IdentityProviders {
            settings: Some((
                config.auth.providers.clone(),
                config.dev_login && config.environment == Environment::Local,
            )),
            ..IdentityProviders::default()
        }
    }

    /// The verifiers `config` enables, built now: the identity port of a function, built at
    /// start-up, which fails when the HTTP client of the providers cannot be built.
    pub fn ready(config: &Config) -> Result<Self, HttpClientError> {
        let providers = IdentityProviders::from_config(config);
        if let Err(err) = providers.built() {
            return Err(err.clone());
        }
        Ok(providers)
    }

    /// Replaces one provider's verifier (tests).
    pub fn with(mut self, provider: Provider, verifier: Arc<dyn IdentityVerifier>) -> Self {
        if let Some(slot) = self.overrides.get_mut(provider) {
            *slot = Some(verifier);
        }
        self
    }

    fn built(&self) -> &Result<Slots, HttpClientError> {
        self.built.get_or_init(|| match &self.settings {
            Some((providers, dev)) => build(providers, *dev),
            None => Ok(Slots::default()),
        })
    }

    /// Verifies `token` with `provider`, or says the provider is not enabled here.
    pub async fn verify(
        &self,
        provider: Provider,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<Identity, IdentityError> {
        let verifier = match self.overrides.get(provider) {
            Some(verifier) => verifier,
            None => match self.built() {
                Ok(slots) => slots.get(provider),
                Err(err) => {
                    return Err(IdentityError::Unavailable {
                        provider,
                        detail: err.to_string(),
                    });
                }
            }
            .ok_or(IdentityError::NotConfigured(provider))?,
        };
        verifier.verify(token, nonce).await
    }
}

/// Whether `p` enables a provider that is asked over HTTPS.
fn needs_http(p: &ProviderConfig) -> bool {
    p.kakao_app_id.is_some()
        || p.naver_client_id.is_some()
        || !p.google_client_ids.is_empty()
        || !p.apple_client_ids.is_empty()
}

fn build(p: &ProviderConfig, dev: bool) -> Result<Slots, HttpClientError> {
    let mut slots = Slots::default();
    if dev {
        slots.dev = Some(Arc::new(dev::DevLogin));
    }
    if !needs_http(p) {
        return Ok(slots);
    }
    let client = http_client()?;
    let ttl = Duration::from_secs(p.jwks_cache_ttl_seconds);
    if let Some(app_id) = &p.kakao_app_id {
        slots.kakao = Some(Arc::new(kakao::Kakao::new(
            client.clone(),
            &p.kakao_api_url,
            app_id,
        )));
    }
    if p.naver_client_id.is_some() {
        slots.naver = Some(Arc::new(naver::Naver::new(
            client.clone(),
            &p.naver_api_url,
        )));
    }
    if !p.google_client_ids.is_empty() {
        slots.google = Some(Arc::new(id_token::IdTokenVerifier::google(
            jwks::JwksCache::new(client.clone(), &p.google_jwks_url, ttl),
            p.google_client_ids.clone(),
        )));
    }
    if !p.apple_client_ids.is_empty() {
        slots.apple = Some(Arc::new(id_token::IdTokenVerifier::apple(
            jwks::JwksCache::new(client, &p.apple_jwks_url, ttl),
            p.apple_client_ids.clone(),
        )));
    }
    Ok(slots)
}

/// Reads a provider's JSON reply: 2xx is parsed, 401/403 (and a 400 about the token) reject
/// the token, anything else means the provider is not answering properly.
pub(crate) async fn provider_json<T: serde::de::DeserializeOwned>(
    provider: Provider,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, IdentityError> {
    let unavailable = |detail: String| IdentityError::Unavailable { provider, detail };
    let response = sent.map_err(|e| unavailable(format!("request failed: {e}")))?;
    let status = response.status();
    if status.is_success() {
        return response
            .json::<T>()
            .await
            .map_err(|e| unavailable(format!("unreadable reply: {e}")));
    }
    match status.as_u16() {
        400 | 401 | 403 => Err(IdentityError::Rejected(format!(
            "{provider} refused the token ({status})"
        ))),
        _ => Err(unavailable(format!("answered {status}"))),
    }
}

/// Trims a provider's name to what a display name allows (1–40 characters of visible
/// text, [`crate::text::visible_text`]); `None` when nothing acceptable is left, so the
/// profile falls back to "Runner xxxx". A provider's nickname is as free as any user input,
/// and the profile must not take in at login what `PATCH /v1/users/me` would refuse.
pub fn display_name(raw: Option<&str>) -> Option<String> {
    let trimmed = raw?.trim();
    let name: String = trimmed.chars().take(40).collect();
    let name = name.trim_end();
    crate::text::visible_text("display_name", name, crate::text::Shape::Line)
        .ok()
        .map(|()| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_name_becomes_a_display_name_only_when_visible() {
        assert_eq!(display_name(Some("  민준 ")).as_deref(), Some("민준"));
        assert_eq!(
            display_name(Some(&"x".repeat(50))).map(|n| n.chars().count()),
            Some(40)
        );
        for hidden in [
            "",
            "  ",
            "\u{3164}",
            "\u{200B}\u{200D}",
            "eve\u{202E}nimda",
            "a\u{7}",
        ] {
            assert_eq!(display_name(Some(hidden)), None, "{hidden:?}");
        }
        assert_eq!(display_name(None), None);
    }
}
