//! The local stand-in for EventBridge Scheduler: the `Type: ScheduleV2` events of
//! template.yaml, fired on demand by `POST /_local/schedules/<FunctionLogicalId>`, and with
//! `LOCAL_SCHEDULES=on` by a timer at their `rate(...)`.
//!
//! A tick is the same invocation as on AWS: the schedule's `Input` JSON goes to the
//! function's [`ScheduleFunction::invoke`]. A manual tick runs once and answers what
//! happened. A timer tick that fails is tried again at most [`LOCAL_RETRIES`] times, a
//! second apart, where the scheduler would retry up to the schedule's
//! `RetryPolicy.MaximumRetryAttempts` over hours. `cron(...)` and `at(...)` schedules are
//! not timed locally (their next time depends on the time zone and calendar, which the
//! timer does not emulate): the start-up log and banner say so, and they still fire on
//! demand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runcrew_shared::App;
use runcrew_shared::tasks::schedule::ScheduleFunction;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::gateway::RegistryMismatch;
use crate::template::{ApiSpec, ScheduleSpec};

/// Retries of a failed timer tick locally.
pub const LOCAL_RETRIES: u32 = 2;
/// The pause before each local retry, times the attempt.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Why a schedule expression is not timed locally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{expression}: {reason}")]
pub struct RateError {
    /// The expression as written.
    pub expression: String,
    /// Why.
    pub reason: &'static str,
}

/// The period of a `rate(N minute[s]|hour[s]|day[s])` expression, as EventBridge Scheduler
/// reads it (a positive whole number; the singular only with 1).
pub fn parse_rate(expression: &str) -> Result<Duration, RateError> {
    let fail = |reason| RateError {
        expression: expression.to_owned(),
        reason,
    };
    let Some(inner) = expression
        .trim()
        .strip_prefix("rate(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return Err(fail(
            "only rate(...) schedules are timed locally; fire it with POST /_local/schedules/<function>",
        ));
    };
    let (count, unit) = inner
        .trim()
        .split_once(' ')
        .ok_or_else(|| fail("a rate is a number and a unit"))?;
    let count: u64 = count
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| fail("a rate's number is a positive whole number"))?;
    let seconds = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => return Err(fail("a rate's unit is minute(s), hour(s) or day(s)")),
    };
    if (count == 1) != unit.trim().ends_with(|c| c != 's') {
        return Err(fail("the unit is singular with 1 and plural otherwise"));
    }
    Ok(Duration::from_secs(count * seconds))
}

