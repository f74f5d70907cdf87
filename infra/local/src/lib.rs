//! `runcrew-local`: the whole RunCrew API on a laptop, with no AWS account and no Docker.
//!
//! `cargo run -p runcrew-local` reads template.yaml, builds every port on embedded defaults
//! (the single-file store and filesystem blobs under `.runcrew/`, generated token keys) and
//! serves every route on http://127.0.0.1:3000 through [`gateway::Gateway`], which stands in
//! for API Gateway, S3 and CloudFront, and delivers the background tasks' events: S3
//! notifications ([`s3_events`]), the table's stream ([`streams`]), queues ([`queues`]) and
//! schedules ([`schedules`]).

pub mod docs;
pub mod dynamo_stream;
pub mod env_file;
pub mod gateway;
pub mod queues;
pub mod s3_events;
pub mod samples;
pub mod schedules;
pub mod streams;
pub mod template;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use runcrew_shared::app::StartupError;
use runcrew_shared::config::Config;
use runcrew_shared::tasks::queue::QueueFunction;
use runcrew_shared::tasks::schedule::ScheduleFunction;
use runcrew_shared::tasks::stream::StreamFunction;
use runcrew_shared::{App, HttpFunction, Needs, S3Function};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// template.yaml, compiled in so the gateway and its tests serve exactly the file in the
/// repository (cargo rebuilds when it changes).
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

/// Every HTTP handler compiled into this workspace, by cargo-lambda binary name. A new
/// function crate adds its `FUNCTIONS` here; the registry test fails until it does.
pub fn registry() -> Vec<&'static HttpFunction> {
    runcrew_health::FUNCTIONS
        .iter()
        .chain(runcrew_keys::FUNCTIONS)
        .chain(runcrew_auth::FUNCTIONS)
        .chain(runcrew_users::FUNCTIONS)
        .chain(runcrew_courses::FUNCTIONS)
        .chain(runcrew_uploads::FUNCTIONS)
        .chain(runcrew_runs::FUNCTIONS)
        .chain(runcrew_social::FUNCTIONS)
        .chain(runcrew_docs::FUNCTIONS)
        .chain(runcrew_notifications::FUNCTIONS)
        .chain(runcrew_strava::FUNCTIONS)
        .chain(runcrew_events::FUNCTIONS)
        .chain(runcrew_jobs::FUNCTIONS)
        .copied()
        .collect()
}

/// Every S3-triggered task compiled into this workspace, by binary name; the gateway
/// delivers the template's S3 notifications to them.
pub fn tasks() -> Vec<&'static S3Function> {
    runcrew_uploads::TASKS.to_vec()
}

/// Every consumer of the table's stream compiled into this workspace, by binary name; the
/// gateway delivers the embedded store's stream to them.
pub fn stream_tasks() -> Vec<&'static StreamFunction> {
    runcrew_runs::projector::STREAM_TASKS
        .iter()
        .chain(runcrew_notifications::STREAM_TASKS)
        .chain(runcrew_events::STREAM_TASKS)
        .chain(runcrew_social::fanout::STREAM_TASKS)
        .copied()
        .collect()
}

/// Every queue consumer compiled into this workspace, by binary name; the gateway polls
/// the template's queues for them.
pub fn queue_tasks() -> Vec<&'static QueueFunction> {
    runcrew_notifications::QUEUE_TASKS
        .iter()
        .chain(runcrew_strava::QUEUE_TASKS)
        .chain(runcrew_jobs::QUEUE_TASKS)
        .chain(runcrew_social::fanout::QUEUE_TASKS)
        .copied()
        .collect()
}

/// Every task of every kind (S3, stream, queue, schedule) as its binary name and the ports
/// it builds, for the checks and reports that treat the tasks alike.
pub fn every_task() -> Vec<(&'static str, &'static Needs)> {
    let s3 = tasks().into_iter().map(|t| (t.binary, &t.needs));
    let stream = stream_tasks().into_iter().map(|t| (t.binary, &t.needs));
    let queue = queue_tasks().into_iter().map(|t| (t.binary, &t.needs));
    let schedule = schedule_tasks().into_iter().map(|t| (t.binary, &t.needs));
    s3.chain(stream).chain(queue).chain(schedule).collect()
}

/// Every scheduled task compiled into this workspace, by binary name; the gateway fires
/// the template's schedules into them.
pub fn schedule_tasks() -> Vec<&'static ScheduleFunction> {
    runcrew_notifications::SCHEDULE_TASKS
        .iter()
        .chain(runcrew_strava::SCHEDULE_TASKS)
        .chain(runcrew_events::SCHEDULE_TASKS)
        .copied()
        .collect()
}

/// The queue and schedule tasks a gateway delivers to, and how: the registries by
/// default; tests serve fixture tasks and quicker retries.
#[derive(Debug, Clone)]
pub struct Background {
    /// Queue consumers, by binary ([`queue_tasks`] by default).
    pub queue_tasks: Vec<&'static QueueFunction>,
    /// Scheduled tasks, by binary ([`schedule_tasks`] by default).
    pub schedule_tasks: Vec<&'static ScheduleFunction>,
    /// How queues are polled.
    pub polling: queues::Polling,
    /// `LOCAL_SCHEDULES=on`: `rate(...)` schedules fire by themselves (off by default, so
    /// a sweep does not run while a developer is looking at something else).
    pub schedule_timer: bool,
}

