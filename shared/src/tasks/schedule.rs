//! Functions run on a schedule (EventBridge Scheduler, `Type: ScheduleV2` in template.yaml).
//!
//! EventBridge Scheduler invokes the function with the schedule's `Input` JSON as the whole
//! event. A [`ScheduleFunction`] accepts any JSON object there and reads two optional
//! fields: `"schedule"`, the name the tick carries (else the binary's name), and
//! `"scheduled_time"`, RFC 3339, for which the template may pass the scheduler's
//! `<aws.scheduler.scheduled-time>` (else the time of the invocation). An `Err` from the
//! handler fails the invocation, so the schedule's `RetryPolicy` tries it again and then
//! hands it to its dead-letter queue, if it has one. Handlers must be idempotent: a tick may
//! come twice, and a retried tick arrives late.

use std::future::Future;
use std::pin::Pin;

use lambda_http::service_fn;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{BatchCounts, emit_batch_metrics};
use crate::app::{App, Needs};
use crate::function::TaskError;

/// One firing of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// Which schedule fired (a function may have several, e.g. hourly and nightly).
    pub schedule: String,
    /// When it was due, epoch milliseconds: work "up to now" should mean up to this.
    pub at_ms: i64,
}

/// What a tick handler returns.
pub type TickFuture<'a> = Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send + 'a>>;

/// A handler of one tick, as a plain function pointer so a registry can list it.
pub type TickHandler = for<'a> fn(&'a App, &'a Tick) -> TickFuture<'a>;

/// One scheduled Lambda function (e.g. `strava-sweep`, `event-reminders`).
#[derive(Clone, Copy)]
pub struct ScheduleFunction {
    /// The `Binary` build property in template.yaml and the `src/bin/<binary>.rs` name.
    pub binary: &'static str,
    /// The ports [`run_schedule`] builds before the first tick.
    pub needs: Needs,
    /// Called once per tick; an `Err` fails the invocation so the scheduler retries it.
    pub handler: TickHandler,
}

impl std::fmt::Debug for ScheduleFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduleFunction")
            .field("binary", &self.binary)
            .field("needs", &self.needs)
            .finish()
    }
}

