//! AWS KMS (aws-sdk-kms): Encrypt and Decrypt under one symmetric key, directly, with no
//! data key of our own: a refresh token is far below KMS's 4 KB, and the key never leaves
//! KMS. The context goes in the encryption context as `{"purpose": context}`, which KMS
//! binds to the ciphertext and records in CloudTrail. A sealed value is
//! `v1.kms.<base64url(ciphertext blob)>`.
//!
//! Decrypt names the key too (`KeyId`), as AWS recommends: a ciphertext under any other
//! key, even one this role may use, is refused (`IncorrectKeyException`) instead of opened.
//! KMS's automatic yearly rotation keeps the key's id and opens older values; moving to
//! another key means opening the stored values with the old one and sealing them again.
//!
//! Timeouts come with the SDK configuration (`Init::sdk` sets `app::aws_timeouts`), and
//! the SDK's standard retries already retry throttling and 5xx; what still fails after
//! them is [`CipherError::Unavailable`].

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{CipherError, Revealed, TokenCipher, check_context, check_sealable, payload, prefix};

/// The name of this adapter in sealed values.
const ADAPTER: &str = "kms";

/// The one key of the encryption context; its value is the caller's context.
pub const CONTEXT_KEY: &str = "purpose";

/// The KMS adapter over one key.
#[derive(Clone)]
pub struct KmsCipher {
    client: Client,
    key_id: String,
}

impl std::fmt::Debug for KmsCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A key id is not a secret (the key stays in KMS); it says which key is in use.
        f.debug_struct("KmsCipher")
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Maps an SDK failure by what the caller does next: a ciphertext KMS will not open under
/// this key and context is [`CipherError::Tampered`]; a refused key or role
/// [`CipherError::Refused`]; throttling, 5xx, timeouts and lost connections
/// [`CipherError::Unavailable`]. The detail names the cause, never the plaintext.
fn classify<E>(err: SdkError<E, aws_sdk_kms::config::http::HttpResponse>) -> CipherError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = || DisplayErrorContext(&err).to_string();
    if !matches!(err, SdkError::ServiceError(_)) {
        // No answer, or none we could read: timeouts, connection failures, garbled
        // responses, and requests the SDK could not build (none of ours should fail so).
        return CipherError::Unavailable(detail());
    }
    match err.code() {
        Some("InvalidCiphertextException" | "IncorrectKeyException") => CipherError::Tampered,
        Some(
            "ThrottlingException"
            | "KMSInternalException"
            | "DependencyTimeoutException"
            | "KeyUnavailableException"
            | "LimitExceededException",
        ) => CipherError::Unavailable(detail()),
        _ if err
            .raw_response()
            .is_some_and(|r| r.status().as_u16() >= 500) =>
        {
            CipherError::Unavailable(detail())
        }
        // AccessDenied, NotFound, Disabled, KMSInvalidState (pending deletion),
        // InvalidKeyUsage (not an encryption key), validation: an operator must act.
        _ => CipherError::Refused(detail()),
    }
}

impl KmsCipher {
    /// An adapter with an already-built client, sealing under `key_id` (a key id, key ARN,
    /// alias name `alias/...` or alias ARN).
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        KmsCipher {
            client,
            key_id: key_id.into(),
        }
    }

    /// Builds the client from the shared AWS configuration, at `endpoint` when given (moto
    /// in tests).
    pub fn from_sdk_config(
        sdk: &aws_config::SdkConfig,
        endpoint: Option<&str>,
        key_id: String,
    ) -> Self {
        let mut builder = aws_sdk_kms::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            builder = builder.endpoint_url(url);
        }
        Self::new(Client::from_conf(builder.build()), key_id)
    }

    /// The key values are sealed under.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The underlying client (key set-up in tests).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl TokenCipher for KmsCipher {
    async fn seal(&self, plaintext: &str, context: &str) -> Result<String, CipherError> {
        check_sealable(plaintext, context)?;
        let output = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext.as_bytes()))
            .encryption_context(CONTEXT_KEY, context)
            .send()
            .await
            .map_err(classify)?;
        let blob = output
            .ciphertext_blob()
            .filter(|b| !b.as_ref().is_empty())
            .ok_or_else(|| CipherError::Unavailable("KMS answered without a ciphertext".into()))?;
        Ok(format!(
            "{}{}",
            prefix(ADAPTER),
            URL_SAFE_NO_PAD.encode(blob.as_ref())
        ))
    }

    async fn open(&self, sealed: &str, context: &str) -> Result<Revealed, CipherError> {
        check_context(context)?;
        let blob = URL_SAFE_NO_PAD
            .decode(payload(sealed, ADAPTER)?)
            .map_err(|_| CipherError::Malformed("the payload is not base64url".into()))?;
        if blob.is_empty() {
            return Err(CipherError::Malformed("the ciphertext is empty".into()));
        }
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(blob))
            .encryption_context(CONTEXT_KEY, context)
            .send()
            .await
            .map_err(classify)?;
        let plain = output
            .plaintext()
            .ok_or_else(|| CipherError::Unavailable("KMS answered without a plaintext".into()))?;
        // Authentic, so sealed by us from a `&str`: UTF-8 unless our own code is broken.
        String::from_utf8(plain.as_ref().to_vec())
            .map(Revealed::new)
            .map_err(|_| CipherError::Malformed("the opened value is not text".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::config::http::HttpResponse;
    use aws_sdk_kms::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_kms::operation::decrypt::DecryptError;

    fn answered(code: &str, status: u16) -> CipherError {
        let error = DecryptError::generic(ErrorMetadata::builder().code(code).build());
        let response = HttpResponse::new(status.try_into().expect("a status"), "".into());
        classify(SdkError::service_error(error, response))
    }

    #[test]
    fn kms_answers_are_sorted_by_what_the_caller_does_next() {
        for code in ["InvalidCiphertextException", "IncorrectKeyException"] {
            assert_eq!(answered(code, 400), CipherError::Tampered, "{code}");
        }
        for (code, status) in [
            ("ThrottlingException", 400),
            ("KMSInternalException", 500),
            ("DependencyTimeoutException", 503),
            ("KeyUnavailableException", 500),
            ("SomethingNew", 502),
        ] {
            assert!(
                matches!(answered(code, status), CipherError::Unavailable(_)),
                "{code}"
            );
        }
        for code in [
            "AccessDeniedException",
            "NotFoundException",
            "DisabledException",
            "KMSInvalidStateException",
            "InvalidKeyUsageException",
        ] {
            assert!(
                matches!(answered(code, 400), CipherError::Refused(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn no_answer_at_all_is_unavailable() {
        let timeout = SdkError::<DecryptError, HttpResponse>::timeout_error("4 s passed");
        assert!(matches!(classify(timeout), CipherError::Unavailable(_)));
        let refused = SdkError::<DecryptError, HttpResponse>::dispatch_failure(ConnectorError::io(
            "connection refused".into(),
        ));
        assert!(matches!(classify(refused), CipherError::Unavailable(_)));
    }
}
