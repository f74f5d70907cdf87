//! `App`: the ports a function uses, built once per execution environment in `main`.
//!
//! A function says what it [`Needs`]; only those ports are built, so a function whose
//! requests never touch the table pays nothing at init for a DynamoDB client. Asking for a
//! port that was not built is a wiring bug and answers 500 with a clear log line.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::blobs::filesystem::FilesystemBlobs;
use crate::blobs::s3::S3Blobs;
use crate::blobs::{Blobs, FileUrls};
use crate::cipher::TokenCipher;
use crate::cipher::kms::KmsCipher;
use crate::cipher::local::LocalCipher;
use crate::config::{
    BlobBackend, CipherBackend, Config, ConfigError, Environment, QueueBackend, SigningKeySource,
    StoreBackend,
};
use crate::error::ApiError;
use crate::identity::IdentityProviders;
use crate::push::PushSender;
use crate::queue::memory::MemoryQueue;
use crate::queue::sqs::SqsQueue;
use crate::queue::{Queue, QueueName};
use crate::request::{self, Caller};
use crate::secrets::{SecretError, SecretsManager, SigningSecret};
use crate::store::Store;
#[cfg(feature = "embedded-store")]
use crate::store::cursor::CursorCodec;
use crate::store::cursor::Cursors;
use crate::store::dynamodb::DynamoStore;
#[cfg(feature = "embedded-store")]
use crate::store::embedded::EmbeddedStore;
use crate::tokens::{TokenError, TokenKeys};

/// Builds one port at init; `None` in [`Needs`] means the port is not built at all.
pub type PortBuilder<T> = for<'a> fn(&'a Init<'a>) -> PortFuture<'a, T>;

/// What a [`PortBuilder`] returns.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StartupError>> + Send + 'a>>;

/// Which ports a function builds at init, as builders. Holding the builders (rather than
/// flags) means a binary references only the adapters it declares, so the linker drops the
/// rest: `healthz` carries no AWS SDK client at all. Each field is set by the method of
/// the same name; a port left `None` is not built, and its [`App`] accessor answers 500.
#[derive(Clone, Copy, Default)]
pub struct Needs {
    /// Builds the table: redb under the data folder, or DynamoDB (`STORE`).
    pub store: Option<PortBuilder<Arc<dyn Store>>>,
    /// Builds the bucket: files under `<data dir>/blobs`, or S3 (`BLOBS`).
    pub blobs: Option<PortBuilder<Arc<dyn Blobs>>>,
    /// Builds the bucket's addresses alone, for a function that reads and writes no file.
    pub file_urls: Option<PortBuilder<Arc<dyn FileUrls>>>,
    /// Loads the token keys from Secrets Manager, or generates them under `<data dir>/keys`.
    pub keys: Option<PortBuilder<Arc<TokenKeys>>>,
    /// Builds the social-login verifiers the configuration enables.
    pub identity: Option<PortBuilder<Arc<IdentityProviders>>>,
    /// Builds the queues: in memory, or SQS (`QUEUES`).
    pub queue: Option<PortBuilder<Arc<dyn Queue>>>,
    /// Builds the push sender, which the sending function supplies (FCM lives in its
    /// crate); it builds `None` when no service account is configured: pushes are off.
    pub push: Option<PortBuilder<Option<Arc<dyn PushSender>>>>,
    /// Builds the token cipher: KMS (`TOKEN_KMS_KEY_ID`), or a key derived from the local
    /// signing secret.
    pub cipher: Option<PortBuilder<Arc<dyn TokenCipher>>>,
    /// Builds a port this crate does not know the type of (a function crate's own client,
    /// e.g. Strava's), read back with [`App::extension`]; `None` when not configured.
    pub extension: Option<PortBuilder<Option<Extension>>>,
}

/// A port of a type only its function crate knows, for [`Needs::extension`].
pub type Extension = Arc<dyn std::any::Any + Send + Sync>;

impl std::fmt::Debug for Needs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Needs")
            .field("store", &self.store.is_some())
            .field("blobs", &self.blobs.is_some())
            .field("file_urls", &self.file_urls.is_some())
            .field("keys", &self.keys.is_some())
            .field("identity", &self.identity.is_some())
            .field("queue", &self.queue.is_some())
            .field("push", &self.push.is_some())
            .field("cipher", &self.cipher.is_some())
            .field("extension", &self.extension.is_some())
            .finish()
    }
}

