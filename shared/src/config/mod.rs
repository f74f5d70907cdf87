//! Typed configuration, read once from the environment when an execution environment starts.
//!
//! Every knob of a function lives here so that a missing or unsafe setting is caught at
//! start-up, not on the first request that needs it. `ENVIRONMENT=production` refuses the
//! insecure combinations listed in [`Config::production_problems`].

mod auth;
mod cipher;
mod maps;
mod push;
mod reports;
mod strava;

use crate::secrets::{ExposeSecret, SecretSource, SecretString};
use std::fmt;
use std::path::PathBuf;

pub use auth::{AuthConfig, ClientIpSource, ExternalOidc, ProviderConfig};
pub use cipher::{CipherBackend, CipherConfig};
pub use maps::{MapboxConfig, MapsConfig};
pub use push::{DEFAULT_FCM_API_URL, DEFAULT_TOKEN_URL, PushConfig, ServiceAccountSource};
pub use strava::{DEFAULT_STRAVA_API_URL, DEFAULT_STRAVA_OAUTH_URL, StravaConfig};

/// Where this code runs; decides the defaults and how strict the checks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// A laptop: embedded store, filesystem blobs, generated keys, the dev login provider.
    Local,
    /// The shared development stage in AWS.
    Dev,
    /// The pre-production stage in AWS.
    Stage,
    /// Production: insecure settings are refused at start-up.
    Production,
}

impl Environment {
    /// The name used in `ENVIRONMENT` and in `/healthz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Local => "local",
            Environment::Dev => "dev",
            Environment::Stage => "stage",
            Environment::Production => "production",
        }
    }

    /// The environment an `ENVIRONMENT` value names (`prod` is production too), or `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "local" => Some(Environment::Local),
            "dev" => Some(Environment::Dev),
            "stage" => Some(Environment::Stage),
            "production" | "prod" => Some(Environment::Production),
            _ => None,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which adapter backs the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreBackend {
    /// The embedded single-file store under the data folder (laptops).
    Embedded,
    /// DynamoDB, optionally at an overridden endpoint (DynamoDB Local in tests).
    DynamoDb {
        /// `DYNAMODB_ENDPOINT`, for DynamoDB Local.
        endpoint: Option<String>,
    },
}

/// Which adapter backs the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobBackend {
    /// Files under `<data dir>/blobs`, served and accepted by the local gateway.
    Filesystem,
    /// S3, optionally at an overridden endpoint (moto in tests).
    S3 {
        /// `S3_ENDPOINT`, for an S3-compatible test server.
        endpoint: Option<String>,
    },
}

/// Which adapter carries queued work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueBackend {
    /// In process (laptops, tests): messages wait in memory for their consumer.
    Memory,
    /// SQS, optionally at an overridden endpoint (moto in tests).
    Sqs {
        /// `SQS_ENDPOINT`, for an SQS-compatible test server.
        endpoint: Option<String>,
        /// `PUSH_QUEUE_URL`: the queue of push notification jobs.
        push_url: Option<String>,
        /// `STRAVA_QUEUE_URL`: the queue of Strava imports.
        strava_url: Option<String>,
        /// `JOBS_QUEUE_URL`: the queue of job steps (erasure, course deletion).
        jobs_url: Option<String>,
        /// `FEED_QUEUE_URL`: the queue of feed fan-out steps.
        feed_url: Option<String>,
    },
}

/// Rules for accepting run records.
#[derive(Debug, Clone, PartialEq)]
pub struct RunsConfig {
    /// `RUN_PACE_FLOOR_SECONDS_PER_KM`: a run faster than this average pace is kept off
    /// leaderboards and records as implausible (default 120 s/km, faster than any human
    /// over a kilometre).
    pub pace_floor_seconds_per_km: f64,
    /// `RUN_COURSE_DISTANCE_TOLERANCE`: a course run whose distance differs from the
    /// course's by more than this fraction is kept off its leaderboard (default 0.1).
    pub course_distance_tolerance: f64,
}

/// Group runs.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsConfig {
    /// `EVENT_REMINDER_LEAD_MINUTES`: how long before its start a group run's participants
    /// are reminded (default 60, from 5 to 1440).
    pub reminder_lead_minutes: u32,
}

