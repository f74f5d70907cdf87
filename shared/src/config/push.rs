//! Push notifications through FCM HTTP v1: where the service account comes from and which
//! endpoints it talks to. Without a service account the inbox still fills and the push
//! consumer says once, clearly, that pushes are off.

use std::path::PathBuf;

use super::{ConfigProblem, Environment};

/// Google's OAuth token endpoint, used when the service account names none.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// FCM's API, unless `FCM_API_URL` names a fake.
pub const DEFAULT_FCM_API_URL: &str = "https://fcm.googleapis.com";

/// Where the FCM service account (the JSON file Firebase's console downloads) is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceAccountSource {
    /// `FCM_SERVICE_ACCOUNT_PATH`: a file, as the product uses today and on laptops.
    File(PathBuf),
    /// `FCM_SERVICE_ACCOUNT_SECRET_ID`: a Secrets Manager secret holding the file's text,
    /// on AWS, so the key is never in the function's configuration.
    SecretsManager(String),
}

/// Push settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushConfig {
    /// The service account, or `None`: pushes are off (the inbox still works).
    pub service_account: Option<ServiceAccountSource>,
    /// `FCM_API_URL`, without a trailing slash.
    pub api_url: String,
    /// `FCM_TOKEN_URL`: overrides the account's `token_uri` (a fake's, in tests).
    pub token_url: Option<String>,
}

impl PushConfig {
    pub(crate) fn read(
        get: &dyn Fn(&str) -> Option<String>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let path = get("FCM_SERVICE_ACCOUNT_PATH").filter(|v| !v.is_empty());
        let secret = get("FCM_SERVICE_ACCOUNT_SECRET_ID").filter(|v| !v.is_empty());
        let service_account = match (path, secret) {
            (Some(_), Some(_)) => {
                problems.push(ConfigProblem(
                    "FCM_SERVICE_ACCOUNT_PATH and FCM_SERVICE_ACCOUNT_SECRET_ID are both set: \
                     name one source of the service account"
                        .into(),
                ));
                None
            }
            (Some(path), None) => Some(ServiceAccountSource::File(path.into())),
            (None, Some(id)) => Some(ServiceAccountSource::SecretsManager(id)),
            (None, None) => None,
        };
        PushConfig {
            service_account,
            api_url: get("FCM_API_URL")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_FCM_API_URL.into())
                .trim_end_matches('/')
                .to_owned(),
            token_url: get("FCM_TOKEN_URL").filter(|v| !v.is_empty()),
        }
    }

    pub(crate) fn problems(&self, environment: Environment) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if environment == Environment::Production {
            let urls = [
                ("FCM_API_URL", Some(&self.api_url)),
                ("FCM_TOKEN_URL", self.token_url.as_ref()),
            ];
            for (name, url) in urls {
                if let Some(url) = url.filter(|u| !u.starts_with("https://")) {
                    problems.push(ConfigProblem(format!(
                        "{name}={url} is not https: access tokens and device tokens would travel in clear text"
                    )));
                }
            }
            if matches!(self.service_account, Some(ServiceAccountSource::File(_))) {
                problems.push(ConfigProblem(
                    "FCM_SERVICE_ACCOUNT_PATH: production reads the service account from \
                     Secrets Manager (FCM_SERVICE_ACCOUNT_SECRET_ID), never from a file in the package"
                        .into(),
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (PushConfig, Vec<ConfigProblem>) {
        let mut problems = Vec::new();
        let get = super::super::lookup_of(pairs);
        (PushConfig::read(&get, &mut problems), problems)
    }

    #[test]
    fn without_a_service_account_pushes_are_off_and_nothing_is_wrong() {
        let (config, problems) = read(&[]);
        assert_eq!(config.service_account, None);
        assert_eq!(config.api_url, DEFAULT_FCM_API_URL);
        assert!(problems.is_empty());
        assert!(config.problems(Environment::Production).is_empty());
    }

    #[test]
    fn two_sources_of_the_service_account_are_refused() {
        let (_, problems) = read(&[
            ("FCM_SERVICE_ACCOUNT_PATH", "/tmp/sa.json"),
            ("FCM_SERVICE_ACCOUNT_SECRET_ID", "runcrew/fcm"),
        ]);
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn production_refuses_clear_text_fcm_urls_and_key_files() {
        let (config, _) = read(&[
            ("FCM_SERVICE_ACCOUNT_PATH", "/var/task/sa.json"),
            ("FCM_API_URL", "http://127.0.0.1:9000/"),
            ("FCM_TOKEN_URL", "http://127.0.0.1:9001/token"),
        ]);
        assert_eq!(config.api_url, "http://127.0.0.1:9000");
        let problems = config.problems(Environment::Production);
        let text = format!("{problems:?}");
        assert_eq!(problems.len(), 3, "{text}");
        assert!(
            text.contains("FCM_API_URL") && text.contains("FCM_TOKEN_URL"),
            "{text}"
        );
        assert!(config.problems(Environment::Local).is_empty());
    }
}
