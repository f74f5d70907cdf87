//! `App`: the ports a function uses, built once per execution environment in `main`.
//!
//! A function says what it [`Needs`]; only those ports are built, so a function whose
//! requests never touch the table pays nothing at init for a DynamoDB client. Asking for a
//! port that was not built is a wiring bug and answers 500 with a clear log line.

use std::path::Path;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::blobs::Blobs;
use crate::blobs::filesystem::FilesystemBlobs;
use crate::blobs::s3::S3Blobs;
use crate::config::{BlobBackend, Config, ConfigError, SigningKeySource, StoreBackend};
use crate::error::ApiError;
use crate::store::Store;
use crate::store::cursor::CursorCodec;
use crate::store::dynamodb::DynamoStore;
use crate::store::embedded::EmbeddedStore;
use crate::tokens::{TokenError, TokenKeys};

/// Which ports a function builds at init.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The table.
    pub store: bool,
    /// The bucket.
    pub blobs: bool,
    /// The token keys (signing or publishing).
    pub keys: bool,
}

impl Needs {
    /// Nothing but the configuration (`/healthz`).
    pub const NOTHING: Needs = Needs {
        store: false,
        blobs: false,
        keys: false,
    };
    /// Every port (the local gateway, which serves every function).
    pub const EVERYTHING: Needs = Needs {
        store: true,
        blobs: true,
        keys: true,
    };

    /// Also the table.
    pub const fn store(self) -> Self {
        Needs {
            store: true,
            ..self
        }
    }
    /// Also the bucket.
    pub const fn blobs(self) -> Self {
        Needs {
            blobs: true,
            ..self
        }
    }
    /// Also the token keys.
    pub const fn keys(self) -> Self {
        Needs { keys: true, ..self }
    }
}

/// A failure to build the ports at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The token keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] TokenError),
    /// The store could not be opened.
    #[error("opening the store: {0}")]
    Store(String),
    /// A local secret could not be read or created.
    #[error("local secret: {0}")]
    Secret(String),
}

/// The ports of one execution environment.
#[derive(Clone)]
pub struct App {
    /// The configuration read at start-up.
    pub config: Arc<Config>,
    store: Option<Arc<dyn Store>>,
    blobs: Option<Arc<dyn Blobs>>,
    keys: Option<Arc<TokenKeys>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("environment", &self.config.environment)
            .field("store", &self.store.is_some())
            .field("blobs", &self.blobs.is_some())
            .field("keys", &self.keys.is_some())
            .finish()
    }
}

fn not_wired(port: &str) -> ApiError {
    ApiError::Internal(format!(
        "the {port} port is not built for this function: add it to its Needs"
    ))
}

impl App {
    /// An app from explicit ports, for tests and the local gateway.
    pub fn from_parts(
        config: Config,
        store: Option<Arc<dyn Store>>,
        blobs: Option<Arc<dyn Blobs>>,
        keys: Option<Arc<TokenKeys>>,
    ) -> Self {
        App {
            config: Arc::new(config),
            store,
            blobs,
            keys,
        }
    }

    /// Reads the environment and builds what `needs` asks for.
    pub async fn from_env(needs: Needs) -> Result<Self, StartupError> {
        Self::build(Config::from_env()?, needs).await
    }

