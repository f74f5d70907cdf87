//! The Firebase service account (the JSON file the Firebase console downloads) and the
//! signed assertion it trades for an access token.
//!
//! The private key is parsed once, when the account is read, so a broken key stops the
//! push consumer at start; it is never printed (`Debug` leaves it out).

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::errors::FcmSetupError;

/// The OAuth scope that allows sending through FCM HTTP v1.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Google's token endpoint, used when neither the client nor the account names another.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// How long an assertion is valid: Google's maximum, one hour.
pub const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// A Firebase service account: who we are to Google (`client_email`), the key that proves
/// it, and the project whose apps we message.
#[derive(Clone)]
pub struct ServiceAccount {
    project_id: String,
    client_email: String,
    private_key_id: Option<String>,
    key: EncodingKey,
    token_uri: Option<String>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

/// The fields of the downloaded file we use; the others (`client_id`, `auth_uri`, the
/// certificate URLs) are ignored.
#[derive(Deserialize)]
struct AccountFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: String,
    private_key_id: Option<String>,
    private_key: String,
    client_email: String,
    token_uri: Option<String>,
}

/// The claims of the JWT-bearer assertion (RFC 7523) Google's token endpoint expects.
#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl ServiceAccount {
    /// Reads the service account JSON as the Firebase console downloads it. Refuses a file
    /// of another `type`, a missing field, a project id that is not a plain identifier and
    /// a private key that is not an RSA PEM key; the error never quotes the key.
    pub fn from_json(text: &str) -> Result<ServiceAccount, FcmSetupError> {
        // Serde's own words only when they name a field; otherwise where reading failed:
        // "invalid type: string ..." would quote a secret stored as a JSON string (encoded
        // twice) whole, private key and all.
        let file: AccountFile = serde_json::from_str(text).map_err(|e| {
            let said = e.to_string();
            let names_a_field =
                said.starts_with("missing field") || said.starts_with("unknown field");
            let detail = if names_a_field {
                said
            } else {
                format!(
                    "{:?} error at line {}, column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                )
            };
            FcmSetupError::ServiceAccount(format!("not the expected JSON: {detail}"))
        })?;
        if let Some(kind) = &file.kind
            && kind != "service_account"
        {
            return Err(FcmSetupError::ServiceAccount(format!(
                "type is {kind:?}, not \"service_account\""
            )));
        }
        if !is_project_id(&file.project_id) {
            return Err(FcmSetupError::ServiceAccount(format!(
                "project_id {:?} is not a Firebase project id",
                file.project_id
            )));
        }
        if file.client_email.trim().is_empty() {
            return Err(FcmSetupError::ServiceAccount(
                "client_email is empty".to_owned(),
            ));
        }
        let key = EncodingKey::from_rsa_pem(file.private_key.as_bytes()).map_err(|e| {
            FcmSetupError::ServiceAccount(format!("private_key is not an RSA PEM key: {e}"))
        })?;
        Ok(ServiceAccount {
            project_id: file.project_id,
            client_email: file.client_email,
            private_key_id: file.private_key_id.filter(|id| !id.is_empty()),
            key,
            token_uri: file.token_uri.filter(|uri| !uri.is_empty()),
        })
    }

    /// The Firebase project the messages are sent through (the path of the send URL).
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The account's email, the `iss` of its assertions; safe to log.
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The token endpoint the file names, if any.
    pub fn token_uri(&self) -> Option<&str> {
        self.token_uri.as_deref()
    }

    /// A signed JWT-bearer assertion for `audience` (the token URL), issued at `now` and
    /// valid for [`ASSERTION_LIFETIME_SECS`]; the header names the key (`kid`) when the
    /// file did.
    pub(crate) fn assertion(
        &self,
        audience: &str,
        now: SystemTime,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.private_key_id.clone();
        let claims = AssertionClaims {
            iss: &self.client_email,
            scope: FCM_SCOPE,
            aud: audience,
            iat,
            exp: iat + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

/// Whether `id` can go into the send URL's path as it is: Firebase ids are lower-case
/// letters, digits and hyphens; old domain-scoped ones add `.` and `:`.
fn is_project_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '_'))
}
