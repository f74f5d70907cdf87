//! RunCrew's domain: what a profile, a course, a run or a leaderboard entry is, how each is
//! stored in the one table (its items, keys and indexes) and the rules it keeps.
//!
//! Every function crate depends on this crate and on `runcrew-shared` (the infrastructure);
//! no function crate depends on another. A rule lives here, beside its type, as a plain
//! function with unit tests; a handler reads the request, calls the rule, calls the store
//! and shapes the response.
//!
//! - [`profile`]: users, their provider links, the account-open check, profile fields;
//! - [`session`]: refresh sessions and their rotation;
//! - [`course`], [`reaction`], [`review`]: courses, likes and favorites, reviews;
//! - [`run`], [`leaderboard`], [`stats`]: runs and their paths, the per-course boards,
//!   totals and personal records;
//! - [`follow`]: the social graph; [`feed`]: the feed, fanned out to followers on write;
//! - [`event`]: group runs, their roster (capacity and waitlist), calendar files;
//! - [`notification`]: the inbox, device tokens, notification settings and push jobs;
//! - [`strava`]: the Strava connection, connect state, imports and the shared budget;
//! - [`author`]: the name and avatar shown beside what someone wrote or ran;
//! - [`idempotency`]: `Idempotency-Key` answers kept in the caller's partition;
//! - [`job`]: work that grows with the data (erasure, course deletion), done in steps.

pub mod author;
pub mod course;
pub mod event;
pub mod feed;
pub mod follow;
pub mod idempotency;
pub mod job;
pub mod leaderboard;
pub mod notification;
pub mod profile;
pub mod reaction;
pub mod review;
pub mod run;
pub mod session;
pub mod stats;
pub mod strava;
