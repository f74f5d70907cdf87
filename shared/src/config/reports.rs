//! Which requests and task invocations are traced (`SENTRY_TRACES_SAMPLE_RATE`).
//!
//! The functions link no Sentry client. A sampled request or task invocation marks its log
//! line `"traced": true`; the `error-reports` function, subscribed to the functions' log
//! group, turns those lines into Sentry transactions and every error line into an event
//! (functions/reports). Only the rate is a function's own setting, read here.

use super::{ConfigProblem, Environment};

/// `SENTRY_TRACES_SAMPLE_RATE`, 0 to 1: 0.1 in production and 1 elsewhere unless set.
pub(crate) fn traces_sample_rate(
    get: &dyn Fn(&str) -> Option<String>,
    environment: Environment,
    problems: &mut Vec<ConfigProblem>,
) -> f32 {
    let default_rate = if environment == Environment::Production {
        0.1
    } else {
        1.0
    };
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)], environment: Environment) -> (f32, Vec<String>) {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let mut problems = Vec::new();
        let rate = traces_sample_rate(&get, environment, &mut problems);
        (rate, problems.into_iter().map(|p| p.0).collect())
    }

    #[test]
    fn production_traces_a_tenth_and_other_environments_everything_unless_told() {
        assert!((read(&[], Environment::Production).0 - 0.1).abs() < 1e-6);
        assert!((read(&[], Environment::Dev).0 - 1.0).abs() < 1e-6);
        let told = read(
            &[("SENTRY_TRACES_SAMPLE_RATE", "0.25")],
            Environment::Production,
        );
        assert!((told.0 - 0.25).abs() < 1e-6);
    }

    #[test]
    fn a_rate_outside_zero_to_one_is_refused_by_name() {
        let (_, problems) = read(&[("SENTRY_TRACES_SAMPLE_RATE", "2")], Environment::Dev);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("SENTRY_TRACES_SAMPLE_RATE"));
    }
}
