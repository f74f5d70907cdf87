//! The common crate of every RunCrew function: the infrastructure every area stands on.
//! The domain (profiles, courses, runs, boards...) lives in `runcrew-model`, which
//! depends on this crate, never the other way round.
//!
//! - [`config`]: typed configuration, refusing insecure production settings at start-up;
//! - [`error`], [`request`], [`response`]: the JSON error envelope and HTTP glue;
//! - [`store`], [`blobs`], [`queue`]: the ports of the table, the bucket and the queues,
//!   with their adapters; [`push`]: the port of push notifications (FCM's adapter lives
//!   with the function that sends);
//! - [`tokens`]: RS256 keys that sign our tokens and feed the JWKS;
//! - [`cipher`]: the port that seals third-party tokens (Strava refresh tokens) before they
//!   are stored, bound to whose they are: KMS on AWS, a derived local key on a laptop;
//! - [`identity`]: social-login verification (Kakao, Naver, Google, Apple, dev);
//! - [`app`], [`function`]: the ports of one execution environment and the handler wrapper;
//! - [`tasks`]: the background task kinds (table stream consumers beside S3 tasks);
//! - [`audit`], [`rate_limit`]: the audit trail and per-client limits;
//! - [`clock`], [`ids`]: the one timestamp format and the one id shape of the API;
//! - [`route`], [`geocell`]: routes drawn on a map (GeoJSON or polyline, haversine
//!   distance, simplification) and geohash cells for "near a point" queries;
//! - [`text`]: the check that names and texts shown to others are visible;
//! - [`telemetry`]: JSON logs with secrets masked, and CloudWatch EMF metrics.

pub mod app;
pub mod audit;
pub mod aws;
pub mod blobs;
pub mod cipher;
pub mod clock;
pub mod config;
pub mod digest;
pub mod error;
pub mod function;
pub mod geocell;
pub mod identity;
pub mod ids;
pub mod outbound;
pub mod push;
pub mod queue;
pub mod rate_limit;
pub mod request;
pub mod response;
pub mod route;
pub mod secrets;
pub mod store;
pub mod tasks;
pub mod telemetry;
pub mod text;
pub mod tokens;
pub mod uploads;

pub use app::{App, Needs};
pub use error::ApiError;
pub use function::{
    HandlerFuture, HttpFunction, HttpHandler, S3Function, S3Handler, TaskError, TaskFuture,
    run_http, run_s3,
};