impl EventsConfig {
    fn read(get: Lookup<'_>, problems: &mut Vec<ConfigProblem>) -> Self {
        let lead = number_in(
            get,
            "EVENT_REMINDER_LEAD_MINUTES",
            60.0,
            5.0..=1440.0,
            problems,
        );
        EventsConfig {
            // Within 5..=1440, so the conversion is exact after rounding.
            reminder_lead_minutes: lead.round() as u32,
        }
    }
}

/// Where the private key that signs our access tokens comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKeySource {
    /// A Secrets Manager secret (name or ARN) holding the current and previous keys.
    SecretsManager(String),
    /// A key pair generated once and kept under `<data dir>/keys` (laptops only).
    LocalDirectory(PathBuf),
}

/// Everything a function needs to know about its surroundings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ENVIRONMENT`: local | dev | stage | production.
    pub environment: Environment,
    /// The release of this build, shown by `/healthz`.
    pub version: String,
    /// `PUBLIC_BASE_URL`: the API's public URL; also the `iss` of our tokens.
    pub public_base_url: String,
    /// `TOKEN_AUDIENCE`: the `aud` of our access tokens.
    pub token_audience: String,
    /// `TABLE_NAME`: the one DynamoDB table.
    pub table_name: String,
    /// `STORE` (embedded | dynamodb) and `DYNAMODB_ENDPOINT`.
    pub store: StoreBackend,
    /// `BUCKET_NAME`: the one bucket of every file (route files, map thumbnails, uploads).
    pub bucket_name: String,
    /// `BLOBS` (filesystem | s3) and `S3_ENDPOINT`.
    pub blobs: BlobBackend,
    /// `CDN_BASE_URL`: public URL prefix of files in the bucket.
    pub cdn_base_url: String,
    /// `RUNCREW_DATA_DIR`: where laptops keep the store, blobs and generated keys.
    pub data_dir: PathBuf,
    /// `SIGNING_KEY_SECRET_ID`, or generated local keys.
    pub signing_key: Option<SigningKeySource>,
    /// `CURSOR_SECRET_ID` (a Secrets Manager secret, read on first use) or `CURSOR_SECRET`
    /// (the value, not in production): keys the HMAC that makes paging cursors
    /// tamper-evident, and every other key only this service must be able to make.
    pub cursor_secret: Option<SecretSource>,
    /// `ALLOWED_ORIGINS`: comma-separated CORS origins.
    pub allowed_origins: Vec<String>,
    /// `CORS_ALLOW_CREDENTIALS`: whether browsers may send credentials cross-origin.
    pub cors_allow_credentials: bool,
    /// `DEV_LOGIN`: the `dev` login provider (a name is enough to log in).
    pub dev_login: bool,
    /// `API_DOCS`: serve the API description (`GET /openapi.json`) and, on a laptop, the
    /// docs page. On by default everywhere but production, which refuses it.
    pub api_docs: bool,
    /// `ORIGIN_VERIFY_SECRET`: when set, every request must carry it in `X-Origin-Verify`
    /// (CloudFront adds it), so the API cannot be reached around the edge's WAF. Empty or
    /// unset: no check (no edge in front).
    pub origin_verify_secret: Option<SecretString>,
    /// Login, tokens, sessions, rate limits and audit.
    pub auth: AuthConfig,
    /// Route map images for thumbnails.
    pub maps: MapsConfig,
    /// `SENTRY_TRACES_SAMPLE_RATE`: the share of requests and task invocations whose log
    /// line is marked `"traced"`, for the `error-reports` function to send to Sentry as a
    /// transaction (0.1 in production, 1 elsewhere).
    pub traces_sample_rate: f32,
    /// Push notifications: the FCM service account and endpoints.
    pub push: PushConfig,
    /// Strava, when `STRAVA_CLIENT_ID` is set.
    pub strava: Option<StravaConfig>,
    /// `TOKEN_KMS_KEY_ID` and `KMS_ENDPOINT`: the key that seals third-party tokens. Checked
    /// when a function that seals starts ([`CipherConfig::problems`]), not here.
    pub cipher: CipherConfig,
    /// `QUEUES` (memory | sqs), `SQS_ENDPOINT` and the queue URLs.
    pub queues: QueueBackend,
    /// Plausibility rules of runs.
    pub runs: RunsConfig,
    /// Group runs: when reminders go.
    pub events: EventsConfig,
}

