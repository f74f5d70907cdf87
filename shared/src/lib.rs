//! The common crate of every RunCrew function.
//!
//! - [`config`]: typed configuration, refusing insecure production settings at start-up;
//! - [`error`], [`request`], [`response`]: the JSON error envelope and HTTP glue;
//! - [`store`], [`blobs`], [`queue`]: the ports of the table, the bucket and the queues,
//!   with their adapters;
//! - [`tokens`]: RS256 keys that sign our tokens and feed the JWKS;
//! - [`identity`]: social-login verification (Kakao, Naver, Google, Apple, dev);
//! - [`app`], [`function`]: the ports of one execution environment and the handler wrapper;
//! - [`users`], [`audit`], [`rate_limit`], [`idempotency`]: accounts and their links, the
//!   audit trail, per-client limits and `Idempotency-Key` replays kept in the table;
//! - [`route`], [`geocell`]: routes drawn on a map (GeoJSON or polyline, haversine
//!   distance, simplification) and geohash cells for "near a point" queries;
//! - [`text`]: the check that names and texts shown to others are visible;
//! - [`telemetry`]: JSON logs with secrets masked, and CloudWatch EMF metrics.

pub mod app;
pub mod audit;
pub mod blobs;
pub mod config;
pub mod digest;
pub mod error;
pub mod function;
pub mod geocell;
pub mod idempotency;
pub mod identity;
pub mod queue;
pub mod rate_limit;
pub mod request;
pub mod response;
pub mod route;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod tokens;
pub mod uploads;
pub mod users;

pub use app::{App, Needs};
pub use error::ApiError;
pub use function::{
    HandlerFuture, HttpFunction, HttpHandler, S3Function, S3Handler, TaskError, TaskFuture,
    run_http, run_s3,
};
