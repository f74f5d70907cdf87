//! Secrets: where each one comes from, read from Secrets Manager once per execution
//! environment when first needed, and held in types that never print.
//!
//! On AWS a function's environment holds a secret's *name* (`CURSOR_SECRET_ID`,
//! `MAPBOX_ACCESS_TOKEN_SECRET_ID`, `SIGNING_KEY_SECRET_ID`, ...), never its value: anyone
//! allowed to read the function's configuration sees a name, and a rotated value reaches
//! the next execution environments with no stack update. A value given directly
//! (`CURSOR_SECRET`, `MAPBOX_ACCESS_TOKEN`) is for laptops, tests and development stages;
//! production refuses it at start-up.
//!
//! A secret only some requests need (the cursor secret, which only a list with a next page
//! uses) is read on the first such request, so a function's cold start makes no Secrets
//! Manager call for it; [`SecretsManager`] keeps each value for the execution environment,
//! so the call happens once. A failed read is not kept: the next request tries again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use hmac::{Hmac, Mac};
pub use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::aws::AwsTrust;

/// Where one secret comes from.
#[derive(Clone)]
pub enum SecretSource {
    /// The value itself, from the environment: laptops, tests, development stages.
    Value(SecretString),
    /// The id (name or ARN) of a Secrets Manager secret holding it as a string: AWS.
    SecretsManager(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Value(_) => f.write_str("Value(***)"),
            SecretSource::SecretsManager(id) => write!(f, "SecretsManager({id})"),
        }
    }
}

impl PartialEq for SecretSource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SecretSource::Value(a), SecretSource::Value(b)) => {
                a.expose_secret() == b.expose_secret()
            }
            (SecretSource::SecretsManager(a), SecretSource::SecretsManager(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for SecretSource {}

impl SecretSource {
    /// The source named by the variable `value_var` (the value) or `id_var` (a Secrets
    /// Manager id); `None` when neither is set, an error naming both when both are.
    pub fn read(
        get: &dyn Fn(&str) -> Option<String>,
        value_var: &str,
        id_var: &str,
    ) -> Result<Option<SecretSource>, String> {
        let present = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        match (present(value_var), present(id_var)) {
            (Some(_), Some(_)) => Err(format!("{value_var} and {id_var} are both set: name one")),
            (Some(value), None) => Ok(Some(SecretSource::Value(value.into()))),
            (None, Some(id)) => Ok(Some(SecretSource::SecretsManager(id.trim().to_owned()))),
            (None, None) => Ok(None),
        }
    }

    /// Whether the value itself sits in the environment (production refuses that).
    pub fn is_inline(&self) -> bool {
        matches!(self, SecretSource::Value(_))
    }
}

/// Why a secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager did not answer, or refused (no permission, no such secret); the
    /// text names the secret and the cause, never a value. A later try may work.
    #[error("reading the secret {id}: {detail}")]
    Unavailable {
        /// The secret's id.
        id: String,
        /// What the SDK said.
        detail: String,
    },
    /// The secret holds binary data, not the string we read.
    #[error("the secret {id} has no string value")]
    NotText {
        /// The secret's id.
        id: String,
    },
    /// The laptop's generated secret could not be read or written.
    #[error("local secret: {0}")]
    Local(String),
}

/// The string value of the secret `secret_id`, read now: for ports built at start-up (the
/// token keys, the FCM service account, the Strava client secret). The error names the
/// secret and the cause, never the value.
pub async fn secret_string(sdk: &aws_config::SdkConfig, secret_id: &str) -> Result<String, String> {
    fetch(&aws_sdk_secretsmanager::Client::new(sdk), secret_id)
        .await
        .map(|value| value.expose_secret().to_owned())
        .map_err(|e| e.to_string())
}

async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<SecretString, SecretError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| SecretError::Unavailable {
            id: secret_id.to_owned(),
            detail: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
        })?;
    out.secret_string()
        .map(SecretString::from)
        .ok_or_else(|| SecretError::NotText {
            id: secret_id.to_owned(),
        })
}

/// Secrets Manager for secrets read on first need: its client is built on the first read
/// (so a function that never needs a secret never builds it), and each secret's value is
/// kept for the execution environment once read.
pub struct SecretsManager {
    trust: AwsTrust,
    client: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client>,
    values: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<SecretString>>>>,
}

impl std::fmt::Debug for SecretsManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsManager")
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

impl SecretsManager {
    /// A reader whose client, once needed, is built like every AWS client of the function
    /// ([`crate::aws::sdk_config`], which honours `AWS_ENDPOINT_URL_SECRETS_MANAGER`),
    /// trusting `trust`.
    pub fn new(trust: AwsTrust) -> Self {
        SecretsManager {
            trust,
            client: tokio::sync::OnceCell::new(),
            values: Mutex::default(),
        }
    }

    /// A reader over an already-built client (tests point it at a local server).
    pub fn with_client(client: aws_sdk_secretsmanager::Client) -> Self {
        SecretsManager {
            client: tokio::sync::OnceCell::new_with(Some(client)),
            ..SecretsManager::new(AwsTrust::AmazonRoots)
        }
    }

    async fn client(&self) -> &aws_sdk_secretsmanager::Client {
        self.client
            .get_or_init(|| async {
                let sdk = crate::aws::sdk_config(crate::app::aws_timeouts(), self.trust).await;
                aws_sdk_secretsmanager::Client::new(&sdk)
            })
            .await
    }