/// A lookup over `pairs`, for the settings' unit tests.
#[cfg(test)]
pub(crate) fn lookup_of<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// One reason the configuration cannot be used, phrased for the operator who must fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem(pub String);

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Start-up refusal: every problem found, one per line.
#[derive(Debug, thiserror::Error)]
#[error("refusing to start with this configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<ConfigProblem>);

/// The shortest cursor secret accepted outside `local` (bytes).
pub const MIN_SECRET_LEN: usize = 32;

impl Config {
    /// The roots the AWS clients trust on Lambda ([`crate::aws::sdk_config`]): Amazon's,
    /// unless a client is pointed at an HTTPS endpoint of its own (`DYNAMODB_ENDPOINT`,
    /// `S3_ENDPOINT`, `SQS_ENDPOINT` or `KMS_ENDPOINT`, refused in production), whose
    /// certificate Amazon need not have issued.
    pub fn aws_trust(&self) -> crate::aws::AwsTrust {
        let kms = match &self.cipher.backend {
            CipherBackend::Kms { endpoint, .. } => endpoint.as_deref(),
            CipherBackend::Local => None,
        };
        let own_https = self
            .table_bucket_and_queue_endpoints()
            .chain(kms)
            .any(|url| url.to_ascii_lowercase().starts_with("https://"));
        if own_https {
            crate::aws::AwsTrust::PlatformRoots
        } else {
            crate::aws::AwsTrust::AmazonRoots
        }
    }

    /// The endpoint overrides of the table, the bucket and the queues (`DYNAMODB_ENDPOINT`,
    /// `S3_ENDPOINT`, `SQS_ENDPOINT`); the KMS one is the cipher's
    /// ([`CipherConfig::problems`]).
    fn table_bucket_and_queue_endpoints(&self) -> impl Iterator<Item = &str> {
        let store = match &self.store {
            StoreBackend::DynamoDb { endpoint } => endpoint.as_deref(),
            StoreBackend::Embedded => None,
        };
        let blobs = match &self.blobs {
            BlobBackend::S3 { endpoint } => endpoint.as_deref(),
            BlobBackend::Filesystem => None,
        };
        let queues = match &self.queues {
            QueueBackend::Sqs { endpoint, .. } => endpoint.as_deref(),
            QueueBackend::Memory => None,
        };
        [store, blobs, queues].into_iter().flatten()
    }

    /// Reads the process environment. Call once per execution environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests can pass a map instead of the process
    /// environment. Fails with every problem at once rather than the first one.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        // Each part notes its problems here and carries on with a default, so the checks
        // after it still run. The order of the parts is the order of the problems.
        let mut problems = Vec::new();

        let environment = Environment::read(&get, &mut problems);
        let local = environment == Environment::Local;
        let public_base_url = public_base_url(&get);
        let data_dir = PathBuf::from(get("RUNCREW_DATA_DIR").unwrap_or_else(|| ".runcrew".into()));
        let store = StoreBackend::read(&get, local, &mut problems);
        let blobs = BlobBackend::read(&get, local, &mut problems);
        let queues = QueueBackend::read(&get, local, &mut problems);
        let runs = RunsConfig::read(&get, &mut problems);
        let events = EventsConfig::read(&get, &mut problems);
        let cdn_base_url = cdn_base_url(&get, &public_base_url);
        let strava = StravaConfig::read(&get, &public_base_url, &mut problems);
        let signing_key = SigningKeySource::read(&get, local, &data_dir);
        let allowed_origins = allowed_origins(&get, local);

