//! Structured JSON logs and CloudWatch Embedded Metric Format lines.
//!
//! Each log line is one JSON object: `timestamp` (RFC 3339), `level` (`ERROR`, `WARN`,
//! `INFO`, `DEBUG`, `TRACE`), `target`, `message`, `xray_trace_id` while an invocation is
//! traced, and the event's fields at the top level (request_id, method, route, status,
//! latency_ms, code, ...). `timestamp` and `level` are the keys Lambda's JSON log format
//! reads, so an error line is filed as an error and the function's application log level
//! drops what is below it; `xray_trace_id` joins a line to its trace in X-Ray.
//! Bearer tokens, JWTs and e-mail addresses are masked in every value before it is written,
//! so a careless `tracing::info!(%header)` cannot leak a credential.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the JSON logger once; later calls are no-ops (tests, the local gateway).
///
/// The level comes from `AWS_LAMBDA_LOG_LEVEL` (the function's application log level, which
/// Lambda sets from its logging configuration) and `RUST_LOG` ([`filter_from`]). A plain
/// target filter rather than `EnvFilter`, whose regular expressions cost every binary about
/// half a megabyte and start-up time for a feature (span-field filters) no function uses.
pub fn init() {
    init_from(&|name: &str| std::env::var(name).ok());
}

/// [`init`] with the settings read through `lookup` (the local gateway's, which adds
/// `.env`).
pub fn init_from(lookup: &dyn Fn(&str) -> Option<String>) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let lambda_level = lookup("AWS_LAMBDA_LOG_LEVEL");
        let rust_log = lookup("RUST_LOG");
        let _ = tracing_subscriber::registry()
            .with(filter_from(lambda_level.as_deref(), rust_log.as_deref()))
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(JsonLine)
                    .with_writer(std::io::stdout),
            )
            .try_init();
    });
}

/// The filter the two settings ask for. `RUST_LOG` is a level (`debug`) or targets with
/// levels (`warn,runcrew_shared=debug`); `AWS_LAMBDA_LOG_LEVEL` (`TRACE` to `FATAL`), when
/// set, is the default level and wins over `RUST_LOG`'s, as the level an operator picks in
/// the console should, while `RUST_LOG`'s per-target levels stay. `info` for everything
/// when neither is set or readable.
fn filter_from(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let targets = rust_log.and_then(|value| value.parse::<Targets>().ok());
    let console = lambda_level.and_then(|value| match value.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some(LevelFilter::TRACE),
        "DEBUG" => Some(LevelFilter::DEBUG),
        "INFO" => Some(LevelFilter::INFO),
        "WARN" => Some(LevelFilter::WARN),
        "ERROR" | "FATAL" => Some(LevelFilter::ERROR),
        _ => None,
    });
    match (targets, console) {
        (Some(targets), Some(level)) => targets.with_default(level),
        (Some(targets), None) => targets,
        (None, level) => Targets::new().with_default(level.unwrap_or(LevelFilter::INFO)),
    }
}

/// The X-Ray trace of the invocation being handled: the `Root` of `_X_AMZN_TRACE_ID`, which
/// the Lambda runtime sets before each invocation when tracing is active.
fn xray_trace_id() -> Option<String> {
    let header = std::env::var("_X_AMZN_TRACE_ID").ok()?;
    trace_root(&header).map(str::to_owned)
}

/// The `Root=` part of an X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`).
fn trace_root(header: &str) -> Option<&str> {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
        .filter(|root| !root.is_empty())
}

/// Formats one event as one masked JSON line.
pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = Map::new();
        fields.insert("timestamp".into(), Value::String(now_rfc3339()));
        fields.insert(
            "level".into(),
            Value::String(event.metadata().level().as_str().to_owned()),
        );
        fields.insert(
            "target".into(),
            Value::String(event.metadata().target().to_owned()),
        );
        if let Some(trace) = xray_trace_id() {
            fields.insert("xray_trace_id".into(), Value::String(trace));
        }
        event.record(&mut JsonVisitor(&mut fields));
        let line = serde_json::to_string(&Value::Object(fields)).map_err(|_| std::fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(mask_secrets(value)));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.0
            .insert(field.name().to_owned(), Value::String(mask_secrets(&text)));
    }
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Replaces bearer tokens, JWTs and e-mail addresses in `text` with placeholders.
///
/// An e-mail keeps its domain (`***@example.com`), which is enough to debug delivery
/// without identifying the person.
pub fn mask_secrets(text: &str) -> String {
    static PATTERNS: OnceLock<[(regex_lite::Regex, &'static str); 3]> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        let compile = |p: &str| regex_lite::Regex::new(p).expect("static pattern compiles");
        [
            (
                compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]+=*"),
                "Bearer ***",
            ),
            (
                compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
                "***jwt***",
            ),
            (
                compile(r"[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+\.)+[A-Za-z]{2,}"),
                "***@$1",
            ),
        ]
    });
    if !text.contains('@') && !text.contains("eyJ") && !text.to_ascii_lowercase().contains("bearer")
    {
        return text.to_owned();
    }
    let mut out = text.to_owned();
    for (pattern, replacement) in patterns.iter() {
        if *replacement == "***@$1" {
            out = pattern
                .replace_all(&out, |caps: &regex_lite::Captures<'_>| {
                    let whole = &caps[0];
                    let domain = whole.rsplit('@').next().unwrap_or("");
                    format!("***@{domain}")
                })
                .into_owned();
        } else {
            out = pattern.replace_all(&out, *replacement).into_owned();
        }
    }
    out
}