    /// The value of `secret_id`: from Secrets Manager the first time, then as kept.
    pub async fn read(&self, secret_id: &str) -> Result<SecretString, SecretError> {
        let cell = self
            .values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(secret_id.to_owned())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async { fetch(self.client().await, secret_id).await })
            .await
            .cloned()
    }

    /// The value `source` names: the value itself, or [`SecretsManager::read`].
    pub async fn resolve(&self, source: &SecretSource) -> Result<SecretString, SecretError> {
        match source {
            SecretSource::Value(value) => Ok(value.clone()),
            SecretSource::SecretsManager(id) => self.read(id).await,
        }
    }
}

/// The secret that keys what only this service must be able to make: paging cursors, the
/// audit trail's pseudonyms, the Strava state, job ids, local upload signatures and the
/// local token cipher. Each use gets its own key, derived with a label
/// ([`SigningSecret::derived_key`]), so a signature of one kind never passes as another.
///
/// Configured by `CURSOR_SECRET_ID` (Secrets Manager, read on first use) or `CURSOR_SECRET`;
/// on a laptop without either, a random secret generated once under
/// `<data dir>/keys/local.secret`.
pub struct SigningSecret {
    source: SigningSource,
    secrets: Arc<SecretsManager>,
}

enum SigningSource {
    Configured(SecretSource),
    LocalFile {
        path: PathBuf,
        value: OnceLock<SecretString>,
    },
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            SigningSource::Configured(source) => write!(f, "SigningSecret({source:?})"),
            SigningSource::LocalFile { path, .. } => {
                write!(f, "SigningSecret(LocalFile({}))", path.display())
            }
        }
    }
}

impl SigningSecret {
    /// The secret `configured` names, read through `secrets`; without one, the laptop's
    /// generated secret under `data_dir`.
    pub fn new(
        configured: Option<&SecretSource>,
        data_dir: &Path,
        secrets: Arc<SecretsManager>,
    ) -> Self {
        let source = match configured {
            Some(source) => SigningSource::Configured(source.clone()),
            None => SigningSource::LocalFile {
                path: data_dir.join("keys").join("local.secret"),
                value: OnceLock::new(),
            },
        };
        SigningSecret { source, secrets }
    }

    /// The key for `label` (HMAC-SHA256 of the label under the secret). Reads the secret
    /// the first time any key is asked for.
    pub async fn derived_key(&self, label: &str) -> Result<Vec<u8>, SecretError> {
        let secret = match &self.source {
            SigningSource::Configured(source) => self.secrets.resolve(source).await?,
            SigningSource::LocalFile { path, value } => match value.get() {
                Some(secret) => secret.clone(),
                None => {
                    let loaded = local_secret(path)?;
                    value.get_or_init(|| loaded).clone()
                }
            },
        };
        Ok(derive_key(secret.expose_secret().as_bytes(), label))
    }
}

/// The laptop's signing secret: read from `path`, or made (32 random bytes as hex, mode
/// 0600) the first time. Two processes starting together agree on the first one written.
fn local_secret(path: &Path) -> Result<SecretString, SecretError> {
    let fail = |e: std::io::Error| SecretError::Local(format!("{}: {e}", path.display()));
    let text = |bytes: Vec<u8>| {
        String::from_utf8(bytes)
            .map(SecretString::from)
            .map_err(|_| SecretError::Local(format!("{} is not text", path.display())))
    };
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() >= 32 => return text(bytes),
        Ok(_) => {
            return Err(SecretError::Local(format!(
                "{} is shorter than 32 bytes",
                path.display()
            )));
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e)),
        Err(_) => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let secret: [u8; 32] = rand::random();
    let made = crate::digest::hex(&secret);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            use std::io::Write;
            file.write_all(made.as_bytes()).map_err(fail)?;
            Ok(SecretString::from(made))
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            text(std::fs::read(path).map_err(fail)?)
        }
        Err(e) => Err(fail(e)),
    }
}

/// One secret, separate keys per purpose, so a signature of one kind never passes as another.
pub(crate) fn derive_key(secret: &[u8], label: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_secret_value_never_prints() {
        let source = SecretSource::read(&env(&[("X", "hunter2-hunter2")]), "X", "X_ID")
            .expect("one source")
            .expect("configured");
        let printed = format!("{source:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(source.is_inline());
    }

    #[test]
    fn a_secret_named_twice_is_refused_naming_both_variables() {
        let refused = SecretSource::read(&env(&[("X", "v"), ("X_ID", "id")]), "X", "X_ID")
            .expect_err("both named");
        assert!(refused.contains("X and X_ID"), "{refused}");
    }

    #[test]
    fn a_secret_id_is_a_name_not_a_value() {
        let source = SecretSource::read(&env(&[("X_ID", " runcrew/cursor ")]), "X", "X_ID")
            .expect("one source");
        assert_eq!(
            source,
            Some(SecretSource::SecretsManager("runcrew/cursor".into()))
        );
        assert_eq!(
            format!("{:?}", source.expect("configured")),
            "SecretsManager(runcrew/cursor)"
        );
    }

    #[tokio::test]
    async fn the_local_secret_is_made_once_and_keys_differ_by_label() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secrets = Arc::new(SecretsManager::new(AwsTrust::AmazonRoots));
        let first = SigningSecret::new(None, dir.path(), secrets.clone());
        let second = SigningSecret::new(None, dir.path(), secrets);
        let cursor = first.derived_key("cursor").await.expect("local secret");
        assert_eq!(
            cursor,
            second.derived_key("cursor").await.expect("local secret")
        );
        assert_ne!(
            cursor,
            first.derived_key("upload").await.expect("local secret")
        );
    }
}