        let config = Config {
            environment,
            version: get("SERVICE_VERSION").unwrap_or_else(|| env!("CARGO_PKG_VERSION").into()),
            public_base_url,
            token_audience: get("TOKEN_AUDIENCE").unwrap_or_else(|| "runcrew-api".into()),
            table_name: get("TABLE_NAME").unwrap_or_else(|| "runcrew-local".into()),
            store,
            bucket_name: get("BUCKET_NAME").unwrap_or_else(|| "runcrew-local".into()),
            blobs,
            cdn_base_url,
            data_dir,
            signing_key,
            cursor_secret: secret_source(&get, "CURSOR_SECRET", "CURSOR_SECRET_ID", &mut problems),
            allowed_origins,
            cors_allow_credentials: flag(&get, "CORS_ALLOW_CREDENTIALS", false, &mut problems),
            dev_login: flag(&get, "DEV_LOGIN", local, &mut problems),
            api_docs: flag(
                &get,
                "API_DOCS",
                environment != Environment::Production,
                &mut problems,
            ),
            origin_verify_secret: get("ORIGIN_VERIFY_SECRET")
                .filter(|v| !v.trim().is_empty())
                .map(SecretString::from),
            auth: AuthConfig::read(&get, &mut problems),
            maps: MapsConfig::read(&get, &mut problems),
            traces_sample_rate: reports::traces_sample_rate(&get, environment, &mut problems),
            push: PushConfig::read(&get, &mut problems),
            strava,
            cipher: CipherConfig::read(&get),
            queues,
            runs,
            events,
        };

        problems.extend(config.problems());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Problems in any environment, plus [`Config::production_problems`] in production.
    fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.environment != Environment::Local {
            if self.dev_login {
                problems.push(ConfigProblem(
                    "DEV_LOGIN is enabled: the dev login provider exists only when ENVIRONMENT=local"
                        .into(),
                ));
            }
            if self.signing_key.is_none() {
                problems.push(ConfigProblem(
                    "no signing-key source: set SIGNING_KEY_SECRET_ID to the Secrets Manager secret holding the token keys".into(),
                ));
            }
            match &self.cursor_secret {
                None => problems.push(ConfigProblem(
                    "CURSOR_SECRET_ID is missing: paging cursors must be signed outside local"
                        .into(),
                )),
                Some(SecretSource::Value(value))
                    if value.expose_secret().len() < MIN_SECRET_LEN =>
                {
                    problems.push(ConfigProblem(format!(
                        "CURSOR_SECRET is shorter than {MIN_SECRET_LEN} bytes"
                    )))
                }
                Some(SecretSource::Value(_)) if self.environment == Environment::Production => {
                    problems.push(ConfigProblem(
                        "CURSOR_SECRET holds the value in the environment: in production set \
                         CURSOR_SECRET_ID to the Secrets Manager secret holding it"
                            .into(),
                    ))
                }
                Some(_) => {}
            }
        }
        problems.extend(self.auth.problems(self.environment));
        problems.extend(self.maps.problems(self.environment));
        problems.extend(self.push.problems(self.environment));
        if let Some(strava) = &self.strava {
            problems.extend(strava.problems(self.environment));
        }
        if let Some(secret) = &self.origin_verify_secret
            && secret.expose_secret().len() < MIN_SECRET_LEN
        {
            problems.push(ConfigProblem(format!(
                "ORIGIN_VERIFY_SECRET is shorter than {MIN_SECRET_LEN} bytes"
            )));
        }
        if self.environment != Environment::Local
            && self.auth.client_ip == ClientIpSource::CloudFront
            && self.origin_verify_secret.is_none()
        {
            problems.push(ConfigProblem(
                "CLIENT_IP_SOURCE=cloudfront trusts a header any caller can send unless \
                 ORIGIN_VERIFY_SECRET proves the request came through CloudFront"
                    .into(),
            ));
        }
        if self.environment == Environment::Production {
            problems.extend(self.production_problems());
        }
        problems
    }

    /// What production refuses on top of the checks every deployed stage gets.
    fn production_problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.cors_allow_credentials && self.allowed_origins.iter().any(|o| o == "*") {
            problems.push(ConfigProblem(
                "ALLOWED_ORIGINS contains the wildcard * while CORS_ALLOW_CREDENTIALS is on: list the exact origins".into(),
            ));
        }
        if self.api_docs {
            problems.push(ConfigProblem(
                "API_DOCS is enabled: API docs are off in production".into(),
            ));
        }
        if !self.public_base_url.starts_with("https://") {
            problems.push(ConfigProblem(format!(
                "PUBLIC_BASE_URL={} is not https: token issuers must be https in production",
                self.public_base_url
            )));
        }
        if self.store == StoreBackend::Embedded {
            problems.push(ConfigProblem(
                "STORE=embedded: production uses DynamoDB".into(),
            ));
        }
        if self.blobs == BlobBackend::Filesystem {
            problems.push(ConfigProblem("BLOBS=filesystem: production uses S3".into()));
        }
        if self.queues == QueueBackend::Memory {
            problems.push(ConfigProblem(
                "QUEUES=memory: production uses SQS (set PUSH_QUEUE_URL)".into(),
            ));
        }
        if self.table_bucket_and_queue_endpoints().next().is_some() {
            problems.push(ConfigProblem(
                "DYNAMODB_ENDPOINT / S3_ENDPOINT override the AWS endpoints: not allowed in production".into(),
            ));
        }
        problems
    }

    /// The issuer our access tokens carry and the authorizer expects.
    pub fn issuer(&self) -> &str {
        &self.public_base_url
    }

    /// The issuer the authorizer trusts: the external one in external OIDC mode, else ours.
    pub fn trusted_issuer(&self) -> &str {
        self.auth
            .external_oidc
            .as_ref()
            .map_or(self.issuer(), |o| o.issuer.as_str())
    }
}