/// The access line of one request: the fields DESIGN.md asks every request to carry, and
/// what the `error-reports` function reads (functions/reports): a 5xx line is an error
/// event, a `traced` line a transaction.
#[derive(Debug, Clone, Copy)]
pub struct AccessLine<'a> {
    /// The function's binary (`courses-get`), which files the report.
    pub function: &'a str,
    /// The id the client saw in the error envelope.
    pub request_id: &'a str,
    /// The HTTP method.
    pub method: &'a str,
    /// API Gateway's route key (`GET /v1/courses/{courseId}`).
    pub route: &'a str,
    /// The status answered.
    pub status: u16,
    /// The handler's latency.
    pub latency_ms: f64,
    /// The envelope's error code, when the answer is an error.
    pub code: Option<&'a str>,
    /// What went wrong, on a 5xx only (masked like every field).
    pub detail: Option<&'a str>,
    /// Whether this request is sampled for tracing ([`sampled`]).
    pub traced: bool,
}

/// Logs `line`: at ERROR for a 5xx, so Lambda files it as an error and the error-reports
/// subscription picks it up; at INFO otherwise.
pub fn access_log(line: &AccessLine<'_>) {
    let AccessLine {
        function,
        request_id,
        method,
        route,
        status,
        latency_ms,
        code,
        detail,
        traced,
    } = *line;
    if status >= 500 {
        tracing::error!(target: "access", function, request_id, method, route, status, latency_ms, code, detail, traced, "request");
    } else {
        tracing::info!(target: "access", function, request_id, method, route, status, latency_ms, code, traced, "request");
    }
}

/// Logs the end of one traced task invocation (a queue batch, stream batch, schedule tick or
/// S3 event), which the error-reports function sends as a transaction named `function`.
pub fn invocation_traced(function: &str, op: &str, latency_ms: f64, failed: bool) {
    tracing::info!(target: "invocation", function, op, latency_ms, failed, traced = true, "invocation");
}

/// Whether the request or task item keyed by `key` is traced at `rate` (0 to 1). A hash of
/// the key rather than a random draw: every line of one request agrees, a redelivered item
/// gets the same answer, and no random source is touched on the request path.
pub fn sampled(key: &str, rate: f32) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate <= 0.0 {
        return false;
    }
    // FNV-1a, then a 64-bit finaliser so keys that differ in one character spread evenly.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    let bucket = hash % 1_000_000;
    (bucket as f64) < f64::from(rate) * 1_000_000.0
}

/// A CloudWatch metric unit understood by EMF, written as CloudWatch names it.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// `Count`: how many times something happened.
    Count,
    /// `Milliseconds`: durations, such as the `Latency` of every HTTP function.
    Milliseconds,
    /// `Bytes`: sizes.
    Bytes,
    /// `Percent`: a share of a limit, such as how much of Strava's request budget is spent.
    Percent,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::Percent => "Percent",
        }
    }
}

/// One CloudWatch Embedded Metric Format line: CloudWatch turns it into a metric with no
/// API call from the function.
pub fn emf_line(
    namespace: &str,
    name: &str,
    value: f64,
    unit: Unit,
    dimensions: &[(&str, &str)],
    timestamp_ms: i64,
) -> String {
    let mut root = Map::new();
    let dimension_names: Vec<Value> = dimensions.iter().map(|(k, _)| Value::from(*k)).collect();
    root.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimension_names],
                "Metrics": [{"Name": name, "Unit": unit.as_str()}],
            }],
        }),
    );
    for (key, value) in dimensions {
        root.insert((*key).to_owned(), Value::from(*value));
    }
    root.insert(name.to_owned(), Value::from(value));
    Value::Object(root).to_string()
}

