//! RS256 token keys: signing our access tokens, verifying them, publishing the JWKS.
//!
//! Each key has a date-suffixed `kid` (`rc-2026-11-21`). The current key signs; the current
//! and the previous public keys are published, so tokens signed just before a rotation keep
//! verifying until they expire. In AWS the private keys come from a Secrets Manager secret
//! `{"current":{"kid","private_key_pem"},"previous":{...}}`; on a laptop a key pair is
//! generated once and kept under `<data dir>/keys/<kid>.pem`.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a token or a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is malformed, unsigned by us, expired or for someone else.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// A key could not be loaded or generated.
    #[error("token keys: {0}")]
    Keys(String),
}

/// One RS256 key pair under its `kid`: the private half signs while the key is current,
/// the public half verifies and is published as a JWK while it is current or previous.
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from a PKCS#8 or PKCS#1 PEM private key.
    ///
    /// The public half is read from the key's ASN.1 structure ([`rsa_public_half`]), not
    /// from an aws-lc key pair: building one checks the key's arithmetic, 1.5 ms of a cold
    /// start (BENCHMARKS.md), and jsonwebtoken builds it again for every signature anyway.
    /// So a malformed PEM or a key that is not RSA is refused here; a well-formed key whose
    /// numbers do not agree is refused by its first signature.
    pub fn from_pem(kid: &str, pem: &[u8]) -> Result<Self, TokenError> {
        let refused = |e: &dyn std::fmt::Display| TokenError::Keys(format!("{kid}: {e}"));
        let encoding = EncodingKey::from_rsa_pem(pem).map_err(|e| refused(&e))?;
        let (modulus, exponent) = rsa_public_half(encoding.as_bytes())
            .ok_or_else(|| refused(&"not an RSA private key"))?;
        let jwk = Jwk {
            common: CommonParameters {
                key_id: Some(kid.to_owned()),
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::RS256),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: URL_SAFE_NO_PAD.encode(modulus),
                e: URL_SAFE_NO_PAD.encode(exponent),
            }),
        };
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| refused(&e))?;
        Ok(SigningKey {
            kid: kid.to_owned(),
            encoding,
            decoding,
            jwk,
        })
    }

    /// A fresh 2048-bit key pair as a PKCS#8 PEM.
    pub fn generate_pem() -> Result<String, TokenError> {
        use aws_lc_rs::encoding::AsDer;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| TokenError::Keys("RSA key generation failed".into()))?;
        let der = pair
            .as_der()
            .map_err(|_| TokenError::Keys("PKCS#8 encoding failed".into()))?;
        Ok(pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            der.as_ref().to_vec(),
        )))
    }

    /// This key's id, the `kid` header of the tokens it signs: `rc-<date>` ([`kid_for`]) for
    /// keys made here, whatever the secret says for keys read from Secrets Manager.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// The modulus and public exponent (big-endian, no leading zeros, as a JWK holds them) of
/// a PKCS#1 `RSAPrivateKey` (RFC 8017, A.1.2: version, modulus, publicExponent, then the
/// six private values), read from its DER without checking the arithmetic.
fn rsa_public_half(pkcs1_der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    use simple_asn1::ASN1Block::{Integer, Sequence};
    let blocks = simple_asn1::from_der(pkcs1_der).ok()?;
    let [Sequence(_, fields)] = blocks.as_slice() else {
        return None;
    };
    let [
        Integer(_, version),
        Integer(_, modulus),
        Integer(_, exponent),
        private @ ..,
    ] = fields.as_slice()
    else {
        return None;
    };
    let unsigned = |n: &simple_asn1::BigInt| {
        let bytes = n.to_signed_bytes_be();
        let first = bytes.iter().position(|b| *b != 0)?;
        // a set top bit would make the integer negative: no modulus or exponent is
        (bytes[0] & 0x80 == 0).then(|| bytes[first..].to_vec())
    };
    // version 0: two primes, so exactly the six private values follow
    if version.to_signed_bytes_be() != [0] || private.len() != 6 {
        return None;
    }
    Some((unsigned(modulus)?, unsigned(exponent)?))
}

/// The key id of a key made on `date`.
pub fn kid_for(date: time::Date) -> String {
    format!("rc-{date}")
}