/// How `from_lookup`'s parts read a variable: trimmed, and `None` when unset or blank, so
/// an empty `KEY=` in a template or an `.env` file means "use the default".
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Environment {
    /// `ENVIRONMENT`, `local` when unset. An unknown name is a problem, and the rest is read
    /// as for a laptop, so that problem is not buried under the deployed-stage checks.
    fn read(get: Lookup<'_>, problems: &mut Vec<ConfigProblem>) -> Self {
        match get("ENVIRONMENT") {
            None => Environment::Local,
            Some(raw) => Environment::parse(&raw).unwrap_or_else(|| {
                problems.push(ConfigProblem(format!(
                    "ENVIRONMENT={raw} is not one of local, dev, stage, production"
                )));
                Environment::Local
            }),
        }
    }
}

/// `PUBLIC_BASE_URL` without a trailing slash, as the `iss` of our tokens must match the
/// authorizer's issuer exactly; on a laptop, the local gateway's address on `PORT`.
fn public_base_url(get: Lookup<'_>) -> String {
    let port = get("PORT").unwrap_or_else(|| "3000".into());
    get("PUBLIC_BASE_URL")
        .unwrap_or_else(|| format!("http://127.0.0.1:{port}"))
        .trim_end_matches('/')
        .to_owned()
}

/// `CDN_BASE_URL` without a trailing slash (file URLs are built as `{base}/{key}`); by
/// default the local gateway's `/_cdn`, which serves the filesystem blobs.
fn cdn_base_url(get: Lookup<'_>, public_base_url: &str) -> String {
    get("CDN_BASE_URL")
        .unwrap_or_else(|| format!("{public_base_url}/_cdn"))
        .trim_end_matches('/')
        .to_owned()
}

impl StoreBackend {
    /// `STORE`: embedded on a laptop, DynamoDB elsewhere. An unknown value is a problem; the
    /// embedded store stands in, so production also names it as the wrong store.
    fn read(get: Lookup<'_>, local: bool, problems: &mut Vec<ConfigProblem>) -> Self {
        let dynamodb = || StoreBackend::DynamoDb {
            endpoint: get("DYNAMODB_ENDPOINT"),
        };
        match get("STORE").as_deref() {
            Some("embedded") => StoreBackend::Embedded,
            Some("dynamodb") => dynamodb(),
            None if local => StoreBackend::Embedded,
            None => dynamodb(),
            Some(other) => {
                problems.push(ConfigProblem(format!(
                    "STORE={other} is not embedded or dynamodb"
                )));
                StoreBackend::Embedded
            }
        }
    }
}