/// Checks that every schedule of the template has a scheduled task compiled in.
pub fn check(spec: &ApiSpec, tasks: &[&'static ScheduleFunction]) -> Result<(), RegistryMismatch> {
    let registered: Vec<&str> = tasks.iter().map(|t| t.binary).collect();
    RegistryMismatch::from_problems(crate::gateway::unregistered(
        spec.schedules.iter().map(|s| {
            (
                s.function.as_str(),
                s.binary.as_str(),
                format!("is scheduled ({})", s.expression),
            )
        }),
        &registered,
        "schedule task",
    ))
}

/// One schedule with its task.
struct Entry {
    spec: ScheduleSpec,
    function: &'static ScheduleFunction,
}

impl Entry {
    /// `Function.Event`, how logs and reports name a schedule.
    fn label(&self) -> String {
        format!("{}.{}", self.spec.function, self.spec.event)
    }
}

/// How many ticks of a schedule ran, and how many of them failed.
#[derive(Debug, Clone, Copy, Default)]
struct Fired {
    ticks: u64,
    failed: u64,
}

/// The template's schedules, ready to fire.
#[derive(Clone)]
pub struct Schedules {
    app: Arc<App>,
    entries: Arc<Vec<Entry>>,
    /// Ticks run and failed, by `Function.Event`.
    fired: Arc<Mutex<BTreeMap<String, Fired>>>,
    /// Whether the timer is on (`LOCAL_SCHEDULES=on`).
    timed: bool,
    /// Why a schedule is not timed, when the timer is on.
    untimed: Arc<Vec<(String, String)>>,
    timers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Schedules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schedules")
            .field("schedules", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// The schedules of `spec` whose task is in `functions`; with `timer`, each enabled
/// `rate(...)` schedule also fires at its rate (the first tick one period after start).
pub fn wire(
    app: Arc<App>,
    spec: &ApiSpec,
    functions: &[&'static ScheduleFunction],
    timer: bool,
) -> Schedules {
    let entries: Vec<Entry> = spec
        .schedules
        .iter()
        .filter_map(|s| {
            let function = functions.iter().find(|f| f.binary == s.binary)?;
            Some(Entry {
                spec: s.clone(),
                function,
            })
        })
        .collect();
    let mut schedules = Schedules {
        app,
        entries: Arc::new(entries),
        fired: Arc::default(),
        timed: timer,
        untimed: Arc::default(),
        timers: Arc::default(),
    };
    if !timer {
        return schedules;
    }
    let mut untimed = Vec::new();
    let mut timers = Vec::new();
    for index in 0..schedules.entries.len() {
        let spec = &schedules.entries[index].spec;
        let label = schedules.entries[index].label();
        if !spec.enabled {
            untimed.push((label, "State: DISABLED".to_owned()));
            continue;
        }
        match parse_rate(&spec.expression) {
            Ok(period) => {
                let schedules = schedules.clone();
                timers.push(tokio::spawn(async move {
                    let mut ticks =
                        tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    loop {
                        ticks.tick().await;
                        schedules.fire_timed(index).await;
                    }
                }));
            }
            Err(err) => {
                tracing::warn!(target: "gateway", schedule = %label, reason = %err, "schedule not timed locally");
                untimed.push((label, err.to_string()));
            }
        }
    }
    schedules.untimed = Arc::new(untimed);
    *schedules.timers.lock().unwrap_or_else(|e| e.into_inner()) = timers;
    schedules
}

impl Schedules {
    /// Stops the timers.
    pub fn stop(&self) {
        for timer in self
            .timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            timer.abort();
        }
    }

    /// One line per schedule for the start-up banner.
    pub fn banner(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|entry| {
                let spec = &entry.spec;
                let label = entry.label();
                let timing = match self.untimed.iter().find(|(l, _)| *l == label) {
                    Some((_, reason)) => format!("not timed: {reason}"),
                    None if self.timed => "timed (LOCAL_SCHEDULES=on)".to_owned(),
                    None => "on demand (LOCAL_SCHEDULES=on times it)".to_owned(),
                };
                format!(
                    "{label} {}: POST /_local/schedules/{}; {timing}",
                    spec.expression, spec.function
                )
            })
            .collect()
    }

    /// `GET /_local/schedules`: each schedule, whether it is timed, and its ticks so far.
    pub fn report(&self) -> Value {
        let fired = self.fired.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let schedules: Vec<Value> = self
            .entries
            .iter()
            .map(|entry| {
                let label = entry.label();
                let counts = fired.get(&label).copied().unwrap_or_default();
                let untimed = self.untimed.iter().find(|(l, _)| *l == label);
                json!({
                    "function": entry.spec.function,
                    "event": entry.spec.event,
                    "expression": entry.spec.expression,
                    "enabled": entry.spec.enabled,
                    "timed": self.timed && untimed.is_none(),
                    "not_timed_because": untimed.map(|(_, reason)| reason),
                    "ticks": counts.ticks,
                    "failed": counts.failed,
                    "fire": format!("POST /_local/schedules/{}", entry.spec.function),
                })
            })
            .collect();
        json!({ "timer": self.timed, "schedules": schedules })
    }

    /// Whether `function` (a logical id) has a schedule here.
    pub fn knows(&self, function: &str) -> bool {
        self.entries.iter().any(|e| e.spec.function == function)
    }

    /// Fires every schedule of `function` once, now; answers what happened to each, or
    /// `None` when the function has no schedule.
    pub async fn fire(&self, function: &str) -> Option<(bool, Value)> {
        if !self.knows(function) {
            return None;
        }
        let mut ok = true;
        let mut fired = Vec::new();
        for entry in self.entries.iter().filter(|e| e.spec.function == function) {
            let result = self.invoke(entry).await;
            ok &= result.is_ok();
            let mut answer = json!({
                "event": entry.spec.event,
                "expression": entry.spec.expression,
                "enabled": entry.spec.enabled,
                "ok": result.is_ok(),
            });
            if let Err(err) = result {
                answer["error"] = json!(err.to_string());
                answer["retries_on_aws"] = json!(entry.spec.max_retries);
            }
            fired.push(answer);
        }
        Some((ok, json!({"function": function, "fired": fired})))
    }

    /// One invocation with the schedule's input, counted.
    async fn invoke(&self, entry: &Entry) -> Result<(), runcrew_shared::TaskError> {
        let input = entry.spec.input.clone().unwrap_or(Value::Null);
        let result = entry.function.invoke(&self.app, &input).await;
        let mut fired = self.fired.lock().unwrap_or_else(|e| e.into_inner());
        let counts = fired.entry(entry.label()).or_default();
        counts.ticks += 1;
        counts.failed += u64::from(result.is_err());
        result
    }

    /// A timer tick: tried again a few times when it fails, then logged as given up.
    async fn fire_timed(&self, index: usize) {
        let Some(entry) = self.entries.get(index) else {
            return;
        };
        let retries = entry.spec.max_retries.min(LOCAL_RETRIES);
        for attempt in 0..=retries {
            if self.invoke(entry).await.is_ok() {
                return;
            }
            if attempt < retries {
                tokio::time::sleep(RETRY_PAUSE * (attempt + 1)).await;
            }
        }
        tracing::error!(
            target: "gateway",
            function = %entry.spec.function,
            event = %entry.spec.event,
            attempts = retries + 1,
            "a scheduled tick kept failing; given up (on AWS: the schedule's dead-letter queue, if any)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_in_minutes_hours_and_days_are_timed() {
        assert_eq!(parse_rate("rate(1 minute)"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_rate("rate(15 minutes)"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_rate("rate(2 hours)"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_rate("rate(1 day)"), Ok(Duration::from_secs(86_400)));
    }

    #[test]
    fn other_expressions_are_refused_with_a_reason() {
        for (expression, says) in [
            ("cron(0 3 * * ? *)", "only rate"),
            ("at(2026-01-01T00:00:00)", "only rate"),
            ("rate(0 minutes)", "positive"),
            ("rate(5 weeks)", "unit"),
            ("rate(1 minutes)", "singular"),
            ("rate(5 minute)", "singular"),
            ("rate(five minutes)", "positive"),
        ] {
            let err = parse_rate(expression).expect_err(expression);
            assert!(err.to_string().contains(says), "{expression}: {err}");
        }
    }
}