impl Needs {
    /// Nothing but the configuration (`/healthz`).
    pub const NOTHING: Needs = Needs {
        store: None,
        blobs: None,
        file_urls: None,
        keys: None,
        identity: None,
        queue: None,
        push: None,
        cipher: None,
        extension: None,
    };
    /// Every port (the local gateway, which serves every function).
    pub const EVERYTHING: Needs = Needs::NOTHING
        .store()
        .blobs()
        .keys()
        .identity()
        .queue()
        .cipher();

    /// Also the table, from `STORE`.
    pub const fn store(self) -> Self {
        Needs {
            store: Some(build_store),
            ..self
        }
    }
    /// Also the bucket, from `BLOBS`.
    pub const fn blobs(self) -> Self {
        Needs {
            blobs: Some(build_blobs),
            ..self
        }
    }
    /// Also the bucket's addresses (public and presigned URLs), from `BLOBS`, for a
    /// function that hands out addresses but reads and writes no file: a `dyn FileUrls`
    /// links the adapter's signing only, where a `dyn Blobs` links every bucket operation
    /// (about 0.6 MB of the S3 client). [`App::file_urls`] also answers from the bucket.
    pub const fn file_urls(self) -> Self {
        Needs {
            file_urls: Some(build_file_urls),
            ..self
        }
    }
    /// Also the token keys, from `SIGNING_KEY_SECRET_ID` or the local key folder.
    pub const fn keys(self) -> Self {
        Needs {
            keys: Some(build_keys),
            ..self
        }
    }
    /// Also the social-login verifiers the configuration enables (`POST /v1/auth/login`).
    pub const fn identity(self) -> Self {
        Needs {
            identity: Some(build_identity),
            ..self
        }
    }
    /// Also the queues, from `QUEUES`.
    pub const fn queue(self) -> Self {
        Needs {
            queue: Some(build_queue),
            ..self
        }
    }
    /// Also the token cipher, from `TOKEN_KMS_KEY_ID` (the local key without it, which
    /// production refuses).
    pub const fn cipher(self) -> Self {
        Needs {
            cipher: Some(build_cipher),
            ..self
        }
    }
    /// Also the port `build` makes, of a type only the calling crate knows.
    pub const fn extension(self, build: PortBuilder<Option<Extension>>) -> Self {
        Needs {
            extension: Some(build),
            ..self
        }
    }
    /// Also the push sender `build` makes (the FCM adapter, from `FCM_*`).
    pub const fn push(self, build: PortBuilder<Option<Arc<dyn PushSender>>>) -> Self {
        Needs {
            push: Some(build),
            ..self
        }
    }
}

/// What port builders share during one start-up: the configuration, the AWS configuration
/// (loaded once, and only if a builder asks for it) and the secrets, read when first needed.
pub struct Init<'a> {
    /// What the builders choose their adapter, names and endpoints by.
    pub config: &'a Config,
    sdk: tokio::sync::OnceCell<aws_config::SdkConfig>,
    secrets: Arc<SecretsManager>,
    signing: Arc<SigningSecret>,
}

impl<'a> Init<'a> {
    /// Start-up state over `config`.
    pub fn new(config: &'a Config) -> Self {
        let (secrets, signing) = secrets_of(config);
        Init {
            config,
            sdk: tokio::sync::OnceCell::new(),
            secrets,
            signing,
        }
    }

    /// The signing secret (the cursor secret), read on first use.
    pub fn signing(&self) -> Arc<SigningSecret> {
        self.signing.clone()
    }

    /// The AWS configuration (region, credentials, HTTPS client), built on first use by
    /// [`crate::aws::sdk_config`], with [`aws_timeouts`] on every client built from it and
    /// the roots [`Config::aws_trust`] picks.
    pub async fn sdk(&self) -> &aws_config::SdkConfig {
        self.sdk
            .get_or_init(|| crate::aws::sdk_config(aws_timeouts(), self.config.aws_trust()))
            .await
    }

    /// A key for `label` derived from the signing secret (local uploads, the local token
    /// cipher), read now: for ports that cannot work without it.
    pub async fn derived_key(&self, label: &str) -> Result<Vec<u8>, StartupError> {
        self.signing
            .derived_key(label)
            .await
            .map_err(|e| StartupError::Secret(e.to_string()))
    }
}