impl BlobBackend {
    /// `BLOBS`: the filesystem on a laptop, S3 elsewhere. An unknown value is a problem; the
    /// filesystem stands in, so production also names it as the wrong backend.
    fn read(get: Lookup<'_>, local: bool, problems: &mut Vec<ConfigProblem>) -> Self {
        let s3 = || BlobBackend::S3 {
            endpoint: get("S3_ENDPOINT"),
        };
        match get("BLOBS").as_deref() {
            Some("filesystem") => BlobBackend::Filesystem,
            Some("s3") => s3(),
            None if local => BlobBackend::Filesystem,
            None => s3(),
            Some(other) => {
                problems.push(ConfigProblem(format!(
                    "BLOBS={other} is not filesystem or s3"
                )));
                BlobBackend::Filesystem
            }
        }
    }
}

impl QueueBackend {
    /// `QUEUES`: in memory on a laptop, SQS elsewhere. An unknown value is a problem; memory
    /// stands in, so production also names it as the wrong carrier.
    fn read(get: Lookup<'_>, local: bool, problems: &mut Vec<ConfigProblem>) -> Self {
        let sqs = || QueueBackend::Sqs {
            endpoint: get("SQS_ENDPOINT"),
            push_url: get("PUSH_QUEUE_URL"),
            strava_url: get("STRAVA_QUEUE_URL"),
            jobs_url: get("JOBS_QUEUE_URL"),
            feed_url: get("FEED_QUEUE_URL"),
        };
        match get("QUEUES").as_deref() {
            Some("memory") => QueueBackend::Memory,
            Some("sqs") => sqs(),
            None if local => QueueBackend::Memory,
            None => sqs(),
            Some(other) => {
                problems.push(ConfigProblem(format!(
                    "QUEUES={other} is not memory or sqs"
                )));
                QueueBackend::Memory
            }
        }
    }
}

impl RunsConfig {
    /// The plausibility rules, each checked against the range that keeps it meaningful.
    fn read(get: Lookup<'_>, problems: &mut Vec<ConfigProblem>) -> Self {
        RunsConfig {
            pace_floor_seconds_per_km: number_in(
                get,
                "RUN_PACE_FLOOR_SECONDS_PER_KM",
                120.0,
                1.0..=600.0,
                problems,
            ),
            course_distance_tolerance: number_in(
                get,
                "RUN_COURSE_DISTANCE_TOLERANCE",
                0.1,
                0.0..=1.0,
                problems,
            ),
        }
    }
}

/// A number within `range`, else a problem and `default`, so a typo cannot turn a
/// plausibility rule off.
fn number_in(
    get: Lookup<'_>,
    name: &str,
    default: f64,
    range: std::ops::RangeInclusive<f64>,
    problems: &mut Vec<ConfigProblem>,
) -> f64 {
    match get(name) {
        None => default,
        Some(raw) => match raw.parse::<f64>() {
            Ok(v) if v.is_finite() && range.contains(&v) => v,
            _ => {
                problems.push(ConfigProblem(format!(
                    "{name}={raw} is not a number from {} to {}",
                    range.start(),
                    range.end()
                )));
                default
            }
        },
    }
}

impl SigningKeySource {
    /// `SIGNING_KEY_SECRET_ID`; a laptop without one generates keys under the data folder.
    /// Elsewhere there is no source, which [`Config::problems`] refuses.
    fn read(get: Lookup<'_>, local: bool, data_dir: &std::path::Path) -> Option<Self> {
        match get("SIGNING_KEY_SECRET_ID") {
            Some(id) => Some(SigningKeySource::SecretsManager(id)),
            None if local => Some(SigningKeySource::LocalDirectory(data_dir.join("keys"))),
            None => None,
        }
    }
}