    /// Builds the ports `needs` asks for from `config`.
    pub async fn build(config: Config, needs: Needs) -> Result<Self, StartupError> {
        let uses_aws = (needs.store && matches!(config.store, StoreBackend::DynamoDb { .. }))
            || (needs.blobs && matches!(config.blobs, BlobBackend::S3 { .. }))
            || (needs.keys
                && matches!(
                    config.signing_key,
                    Some(SigningKeySource::SecretsManager(_))
                ));
        let sdk = if uses_aws {
            Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
        } else {
            None
        };
        let secret = if needs.store || needs.blobs {
            Some(signing_secret(&config)?)
        } else {
            None
        };
        let derive = |label: &str| {
            secret
                .as_deref()
                .map(|s| derive_key(s, label))
                .unwrap_or_default()
        };

        let store: Option<Arc<dyn Store>> = match (needs.store, &config.store, &sdk) {
            (false, ..) => None,
            (true, StoreBackend::Embedded, _) => Some(Arc::new(
                EmbeddedStore::open(
                    &config.data_dir.join("store.redb"),
                    CursorCodec::new(derive("cursor")),
                )
                .map_err(|e| StartupError::Store(e.to_string()))?,
            )),
            (true, StoreBackend::DynamoDb { endpoint }, Some(sdk)) => {
                Some(Arc::new(DynamoStore::from_sdk_config(
                    sdk,
                    endpoint.as_deref(),
                    config.table_name.clone(),
                    CursorCodec::new(derive("cursor")),
                )))
            }
            (true, StoreBackend::DynamoDb { .. }, None) => None,
        };
        let blobs: Option<Arc<dyn Blobs>> = match (needs.blobs, &config.blobs, &sdk) {
            (false, ..) => None,
            (true, BlobBackend::Filesystem, _) => Some(Arc::new(FilesystemBlobs::new(
                config.data_dir.join("blobs"),
                &config.cdn_base_url,
                &config.public_base_url,
                derive("upload"),
            ))),
            (true, BlobBackend::S3 { endpoint }, Some(sdk)) => {
                Some(Arc::new(S3Blobs::from_sdk_config(
                    sdk,
                    endpoint.as_deref(),
                    config.bucket_name.clone(),
                    &config.cdn_base_url,
                )))
            }
            (true, BlobBackend::S3 { .. }, None) => None,
        };
        let keys = match (needs.keys, &config.signing_key) {
            (false, _) | (true, None) => None,
            (true, Some(SigningKeySource::LocalDirectory(dir))) => Some(Arc::new(
                TokenKeys::load_or_generate(dir, time::OffsetDateTime::now_utc().date())?,
            )),
            (true, Some(SigningKeySource::SecretsManager(id))) => match &sdk {
                Some(sdk) => Some(Arc::new(TokenKeys::from_secrets_manager(sdk, id).await?)),
                None => None,
            },
        };
        Ok(App::from_parts(config, store, blobs, keys))
    }

    /// The table.
    pub fn store(&self) -> Result<&dyn Store, ApiError> {
        self.store.as_deref().ok_or_else(|| not_wired("store"))
    }

    /// The bucket.
    pub fn blobs(&self) -> Result<&dyn Blobs, ApiError> {
        self.blobs.as_deref().ok_or_else(|| not_wired("blobs"))
    }

    /// The token keys.
    pub fn keys(&self) -> Result<&TokenKeys, ApiError> {
        self.keys.as_deref().ok_or_else(|| not_wired("keys"))
    }

    /// The bucket as its shared handle (the local gateway serves files through it).
    pub fn blobs_handle(&self) -> Option<Arc<dyn Blobs>> {
        self.blobs.clone()
    }
}

/// The secret behind cursor and local upload signatures: `CURSOR_SECRET`, or on a laptop a
/// random one generated once under `<data dir>/keys/local.secret`.
fn signing_secret(config: &Config) -> Result<Vec<u8>, StartupError> {
    if let Some(secret) = &config.cursor_secret {
        return Ok(secret.as_bytes().to_vec());
    }
    local_secret(&config.data_dir.join("keys").join("local.secret"))
}

fn local_secret(path: &Path) -> Result<Vec<u8>, StartupError> {
    let fail = |e: std::io::Error| StartupError::Secret(format!("{}: {e}", path.display()));
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() >= 32 => return Ok(bytes),
        Ok(_) => {
            return Err(StartupError::Secret(format!(
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
    let text = secret
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
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
            file.write_all(text.as_bytes()).map_err(fail)?;
            Ok(text.into_bytes())
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).map_err(fail)
        }
        Err(e) => Err(fail(e)),
    }
}

/// One secret, separate keys per purpose, so a signature of one kind never passes as another.
fn derive_key(secret: &[u8], label: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().to_vec()
}
