//! Cold start of any Lambda binary: it is started `--runs` times against a loopback Lambda
//! Runtime API holding one event, and each run measures exec → first `GET .../next` (init)
//! and exec → its first response (cold request), plus its peak RSS. Prints one JSON line
//! with the medians. One discarded run first warms the page cache; each measured one
//! starts after a short pause, once the previous one's server work has settled.
//!
//! `bench-coldstart [--runs N] [--env KEY=VALUE]... [--create-table] [--time-table] --event FILE BINARY`
//!
//! `--time-table` puts a relay (`runcrew_bench::table_timer`) between the binary and the
//! `DYNAMODB_ENDPOINT` it is given, and adds the table's answering time during the cold
//! request (`table_ms`) and the cold request without it (`own_ms`), medians of the runs.
//!
//! `--create-table` first creates the table named by `--env TABLE_NAME=` (our schema) at
//! `--env DYNAMODB_ENDPOINT=`, if it is not there yet.

use std::process::Stdio;
use std::time::{Duration, Instant};

use runcrew_bench::table_timer::TableTimer;
use runcrew_bench::{ms, peak_rss_kib, quantile};
use runcrew_lambda_fake::{FakeRuntimeApi, Outcome};

/// The pause before each measured start.
const SETTLE: Duration = Duration::from_millis(60);

struct Args {
    runs: usize,
    create_table: bool,
    time_table: bool,
    env: Vec<(String, String)>,
    event: String,
    binary: String,
}

fn args() -> Result<Args, String> {
    let mut runs = 10;
    let mut create_table = false;
    let mut time_table = false;
    let mut env = Vec::new();
    let mut event = None;
    let mut binary = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => runs = it.next().and_then(|n| n.parse().ok()).ok_or("--runs N")?,
            "--env" => {
                let pair = it.next().ok_or("--env KEY=VALUE")?;
                let (k, v) = pair.split_once('=').ok_or("--env KEY=VALUE")?;
                env.push((k.to_owned(), v.to_owned()));
            }
            "--create-table" => create_table = true,
            "--time-table" => time_table = true,
            "--event" => {
                let path = it.next().ok_or("--event FILE")?;
                event = Some(std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?);
            }
            other => binary = Some(other.to_owned()),
        }
    }
    Ok(Args {
        runs,
        create_table,
        time_table,
        env,
        event: event.ok_or("--event FILE is required")?,
        binary: binary.ok_or("the binary path is required")?,
    })
}

struct Run {
    init: Duration,
    cold: Duration,
    rss_kib: u64,
    status: Option<String>,
    /// The table's answering time during the cold request (`--time-table`).
    table: Option<Duration>,
}

async fn one_run(args: &Args) -> Result<Run, String> {
    let runtime = FakeRuntimeApi::start().await;
    runtime.queue("cold-1", &args.event);
    let timer = match (args.time_table, env_value(args, "DYNAMODB_ENDPOINT")) {
        (true, Ok(table)) => Some(TableTimer::start(&table).await?),
        (true, Err(e)) => return Err(format!("--time-table: {e}")),
        (false, _) => None,
    };
    let mut command = tokio::process::Command::new(&args.binary);
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command
        .env("AWS_LAMBDA_RUNTIME_API", runtime.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .envs(args.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if let Some(timer) = &timer {
        command.env("DYNAMODB_ENDPOINT", timer.endpoint());
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("{}: {e}", args.binary))?;
    let (outcome, answered) = runtime
        .outcome_at("cold-1", Duration::from_secs(30))
        .await
        .ok_or_else(|| format!("{} gave no answer in 30 s", args.binary))?;
    let polled = runtime.first_poll_at().unwrap_or(answered);
    let rss_kib = child.id().and_then(peak_rss_kib).unwrap_or(0);
    let _ = child.kill().await;
    // An HTTP function answers with its status; a task (S3, SQS) with anything else.
    let status = match outcome {
        Outcome::Response(v) => Some(
            v["statusCode"]
                .as_u64()
                .map_or_else(|| "ok (task)".to_owned(), |s| s.to_string()),
        ),
        Outcome::Error(_) => Some("invocation error".to_owned()),
    };
    Ok(Run {
        init: polled.duration_since(started),
        cold: answered.duration_since(started),
        rss_kib,
        status,
        table: timer.map(|t| t.take()),
    })
}

/// The value an `--env KEY=VALUE` gave, the last one winning as it does for the child.
fn env_value(args: &Args, name: &str) -> Result<String, String> {
    args.env
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .ok_or(format!("needs --env {name}=..."))
}

async fn create_table(args: &Args) -> Result<(), String> {
    let get = |name: &str| env_value(args, name).map_err(|e| format!("--create-table {e}"));
    let sdk = runcrew_bench::local_sdk_config().await;
    let store = runcrew_shared::store::dynamodb::DynamoStore::from_sdk_config(
        &sdk,
        Some(&get("DYNAMODB_ENDPOINT")?),
        get("TABLE_NAME")?,
        runcrew_shared::store::cursor::CursorCodec::new("unused-for-creating-a-table-only"),
    );
    match store.create_table().await {
        Ok(()) => Ok(()),
        Err(e) if e.to_string().contains("exist") => Ok(()),
        Err(e) => Err(format!("creating the table: {e}")),
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = args()?;
    if args.create_table {
        create_table(&args).await?;
    }
    one_run(&args).await?;
    let mut runs = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        // Let the servers settle first: DynamoDB Local's JVM compiles and collects in the
        // background after a request, and on 2 cores that work would land on this start.
        tokio::time::sleep(SETTLE).await;
        runs.push(one_run(&args).await?);
    }
    let init: Vec<Duration> = runs.iter().map(|r| r.init).collect();
    let cold: Vec<Duration> = runs.iter().map(|r| r.cold).collect();
    let mut line = serde_json::json!({
        "binary": args.binary,
        "runs": runs.len(),
        "init_ms": ms(quantile(&init, 0.5)),
        "cold_ms": ms(quantile(&cold, 0.5)),
        "peak_rss_kib": runs.iter().map(|r| r.rss_kib).max().unwrap_or(0),
        "status": runs.last().and_then(|r| r.status.clone()),
    });
    let timed: Option<Vec<(Duration, Duration)>> = runs
        .iter()
        .map(|r| r.table.map(|t| (t, r.cold.saturating_sub(t))))
        .collect();
    if let Some(timed) = timed.filter(|t| !t.is_empty()) {
        let (table, own): (Vec<Duration>, Vec<Duration>) = timed.into_iter().unzip();
        line["table_ms"] = ms(quantile(&table, 0.5)).into();
        line["own_ms"] = ms(quantile(&own, 0.5)).into();
    }
    println!("{line}");
    Ok(())
}