/// The secrets reader of one execution environment and its signing secret.
fn secrets_of(config: &Config) -> (Arc<SecretsManager>, Arc<SigningSecret>) {
    let secrets = Arc::new(SecretsManager::new(config.aws_trust()));
    let signing = Arc::new(SigningSecret::new(
        config.cursor_secret.as_ref(),
        &config.data_dir,
        secrets.clone(),
    ));
    (secrets, signing)
}

/// The longest one AWS call (all its retries) may take before it fails as unavailable.
///
/// Without a bound, a stalled dependency (a frozen table, a lost connection) holds a
/// request until the function's own timeout (10 s) cuts it off at whatever step it had
/// reached. With it, the first stalled call fails within this time and the route answers
/// 503 with `Retry-After`, well inside the function timeout, before writing anything more.
pub const AWS_OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);

/// The longest one attempt of an AWS call may take; the SDK's standard retry mode (3
/// attempts with backoff) tries again within [`AWS_OPERATION_TIMEOUT`]. DynamoDB answers in
/// milliseconds and a thumbnail's S3 read in well under a second, so 1.5 s is a stall.
pub const AWS_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// The longest a new connection to an AWS endpoint may take.
pub const AWS_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// The timeouts of every AWS client: [`AWS_CONNECT_TIMEOUT`], [`AWS_ATTEMPT_TIMEOUT`] and
/// [`AWS_OPERATION_TIMEOUT`].
pub fn aws_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(AWS_CONNECT_TIMEOUT)
        .operation_attempt_timeout(AWS_ATTEMPT_TIMEOUT)
        .operation_timeout(AWS_OPERATION_TIMEOUT)
        .build()
}

/// The table `STORE` names: redb under the data folder (with its stream), or DynamoDB. The
/// local gateway wraps the DynamoDB one to read the table's stream too.
pub fn build_store<'a>(init: &'a Init<'a>) -> PortFuture<'a, Arc<dyn Store>> {
    Box::pin(async move {
        let config = init.config;
        let store: Arc<dyn Store> = match &config.store {
            #[cfg(feature = "embedded-store")]
            // The laptop's table keeps its stream, as template.yaml's table does, so the
            // local gateway can deliver it to the stream consumers.
            StoreBackend::Embedded => Arc::new(
                EmbeddedStore::open(
                    &config.data_dir.join("store.redb"),
                    CursorCodec::new(init.derived_key("cursor").await?),
                )
                .and_then(EmbeddedStore::with_stream)
                .map_err(|e| StartupError::Store(e.to_string()))?,
            ),
            #[cfg(not(feature = "embedded-store"))]
            StoreBackend::Embedded => {
                return Err(StartupError::Store(
                    "this build has no embedded store (a Lambda build); set STORE=dynamodb".into(),
                ));
            }
            StoreBackend::DynamoDb { endpoint } => Arc::new(DynamoStore::from_sdk_config(
                init.sdk().await,
                endpoint.as_deref(),
                config.table_name.clone(),
                // Read on the first cursor, not at start (see `Cursors`).
                Cursors::lazy(init.signing()),
            )),
        };
        Ok(store)
    })
}

/// The bucket's adapter `BLOBS` picks, before it becomes a port: each builder turns it into
/// its own trait object, so a binary links only the methods of the ports it builds.
enum BucketAdapter {
    Filesystem(FilesystemBlobs),
    S3(Box<S3Blobs>),
}

async fn bucket_adapter(init: &Init<'_>) -> Result<BucketAdapter, StartupError> {
    let config = init.config;
    Ok(match &config.blobs {
        BlobBackend::Filesystem => BucketAdapter::Filesystem(FilesystemBlobs::new(
            config.data_dir.join("blobs"),
            &config.cdn_base_url,
            &config.public_base_url,
            init.derived_key("upload").await?,
        )),
        BlobBackend::S3 { endpoint } => BucketAdapter::S3(Box::new(S3Blobs::from_sdk_config(
            init.sdk().await,
            endpoint.as_deref(),
            config.bucket_name.clone(),
            &config.cdn_base_url,
        ))),
    })
}