/// Writes [`emf_line`] to stdout, where the Lambda log stream picks it up.
pub fn emit_metric(
    namespace: &str,
    name: &str,
    value: f64,
    unit: Unit,
    dimensions: &[(&str, &str)],
) {
    let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let line = emf_line(namespace, name, value, unit, dimensions, now_ms);
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_jwts_and_emails_are_masked() {
        let line = "authorization: Bearer abc.DEF-123 from jane.doe+run@example.co.kr token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln";
        let masked = mask_secrets(line);
        assert!(!masked.contains("abc.DEF-123"), "{masked}");
        assert!(!masked.contains("jane.doe"), "{masked}");
        assert!(masked.contains("***@example.co.kr"), "{masked}");
        assert!(!masked.contains("eyJzdWIiOiIxIn0"), "{masked}");
    }

    #[test]
    fn rust_log_takes_a_level_or_targets_and_falls_back_to_info() {
        use tracing::Level;
        let debug = filter_from(None, Some("debug"));
        assert!(debug.would_enable("runcrew_shared", &Level::DEBUG));
        let targeted = filter_from(None, Some("warn,runcrew_shared=debug"));
        assert!(targeted.would_enable("runcrew_shared::store", &Level::DEBUG));
        assert!(!targeted.would_enable("aws_smithy_runtime", &Level::INFO));
        for unset_or_unreadable in [None, Some("runcrew=notalevel")] {
            let fallback = filter_from(Some("loud"), unset_or_unreadable);
            assert!(fallback.would_enable("anything", &Level::INFO));
            assert!(!fallback.would_enable("anything", &Level::DEBUG));
        }
    }

    #[test]
    fn the_lambda_log_level_sets_the_default_and_rust_log_keeps_its_targets() {
        use tracing::Level;
        // given the console's level alone
        let errors_only = filter_from(Some("ERROR"), None);
        assert!(errors_only.would_enable("anything", &Level::ERROR));
        assert!(!errors_only.would_enable("anything", &Level::WARN));
        assert!(!filter_from(Some("FATAL"), None).would_enable("anything", &Level::WARN));
        // given both: the console's level is the default, RUST_LOG's targets stay
        let both = filter_from(Some("DEBUG"), Some("info,aws_smithy_runtime=warn"));
        assert!(both.would_enable("runcrew_shared", &Level::DEBUG));
        assert!(!both.would_enable("aws_smithy_runtime", &Level::INFO));
    }

    #[test]
    fn the_trace_id_is_the_root_of_the_xray_header() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert_eq!(
            trace_root(header),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
        assert_eq!(trace_root("Parent=53995c3f42cd8ad8;Sampled=0"), None);
        assert_eq!(trace_root("Root=;Sampled=0"), None);
    }

    #[test]
    fn a_line_carries_the_keys_lambda_files_it_by() {
        // given the functions' formatter writing into a buffer
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLine)
            .with_writer(move || SharedBuffer(sink.clone()))
            .finish();
        // when an error is logged with a field holding an e-mail
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "access", who = "jane@example.com", "request");
        });
        // then it is one JSON line Lambda reads as an ERROR at that time, the e-mail masked
        let bytes = buffer.lock().expect("lock").clone();
        let line: Value = serde_json::from_slice(&bytes).expect("one JSON line");
        assert_eq!(line["level"], "ERROR");
        let timestamp = line["timestamp"].as_str().expect("a timestamp");
        assert!(
            OffsetDateTime::parse(timestamp, &Rfc3339).is_ok(),
            "{timestamp}"
        );
        assert_eq!(line["message"], "request");
        assert_eq!(line["who"], "***@example.com");
    }

    struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for SharedBuffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_text_is_left_alone() {
        assert_eq!(mask_secrets("GET /v1/courses 200"), "GET /v1/courses 200");
    }

    #[test]
    fn an_emf_line_declares_its_metric_and_dimensions() {
        let line = emf_line(
            "RunCrew",
            "Latency",
            12.5,
            Unit::Milliseconds,
            &[("Route", "GET /healthz")],
            1_700_000_000_000,
        );
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "Latency"
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Route"
        );
        assert_eq!(v["Route"], "GET /healthz");
        assert_eq!(v["Latency"], 12.5);
    }

    #[test]
    fn a_tenth_of_requests_are_traced_and_the_same_key_always_answers_alike() {
        let traced = (0..10_000)
            .filter(|n| sampled(&format!("req-{n}"), 0.1))
            .count();
        assert!((800..1200).contains(&traced), "{traced} of 10000");
        assert!((0..100).all(|n| sampled(&format!("req-{n}"), 1.0)));
        assert!((0..100).all(|n| !sampled(&format!("req-{n}"), 0.0)));
        let key = "8c0e-request";
        assert_eq!(sampled(key, 0.3), sampled(key, 0.3));
    }
}
