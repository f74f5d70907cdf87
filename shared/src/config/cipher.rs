//! Which key seals third-party tokens before they are stored (the token cipher port,
//! [`crate::cipher`]): a KMS key on AWS, or on a laptop a key derived from the local
//! signing secret.
//!
//! These checks run when a function that declares [`crate::Needs::cipher`] starts, not in
//! every function: a function that never seals a token has no use for the key, and must
//! not refuse to start while the key is not yet in its stage's template.

use super::{ConfigProblem, Environment};

/// The key the token cipher seals under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CipherBackend {
    /// AES-256-GCM under a key derived from the local signing secret (`CURSOR_SECRET`, or
    /// the laptop's generated secret). Laptops and tests only: rotating that secret would
    /// make every sealed token unreadable, which production refuses.
    Local,
    /// A KMS key, optionally at an overridden endpoint (moto in tests).
    Kms {
        /// `TOKEN_KMS_KEY_ID`: a key id, key ARN, alias name (`alias/...`) or alias ARN.
        key_id: String,
        /// `KMS_ENDPOINT`, for a KMS-compatible test server.
        endpoint: Option<String>,
    },
}

/// The token cipher's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CipherConfig {
    /// KMS when `TOKEN_KMS_KEY_ID` is set, else the local key.
    pub backend: CipherBackend,
    /// `KMS_ENDPOINT` when `TOKEN_KMS_KEY_ID` is not set, kept so that
    /// [`CipherConfig::problems`] can name the endpoint that would be ignored.
    stray_endpoint: Option<String>,
}

impl CipherConfig {
    pub(crate) fn read(get: &dyn Fn(&str) -> Option<String>) -> Self {
        let endpoint = get("KMS_ENDPOINT");
        match get("TOKEN_KMS_KEY_ID") {
            Some(key_id) => CipherConfig {
                backend: CipherBackend::Kms { key_id, endpoint },
                stray_endpoint: None,
            },
            None => CipherConfig {
                backend: CipherBackend::Local,
                stray_endpoint: endpoint,
            },
        }
    }

    /// What keeps the token cipher from being built in `environment`: production seals
    /// with KMS only, at AWS's own endpoint, and an endpoint without a key is a mistake
    /// everywhere (the tokens would silently be sealed locally).
    pub fn problems(&self, environment: Environment) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if let Some(endpoint) = &self.stray_endpoint {
            problems.push(ConfigProblem(format!(
                "KMS_ENDPOINT={endpoint} is set but TOKEN_KMS_KEY_ID is not: name the KMS key \
                 that seals tokens, or unset KMS_ENDPOINT"
            )));
        }
        if environment == Environment::Production {
            match &self.backend {
                CipherBackend::Local => problems.push(ConfigProblem(
                    "TOKEN_KMS_KEY_ID is missing: production seals third-party tokens (Strava \
                     refresh tokens) with a KMS key; set it to the key's id, ARN or alias"
                        .into(),
                )),
                CipherBackend::Kms {
                    endpoint: Some(_), ..
                } => problems.push(ConfigProblem(
                    "KMS_ENDPOINT overrides the AWS endpoint: not allowed in production".into(),
                )),
                CipherBackend::Kms { endpoint: None, .. } => {}
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> CipherConfig {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        CipherConfig::read(&get)
    }

    #[test]
    fn without_a_kms_key_a_laptop_seals_locally() {
        let config = read(&[]);
        assert_eq!(config.backend, CipherBackend::Local);
        assert!(config.problems(Environment::Local).is_empty());
        assert!(config.problems(Environment::Dev).is_empty());
    }

    #[test]
    fn a_kms_key_selects_kms_with_its_endpoint() {
        let config = read(&[
            ("TOKEN_KMS_KEY_ID", "alias/runcrew-tokens"),
            ("KMS_ENDPOINT", "http://127.0.0.1:5000"),
        ]);
        assert_eq!(
            config.backend,
            CipherBackend::Kms {
                key_id: "alias/runcrew-tokens".into(),
                endpoint: Some("http://127.0.0.1:5000".into()),
            }
        );
        assert!(config.problems(Environment::Local).is_empty());
    }

    #[test]
    fn production_refuses_to_seal_without_a_kms_key_or_at_another_endpoint() {
        let text = format!("{:?}", read(&[]).problems(Environment::Production));
        assert!(text.contains("TOKEN_KMS_KEY_ID is missing"), "{text}");

        let overridden = read(&[
            ("TOKEN_KMS_KEY_ID", "alias/runcrew-tokens"),
            ("KMS_ENDPOINT", "http://127.0.0.1:5000"),
        ]);
        let text = format!("{:?}", overridden.problems(Environment::Production));
        assert!(text.contains("KMS_ENDPOINT overrides"), "{text}");

        let safe = read(&[("TOKEN_KMS_KEY_ID", "arn:aws:kms:eu-west-1:1:key/k")]);
        assert!(safe.problems(Environment::Production).is_empty());
    }

    #[test]
    fn an_endpoint_without_a_key_is_named_everywhere() {
        let config = read(&[("KMS_ENDPOINT", "http://127.0.0.1:5000")]);
        assert_eq!(config.backend, CipherBackend::Local);
        let problems = config.problems(Environment::Local);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].0.contains("TOKEN_KMS_KEY_ID is not"),
            "{problems:?}"
        );
    }
}
