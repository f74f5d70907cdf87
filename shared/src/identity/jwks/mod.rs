//! A provider's published signing keys, cached.
//!
//! Providers throttle repeated key fetches (Kakao says so outright) and a login should not
//! pay a round trip for keys it already has. Keys are kept for the reply's Cache-Control
//! `max-age`, or `OIDC_JWKS_CACHE_TTL_SECONDS` without one; a token signed with a kid we do
//! not know triggers one early refetch (providers rotate keys), at most once a minute, so a
//! stream of forged kids cannot turn us into a fetch amplifier. While the provider is down,
//! keys already held keep working past their expiry.
//!
//! The keys travel through [`FetchKeys`]: the social logins' `reqwest` client
//! ([`reqwest_client`]), or, on the routes open to everyone, which link no `reqwest`, the AWS
//! SDK's own HTTP stack ([`sdk_http::SdkHttpKeys`]).

pub mod reqwest_client;
pub mod sdk_http;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::Mutex;

use crate::tokens;

/// The most bytes a key set may have (API Gateway's own limit is 150 KB).
pub const MAX_JWKS_BYTES: usize = 150 * 1024;

/// The shortest time between two fetches caused by an unknown kid.
pub const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Why no key came out of the cache.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// The provider publishes no key with this kid (after a refetch, or too soon for one).
    #[error("no published key has kid {0}")]
    UnknownKid(String),
    /// The keys could not be fetched and none are held.
    #[error("keys unavailable: {0}")]
    Unavailable(String),
}

/// What one GET of a key set or a discovery document brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The body, at most [`MAX_JWKS_BYTES`].
    pub body: Vec<u8>,
    /// The answer's `Cache-Control` header, if any.
    pub cache_control: Option<String>,
}

/// One GET over HTTPS, for the key cache: a 2xx answer's body of at most [`MAX_JWKS_BYTES`]
/// and its caching header; any other status, a larger body or a transport failure is the
/// error's text. No redirect is followed.
#[async_trait]
pub trait FetchKeys: Send + Sync {
    /// Fetches `url`.
    async fn fetch(&self, url: &str) -> Result<Fetched, String>;
}

/// Where the key set is found.
#[derive(Debug, Clone)]
enum Source {
    /// The key set URL itself (Google, Apple).
    Url(String),
    /// An issuer whose discovery document names the key set (external OIDC mode).
    Discovery(String),
}

#[derive(Default)]
struct Held {
    keys: Option<JwkSet>,
    jwks_url: Option<String>,
    fresh_until: Option<Instant>,
    fetched_at: Option<Instant>,
}

/// Cached keys of one provider; share one per provider per execution environment.
pub struct JwksCache {
    client: Arc<dyn FetchKeys>,
    source: Source,
    default_ttl: Duration,
    refetch_interval: Duration,
    held: Mutex<Held>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("source", &self.source)
            .finish()
    }
}

/// `max-age` of a Cache-Control header, in seconds.
fn max_age(cache_control: &str) -> Option<u64> {
    cache_control.split(',').find_map(|part| {
        part.trim()
            .strip_prefix("max-age=")
            .and_then(|n| n.trim().parse().ok())
    })
}

impl JwksCache {
    /// Keys at `url`, kept `default_ttl` when the reply carries no max-age.
    pub fn new(client: impl FetchKeys + 'static, url: &str, default_ttl: Duration) -> Self {
        JwksCache {
            client: Arc::new(client),
            source: Source::Url(url.to_owned()),
            default_ttl,
            refetch_interval: UNKNOWN_KID_REFETCH_INTERVAL,
            held: Mutex::new(Held::default()),
        }
    }

    /// Keys of `issuer`, found through `{issuer}/.well-known/openid-configuration`, as API
    /// Gateway's JWT authorizer finds them.
    pub fn discover(client: impl FetchKeys + 'static, issuer: &str, default_ttl: Duration) -> Self {
        JwksCache {
            client: Arc::new(client),
            source: Source::Discovery(issuer.trim_end_matches('/').to_owned()),
            default_ttl,
            refetch_interval: UNKNOWN_KID_REFETCH_INTERVAL,
            held: Mutex::new(Held::default()),
        }
    }