impl Default for Background {
    fn default() -> Self {
        Background {
            queue_tasks: queue_tasks(),
            schedule_tasks: schedule_tasks(),
            polling: queues::Polling::default(),
            schedule_timer: false,
        }
    }
}

impl Background {
    /// The default, with `LOCAL_SCHEDULES` (`on` or `off`) read through `lookup`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, LocalError> {
        let schedule_timer = match lookup("LOCAL_SCHEDULES").as_deref() {
            None | Some("off") => false,
            Some("on") => true,
            Some(other) => {
                return Err(LocalError::Setting(format!(
                    "LOCAL_SCHEDULES={other} is not on or off"
                )));
            }
        };
        Ok(Background {
            schedule_timer,
            ..Background::default()
        })
    }
}

/// Why the local API did not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// Configuration or ports.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// template.yaml.
    #[error(transparent)]
    Template(#[from] template::TemplateError),
    /// template.yaml and the handlers disagree.
    #[error(transparent)]
    Registry(#[from] gateway::RegistryMismatch),
    /// A setting of the local gateway itself.
    #[error("{0}")]
    Setting(String),
    /// The port.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
}

/// Template parameters as the local environment sets them.
pub fn template_overrides(
    config: &Config,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> HashMap<String, String> {
    let mut overrides = HashMap::from([
        ("Environment".to_owned(), "dev".to_owned()),
        ("PublicBaseUrl".to_owned(), config.public_base_url.clone()),
        ("TokenAudience".to_owned(), config.token_audience.clone()),
        (
            "AllowedOrigins".to_owned(),
            config.allowed_origins.join(","),
        ),
    ]);
    if let Some(oidc) = &config.auth.external_oidc {
        overrides.insert("OidcIssuerUrl".to_owned(), oidc.issuer.clone());
        overrides.insert("OidcAudience".to_owned(), oidc.audience.clone());
    }
    for (env, param) in [
        ("THROTTLE_RATE_LIMIT", "ThrottleRateLimit"),
        ("THROTTLE_BURST_LIMIT", "ThrottleBurstLimit"),
        ("AUTH_THROTTLE_RATE_LIMIT", "AuthThrottleRateLimit"),
        ("AUTH_THROTTLE_BURST_LIMIT", "AuthThrottleBurstLimit"),
    ] {
        if let Some(value) = lookup(env) {
            overrides.insert(param.to_owned(), value);
        }
    }
    overrides
}

/// A running local API.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The configuration it runs with.
    pub config: Arc<Config>,
    /// The ports it serves with (tests reach the store and blobs through it).
    pub app: Arc<App>,
    /// How many routes it serves.
    pub routes: usize,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    notifications: Option<JoinHandle<()>>,
    streams: Option<(streams::StreamDelivery, JoinHandle<()>)>,
    /// The queue pollers (`GET /_local/queues`).
    pub queues: queues::QueueDelivery,
    /// The schedules (`GET /_local/schedules`, `POST /_local/schedules/<function>`).
    pub schedules: schedules::Schedules,
}

impl Running {
    /// The base URL, e.g. `http://127.0.0.1:3000`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        if let Some(notifications) = self.notifications.take() {
            notifications.abort();
        }
        if let Some((_, delivery)) = self.streams.take() {
            delivery.abort();
        }
        self.queues.stop();
        self.schedules.stop();
    }

    /// Waits until the stream consumers have had every record written so far (tests call
    /// it before they read what a consumer projects). `false` after ten seconds, or when
    /// this store keeps no stream.
    pub async fn settle_streams(&self) -> bool {
        let (Some((delivery, _)), Some(stream)) = (
            &self.streams,
            self.app.store().ok().and_then(|s| s.stream()),
        ) else {
            return false;
        };
        delivery.settle(stream, Duration::from_secs(10)).await
    }

    /// Serves until Ctrl-C.
    pub async fn until_ctrl_c(self) {
        let _ = tokio::signal::ctrl_c().await;
        self.stop().await;
    }
}

