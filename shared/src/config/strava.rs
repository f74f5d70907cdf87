//! Strava: the app's credentials and endpoints. Without `STRAVA_CLIENT_ID` the Strava
//! routes answer 503 `strava_not_configured`, and the rest of the API works as before.

use super::{ConfigProblem, Environment};
use crate::secrets::SecretSource;

/// Strava's API, unless `STRAVA_API_URL` names a fake.
pub const DEFAULT_STRAVA_API_URL: &str = "https://www.strava.com/api/v3";
/// Strava's OAuth endpoints, unless `STRAVA_OAUTH_URL` names a fake.
pub const DEFAULT_STRAVA_OAUTH_URL: &str = "https://www.strava.com/oauth";

/// Strava settings, present only when `STRAVA_CLIENT_ID` is set.
#[derive(Clone, PartialEq, Eq)]
pub struct StravaConfig {
    /// `STRAVA_CLIENT_ID`: the app's id at Strava.
    pub client_id: String,
    /// `STRAVA_CLIENT_SECRET_ID` (a Secrets Manager secret, read at start) or
    /// `STRAVA_CLIENT_SECRET` (the value: laptops and tests; refused in production).
    pub client_secret: SecretSource,
    /// `STRAVA_REDIRECT_URI`: our callback, as registered at Strava
    /// (default `<PUBLIC_BASE_URL>/v1/strava/callback`).
    pub redirect_uri: String,
    /// `STRAVA_APP_REDIRECT_URI`: where the callback sends the browser back (an app deep
    /// link), with the outcome; unset: the callback answers JSON.
    pub app_redirect_uri: Option<String>,
    /// `STRAVA_SCOPE`: `activity:read_all` (default) or `activity:read`.
    pub scope: String,
    /// `STRAVA_WEBHOOK_VERIFY_TOKEN`: what Strava echoes when a subscription is made.
    pub webhook_verify_token: Option<String>,
    /// `STRAVA_SUBSCRIPTION_ID`: our webhook subscription; events naming another are ignored.
    pub subscription_id: Option<i64>,
    /// `STRAVA_API_URL`, without a trailing slash.
    pub api_url: String,
    /// `STRAVA_OAUTH_URL`, without a trailing slash.
    pub oauth_url: String,
}

impl std::fmt::Debug for StravaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StravaConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .field("subscription_id", &self.subscription_id)
            .field("api_url", &self.api_url)
            .field("oauth_url", &self.oauth_url)
            .finish_non_exhaustive()
    }
}

impl StravaConfig {
    pub(crate) fn read(
        get: &dyn Fn(&str) -> Option<String>,
        public_base_url: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<StravaConfig> {
        let value = |name: &str| get(name).filter(|v| !v.is_empty());
        let client_id = value("STRAVA_CLIENT_ID")?;
        let client_secret = match SecretSource::read(
            get,
            "STRAVA_CLIENT_SECRET",
            "STRAVA_CLIENT_SECRET_ID",
        ) {
            Ok(Some(source)) => source,
            Ok(None) => {
                problems.push(ConfigProblem(
                        "STRAVA_CLIENT_ID is set without STRAVA_CLIENT_SECRET (or STRAVA_CLIENT_SECRET_ID)".into(),
                    ));
                return None;
            }
            Err(both) => {
                problems.push(ConfigProblem(both));
                return None;
            }
        };
        let scope = value("STRAVA_SCOPE").unwrap_or_else(|| "activity:read_all".into());
        if !matches!(scope.as_str(), "activity:read_all" | "activity:read") {
            problems.push(ConfigProblem(format!(
                "STRAVA_SCOPE={scope} is not activity:read_all or activity:read"
            )));
        }
        let subscription_id = value("STRAVA_SUBSCRIPTION_ID").and_then(|v| match v.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                problems.push(ConfigProblem(format!(
                    "STRAVA_SUBSCRIPTION_ID={v} is not a number"
                )));
                None
            }
        });
        let url = |name: &str, default: &str| {
            value(name)
                .unwrap_or_else(|| default.to_owned())
                .trim_end_matches('/')
                .to_owned()
        };
        Some(StravaConfig {
            client_id,
            client_secret,
            redirect_uri: value("STRAVA_REDIRECT_URI").unwrap_or_else(|| {
                format!(
                    "{}/v1/strava/callback",
                    public_base_url.trim_end_matches('/')
                )
            }),
            app_redirect_uri: value("STRAVA_APP_REDIRECT_URI"),
            scope,
            webhook_verify_token: value("STRAVA_WEBHOOK_VERIFY_TOKEN"),
            subscription_id,
            api_url: url("STRAVA_API_URL", DEFAULT_STRAVA_API_URL),
            oauth_url: url("STRAVA_OAUTH_URL", DEFAULT_STRAVA_OAUTH_URL),
        })
    }

    pub(crate) fn problems(&self, environment: Environment) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if environment == Environment::Production {
            for (name, url) in [
                ("STRAVA_API_URL", &self.api_url),
                ("STRAVA_OAUTH_URL", &self.oauth_url),
                ("STRAVA_REDIRECT_URI", &self.redirect_uri),
            ] {
                if !url.starts_with("https://") {
                    problems.push(ConfigProblem(format!(
                        "{name}={url} is not https: tokens and codes would travel in clear text"
                    )));
                }
            }
            if self.client_secret.is_inline() {
                problems.push(ConfigProblem(
                    "STRAVA_CLIENT_SECRET: production reads the client secret from Secrets Manager (STRAVA_CLIENT_SECRET_ID)".into(),
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (Option<StravaConfig>, Vec<ConfigProblem>) {
        let mut problems = Vec::new();
        let get = super::super::lookup_of(pairs);
        (
            StravaConfig::read(&get, "https://api.runcrew.app/", &mut problems),
            problems,
        )
    }

    #[test]
    fn without_a_client_id_strava_is_off_and_nothing_is_wrong() {
        let (config, problems) = read(&[("STRAVA_CLIENT_SECRET", "s")]);
        assert_eq!(config, None);
        assert!(problems.is_empty());
    }

    #[test]
    fn a_client_id_reads_its_secret_and_defaults() {
        let (config, problems) =
            read(&[("STRAVA_CLIENT_ID", "123"), ("STRAVA_CLIENT_SECRET", "shh")]);
        let config = config.expect("configured");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            config.redirect_uri,
            "https://api.runcrew.app/v1/strava/callback"
        );
        assert_eq!(config.scope, "activity:read_all");
        assert_eq!(config.api_url, DEFAULT_STRAVA_API_URL);
        assert!(
            !format!("{config:?}").contains("shh"),
            "the secret never prints"
        );
    }

    #[test]
    fn production_refuses_clear_text_urls_and_a_secret_in_the_environment() {
        let (config, _) = read(&[
            ("STRAVA_CLIENT_ID", "123"),
            ("STRAVA_CLIENT_SECRET", "shh"),
            ("STRAVA_API_URL", "http://127.0.0.1:9/api/v3"),
        ]);
        let problems = config
            .expect("configured")
            .problems(Environment::Production);
        assert_eq!(problems.len(), 2, "{problems:?}");
        let (_, problems) = read(&[("STRAVA_CLIENT_ID", "123")]);
        assert_eq!(problems.len(), 1, "a client id without a secret");
    }
}
