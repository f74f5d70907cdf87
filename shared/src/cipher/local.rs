//! The laptop's cipher: AES-256-GCM (aws-lc-rs) under a key of our own, derived from the
//! local signing secret (`Init::derived_key("token-cipher")`), with the context as
//! associated data. A sealed value is `v1.local.<base64url(nonce ‖ ciphertext ‖ tag)>`.
//!
//! Nonces are 96 random bits from aws-lc-rs's system random source. Random nonces under one
//! key are safe for far more values than a laptop seals (NIST's bound is 2^32), and an
//! AWS stage uses KMS, whose own keys and nonces KMS manages.

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{CipherError, Revealed, TokenCipher, check_context, check_sealable, payload, prefix};

/// The name of this adapter in sealed values.
const ADAPTER: &str = "local";

/// The length of the authentication tag after the ciphertext.
const TAG_LEN: usize = 16;

/// AES-256-GCM under a key held in process.
pub struct LocalCipher {
    key: LessSafeKey,
}

impl std::fmt::Debug for LocalCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalCipher(..)")
    }
}

impl LocalCipher {
    /// A cipher under `key`, 256 bits that serve no other purpose (derive them with a
    /// label of their own: the same secret must never key two things).
    pub fn new(key: [u8; 32]) -> Self {
        let key = UnboundKey::new(&AES_256_GCM, &key)
            .expect("AES-256-GCM takes exactly the 32 bytes of the key's type");
        LocalCipher {
            key: LessSafeKey::new(key),
        }
    }
}

#[async_trait]
impl TokenCipher for LocalCipher {
    async fn seal(&self, plaintext: &str, context: &str) -> Result<String, CipherError> {
        check_sealable(plaintext, context)?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| {
            CipherError::Unavailable("the system random source gave no nonce".into())
        })?;
        let mut sealed = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| CipherError::Invalid("AES-GCM refused the plaintext".into()))?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(format!(
            "{}{}",
            prefix(ADAPTER),
            URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    async fn open(&self, sealed: &str, context: &str) -> Result<Revealed, CipherError> {
        check_context(context)?;
        let mut bytes = URL_SAFE_NO_PAD
            .decode(payload(sealed, ADAPTER)?)
            .map_err(|_| CipherError::Malformed("the payload is not base64url".into()))?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(CipherError::Malformed(format!(
                "{} bytes is shorter than a nonce and a tag",
                bytes.len()
            )));
        }
        let mut ciphertext = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes)
            .map_err(|_| CipherError::Malformed("no nonce".into()))?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut ciphertext)
            .map_err(|_| CipherError::Tampered)?;
        // Authentic, so sealed by us from a `&str`: UTF-8 unless our own code is broken.
        String::from_utf8(plain.to_vec())
            .map(Revealed::new)
            .map_err(|_| CipherError::Malformed("the opened value is not text".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: &str = "strava-refresh-token:u1";
    const TOKEN: &str = "strava-refresh-0123456789abcdef";

    fn cipher() -> LocalCipher {
        LocalCipher::new([7; 32])
    }

    #[tokio::test]
    async fn a_sealed_value_opens_for_its_context() {
        let cipher = cipher();
        let sealed = cipher.seal(TOKEN, CONTEXT).await.expect("seal");
        assert!(sealed.starts_with("v1.local."), "{sealed}");
        assert!(!sealed.contains(TOKEN), "{sealed}");
        let opened = cipher.open(&sealed, CONTEXT).await.expect("open");
        assert_eq!(opened.expose(), TOKEN);
    }

    #[tokio::test]
    async fn a_value_moved_to_another_context_does_not_open() {
        let cipher = cipher();
        let sealed = cipher.seal(TOKEN, CONTEXT).await.expect("seal");
        assert_eq!(
            cipher.open(&sealed, "strava-refresh-token:u2").await,
            Err(CipherError::Tampered)
        );
    }

    #[tokio::test]
    async fn every_altered_byte_is_refused() {
        let cipher = cipher();
        let sealed = cipher.seal(TOKEN, CONTEXT).await.expect("seal");
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed.trim_start_matches("v1.local."))
            .expect("base64url");
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            let text = format!("v1.local.{}", URL_SAFE_NO_PAD.encode(&altered));
            assert_eq!(
                cipher.open(&text, CONTEXT).await,
                Err(CipherError::Tampered),
                "byte {i}"
            );
        }
        let cut = format!(
            "v1.local.{}",
            URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() - 1])
        );
        assert_eq!(cipher.open(&cut, CONTEXT).await, Err(CipherError::Tampered));
    }

    #[tokio::test]
    async fn a_value_sealed_under_another_key_does_not_open() {
        let theirs = LocalCipher::new([8; 32])
            .seal(TOKEN, CONTEXT)
            .await
            .expect("seal");
        assert_eq!(
            cipher().open(&theirs, CONTEXT).await,
            Err(CipherError::Tampered)
        );
    }

    #[tokio::test]
    async fn two_seals_of_one_value_differ() {
        let cipher = cipher();
        let a = cipher.seal(TOKEN, CONTEXT).await.expect("seal");
        let b = cipher.seal(TOKEN, CONTEXT).await.expect("seal");
        assert_ne!(a, b, "a fresh nonce each time");
        let nonce = |s: &str| {
            URL_SAFE_NO_PAD
                .decode(s.trim_start_matches("v1.local."))
                .expect("base64url")[..NONCE_LEN]
                .to_vec()
        };
        assert_ne!(nonce(&a), nonce(&b));
        assert_eq!(
            cipher.open(&b, CONTEXT).await.expect("open").expose(),
            TOKEN
        );
    }

    #[tokio::test]
    async fn text_that_is_not_a_local_sealed_value_is_malformed() {
        let cipher = cipher();
        for text in [
            "",
            TOKEN,
            "v1.local.",
            "v1.local.not*base64",
            "v1.local.AAAA",
            "v1.kms.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "v2.local.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(
                matches!(
                    cipher.open(text, CONTEXT).await,
                    Err(CipherError::Malformed(_))
                ),
                "{text:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_empty_or_oversized_plaintext_is_refused_before_sealing() {
        let cipher = cipher();
        assert!(matches!(
            cipher.seal("", CONTEXT).await,
            Err(CipherError::Invalid(_))
        ));
        assert!(matches!(
            cipher.seal(TOKEN, "").await,
            Err(CipherError::Invalid(_))
        ));
        let longest = "t".repeat(super::super::MAX_PLAINTEXT_BYTES);
        let sealed = cipher
            .seal(&longest, CONTEXT)
            .await
            .expect("4096 bytes seal");
        assert_eq!(
            cipher.open(&sealed, CONTEXT).await.expect("open").expose(),
            longest
        );
        assert!(matches!(
            cipher.seal(&format!("{longest}t"), CONTEXT).await,
            Err(CipherError::Invalid(_))
        ));
    }

    #[test]
    fn neither_the_cipher_nor_an_opened_secret_prints_its_secret() {
        assert_eq!(format!("{:?}", cipher()), "LocalCipher(..)");
        assert_eq!(format!("{:?}", Revealed::new(TOKEN.into())), "***");
    }
}