/// The current signing key and the previous one, still accepted.
#[derive(Debug)]
pub struct TokenKeys {
    current: SigningKey,
    previous: Option<SigningKey>,
}

#[derive(serde::Deserialize)]
struct SecretKey {
    kid: String,
    private_key_pem: String,
}

#[derive(serde::Deserialize)]
struct SecretDocument {
    current: SecretKey,
    previous: Option<SecretKey>,
}

impl TokenKeys {
    /// Keys from already-loaded pairs.
    pub fn new(current: SigningKey, previous: Option<SigningKey>) -> Self {
        TokenKeys { current, previous }
    }

    /// Keys from the Secrets Manager secret's JSON text.
    pub fn from_secret_json(text: &str) -> Result<Self, TokenError> {
        let doc: SecretDocument = serde_json::from_str(text).map_err(|e| {
            TokenError::Keys(format!("the key secret is not the expected JSON: {e}"))
        })?;
        let current =
            SigningKey::from_pem(&doc.current.kid, doc.current.private_key_pem.as_bytes())?;
        let previous = doc
            .previous
            .map(|p| SigningKey::from_pem(&p.kid, p.private_key_pem.as_bytes()))
            .transpose()?;
        Ok(TokenKeys { current, previous })
    }

    /// Keys from the secret `secret_id` in Secrets Manager.
    pub async fn from_secrets_manager(
        sdk: &aws_config::SdkConfig,
        secret_id: &str,
    ) -> Result<Self, TokenError> {
        let text = crate::secrets::secret_string(sdk, secret_id)
            .await
            .map_err(|e| TokenError::Keys(format!("the key secret: {e}")))?;
        Self::from_secret_json(&text)
    }

    /// Keys kept in `dir` as `<kid>.pem`: the newest signs, the one before it verifies.
    /// With none there, a pair is generated for `today` and written with mode 0600.
    pub fn load_or_generate(dir: &Path, today: time::Date) -> Result<Self, TokenError> {
        let fail = |what: &str, e: std::io::Error| {
            TokenError::Keys(format!("{what} {}: {e}", dir.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| fail("creating", e))?;
        let mut kids: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| fail("reading", e))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".pem"))
                    .map(str::to_owned)
            })
            .filter(|kid| kid.starts_with("rc-"))
            .collect();
        if kids.is_empty() {
            let kid = kid_for(today);
            write_private(
                &dir.join(format!("{kid}.pem")),
                SigningKey::generate_pem()?.as_bytes(),
            )
            .map_err(|e| fail("writing a key into", e))?;
            kids.push(kid);
        }
        kids.sort();
        let load = |kid: &str| -> Result<SigningKey, TokenError> {
            let pem = std::fs::read(dir.join(format!("{kid}.pem")))
                .map_err(|e| fail("reading a key from", e))?;
            SigningKey::from_pem(kid, &pem)
        };
        let current = load(&kids[kids.len() - 1])?;
        let previous = if kids.len() > 1 {
            Some(load(&kids[kids.len() - 2])?)
        } else {
            None
        };
        Ok(TokenKeys { current, previous })
    }

    /// The id of the key that signs now.
    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    /// Signs `claims` with the current key (RS256, `kid` in the header).
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.current.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.current.encoding)
            .map_err(|e| TokenError::Keys(e.to_string()))
    }

    /// Verifies a token as API Gateway's JWT authorizer does: RS256 only, `kid` among the
    /// published keys, signature, `iss` exact, `aud` one of ours, `exp` and `nbf`.
    pub fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        audiences: &[&str],
    ) -> Result<C, TokenError> {
        let kid = rs256_kid(token)?;
        let key = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.kid == kid)
            .ok_or_else(|| TokenError::Invalid("unknown kid".into()))?;
        decode_as_authorizer(token, &key.decoding, issuer, audiences)
    }

    /// The published keys: current first, then previous.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: std::iter::once(&self.current)
                .chain(self.previous.as_ref())
                .map(|k| k.jwk.clone())
                .collect(),
        }
    }
}