/// Binds 127.0.0.1:`PORT` (3000; 0 picks a free port), reads the configuration through
/// `lookup` with `PORT` set to the bound port, builds every port and starts serving.
pub async fn start(
    lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
) -> Result<Running, LocalError> {
    let port: u16 = lookup("PORT").and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = bind(port).await?;
    let bound = listener
        .local_addr()
        .map_err(|source| LocalError::Bind { port, source })?
        .port()
        .to_string();
    let lookup_with_port = move |name: &str| {
        if name == "PORT" {
            Some(bound.clone())
        } else {
            lookup(name)
        }
    };
    let config = Config::from_lookup(&lookup_with_port).map_err(StartupError::from)?;
    let spec = template::parse(TEMPLATE, &template_overrides(&config, &lookup_with_port))?;
    let background = Background::from_lookup(&lookup_with_port)?;
    // Every port, FCM when `FCM_*` name a service account (pushes are off otherwise) and
    // Strava when `STRAVA_*` name an app; with STORE=dynamodb the table's stream is read
    // too, so the stream consumers run.
    let needs = Needs {
        store: Some(dynamo_stream::build_store_with_stream),
        ..Needs::EVERYTHING
            .push(runcrew_notifications::fcm_port::build)
            .extension(runcrew_strava::port::build)
    };
    let app = Arc::new(App::build(config, needs).await?);
    serve_with(listener, app, spec, &registry(), background)
}

/// Listens on 127.0.0.1:`port` only: the local API is never reachable from the network.
pub async fn bind(port: u16) -> Result<TcpListener, LocalError> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| LocalError::Bind { port, source })
}

/// Serves `spec` with the handlers of `registry` over `app` on `listener` (tests pass
/// their own app, template and fixture handlers here), with the default [`Background`].
pub fn serve(
    listener: TcpListener,
    app: Arc<App>,
    spec: template::ApiSpec,
    registry: &[&'static HttpFunction],
) -> Result<Running, LocalError> {
    serve_with(listener, app, spec, registry, Background::default())
}

/// [`serve`] with these queue and schedule tasks and settings.
pub fn serve_with(
    listener: TcpListener,
    app: Arc<App>,
    spec: template::ApiSpec,
    registry: &[&'static HttpFunction],
    background: Background,
) -> Result<Running, LocalError> {
    let addr = listener
        .local_addr()
        .map_err(|source| LocalError::Bind { port: 0, source })?;
    let config = app.config.clone();
    let routes = spec.routes.len();
    gateway::check_tasks(&spec, &tasks())?;
    gateway::check_stream_tasks(&spec, &stream_tasks())?;
    queues::check(&spec, &background.queue_tasks)?;
    schedules::check(&spec, &background.schedule_tasks)?;
    let (app, notifications) = s3_events::wire(app, spec.s3_triggers.clone(), &tasks());
    let streams = streams::wire(app.clone(), &spec.stream_triggers, &stream_tasks());
    let local_streams = streams.as_ref().map(|(delivery, _)| delivery.clone());
    let local_queues = queues::wire(
        app.clone(),
        &spec,
        &background.queue_tasks,
        background.polling,
    );
    let local_schedules = schedules::wire(
        app.clone(),
        &spec,
        &background.schedule_tasks,
        background.schedule_timer,
    );
    let gateway = Arc::new(gateway::Gateway::new(app.clone(), spec, registry)?);
    let queues_report = local_queues.clone();
    let (schedules_report, schedules_fire) = (local_schedules.clone(), local_schedules.clone());
    let router = gateway
        .clone()
        .router()
        .route(
            "/_local/streams",
            axum::routing::get(move || {
                let report = local_streams
                    .as_ref()
                    .map(streams::StreamDelivery::report)
                    .unwrap_or_else(|| serde_json::json!({"consumers": [], "note": "this store keeps no stream here"}));
                async move { axum::Json(report) }
            }),
        )
        .route(
            "/_local/queues",
            axum::routing::get(move || {
                let delivery = queues_report.clone();
                async move { axum::Json(delivery.report().await) }
            }),
        )
        .route(
            "/_local/schedules",
            axum::routing::get(move || {
                let report = schedules_report.report();
                async move { axum::Json(report) }
            }),
        )
        .route(
            "/_local/schedules/{function}",
            axum::routing::post(
                move |axum::extract::Path(function): axum::extract::Path<String>| {
                    let schedules = schedules_fire.clone();
                    async move { fire_schedule(&schedules, &function).await }
                },
            ),
        );
    let service = gateway::with_edge(gateway.clone(), router);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let make_service =
            axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                SocketAddr,
            >(service);
        let server = axum::serve(listener, make_service).with_graceful_shutdown(async move {
            let _ = rx.await;
        });
        if let Err(err) = server.await {
            tracing::error!(target: "gateway", error = %err, "the local API stopped");
        }
    });
    Ok(Running {
        addr,
        config,
        app,
        routes,
        shutdown: Some(tx),
        task,
        notifications,
        streams,
        queues: local_queues,
        schedules: local_schedules,
    })
}

/// `POST /_local/schedules/<function>`: 200 with what each of its schedules did, 500 when
/// a tick failed, 404 for a function without a schedule.
async fn fire_schedule(
    schedules: &schedules::Schedules,
    function: &str,
) -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    use axum::http::StatusCode;
    match schedules.fire(function).await {
        Some((true, answer)) => (StatusCode::OK, axum::Json(answer)),
        Some((false, answer)) => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(answer)),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"error": {
                "code": "schedule_not_found",
                "message": format!("{function} is not a function with a ScheduleV2 event in this template"),
            }})),
        ),
    }
}

/// The data folder as an absolute path, for the start-up banner.
pub fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