fn build_blobs<'a>(init: &'a Init<'a>) -> PortFuture<'a, Arc<dyn Blobs>> {
    Box::pin(async move {
        Ok(match bucket_adapter(init).await? {
            BucketAdapter::Filesystem(files) => Arc::new(files) as Arc<dyn Blobs>,
            BucketAdapter::S3(bucket) => Arc::new(*bucket),
        })
    })
}

fn build_file_urls<'a>(init: &'a Init<'a>) -> PortFuture<'a, Arc<dyn FileUrls>> {
    Box::pin(async move {
        Ok(match bucket_adapter(init).await? {
            BucketAdapter::Filesystem(files) => Arc::new(files) as Arc<dyn FileUrls>,
            BucketAdapter::S3(bucket) => Arc::new(*bucket),
        })
    })
}

fn build_keys<'a>(init: &'a Init<'a>) -> PortFuture<'a, Arc<TokenKeys>> {
    Box::pin(async move {
        let keys = match &init.config.signing_key {
            None => {
                return Err(StartupError::Keys(TokenError::Keys(
                    "no signing-key source is configured".into(),
                )));
            }
            Some(SigningKeySource::LocalDirectory(dir)) => {
                TokenKeys::load_or_generate(dir, time::OffsetDateTime::now_utc().date())?
            }
            Some(SigningKeySource::SecretsManager(id)) => {
                TokenKeys::from_secrets_manager(init.sdk().await, id).await?
            }
        };
        Ok(Arc::new(keys))
    })
}

fn build_queue<'a>(init: &'a Init<'a>) -> PortFuture<'a, Arc<dyn Queue>> {
    Box::pin(async move {
        let queue: Arc<dyn Queue> = match &init.config.queues {
            QueueBackend::Memory => Arc::new(MemoryQueue::default()),
            QueueBackend::Sqs {
                endpoint,
                push_url,
                strava_url,
                jobs_url,
                feed_url,
            } => {
                let mut sqs = SqsQueue::from_sdk_config(
                    init.sdk().await,
                    endpoint.as_deref(),
                    push_url.clone(),
                );
                for (name, url) in [
                    (QueueName::Strava, strava_url),
                    (QueueName::Jobs, jobs_url),
                    (QueueName::Feed, feed_url),
                ] {
                    if let Some(url) = url {
                        sqs = sqs.with_url(name, url.clone());
                    }
                }
                Arc::new(sqs)
            }
        };
        Ok(queue)
    })
}

/// The token cipher: KMS under `TOKEN_KMS_KEY_ID`, or AES-256-GCM under a key derived
/// from the local signing secret. Its configuration is checked here, so only a function
/// that seals refuses to start without the KMS key in production.
fn build_cipher<'a>(init: &'a Init<'a>) -> PortFuture<'a, Arc<dyn TokenCipher>> {
    Box::pin(async move {
        let config = init.config;
        let problems = config.cipher.problems(config.environment);
        if !problems.is_empty() {
            return Err(StartupError::Config(ConfigError(problems)));
        }
        let cipher: Arc<dyn TokenCipher> = match &config.cipher.backend {
            CipherBackend::Kms { key_id, endpoint } => Arc::new(KmsCipher::from_sdk_config(
                init.sdk().await,
                endpoint.as_deref(),
                key_id.clone(),
            )),
            CipherBackend::Local => {
                if config.environment != Environment::Local {
                    tracing::warn!(
                        environment = %config.environment,
                        "tokens are sealed under a key derived from CURSOR_SECRET: rotating it \
                         makes them unreadable; set TOKEN_KMS_KEY_ID"
                    );
                }
                let key: [u8; 32] = init
                    .derived_key("token-cipher")
                    .await?
                    .try_into()
                    .map_err(|_| StartupError::Secret("a derived key is not 32 bytes".into()))?;
                Arc::new(LocalCipher::new(key))
            }
        };
        Ok(cipher)
    })
}

fn build_identity<'a>(init: &'a Init<'a>) -> PortFuture<'a, Arc<IdentityProviders>> {
    Box::pin(async move { Ok(Arc::new(IdentityProviders::ready(init.config)?)) })
}

