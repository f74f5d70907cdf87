//! The TokenCipher port: third-party credentials we must keep (Strava refresh tokens) are
//! sealed before they reach the table, so a leaked backup or an over-broad read of the
//! table does not hand out working credentials.
//!
//! On AWS the key is a KMS key ([`kms::KmsCipher`], `TOKEN_KMS_KEY_ID`): it never leaves
//! KMS, every use is in CloudTrail, and only roles the key policy names can open a value.
//! On a laptop the key is derived from the local signing secret ([`local::LocalCipher`]).
//!
//! Every sealed value is bound to a context naming what it is and whose it is
//! (`strava-refresh-token:<userId>`): a sealed value copied onto another user's item does
//! not open there. Sealed values are text, safe to store as they are, and start with a
//! version and the adapter that sealed them (`v1.local.`, `v1.kms.`), so a value sealed by
//! one adapter is named as such by the other instead of failing as noise, and a later
//! format can sit beside this one.

pub mod kms;
pub mod local;

use async_trait::async_trait;

use crate::error::ApiError;

/// The version part of every sealed value's prefix.
pub const VERSION: &str = "v1";

/// The longest plaintext either adapter seals, in bytes: KMS's Encrypt takes at most 4096,
/// and the laptop refuses what AWS would, so a value that seals locally seals there too.
pub const MAX_PLAINTEXT_BYTES: usize = 4096;

/// Seals short secrets for storage and opens them again.
#[async_trait]
pub trait TokenCipher: Send + Sync {
    /// Encrypts `plaintext`, bound to `context` (e.g. `strava-refresh-token:<userId>`: a
    /// sealed value moved to another user does not open). Returns text safe to store:
    /// base64url with a version and adapter prefix (`v1.local.`, `v1.kms.`). Sealing the
    /// same value twice gives two different texts.
    async fn seal(&self, plaintext: &str, context: &str) -> Result<String, CipherError>;

    /// Decrypts what [`TokenCipher::seal`] returned for the same `context`.
    async fn open(&self, sealed: &str, context: &str) -> Result<Revealed, CipherError>;
}

/// An opened secret. It has no `Display` and its `Debug` prints `***`, so it cannot reach a
/// log line or an error message by accident; [`Revealed::expose`] is the one way to read it,
/// and easy to find in a review.
#[derive(Clone, PartialEq, Eq)]
pub struct Revealed(String);

impl Revealed {
    /// Wraps an opened secret (adapters, and fakes of this port in tests, build it).
    pub fn new(secret: String) -> Self {
        Revealed(secret)
    }

    /// The secret itself, to hand to the service it is for (Strava's token endpoint).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Why a value was not sealed or opened, sorted by what the caller does next. No variant
/// carries the secret or the sealed value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// The value does not open: sealed for another context, altered, or sealed under
    /// another key. Trying again cannot help; the stored value is no good (for a refresh
    /// token: the user connects Strava again).
    #[error("the sealed value does not open: another context or key, or altered")]
    Tampered,
    /// The text is not a sealed value of this cipher: not ours at all, cut short, or sealed
    /// by the other adapter (the message names it).
    #[error("not a sealed value of this cipher: {0}")]
    Malformed(String),
    /// The key service cannot be reached or refuses service for now (throttling, 5xx,
    /// timeouts): the caller retries later.
    #[error("the key service is unavailable: {0}")]
    Unavailable(String),
    /// The key service refuses this key or this role (access denied, key disabled,
    /// deleted or not for encryption): an operator must fix the key or its policy, and
    /// retrying does not help until then.
    #[error("the key service refuses the key: {0}")]
    Refused(String),
    /// What the caller asked to seal cannot be sealed (empty, over
    /// [`MAX_PLAINTEXT_BYTES`], or without a context): a bug of the caller.
    #[error("cannot seal this: {0}")]
    Invalid(String),
}

