//! The push port's builder for the `push` function: FCM from `FCM_*`, or nothing when no
//! service account is configured. The service account is read once per execution
//! environment; the access token is fetched on the first send, not at start-up.

use std::sync::Arc;

use runcrew_shared::app::{Init, PortFuture, StartupError};
use runcrew_shared::config::ServiceAccountSource;
use runcrew_shared::push::PushSender;

use crate::fcm::{FcmClient, ServiceAccount, http_client};

/// Builds the FCM sender `init.config.push` describes; `None` when it names no account.
pub fn build<'a>(init: &'a Init<'a>) -> PortFuture<'a, Option<Arc<dyn PushSender>>> {
    Box::pin(async move {
        let config = &init.config.push;
        let text = match &config.service_account {
            None => return Ok(None),
            Some(ServiceAccountSource::File(path)) => {
                std::fs::read_to_string(path).map_err(|e| {
                    StartupError::Push(format!(
                        "reading FCM_SERVICE_ACCOUNT_PATH={}: {e}",
                        path.display()
                    ))
                })?
            }
            Some(ServiceAccountSource::SecretsManager(id)) => {
                runcrew_shared::secrets::secret_string(init.sdk().await, id)
                    .await
                    .map_err(StartupError::Push)?
            }
        };
        let account =
            ServiceAccount::from_json(&text).map_err(|e| StartupError::Push(e.to_string()))?;
        let http = http_client().map_err(|e| StartupError::Push(e.to_string()))?;
        let client = FcmClient::new(http, account, &config.api_url, config.token_url.as_deref())
            .map_err(|e| StartupError::Push(e.to_string()))?;
        Ok(Some(Arc::new(client) as Arc<dyn PushSender>))
    })
}