/// A failure to build the ports at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The environment is refused; the error lists every problem, not just the first.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The token keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] TokenError),
    /// The embedded store could not be opened, or this build (a Lambda one) has none.
    /// DynamoDB is not contacted at start-up, so it never fails here.
    #[error("opening the store: {0}")]
    Store(String),
    /// A local secret could not be read or created.
    #[error("local secret: {0}")]
    Secret(String),
    /// The HTTPS client of the login providers could not be built.
    #[error(transparent)]
    Identity(#[from] crate::identity::HttpClientError),
    /// The push sender could not be built (an unreadable service account, say).
    #[error("push notifications: {0}")]
    Push(String),
    /// The extension port (a function crate's own client, e.g. Strava's) could not be
    /// built; the text names the client.
    #[error("{0}")]
    Extension(String),
}

/// The ports of one execution environment.
#[derive(Clone)]
pub struct App {
    /// The configuration read at start-up.
    pub config: Arc<Config>,
    store: Option<Arc<dyn Store>>,
    blobs: Option<Arc<dyn Blobs>>,
    file_urls: Option<Arc<dyn FileUrls>>,
    keys: Option<Arc<TokenKeys>>,
    identity: Option<Arc<IdentityProviders>>,
    queue: Option<Arc<dyn Queue>>,
    push: Option<Arc<dyn PushSender>>,
    cipher: Option<Arc<dyn TokenCipher>>,
    extension: Option<Extension>,
    /// The trusted issuer's published keys, fetched on the first token seen on a route
    /// without the authorizer (see [`App::viewer`]).
    issuer_keys: Arc<std::sync::OnceLock<crate::identity::jwks::JwksCache>>,
    /// The key of the audit trail's pseudonyms, derived on first use (see [`App::audit_key`]).
    audit_key: Arc<tokio::sync::OnceCell<Vec<u8>>>,
    /// Secrets Manager, read once per secret and execution environment.
    secrets: Arc<SecretsManager>,
    /// The cursor secret, behind every key only this service must be able to make.
    signing: Arc<SigningSecret>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("environment", &self.config.environment)
            .field("store", &self.store.is_some())
            .field("blobs", &self.blobs.is_some())
            .field("file_urls", &self.file_urls.is_some())
            .field("keys", &self.keys.is_some())
            .field("identity", &self.identity)
            .field("push", &self.push.is_some())
            .field("cipher", &self.cipher.is_some())
            .field("extension", &self.extension.is_some())
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
        let secrets = secrets_of(&config);
        Self::assemble(config, store, blobs, keys, secrets)
    }

    /// The app over these ports and this secrets reader with its signing secret (those of
    /// the start-up, so a secret read while building the ports is not read again).
    fn assemble(
        config: Config,
        store: Option<Arc<dyn Store>>,
        blobs: Option<Arc<dyn Blobs>>,
        keys: Option<Arc<TokenKeys>>,
        (secrets, signing): (Arc<SecretsManager>, Arc<SigningSecret>),
    ) -> Self {
        App {
            secrets,
            signing,
            config: Arc::new(config),
            store,
            blobs,
            file_urls: None,
            keys,
            identity: None,
            queue: None,
            push: None,
            cipher: None,
            extension: None,
            issuer_keys: Arc::default(),
            audit_key: Arc::default(),
        }
    }

    /// The same app with these social-login verifiers (tests point them at fakes).
    pub fn with_identity(mut self, identity: Arc<IdentityProviders>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The same app with these queues (tests read an in-memory one).
    pub fn with_queue(mut self, queue: Arc<dyn Queue>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The same app sending pushes through `push` (tests point FCM at a fake).
    pub fn with_push(mut self, push: Arc<dyn PushSender>) -> Self {
        self.push = Some(push);
        self
    }

    /// The same app sealing tokens with `cipher` (tests pass a local cipher, or KMS on a
    /// test server).
    pub fn with_cipher(mut self, cipher: Arc<dyn TokenCipher>) -> Self {
        self.cipher = Some(cipher);
        self
    }

    /// The same app with this extension port (tests point a client at a fake).
    pub fn with_extension(mut self, extension: Extension) -> Self {
        self.extension = Some(extension);
        self
    }

    /// The same app with another bucket (the local gateway wraps it to raise S3 events).
    pub fn with_blobs(mut self, blobs: Arc<dyn Blobs>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// Reads the environment and builds what `needs` asks for.
    pub async fn from_env(needs: Needs) -> Result<Self, StartupError> {
        Self::build(Config::from_env()?, needs).await
    }

    /// Builds the ports `needs` asks for from `config`.
    pub async fn build(config: Config, needs: Needs) -> Result<Self, StartupError> {
        let init = Init::new(&config);
        let store = match needs.store {
            Some(build) => Some(build(&init).await?),
            None => None,
        };
        let blobs = match needs.blobs {
            Some(build) => Some(build(&init).await?),
            None => None,
        };
        let file_urls = match needs.file_urls {
            Some(build) => Some(build(&init).await?),
            None => None,
        };
        let keys = match needs.keys {
            Some(build) => Some(build(&init).await?),
            None => None,
        };
        let identity = match needs.identity {
            Some(build) => Some(build(&init).await?),
            None => None,
        };
        let queue = match needs.queue {
            Some(build) => Some(build(&init).await?),
            None => None,
        };
        let push = match needs.push {
            Some(build) => build(&init).await?,
            None => None,
        };
        let extension = match needs.extension {
            Some(build) => build(&init).await?,
            None => None,
        };
        let cipher = match needs.cipher {
            Some(build) => Some(build(&init).await?),
            None => None,
        };
        let secrets = (init.secrets.clone(), init.signing.clone());
        drop(init);
        let mut app = App::assemble(config, store, blobs, keys, secrets);
        app.file_urls = file_urls;
        app.identity = identity;
        app.queue = queue;
        app.push = push;
        app.extension = extension;
        app.cipher = cipher;
        Ok(app)
    }

    /// The table, or 500 when this function's [`Needs`] left it out (a wiring bug, logged
    /// as such, not an outage).
    pub fn store(&self) -> Result<&dyn Store, ApiError> {
        self.store.as_deref().ok_or_else(|| not_wired("store"))
    }

    /// The bucket, or 500 when the [`Needs`] left it out.
    pub fn blobs(&self) -> Result<&dyn Blobs, ApiError> {
        self.blobs.as_deref().ok_or_else(|| not_wired("blobs"))
    }

    /// The bucket's addresses: the port of that name, else the bucket's own; 500 when the
    /// [`Needs`] left out both.
    pub fn file_urls(&self) -> Result<&dyn FileUrls, ApiError> {
        match (&self.file_urls, &self.blobs) {
            (Some(urls), _) => Ok(urls.as_ref()),
            (None, Some(blobs)) => Ok(blobs.as_ref()),
            (None, None) => Err(not_wired("file_urls")),
        }
    }

    /// The push sender, or `None` when pushes are off (no FCM service account configured,
    /// or this function's [`Needs`] has no push sender).
    pub fn push(&self) -> Option<&dyn PushSender> {
        self.push.as_deref()
    }

    /// The extension port, if it was built and is a `T`.
    pub fn extension<T: std::any::Any + Send + Sync>(&self) -> Option<&T> {
        self.extension.as_deref()?.downcast_ref()
    }

    /// The token keys, or 500 when the [`Needs`] left them out.
    pub fn keys(&self) -> Result<&TokenKeys, ApiError> {
        self.keys.as_deref().ok_or_else(|| not_wired("keys"))
    }

    /// The queues, or 500 when the [`Needs`] left them out.
    pub fn queue(&self) -> Result<&dyn Queue, ApiError> {
        self.queue.as_deref().ok_or_else(|| not_wired("queue"))
    }

    /// The token cipher, or 500 when the [`Needs`] left it out.
    pub fn cipher(&self) -> Result<&dyn TokenCipher, ApiError> {
        self.cipher.as_deref().ok_or_else(|| not_wired("cipher"))
    }

    /// The social-login verifiers, or 500 when the [`Needs`] left them out.
    pub fn identity(&self) -> Result<&IdentityProviders, ApiError> {
        self.identity
            .as_deref()
            .ok_or_else(|| not_wired("identity"))
    }

    /// The caller as our user: the `sub` of our own tokens, or in external OIDC mode a user
    /// id derived from the external issuer and its `sub` (so any `sub` shape maps to one of
    /// our ids, with no lookup per request). Every handler identifies the caller here.
    pub fn caller(&self, req: &lambda_http::Request) -> Result<Caller, ApiError> {
        let caller = request::caller(req)?;
        match &self.config.auth.external_oidc {
            None => Ok(caller),
            Some(oidc) => Ok(Caller {
                user_id: external_user_id(&oidc.issuer, &caller.user_id),
                session_id: None,
                ..caller
            }),
        }
    }

    /// Who is asking on a route open to everyone (a course, a leaderboard), where API
    /// Gateway runs no authorizer: `None` without a bearer token, the caller when the token
    /// verifies as the authorizer would verify it, 401 when it does not (so a client with
    /// an expired token learns to refresh rather than silently seeing less). Our own tokens
    /// verify against the token keys when this function holds them, else against the
    /// trusted issuer's JWKS, fetched once and cached.
    pub async fn viewer(&self, req: &lambda_http::Request) -> Result<Option<Caller>, ApiError> {
        if request::claims(req).is_some() {
            return self.caller(req).map(Some);
        }
        let Some(raw) = request::header(req, "authorization") else {
            return Ok(None);
        };
        let token = raw
            .strip_prefix("Bearer ")
            .or_else(|| raw.strip_prefix("bearer "))
            .unwrap_or(raw)
            .trim();
        let refused = |_| ApiError::Unauthorized("the bearer token is not valid".into());
        let config = &self.config;
        let (issuer, audience) = match &config.auth.external_oidc {
            Some(oidc) => (oidc.issuer.as_str(), oidc.audience.as_str()),
            None => (config.issuer(), config.token_audience.as_str()),
        };
        let claims: serde_json::Map<String, serde_json::Value> =
            match (&self.keys, &config.auth.external_oidc) {
                (Some(keys), None) => keys.verify(token, issuer, &[audience]).map_err(refused)?,
                _ => {
                    let jwks = match self.issuer_keys.get() {
                        Some(jwks) => jwks,
                        None => self.issuer_keys.get_or_init(|| {
                            crate::identity::jwks::JwksCache::discover(
                                crate::identity::jwks::sdk_http::SdkHttpKeys::new(),
                                issuer,
                                std::time::Duration::from_secs(
                                    config.auth.providers.jwks_cache_ttl_seconds,
                                ),
                            )
                        }),
                    };
                    jwks.verify_claims(token, issuer, &[audience])
                        .await
                        .map_err(|_| {
                            ApiError::Unauthorized("the bearer token is not valid".into())
                        })?
                }
            };
        let subject = claims
            .get("sub")
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("the token has no subject".into()))?;
        let user_id = match &config.auth.external_oidc {
            Some(oidc) => external_user_id(&oidc.issuer, subject),
            None => subject.to_owned(),
        };
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        Ok(Some(Caller {
            user_id,
            session_id: text("sid"),
            token_id: text("jti"),
        }))
    }

    /// The key of the audit trail's pseudonyms ([`crate::audit::actor_pseudonym`]): derived
    /// from the cursor secret (Secrets Manager on AWS, generated under the data folder on a
    /// laptop) with its own label, on first use. User ids are public, so a pseudonym anyone
    /// could compute from one would re-link an erased user to her logins; with a key only
    /// the holder of the secret can. Rotating the secret changes every pseudonym, so events
    /// before and after a rotation no longer link, which a pseudonym can afford.
    pub async fn audit_key(&self) -> Result<&[u8], SecretError> {
        self.audit_key
            .get_or_try_init(|| self.signing.derived_key("audit-pseudonym"))
            .await
            .map(Vec::as_slice)
    }

    /// A key for `label` derived from the signing secret, as [`Init::derived_key`] gives at
    /// start-up, for a function that needs one only on some requests (the Strava state, job
    /// ids). The secret is read on the first such request and kept.
    pub async fn derived_key(&self, label: &str) -> Result<Vec<u8>, SecretError> {
        self.signing.derived_key(label).await
    }

    /// The secrets reader, for a port that reads its own secret when first needed (the
    /// Mapbox token).
    pub fn secrets(&self) -> Arc<SecretsManager> {
        self.secrets.clone()
    }

    /// The bucket as its shared handle (the local gateway serves files through it).
    pub fn blobs_handle(&self) -> Option<Arc<dyn Blobs>> {
        self.blobs.clone()
    }
}

/// Our user id for an external issuer's subject: 32 hex digits, like our own ids.
pub fn external_user_id(issuer: &str, subject: &str) -> String {
    crate::digest::short_sha256_hex(&[issuer.as_bytes(), b"\n", subject.as_bytes()])
}
