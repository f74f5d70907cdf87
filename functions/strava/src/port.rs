//! The Strava client as a port of the functions that call Strava: built once per execution
//! environment from `STRAVA_*` (the client secret read from Secrets Manager on AWS), or
//! absent when Strava is not configured, so the routes answer 503 `strava_not_configured`.

use std::sync::Arc;

use runcrew_shared::app::{Extension, Init, PortFuture, StartupError};
use runcrew_shared::config::StravaConfig;
use runcrew_shared::secrets::{ExposeSecret, SecretSource};
use runcrew_shared::{ApiError, App};

use crate::client::{StravaClient, StravaSettings, http_client};

/// Builds the client `init.config.strava` describes; `None` when Strava is not configured.
pub fn build<'a>(init: &'a Init<'a>) -> PortFuture<'a, Option<Extension>> {
    Box::pin(async move {
        let Some(config) = &init.config.strava else {
            return Ok(None);
        };
        let client_secret = match &config.client_secret {
            SecretSource::Value(secret) => secret.expose_secret().to_owned(),
            SecretSource::SecretsManager(id) => {
                runcrew_shared::secrets::secret_string(init.sdk().await, id)
                    .await
                    .map_err(|e| StartupError::Extension(format!("Strava: {e}")))?
            }
        };
        let http = http_client().map_err(|e| StartupError::Extension(format!("Strava: {e}")))?;
        let client = StravaClient::new(
            http,
            StravaSettings {
                client_id: config.client_id.clone(),
                client_secret,
                api_url: config.api_url.clone(),
                oauth_url: config.oauth_url.clone(),
            },
        );
        Ok(Some(Arc::new(client) as Extension))
    })
}

/// The client, or 503 `strava_not_configured`.
pub fn client(app: &App) -> Result<&StravaClient, ApiError> {
    app.extension::<StravaClient>().ok_or_else(not_configured)
}

/// The Strava settings, or 503 `strava_not_configured`.
pub fn config(app: &App) -> Result<&StravaConfig, ApiError> {
    app.config.strava.as_ref().ok_or_else(not_configured)
}

/// Strava is not set up on this deployment.
pub fn not_configured() -> ApiError {
    ApiError::NotConfigured {
        code: "strava_not_configured",
        message: "Strava is not set up on this server (STRAVA_CLIENT_ID)".into(),
    }
}