/// Why a schedule's input is not a tick: a mistake in template.yaml's `Input`, which no
/// retry fixes but which must not pass unnoticed either (the invocation fails and shows in
/// the function's errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickError {
    /// The input is JSON but not an object.
    #[error("a schedule's input must be a JSON object, not {0}")]
    NotAnObject(&'static str),
    /// A field has the wrong type or format.
    #[error("a schedule's input field {field}: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The tick a schedule's `input` stands for, fired at `now_ms`. `null` (no `Input`) is an
/// empty object; the schedule's name defaults to `binary`.
pub fn tick_from_input(binary: &str, input: &Value, now_ms: i64) -> Result<Tick, TickError> {
    let empty = serde_json::Map::new();
    let fields = match input {
        Value::Object(fields) => fields,
        Value::Null => &empty,
        other => return Err(TickError::NotAnObject(kind_of(other))),
    };
    let schedule = match fields.get("schedule") {
        None | Some(Value::Null) => binary.to_owned(),
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        Some(other) => {
            return Err(TickError::Field {
                field: "schedule",
                reason: format!("must be a non-empty string, not {}", kind_of(other)),
            });
        }
    };
    let at_ms = match fields.get("scheduled_time") {
        None | Some(Value::Null) => now_ms,
        Some(Value::String(text)) => OffsetDateTime::parse(text, &Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .map_err(|e| TickError::Field {
                field: "scheduled_time",
                reason: format!("not RFC 3339: {e}"),
            })?,
        Some(other) => {
            return Err(TickError::Field {
                field: "scheduled_time",
                reason: format!("must be an RFC 3339 string, not {}", kind_of(other)),
            });
        }
    };
    Ok(Tick { schedule, at_ms })
}

impl ScheduleFunction {
    /// Runs the handler for `tick`; logs one line and emits the tick's metrics
    /// (`Processed` or `Failed`, and `OldestRecordAgeMs` as how late the tick ran).
    pub async fn call(&self, app: &App, tick: &Tick) -> Result<(), TaskError> {
        let late_ms = crate::clock::now_epoch_ms() as i64 - tick.at_ms;
        let trace = super::InvocationTrace::begin(
            app,
            self.binary,
            "schedule.tick",
            &format!("{}@{}", tick.schedule, tick.at_ms),
        );
        let result = (self.handler)(app, tick).await;
        let mut counts = BatchCounts {
            oldest_age_ms: late_ms,
            ..BatchCounts::default()
        };
        match &result {
            Ok(()) => {
                counts.processed = 1;
                tracing::info!(
                    function = self.binary,
                    schedule = %tick.schedule,
                    at_ms = tick.at_ms,
                    late_ms,
                    "schedule tick handled"
                );
            }
            Err(err) => {
                counts.failed = 1;
                tracing::error!(
                    function = self.binary,
                    schedule = %tick.schedule,
                    at_ms = tick.at_ms,
                    late_ms,
                    error = %err,
                    "schedule tick failed; the schedule's retry policy runs it again"
                );
            }
        }
        emit_batch_metrics(self.binary, counts);
        trace.end(result.is_err());
        result
    }

    /// One invocation with the schedule's `input`: an input that is not a tick fails like a
    /// failed handler, logged with the reason.
    pub async fn invoke(&self, app: &App, input: &Value) -> Result<(), TaskError> {
        let now_ms = crate::clock::now_epoch_ms() as i64;
        match tick_from_input(self.binary, input, now_ms) {
            Ok(tick) => self.call(app, &tick).await,
            Err(err) => {
                tracing::error!(function = self.binary, error = %err, "schedule input refused");
                emit_batch_metrics(
                    self.binary,
                    BatchCounts {
                        failed: 1,
                        ..BatchCounts::default()
                    },
                );
                Err(TaskError(err.to_string()))
            }
        }
    }
}

/// The `main` of a scheduled function: logging, the ports (once), then the Lambda runtime;
/// a failed tick fails the invocation.
pub async fn run_schedule(function: &'static ScheduleFunction) -> Result<(), lambda_http::Error> {
    let app = crate::function::start(function.binary, function.needs).await?;
    lambda_http::lambda_runtime::run(service_fn(move |event: lambda_http::LambdaEvent<Value>| {
        let app = app.clone();
        async move {
            function
                .invoke(&app, &event.payload)
                .await
                .map_err(lambda_http::Error::from)
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::json;

    const NOW: i64 = 1_760_000_000_000;

    #[test]
    fn an_empty_input_is_a_tick_of_the_function_now() {
        for input in [json!({}), Value::Null] {
            assert_eq!(
                tick_from_input("strava-sweep", &input, NOW),
                Ok(Tick {
                    schedule: "strava-sweep".into(),
                    at_ms: NOW
                })
            );
        }
    }

    #[test]
    fn the_input_may_name_the_schedule_and_when_it_was_due() {
        let input = json!({
            "schedule": "nightly",
            "scheduled_time": "2025-10-09T03:00:00Z",
            "anything": ["else", "is", "ignored"],
        });
        assert_eq!(
            tick_from_input("event-reminders", &input, NOW),
            Ok(Tick {
                schedule: "nightly".into(),
                at_ms: 1_759_978_800_000
            })
        );
    }

    #[test]
    fn an_input_that_is_not_a_tick_says_why() {
        assert_eq!(
            tick_from_input("f", &json!(["nightly"]), NOW),
            Err(TickError::NotAnObject("a list"))
        );
        let err = tick_from_input("f", &json!({"schedule": 7}), NOW).expect_err("a number");
        assert!(err.to_string().contains("schedule"), "{err}");
        let err = tick_from_input("f", &json!({"scheduled_time": "yesterday"}), NOW)
            .expect_err("not a time");
        assert!(err.to_string().contains("RFC 3339"), "{err}");
    }

    fn app() -> App {
        App::from_parts(
            Config::from_lookup(|_| None).expect("local defaults"),
            None,
            None,
            None,
        )
    }

    fn refuses_nightly<'a>(_: &'a App, tick: &'a Tick) -> TickFuture<'a> {
        Box::pin(async move {
            if tick.schedule == "nightly" {
                Err(TaskError("the nightly run is broken".into()))
            } else {
                Ok(())
            }
        })
    }

    static REFUSES_NIGHTLY: ScheduleFunction = ScheduleFunction {
        binary: "refuses-nightly",
        needs: Needs::NOTHING,
        handler: refuses_nightly,
    };

    #[tokio::test]
    async fn a_failing_tick_fails_the_invocation_so_the_scheduler_retries_it() {
        let app = app();
        assert!(REFUSES_NIGHTLY.invoke(&app, &json!({})).await.is_ok());
        let err = REFUSES_NIGHTLY
            .invoke(&app, &json!({"schedule": "nightly"}))
            .await
            .expect_err("fails");
        assert_eq!(err.to_string(), "the nightly run is broken");
        assert!(REFUSES_NIGHTLY.invoke(&app, &json!("x")).await.is_err());
    }
}
