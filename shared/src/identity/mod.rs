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
/// Built on the first login, not at init: the HTTP client loads TLS roots, which a function
/// should not pay for before a request needs it (and a `dev` login never does).
#[derive(Default)]
pub struct IdentityProviders {
    settings: Option<(ProviderConfig, bool)>,
    built: OnceLock<Slots>,
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

/// The HTTP client of provider calls: rustls, short timeouts, no redirects to follow.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(PROVIDER_CONNECT_TIMEOUT)
        .timeout(PROVIDER_REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("runcrew-api/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
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

    /// Replaces one provider's verifier (tests).
    pub fn with(mut self, provider: Provider, verifier: Arc<dyn IdentityVerifier>) -> Self {
        if let Some(slot) = self.overrides.get_mut(provider) {
            *slot = Some(verifier);
        }
        self
    }

    fn built(&self) -> &Slots {
        self.built.get_or_init(|| match &self.settings {
            Some((providers, dev)) => build(providers, *dev),
            None => Slots::default(),
        })
    }

    /// Verifies `token` with `provider`, or says the provider is not enabled here.
    pub async fn verify(
        &self,
        provider: Provider,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<Identity, IdentityError> {
        let verifier = self
            .overrides
            .get(provider)
            .or_else(|| self.built().get(provider))
            .ok_or(IdentityError::NotConfigured(provider))?;
        verifier.verify(token, nonce).await
    }
}

fn build(p: &ProviderConfig, dev: bool) -> Slots {
    let client = http_client();
    let ttl = Duration::from_secs(p.jwks_cache_ttl_seconds);
    let mut slots = Slots::default();
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
    if dev {
        slots.dev = Some(Arc::new(dev::DevLogin));
    }
    slots
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

/// Trims a provider's name to what a display name allows (1–40 characters); `None` when
/// nothing is left, so the profile falls back to "Runner xxxx".
pub fn display_name(raw: Option<&str>) -> Option<String> {
    let trimmed = raw?.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(trimmed.chars().take(40).collect())
}
