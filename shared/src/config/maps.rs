//! Route map images: Mapbox Static Images when a token is configured, otherwise our own
//! renderer draws them (the thumbnails function works either way).

use super::{ConfigProblem, Environment, secret_source};
use crate::secrets::SecretSource;

/// Mapbox Static Images settings; present only when a token is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapboxConfig {
    /// `MAPBOX_ACCESS_TOKEN_SECRET_ID` (a Secrets Manager secret, read on the first map) or
    /// `MAPBOX_ACCESS_TOKEN` (the value, not in production): a public (`pk.`) or secret
    /// token with the styles scope. It never prints.
    pub access_token: SecretSource,
    /// `MAPBOX_API_URL`: `https://api.mapbox.com`, or a fake in tests.
    pub api_url: String,
    /// `MAPBOX_STYLE`: `{user}/{style}`, default `mapbox/outdoors-v12`.
    pub style: String,
}

/// Where route map images come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapsConfig {
    /// Mapbox, when a token is configured; `None` means our own renderer draws the maps.
    pub mapbox: Option<MapboxConfig>,
}

impl MapsConfig {
    pub(crate) fn read(
        get: &dyn Fn(&str) -> Option<String>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let token = secret_source(
            get,
            "MAPBOX_ACCESS_TOKEN",
            "MAPBOX_ACCESS_TOKEN_SECRET_ID",
            problems,
        );
        let mapbox = token.map(|access_token| MapboxConfig {
            access_token,
            api_url: get("MAPBOX_API_URL")
                .unwrap_or_else(|| "https://api.mapbox.com".into())
                .trim_end_matches('/')
                .to_owned(),
            style: get("MAPBOX_STYLE").unwrap_or_else(|| "mapbox/outdoors-v12".into()),
        });
        MapsConfig { mapbox }
    }

    pub(crate) fn problems(&self, environment: Environment) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if let Some(mapbox) = &self.mapbox {
            if mapbox.style.split('/').filter(|s| !s.is_empty()).count() != 2 {
                problems.push(ConfigProblem(format!(
                    "MAPBOX_STYLE={} is not {{user}}/{{style}}, e.g. mapbox/outdoors-v12",
                    mapbox.style
                )));
            }
            if environment == Environment::Production && mapbox.access_token.is_inline() {
                problems.push(ConfigProblem(
                    "MAPBOX_ACCESS_TOKEN holds the token in the environment: in production set \
                     MAPBOX_ACCESS_TOKEN_SECRET_ID to the Secrets Manager secret holding it"
                        .into(),
                ));
            }
            if environment == Environment::Production && !mapbox.api_url.starts_with("https://") {
                problems.push(ConfigProblem(format!(
                    "MAPBOX_API_URL={} is not https: the token would travel in clear text",
                    mapbox.api_url
                )));
            }
        }
        problems
    }
}
