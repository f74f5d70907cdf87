//! Error reports and traces (Sentry): on only when `SENTRY_DSN` is set.

use super::{ConfigProblem, Environment};

/// Where 5xx answers, failed task items and sampled traces are reported.
#[derive(Clone, PartialEq)]
pub struct ErrorReportsConfig {
    /// `SENTRY_DSN`: the project's DSN (`https://<key>@<host>/<project>`), parsed once
    /// here. A DSN only lets its holder send events, which is why Sentry hands it to
    /// browsers too; it is still not logged.
    pub dsn: sentry::types::Dsn,
    /// `SENTRY_ENVIRONMENT`: the environment events are filed under; `ENVIRONMENT` by
    /// default.
    pub environment: String,
    /// `SENTRY_TRACES_SAMPLE_RATE`: the share of requests and task invocations traced,
    /// 0 to 1; 0.1 in production and 1 elsewhere by default.
    pub traces_sample_rate: f32,
}

impl std::fmt::Debug for ErrorReportsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorReportsConfig")
            .field("dsn", &"***")
            .field("environment", &self.environment)
            .field("traces_sample_rate", &self.traces_sample_rate)
            .finish()
    }
}

impl ErrorReportsConfig {
    pub(crate) fn read(
        get: &dyn Fn(&str) -> Option<String>,
        environment: Environment,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<Self> {
        let dsn = get("SENTRY_DSN").filter(|v| !v.trim().is_empty())?;
        let dsn = dsn.trim().parse::<sentry::types::Dsn>();
        if dsn.is_err() {
            // Never quoted: it holds the project's key.
            problems.push(ConfigProblem(
                "SENTRY_DSN is not a Sentry DSN (https://<key>@<host>/<project>)".into(),
            ));
        }
        let default_rate = if environment == Environment::Production {
            0.1
        } else {
            1.0
        };
        let traces_sample_rate =
            match get("SENTRY_TRACES_SAMPLE_RATE").filter(|v| !v.trim().is_empty()) {
                None => default_rate,
                Some(text) => match text.trim().parse::<f32>() {
                    Ok(rate) if (0.0..=1.0).contains(&rate) => rate,
                    _ => {
                        problems.push(ConfigProblem(format!(
                            "SENTRY_TRACES_SAMPLE_RATE={text} is not a number from 0 to 1"
                        )));
                        default_rate
                    }
                },
            };
        let dsn = dsn.ok()?;
        Some(ErrorReportsConfig {
            dsn,
            environment: get("SENTRY_ENVIRONMENT")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| environment.as_str().to_owned()),
            traces_sample_rate,
        })
    }

    pub(crate) fn problems(&self, environment: Environment) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if environment == Environment::Production
            && self.dsn.scheme() != sentry::types::Scheme::Https
        {
            problems.push(ConfigProblem(
                "SENTRY_DSN is not https: error reports would travel in clear text".into(),
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(
        pairs: &[(&str, &str)],
        environment: Environment,
    ) -> (Option<ErrorReportsConfig>, Vec<String>) {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let mut problems = Vec::new();
        let config = ErrorReportsConfig::read(&get, environment, &mut problems);
        (config, problems.into_iter().map(|p| p.0).collect())
    }

    const DSN: &str = "https://4f2a9c@o1.ingest.sentry.io/42";

    #[test]
    fn without_a_dsn_there_are_no_reports() {
        assert_eq!(read(&[], Environment::Production).0, None);
        assert_eq!(read(&[("SENTRY_DSN", " ")], Environment::Dev).0, None);
    }

    #[test]
    fn production_traces_a_tenth_and_other_environments_everything_unless_told() {
        let (prod, _) = read(&[("SENTRY_DSN", DSN)], Environment::Production);
        let prod = prod.expect("on");
        assert!((prod.traces_sample_rate - 0.1).abs() < 1e-6);
        assert_eq!(prod.environment, "production");
        let (dev, _) = read(&[("SENTRY_DSN", DSN)], Environment::Dev);
        assert!((dev.expect("on").traces_sample_rate - 1.0).abs() < 1e-6);
        let (told, _) = read(
            &[("SENTRY_DSN", DSN), ("SENTRY_TRACES_SAMPLE_RATE", "0.25")],
            Environment::Production,
        );
        assert!((told.expect("on").traces_sample_rate - 0.25).abs() < 1e-6);
    }

    #[test]
    fn a_bad_rate_or_dsn_is_refused_without_quoting_the_dsn() {
        let (_, problems) = read(
            &[
                ("SENTRY_DSN", "not-a-dsn-secret"),
                ("SENTRY_TRACES_SAMPLE_RATE", "2"),
            ],
            Environment::Dev,
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().all(|p| !p.contains("not-a-dsn-secret")));
        assert!(problems[1].contains("SENTRY_TRACES_SAMPLE_RATE"));
    }
}
