//! Who we are to Strava (our application's id and secret) and where Strava is.
//!
//! The two base URLs are settings rather than constants so tests and the local gateway
//! point the client at a fake Strava on 127.0.0.1.

/// Strava's API v3, the base of the activity endpoints.
pub const DEFAULT_API_URL: &str = "https://www.strava.com/api/v3";
/// Strava's OAuth endpoints (`/authorize`, `/token`, `/deauthorize`).
pub const DEFAULT_OAUTH_URL: &str = "https://www.strava.com/oauth";

/// Our Strava application and the URLs of Strava. `Debug` leaves the secret out, so the
/// settings can be logged at start.
#[derive(Clone, PartialEq, Eq)]
pub struct StravaSettings {
    /// The application's client id: public, it is part of the authorize URL.
    pub client_id: String,
    /// The application's client secret: sent to the token endpoint only, never printed.
    pub client_secret: String,
    /// The API base, [`DEFAULT_API_URL`] in production; a trailing slash is tolerated.
    pub api_url: String,
    /// The OAuth base, [`DEFAULT_OAUTH_URL`] in production; a trailing slash is tolerated.
    pub oauth_url: String,
}

impl StravaSettings {
    /// The settings for Strava itself, with our application's `client_id` and
    /// `client_secret`.
    pub fn production(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        StravaSettings {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            api_url: DEFAULT_API_URL.to_owned(),
            oauth_url: DEFAULT_OAUTH_URL.to_owned(),
        }
    }
}

impl std::fmt::Debug for StravaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StravaSettings")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("api_url", &self.api_url)
            .field("oauth_url", &self.oauth_url)
            .finish()
    }
}