impl From<CipherError> for ApiError {
    /// A key service that is down is a 503 the client may retry; anything else is ours to
    /// fix (a stored value that no longer opens, a key policy, a caller bug), so a 500 with
    /// the detail in the log.
    fn from(err: CipherError) -> Self {
        match err {
            CipherError::Unavailable(detail) => {
                tracing::warn!(dependency = "key service", detail = %detail, "cipher unavailable");
                ApiError::unavailable("key service")
            }
            other => ApiError::Internal(format!("token cipher: {other}")),
        }
    }
}

/// The prefix of values sealed by `adapter` (`local`, `kms`): `v1.<adapter>.`.
pub(crate) fn prefix(adapter: &str) -> String {
    format!("{VERSION}.{adapter}.")
}

/// Refuses what neither adapter may seal, before any work: the same rule on a laptop as
/// on AWS, where KMS would refuse an empty or oversized plaintext itself.
pub(crate) fn check_sealable(plaintext: &str, context: &str) -> Result<(), CipherError> {
    if plaintext.is_empty() {
        return Err(CipherError::Invalid("the plaintext is empty".into()));
    }
    if plaintext.len() > MAX_PLAINTEXT_BYTES {
        return Err(CipherError::Invalid(format!(
            "the plaintext is {} bytes, over the {MAX_PLAINTEXT_BYTES} a key service seals directly",
            plaintext.len()
        )));
    }
    check_context(context)
}

/// A context must name something: a value bound to nothing could be moved anywhere.
pub(crate) fn check_context(context: &str) -> Result<(), CipherError> {
    if context.is_empty() {
        return Err(CipherError::Invalid(
            "the context is empty: name what the value is and whose".into(),
        ));
    }
    Ok(())
}

/// The base64url payload of `sealed` after this adapter's prefix, or why it is not ours.
pub(crate) fn payload<'a>(sealed: &'a str, adapter: &str) -> Result<&'a str, CipherError> {
    let ours = prefix(adapter);
    if let Some(payload) = sealed.strip_prefix(&ours) {
        return Ok(payload);
    }
    let other = sealed
        .strip_prefix(VERSION)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.split_once('.'))
        .map(|(name, _)| name)
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase()));
    Err(CipherError::Malformed(match other {
        Some(name) => format!("sealed by the {name} cipher, and this one is {adapter}"),
        None => format!("it does not start with {ours}"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revealed_secret_is_not_printed() {
        let secret = Revealed::new("refresh-abc".into());
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
        assert_eq!(secret.expose(), "refresh-abc");
    }

    #[test]
    fn a_value_of_the_other_adapter_is_named_as_such() {
        assert_eq!(payload("v1.local.AAAA", "local"), Ok("AAAA"));
        assert_eq!(
            payload("v1.kms.AAAA", "local"),
            Err(CipherError::Malformed(
                "sealed by the kms cipher, and this one is local".into()
            ))
        );
        assert_eq!(
            payload("plain-token", "kms"),
            Err(CipherError::Malformed(
                "it does not start with v1.kms.".into()
            ))
        );
    }

    #[test]
    fn empty_or_oversized_plaintexts_and_empty_contexts_are_refused() {
        assert!(check_sealable("t", "c").is_ok());
        assert!(check_sealable(&"t".repeat(MAX_PLAINTEXT_BYTES), "c").is_ok());
        for (plaintext, context) in [
            ("", "c"),
            ("t", ""),
            (&*"t".repeat(MAX_PLAINTEXT_BYTES + 1), "c"),
        ] {
            assert!(
                matches!(
                    check_sealable(plaintext, context),
                    Err(CipherError::Invalid(_))
                ),
                "{} bytes in {context:?}",
                plaintext.len()
            );
        }
    }

    #[test]
    fn only_an_unavailable_key_service_is_a_503() {
        let status = |e: CipherError| ApiError::from(e).status().as_u16();
        assert_eq!(status(CipherError::Unavailable("throttled".into())), 503);
        assert_eq!(status(CipherError::Tampered), 500);
        assert_eq!(status(CipherError::Refused("disabled".into())), 500);
    }
}