/// `ALLOWED_ORIGINS`, without trailing slashes, as browsers send `Origin` without one. A
/// laptop allows the usual dev servers; a deployed stage allows no origin until told.
fn allowed_origins(get: Lookup<'_>, local: bool) -> Vec<String> {
    get("ALLOWED_ORIGINS")
        .map(|v| {
            v.split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_else(|| {
            if local {
                vec![
                    "http://localhost:5173".into(),
                    "http://127.0.0.1:5173".into(),
                ]
            } else {
                Vec::new()
            }
        })
}

/// A switch, read leniently (`1`/`true`/`yes`/`on` and their opposites) because operators
/// write all of them; anything else is a problem and `default`.
fn flag(get: Lookup<'_>, name: &str, default: bool, problems: &mut Vec<ConfigProblem>) -> bool {
    match get(name) {
        None => default,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => {
                problems.push(ConfigProblem(format!("{name}={v} is not true or false")));
                default
            }
        },
    }
}

/// The secret `value_var` (its value) or `id_var` (a Secrets Manager id) names, if any;
/// naming it both ways is a problem.
pub(crate) fn secret_source(
    get: Lookup<'_>,
    value_var: &str,
    id_var: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<SecretSource> {
    SecretSource::read(get, value_var, id_var).unwrap_or_else(|both| {
        problems.push(ConfigProblem(both));
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const SAFE_PRODUCTION: &[(&str, &str)] = &[
        ("ENVIRONMENT", "production"),
        ("PUBLIC_BASE_URL", "https://api.runcrew.app"),
        ("SIGNING_KEY_SECRET_ID", "runcrew/prod/token-keys"),
        ("CURSOR_SECRET_ID", "runcrew/prod/cursor"),
        ("ALLOWED_ORIGINS", "https://runcrew.app"),
        ("CORS_ALLOW_CREDENTIALS", "true"),
        ("DEV_LOGIN", "false"),
    ];

    #[test]
    fn a_laptop_needs_no_configuration_at_all() {
        let c = config(&[]).expect("local defaults");
        assert_eq!(c.environment, Environment::Local);
        assert_eq!(c.store, StoreBackend::Embedded);
        assert_eq!(c.blobs, BlobBackend::Filesystem);
        assert!(c.dev_login);
        assert_eq!(c.public_base_url, "http://127.0.0.1:3000");
        assert_eq!(c.cdn_base_url, "http://127.0.0.1:3000/_cdn");
        assert!(matches!(
            c.signing_key,
            Some(SigningKeySource::LocalDirectory(_))
        ));
    }

    #[test]
    fn aws_clients_trust_the_platform_roots_only_for_an_https_endpoint_of_their_own() {
        use crate::aws::AwsTrust;
        // given no override, or DynamoDB Local over plain HTTP: Amazon's roots
        assert_eq!(
            config(&[("STORE", "dynamodb")])
                .expect("config")
                .aws_trust(),
            AwsTrust::AmazonRoots
        );
        let local = config(&[
            ("STORE", "dynamodb"),
            ("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000"),
        ]);
        assert_eq!(local.expect("config").aws_trust(), AwsTrust::AmazonRoots);
        // given an S3-compatible store over HTTPS: the platform's
        let own = config(&[
            ("BLOBS", "s3"),
            ("S3_ENDPOINT", "https://minio.dev.example"),
        ]);
        assert_eq!(own.expect("config").aws_trust(), AwsTrust::PlatformRoots);
    }

    #[test]
    fn a_safe_production_configuration_starts() {
        let c = config(SAFE_PRODUCTION).expect("safe production config");
        assert!(!c.dev_login);
        assert_eq!(c.store, StoreBackend::DynamoDb { endpoint: None });
    }

    #[test]
    fn production_refuses_each_insecure_setting_with_its_own_message() {
        let mut pairs: Vec<(&str, &str)> = SAFE_PRODUCTION
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    *k,
                    "SIGNING_KEY_SECRET_ID" | "ALLOWED_ORIGINS" | "DEV_LOGIN"
                )
            })
            .copied()
            .collect();
        pairs.extend([
            ("ALLOWED_ORIGINS", "*"),
            ("DEV_LOGIN", "true"),
            ("API_DOCS", "on"),
        ]);
        let err = config(&pairs).expect_err("must refuse");
        let text = err.to_string();
        assert_eq!(err.0.len(), 4, "{text}");
        assert!(text.contains("wildcard"), "{text}");
        assert!(text.contains("DEV_LOGIN"), "{text}");
        assert!(text.contains("signing-key source"), "{text}");
        assert!(text.contains("API_DOCS"), "{text}");
    }

    #[test]
    fn production_refuses_secret_values_in_the_environment_naming_the_secret_id_to_use() {
        let mut pairs: Vec<(&str, &str)> = SAFE_PRODUCTION
            .iter()
            .filter(|(k, _)| *k != "CURSOR_SECRET_ID")
            .copied()
            .collect();
        pairs.extend([
            ("CURSOR_SECRET", "0123456789abcdef0123456789abcdef"),
            ("MAPBOX_ACCESS_TOKEN", "pk.test-token"),
        ]);
        let text = config(&pairs).expect_err("must refuse").to_string();
        assert!(text.contains("set CURSOR_SECRET_ID"), "{text}");
        assert!(text.contains("set MAPBOX_ACCESS_TOKEN_SECRET_ID"), "{text}");
        assert!(
            !text.contains("0123456789abcdef"),
            "a value printed: {text}"
        );
    }

    #[test]
    fn a_secret_given_both_by_value_and_by_id_is_refused() {
        let text = config(&[
            ("CURSOR_SECRET", "0123456789abcdef0123456789abcdef"),
            ("CURSOR_SECRET_ID", "runcrew/dev/cursor"),
        ])
        .expect_err("must refuse")
        .to_string();
        assert!(
            text.contains("CURSOR_SECRET and CURSOR_SECRET_ID"),
            "{text}"
        );
    }

    #[test]
    fn production_refuses_a_short_cursor_secret_and_plain_http_issuer() {
        let mut pairs: Vec<(&str, &str)> = SAFE_PRODUCTION
            .iter()
            .filter(|(k, _)| !matches!(*k, "CURSOR_SECRET_ID" | "PUBLIC_BASE_URL"))
            .copied()
            .collect();
        pairs.extend([
            ("CURSOR_SECRET", "short"),
            ("PUBLIC_BASE_URL", "http://api.example"),
        ]);
        let text = config(&pairs).expect_err("must refuse").to_string();
        assert!(text.contains("CURSOR_SECRET is shorter"), "{text}");
        assert!(text.contains("not https"), "{text}");
    }

    #[test]
    fn a_wildcard_origin_without_credentials_is_allowed() {
        let mut pairs: Vec<(&str, &str)> = SAFE_PRODUCTION
            .iter()
            .filter(|(k, _)| !matches!(*k, "ALLOWED_ORIGINS" | "CORS_ALLOW_CREDENTIALS"))
            .copied()
            .collect();
        pairs.push(("ALLOWED_ORIGINS", "*"));
        assert!(config(&pairs).is_ok());
    }

    #[test]
    fn problems_come_in_reading_order_and_a_bad_backend_is_also_refused_as_its_stand_in() {
        let mut pairs = SAFE_PRODUCTION.to_vec();
        pairs.extend([
            ("STORE", "postgres"),
            ("BLOBS", "gcs"),
            ("QUEUES", "kafka"),
            ("RUN_PACE_FLOOR_SECONDS_PER_KM", "0"),
            ("API_DOCS", "maybe"),
        ]);
        let err = config(&pairs).expect_err("must refuse");
        let messages: Vec<&str> = err.0.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            messages,
            [
                "STORE=postgres is not embedded or dynamodb",
                "BLOBS=gcs is not filesystem or s3",
                "QUEUES=kafka is not memory or sqs",
                "RUN_PACE_FLOOR_SECONDS_PER_KM=0 is not a number from 1 to 600",
                "API_DOCS=maybe is not true or false",
                "STORE=embedded: production uses DynamoDB",
                "BLOBS=filesystem: production uses S3",
                "QUEUES=memory: production uses SQS (set PUSH_QUEUE_URL)",
            ]
        );
    }

    #[test]
    fn an_unknown_environment_is_read_as_local_and_named_alone() {
        let err = config(&[("ENVIRONMENT", "qa")]).expect_err("unknown");
        assert_eq!(err.0.len(), 1, "{err}");
    }

    #[test]
    fn an_unknown_environment_is_named() {
        let text = config(&[("ENVIRONMENT", "qa")])
            .expect_err("unknown")
            .to_string();
        assert!(text.contains("ENVIRONMENT=qa"), "{text}");
    }
}