/// The `kid` of a token, refusing any algorithm but RS256 (API Gateway's authorizer accepts
/// RSA keys only, and a token must never pick its own algorithm).
pub fn rs256_kid(token: &str) -> Result<String, TokenError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(TokenError::Invalid(format!(
            "algorithm {:?} is not RS256",
            header.alg
        )));
    }
    header
        .kid
        .ok_or_else(|| TokenError::Invalid("no kid".into()))
}

/// Checks `token` against `key` as API Gateway's JWT authorizer does: the signature, `iss`
/// exact, `aud` one of `audiences`, `exp` and `nbf` with no leeway, `sub` present. Shared by
/// our own keys and the external issuer's, so both are held to the same rules.
pub fn decode_as_authorizer<C: DeserializeOwned>(
    token: &str,
    key: &DecodingKey,
    issuer: &str,
    audiences: &[&str],
) -> Result<C, TokenError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(audiences);
    validation.validate_nbf = true;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<C>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| TokenError::Invalid(e.to_string()))
}

/// Claims as API Gateway hands them to a function: every value a string.
pub fn stringify_claims(claims: serde_json::Map<String, Value>) -> HashMap<String, String> {
    claims
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                Value::Array(items) => format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|i| i
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| i.to_string()))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                other => other.to_string(),
            };
            (k, text)
        })
        .collect()
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn a_local_key_is_generated_once_and_signs_verifiable_tokens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let today = time::macros::date!(2026 - 11 - 21);
        let keys = TokenKeys::load_or_generate(dir.path(), today).expect("generate");
        assert_eq!(keys.current_kid(), "rc-2026-11-21");
        let again = TokenKeys::load_or_generate(dir.path(), today).expect("reload");
        let token = keys
            .sign(&json!({"sub": "u1", "iss": "http://i", "aud": "api", "exp": now() + 60}))
            .expect("sign");
        let claims: Value = again
            .verify(&token, "http://i", &["api"])
            .expect("the reloaded key verifies");
        assert_eq!(claims["sub"], "u1");
        assert_eq!(again.jwks().keys.len(), 1);
    }

    #[test]
    fn the_previous_key_still_verifies_after_a_rotation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = TokenKeys::load_or_generate(dir.path(), time::macros::date!(2026 - 01 - 01))
            .expect("old");
        let token = old
            .sign(&json!({"sub": "u", "iss": "i", "aud": "a", "exp": now() + 60}))
            .expect("sign");
        std::fs::write(
            dir.path().join("rc-2026-11-21.pem"),
            SigningKey::generate_pem().expect("pem"),
        )
        .expect("write");
        let rotated = TokenKeys::load_or_generate(dir.path(), time::macros::date!(2026 - 11 - 21))
            .expect("rotated");
        assert_eq!(rotated.current_kid(), "rc-2026-11-21");
        let kids: Vec<_> = rotated
            .jwks()
            .keys
            .iter()
            .filter_map(|k| k.common.key_id.clone())
            .collect();
        assert_eq!(kids, ["rc-2026-11-21", "rc-2026-01-01"]);
        assert!(rotated.verify::<Value>(&token, "i", &["a"]).is_ok());
    }

    #[test]
    fn wrong_issuer_audience_expiry_or_kid_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = TokenKeys::load_or_generate(dir.path(), time::macros::date!(2026 - 11 - 21))
            .expect("keys");
        let sign = |claims: Value| keys.sign(&claims).expect("sign");
        let good = json!({"sub": "u", "iss": "i", "aud": "a", "exp": now() + 60});
        assert!(
            keys.verify::<Value>(&sign(good.clone()), "other", &["a"])
                .is_err()
        );
        assert!(keys.verify::<Value>(&sign(good), "i", &["b"]).is_err());
        assert!(
            keys.verify::<Value>(
                &sign(json!({"sub": "u", "iss": "i", "aud": "a", "exp": now() - 5})),
                "i",
                &["a"]
            )
            .is_err()
        );
        assert!(keys.verify::<Value>(&sign(json!({"sub": "u", "iss": "i", "aud": "a", "exp": now() + 60, "nbf": now() + 30})), "i", &["a"]).is_err());
        let stranger = TokenKeys::load_or_generate(
            tempfile::tempdir().expect("t").path(),
            time::macros::date!(2026 - 11 - 20),
        )
        .expect("k");
        let foreign = stranger
            .sign(&json!({"sub": "u", "iss": "i", "aud": "a", "exp": now() + 60}))
            .expect("sign");
        assert!(keys.verify::<Value>(&foreign, "i", &["a"]).is_err());
    }

    /// The PKCS#1 form of a fresh key, as older tools (`openssl genrsa`) write it.
    fn pkcs1_pem(pkcs8_pem: &str) -> String {
        let der = EncodingKey::from_rsa_pem(pkcs8_pem.as_bytes()).expect("pkcs8");
        pem::encode(&pem::Pem::new("RSA PRIVATE KEY", der.as_bytes().to_vec()))
    }

    #[test]
    fn the_published_key_is_the_public_half_aws_lc_derives_in_either_pem_form() {
        // given a fresh key in its PKCS#8 and PKCS#1 forms
        let pkcs8 = SigningKey::generate_pem().expect("generate");
        for pem in [pkcs8.clone(), pkcs1_pem(&pkcs8)] {
            // when it is loaded
            let key = SigningKey::from_pem("rc-2026-12-02", pem.as_bytes()).expect("load");
            // then its JWK holds the n and e aws-lc reads from the checked key pair
            let checked = Jwk::from_encoding_key(&key.encoding, Algorithm::RS256).expect("aws-lc");
            let (AlgorithmParameters::RSA(ours), AlgorithmParameters::RSA(theirs)) =
                (&key.jwk.algorithm, &checked.algorithm)
            else {
                panic!("both are RSA keys");
            };
            assert_eq!((&ours.n, &ours.e), (&theirs.n, &theirs.e));
            assert_eq!(key.jwk.common.key_id.as_deref(), Some("rc-2026-12-02"));
            assert_eq!(key.jwk.common.key_algorithm, Some(KeyAlgorithm::RS256));
        }
    }

    #[test]
    fn a_key_that_is_not_an_rsa_private_key_is_refused_when_loaded() {
        let ec = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .expect("ec key");
        let ec_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", ec.as_ref().to_vec()));
        let truncated = pem::encode(&pem::Pem::new("RSA PRIVATE KEY", vec![0x30, 0x82, 0x01]));
        for pem in [ec_pem.as_str(), truncated.as_str(), "not a key"] {
            let err = SigningKey::from_pem("rc-x", pem.as_bytes()).expect_err("refused");
            assert!(err.to_string().starts_with("token keys: rc-x: "), "{err}");
        }
    }

    #[test]
    fn a_well_formed_key_whose_numbers_disagree_is_refused_by_its_first_signature() {
        // given a key whose modulus is not the product of its primes
        let pkcs8 = SigningKey::generate_pem().expect("generate");
        let der = EncodingKey::from_rsa_pem(pkcs8.as_bytes()).expect("pkcs8");
        let mut blocks = simple_asn1::from_der(der.as_bytes()).expect("der");
        let simple_asn1::ASN1Block::Sequence(_, fields) = &mut blocks[0] else {
            panic!("a sequence");
        };
        let simple_asn1::ASN1Block::Integer(_, modulus) = &mut fields[1] else {
            panic!("the modulus");
        };
        *modulus += 2u32;
        let broken = simple_asn1::to_der(&blocks[0]).expect("encode");
        let pem = pem::encode(&pem::Pem::new("RSA PRIVATE KEY", broken));
        // when it is loaded, it loads (its structure is sound)
        let keys = TokenKeys::new(
            SigningKey::from_pem("rc-x", pem.as_bytes()).expect("load"),
            None,
        );
        // then signing with it fails rather than issuing a token no one can verify
        let signed = keys.sign(&json!({"sub": "u", "iss": "i", "aud": "a", "exp": now() + 60}));
        assert!(matches!(signed, Err(TokenError::Keys(_))), "{signed:?}");
    }

    #[test]
    fn claims_reach_functions_as_strings_like_api_gateway_sends_them() {
        let claims = stringify_claims(
            json!({"sub": "u1", "exp": 17, "aud": ["a", "b"]})
                .as_object()
                .cloned()
                .expect("object"),
        );
        assert_eq!(claims["exp"], "17");
        assert_eq!(claims["aud"], "[a b]");
    }
}
