//! Strava import: runs recorded on Strava become RunCrew runs, shown to their athlete
//! alone (Strava's terms).
//!
//! - [`client`]: the Strava API v3 client (OAuth grants, activities, rate limits);
//! - [`port`]: the client as the functions' port (503 `strava_not_configured` without it);
//! - [`connect`], [`connection_routes`], [`webhook`]: the routes;
//! - [`importer`] (queue consumer) and [`sweep`] (schedule): the background;
//! - [`jobs`]: the Strava queue's messages.
//!
//! ```text
//!  app ─GET /connect─▶ authorize URL ─▶ Strava ─redirect─▶ GET /callback ─▶ connection + Sync job
//!  Strava webhook ─POST─▶ job ─┐      strava-sweep (6 h) ─▶ Sync job per connection ─┐
//!                              ▼                                                    ▼
//!                        Strava queue ─────────────▶ strava-import ─▶ runs (+ import keys) ─stream─▶ projector
//! ```

pub mod client;
pub mod connect;
pub mod connection_routes;
pub mod importer;
pub mod jobs;
pub mod port;
pub mod sweep;
pub mod webhook;

use runcrew_shared::HttpFunction;
use runcrew_shared::tasks::queue::QueueFunction;
use runcrew_shared::tasks::schedule::ScheduleFunction;

/// Every HTTP function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[
    &connect::CONNECT,
    &connect::CALLBACK,
    &connection_routes::STATUS,
    &connection_routes::SYNC_ALL,
    &connection_routes::DISCONNECT,
    &webhook::VERIFY,
    &webhook::EVENT,
];

/// Every queue consumer of this crate.
pub static QUEUE_TASKS: &[&QueueFunction] = &[&importer::IMPORT];

/// Every scheduled task of this crate.
pub static SCHEDULE_TASKS: &[&ScheduleFunction] = &[&sweep::SWEEP];
