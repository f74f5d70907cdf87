//! The error-reports function's settings: where Sentry is, and what to file reports under.

use runcrew_shared::config::Environment;

/// Sentry's project and the names reports are filed under.
#[derive(Clone, PartialEq)]
pub struct SentryConfig {
    /// `SENTRY_DSN`: the project's DSN (`https://<key>@<host>/<project>`), parsed once
    /// here. A DSN only lets its holder send events (Sentry hands it to browsers too); it
    /// is still never logged.
    pub dsn: sentry::types::Dsn,
    /// `SENTRY_ENVIRONMENT`, else `ENVIRONMENT`: the environment reports are filed under.
    pub environment: String,
    /// `runcrew@<SERVICE_VERSION>`: the release, the same for every function of a deploy.
    pub release: String,
}

impl std::fmt::Debug for SentryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentryConfig")
            .field("dsn", &"***")
            .field("environment", &self.environment)
            .field("release", &self.release)
            .finish()
    }
}

/// Why the function refuses to start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SentryConfigError {
    /// Nothing to send to: the template creates this function only with a DSN.
    #[error(
        "SENTRY_DSN is not set: error-reports has nowhere to send reports (set the SentryDsn parameter)"
    )]
    Missing,
    /// Not a DSN. Never quoted: it holds the project's key.
    #[error("SENTRY_DSN is not a Sentry DSN (https://<key>@<host>/<project>)")]
    Malformed,
    /// `ENVIRONMENT` names no environment, so the production rules cannot be chosen.
    #[error("ENVIRONMENT={0} is not one of local, dev, stage, production")]
    UnknownEnvironment(String),
    /// Reports would travel in clear text.
    #[error("SENTRY_DSN is not https in production: error reports would travel in clear text")]
    NotHttps,
}

impl SentryConfig {
    /// The settings from the process environment.
    pub fn from_env() -> Result<Self, SentryConfigError> {
        Self::read(&|name| std::env::var(name).ok())
    }

    /// The settings from `get`, so the rules are tested without an environment.
    pub fn read(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, SentryConfigError> {
        let present = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let dsn = present("SENTRY_DSN").ok_or(SentryConfigError::Missing)?;
        let dsn = dsn
            .trim()
            .parse::<sentry::types::Dsn>()
            .map_err(|_| SentryConfigError::Malformed)?;
        let deployment = match present("ENVIRONMENT") {
            None => Environment::Local,
            Some(raw) => {
                Environment::parse(&raw).ok_or(SentryConfigError::UnknownEnvironment(raw))?
            }
        };
        if deployment == Environment::Production && dsn.scheme() != sentry::types::Scheme::Https {
            return Err(SentryConfigError::NotHttps);
        }
        let version =
            present("SERVICE_VERSION").unwrap_or_else(|| env!("CARGO_PKG_VERSION").into());
        Ok(SentryConfig {
            dsn,
            environment: present("SENTRY_ENVIRONMENT")
                .unwrap_or_else(|| deployment.as_str().to_owned()),
            release: format!("runcrew@{}", version.trim()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<SentryConfig, SentryConfigError> {
        SentryConfig::read(&|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const DSN: &str = "https://4f2a9c@o1.ingest.sentry.io/42";

    #[test]
    fn reports_are_filed_under_the_deployment_unless_told_otherwise() {
        let config = read(&[("SENTRY_DSN", DSN), ("ENVIRONMENT", "production")]).expect("ok");
        assert_eq!(config.environment, "production");
        assert!(config.release.starts_with("runcrew@"));
        let told = read(&[("SENTRY_DSN", DSN), ("SENTRY_ENVIRONMENT", "prod-kr")]).expect("ok");
        assert_eq!(told.environment, "prod-kr");
    }

    #[test]
    fn a_missing_bad_or_clear_text_dsn_is_refused_without_quoting_it() {
        assert_eq!(read(&[]).err(), Some(SentryConfigError::Missing));
        let bad = read(&[("SENTRY_DSN", "not-a-dsn-secret")]).expect_err("refused");
        assert_eq!(bad, SentryConfigError::Malformed);
        assert!(!bad.to_string().contains("not-a-dsn-secret"));
        let clear = read(&[
            ("SENTRY_DSN", "http://4f2a9c@sentry.internal/42"),
            ("ENVIRONMENT", "production"),
        ]);
        assert_eq!(clear.err(), Some(SentryConfigError::NotHttps));
        let prod = read(&[
            ("SENTRY_DSN", "http://4f2a9c@sentry.internal/42"),
            ("ENVIRONMENT", "prod"),
        ]);
        assert_eq!(prod.err(), Some(SentryConfigError::NotHttps));
        let unknown = read(&[("SENTRY_DSN", DSN), ("ENVIRONMENT", "qa")]);
        assert!(matches!(
            unknown,
            Err(SentryConfigError::UnknownEnvironment(_))
        ));
    }

    #[test]
    fn the_dsn_never_prints() {
        let config = read(&[("SENTRY_DSN", DSN)]).expect("ok");
        assert!(!format!("{config:?}").contains("4f2a9c"));
    }
}
