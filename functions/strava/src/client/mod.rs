//! The Strava API v3 client: what the import needs from Strava and nothing more.
//!
//! - [`settings`]: our application's id, secret and Strava's two base URLs;
//! - [`strava`]: [`StravaClient`], one request per call, and how an answer is read;
//! - [`oauth`]: the authorize URL, the code and refresh grants ([`TokenGrant`]),
//!   deauthorization;
//! - [`activities`]: an athlete's activities, a page at a time, and one by id ([`Activity`]);
//! - [`rate_limits`]: the usage Strava reports on every answer ([`RateUsage`]) and when a
//!   full window reopens ([`resume_at`]);
//! - [`errors`]: Strava's answers sorted into what the caller does next ([`StravaError`]).
//!
//! The client tries each request once: waiting for a rate-limit window, refreshing a token
//! or retrying later is the import's decision, made from the error and the usage.
//! The client secret, codes and tokens never appear in a log line, an error or a `Debug`
//! output.

pub mod activities;
pub mod errors;
pub mod oauth;
pub mod rate_limits;
pub mod settings;
pub mod strava;

use std::time::Duration;

pub use activities::{Activity, MAX_PER_PAGE, RUN_SPORT_TYPES};
pub use errors::{StravaError, StravaSetupError};
pub use oauth::{SCOPE, TokenGrant, granted};
pub use rate_limits::{Answer, RateUsage, resume_at};
pub use settings::{DEFAULT_API_URL, DEFAULT_OAUTH_URL, StravaSettings};
pub use strava::StravaClient;

/// The longest a connection to Strava may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest one request to Strava may take, so a stalled Strava answers `Unavailable`
/// well inside the function's own timeout instead of holding it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client for Strava: the workspace's rules for third parties (rustls, our
/// timeouts, no redirects, our user agent). Build it once per execution environment; a
/// client that cannot be built is an error, never a default client without the timeouts.
pub fn http_client() -> Result<reqwest::Client, StravaSetupError> {
    runcrew_shared::outbound::https_client(CONNECT_TIMEOUT, REQUEST_TIMEOUT)
        .map_err(StravaSetupError::HttpClient)
}
