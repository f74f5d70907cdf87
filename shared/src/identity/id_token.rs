//! Google and Apple: an OpenID Connect id_token checked against the provider's keys.
//!
//! RS256 only, a kid the provider publishes, the signature, `iss` (Google uses two forms),
//! `aud` among our client ids, `exp`/`nbf` with a minute of clock skew, and for Apple the
//! nonce the client generated for this sign-in, so a token captured elsewhere cannot be
//! replayed here.

use crate::digest::sha256_hex;
use async_trait::async_trait;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::jwks::{JwksCache, JwksError};
use super::{Identity, IdentityError, IdentityVerifier, Provider, display_name};

/// Clock skew allowed between the provider and us, in seconds.
pub const CLOCK_SKEW_SECONDS: u64 = 60;

/// Checks id_tokens of one provider.
#[derive(Debug)]
pub struct IdTokenVerifier {
    provider: Provider,
    issuers: Vec<String>,
    audiences: Vec<String>,
    require_nonce: bool,
    jwks: JwksCache,
}

/// A boolean claim some providers send as a string (Apple's `"true"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn is_true(&self) -> bool {
        match self {
            Flag::Bool(b) => *b,
            Flag::Text(t) => t == "true",
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<Flag>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

impl IdTokenVerifier {
    /// Sign in with Google: `iss` is `https://accounts.google.com` or `accounts.google.com`.
    pub fn google(jwks: JwksCache, client_ids: Vec<String>) -> Self {
        IdTokenVerifier {
            provider: Provider::Google,
            issuers: vec![
                "https://accounts.google.com".into(),
                "accounts.google.com".into(),
            ],
            audiences: client_ids,
            require_nonce: false,
            jwks,
        }
    }

    /// Sign in with Apple: `iss` is `https://appleid.apple.com` and the nonce is required.
    pub fn apple(jwks: JwksCache, client_ids: Vec<String>) -> Self {
        IdTokenVerifier {
            provider: Provider::Apple,
            issuers: vec!["https://appleid.apple.com".into()],
            audiences: client_ids,
            require_nonce: true,
            jwks,
        }
    }
}

/// Whether the token's nonce is the client's, raw or as the SHA-256 hex that Apple's SDKs
/// are usually given.
fn nonce_matches(in_token: &str, from_client: &str) -> bool {
    let hashed = sha256_hex(&[from_client.as_bytes()]);
    bool::from(in_token.as_bytes().ct_eq(from_client.as_bytes()))
        || bool::from(in_token.as_bytes().ct_eq(hashed.as_bytes()))
}

#[async_trait]
impl IdentityVerifier for IdTokenVerifier {
    async fn verify(&self, token: &str, nonce: Option<&str>) -> Result<Identity, IdentityError> {
        let provider = self.provider;
        if self.require_nonce && nonce.is_none_or(str::is_empty) {
            return Err(IdentityError::Invalid {
                field: "nonce",
                message: format!("{provider} sign-in needs the nonce sent to {provider}"),
            });
        }
        let reject = |why: String| IdentityError::Rejected(format!("{provider} id_token: {why}"));
        let kid = crate::tokens::rs256_kid(token).map_err(|e| reject(e.to_string()))?;
        let key = self.jwks.key(&kid).await.map_err(|e| match e {
            JwksError::UnknownKid(_) => reject(e.to_string()),
            JwksError::Unavailable(detail) => IdentityError::Unavailable { provider, detail },
        })?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&self.issuers);
        validation.set_audience(&self.audiences);
        validation.leeway = CLOCK_SKEW_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| reject(e.to_string()))?
            .claims;
        if let Some(expected) = nonce.filter(|n| !n.is_empty()) {
            match claims.nonce.as_deref() {
                Some(found) if nonce_matches(found, expected) => {}
                _ => return Err(reject("nonce does not match".into())),
            }
        }
        if claims.sub.is_empty() {
            return Err(reject("empty sub".into()));
        }
        let verified = claims.email_verified.as_ref().is_some_and(Flag::is_true);
        Ok(Identity {
            provider,
            subject: claims.sub,
            email: claims.email.filter(|_| verified),
            display_name: display_name(claims.name.as_deref()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::nonce_matches;

    #[test]
    fn a_nonce_matches_raw_or_as_its_sha256() {
        let raw = "n-0S6_WzA2Mj";
        let hashed = "0b5e6f6ef5f5c4d0a8d0e4c77c0c2c6b8f0b1f5e6d4b0a7f0c0b2e4f6a8c0d2e";
        assert!(nonce_matches(raw, raw));
        assert!(
            !nonce_matches(hashed, raw),
            "an unrelated hash must not match"
        );
        let real = crate::digest::sha256_hex(&[raw.as_bytes()]);
        assert!(nonce_matches(&real, raw));
        assert!(!nonce_matches("other", raw));
    }
}