    /// Sets the shortest time between refetches for unknown kids (tests shorten the minute).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// The key that verifies tokens with `kid`.
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, JwksError> {
        let mut held = self.held.lock().await;
        let now = Instant::now();
        let fresh = held.fresh_until.is_some_and(|t| now < t);
        let known = held.keys.as_ref().and_then(|k| k.find(kid)).is_some();
        let may_refetch = held
            .fetched_at
            .is_none_or(|t| now.duration_since(t) >= self.refetch_interval);
        if !fresh || (!known && may_refetch) {
            match self.fetch(&mut held).await {
                Ok(()) => {}
                // Keep serving the keys we hold while the provider is down.
                Err(err) if held.keys.is_some() => {
                    tracing::warn!(target: "jwks", error = %err, "key refresh failed; using the keys held");
                }
                Err(err) => return Err(err),
            }
        }
        let jwk = held
            .keys
            .as_ref()
            .and_then(|k| k.find(kid))
            .ok_or_else(|| JwksError::UnknownKid(kid.to_owned()))?;
        DecodingKey::from_jwk(jwk).map_err(|_| JwksError::UnknownKid(kid.to_owned()))
    }

    /// Verifies `token` as API Gateway's JWT authorizer does against these keys: RS256, a
    /// published kid, the signature, `iss` exact, `aud` among `audiences`, `exp` and `nbf`
    /// with no leeway. Returns the claims.
    pub async fn verify_claims(
        &self,
        token: &str,
        issuer: &str,
        audiences: &[&str],
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let kid = tokens::rs256_kid(token).map_err(|e| e.to_string())?;
        let key = self.key(&kid).await.map_err(|e| e.to_string())?;
        tokens::decode_as_authorizer(token, &key, issuer, audiences).map_err(|e| e.to_string())
    }

    async fn fetch(&self, held: &mut Held) -> Result<(), JwksError> {
        held.fetched_at = Some(Instant::now());
        let url = match (&self.source, &held.jwks_url) {
            (Source::Url(url), _) => url.clone(),
            (Source::Discovery(_), Some(url)) => url.clone(),
            (Source::Discovery(issuer), None) => {
                let url = self.discover_jwks_url(issuer).await?;
                held.jwks_url = Some(url.clone());
                url
            }
        };
        let (keys, ttl) = self.get_json::<JwkSet>(&url).await?;
        held.keys = Some(keys);
        held.fresh_until = Some(Instant::now() + ttl);
        Ok(())
    }

    async fn discover_jwks_url(&self, issuer: &str) -> Result<String, JwksError> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let (doc, _) = self
            .get_json::<Discovery>(&format!("{issuer}/.well-known/openid-configuration"))
            .await?;
        if doc.issuer.trim_end_matches('/') != issuer {
            return Err(JwksError::Unavailable(format!(
                "discovery names issuer {} instead of {issuer}",
                doc.issuer
            )));
        }
        Ok(doc.jwks_uri)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<(T, Duration), JwksError> {
        let fail = |what: String| JwksError::Unavailable(format!("{url}: {what}"));
        let fetched = self.client.fetch(url).await.map_err(fail)?;
        let ttl = fetched
            .cache_control
            .as_deref()
            .and_then(max_age)
            .map(Duration::from_secs)
            .unwrap_or(self.default_ttl);
        let value = serde_json::from_slice(&fetched.body).map_err(|e| fail(e.to_string()))?;
        Ok((value, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::max_age;

    #[test]
    fn max_age_is_read_among_other_directives() {
        assert_eq!(
            max_age("public, max-age=21048, must-revalidate, no-transform"),
            Some(21048)
        );
        assert_eq!(max_age("no-cache"), None);
    }
}
