//! Route map images: Mapbox Static Images when a token is configured, otherwise our own
//! renderer draws them (the thumbnails function works either way).

use std::fmt;

use super::{ConfigProblem, Environment};

/// Mapbox Static Images settings; present only when `MAPBOX_ACCESS_TOKEN` is set.
#[derive(Clone, PartialEq, Eq)]
pub struct MapboxConfig {
    /// `MAPBOX_ACCESS_TOKEN`: a public (`pk.`) or secret token with the styles scope.
    pub access_token: String,
    /// `MAPBOX_API_URL`: `https://api.mapbox.com`, or a fake in tests.
    pub api_url: String,
    /// `MAPBOX_STYLE`: `{user}/{style}`, default `mapbox/outdoors-v12`.
    pub style: String,
}

impl fmt::Debug for MapboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a secret: never in a log line, not even through Debug.
        f.debug_struct("MapboxConfig")
            .field("access_token", &"***")
            .field("api_url", &self.api_url)
            .field("style", &self.style)
            .finish()
    }
}

/// Where route map images come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapsConfig {
    /// Mapbox, when a token is configured; `None` means our own renderer draws the maps.
    pub mapbox: Option<MapboxConfig>,
}

impl MapsConfig {
    pub(crate) fn read(get: &dyn Fn(&str) -> Option<String>) -> Self {
        let mapbox = get("MAPBOX_ACCESS_TOKEN").map(|access_token| MapboxConfig {
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
