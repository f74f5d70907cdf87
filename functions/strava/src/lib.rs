//! Strava import: runs recorded on Strava become RunCrew runs.
//!
//! - [`client`]: the Strava API v3 client (OAuth grants, activities, rate limits), so the
//!   routes and tasks of this crate speak to Strava through one set of rules.

pub mod client;
