//! Where an AWS function's cold start goes: each step of the start of a function with a
//! DynamoDB client, timed in a fresh process, with the SDK set up the default way (the
//! provider chains and the platform's roots) and the way the functions set it up on Lambda
//! (`runcrew_shared::aws`: the Lambda environment and the Amazon roots), on a multi-thread
//! and on a current-thread runtime.
//!
//! `bench-init [--runs N] --dynamodb URL [--out FILE]`
//!
//! Each variant runs N times, interleaved, as a child process of this binary
//! (`--child VARIANT`) that prints the instants at which each step ended, in milliseconds
//! since its exec (taken from the wall clock the parent read just before spawning it). The
//! steps are the ones a Lambda function takes before and during its first request; the
//! Lambda runtime's own start (its client to the Runtime API, the first poll) is what
//! `floor-hello` measures and is the same for every variant. Prints a Markdown table of
//! the medians, per step (the time since the previous step) and in total.

use std::process::Stdio;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use runcrew_shared::app::aws_timeouts;

/// One way of starting: its label, runtime flavour and whether it runs as on Lambda.
struct Variant {
    name: &'static str,
    label: &'static str,
    current_thread: bool,
    lambda_environment: bool,
    cert_file: bool,
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "chains",
        label: "default chains, platform roots, multi-thread (the untrimmed `floor-aws`)",
        current_thread: false,
        lambda_environment: false,
        cert_file: false,
    },
    Variant {
        name: "chains-cert-file",
        label: "the same + `SSL_CERT_FILE`",
        current_thread: false,
        lambda_environment: false,
        cert_file: true,
    },
    Variant {
        name: "lambda-env",
        label: "Lambda environment + Amazon roots, multi-thread",
        current_thread: false,
        lambda_environment: true,
        cert_file: true,
    },
    Variant {
        name: "lean",
        label: "Lambda environment + Amazon roots, current-thread (every function)",
        current_thread: true,
        lambda_environment: true,
        cert_file: true,
    },
];

/// The steps, in order, as the child reports them.
const STEPS: &[(&str, &str)] = &[
    ("main", "exec → `main`"),
    ("runtime", "tokio runtime"),
    ("sdk_config", "SDK configuration"),
    ("client", "DynamoDB client"),
    ("first_call", "first GetItem"),
    ("second_call", "second GetItem (warm)"),
];

fn now_unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The child: one start, timed step by step, as one JSON line on stdout.
fn child(variant: &Variant, spawned_at_unix_ms: f64) -> Result<(), String> {
    let entered = now_unix_ms();
    let started = Instant::now();
    let mut marks = vec![("main", entered - spawned_at_unix_ms)];
    let since = |name: &'static str| (name, marks_base(entered, spawned_at_unix_ms, started));
    let runtime = if variant.current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()
    .map_err(|e| e.to_string())?;
    marks.push(since("runtime"));
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").map_err(|_| "DYNAMODB_ENDPOINT")?;
    let steps = runtime.block_on(async {
        let mut steps = Vec::new();
        let sdk = runcrew_shared::aws::sdk_config(
            aws_timeouts(),
            runcrew_shared::aws::AwsTrust::AmazonRoots,
        )
        .await;
        steps.push(since("sdk_config"));
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(endpoint);
        let client = aws_sdk_dynamodb::Client::from_conf(config.build());
        steps.push(since("client"));
        for step in ["first_call", "second_call"] {
            client
                .get_item()
                .table_name("runcrew-bench-init")
                .key("pk", AttributeValue::S("BENCH".into()))
                .key("sk", AttributeValue::S("INIT".into()))
                .send()
                .await
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
            steps.push(since(step));
        }
        Ok::<_, String>(steps)
    })?;
    marks.extend(steps);
    let fields: Vec<String> = marks
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v:.4}"))
        .collect();
    println!("{{{}}}", fields.join(","));
    Ok(())
}

/// Milliseconds since exec: the wall-clock gap to `main`, then the monotonic clock.
fn marks_base(entered: f64, spawned: f64, started: Instant) -> f64 {
    entered - spawned + started.elapsed().as_secs_f64() * 1000.0
}

/// Creates the empty table the children read, if it is not there yet.
async fn create_table(endpoint: &str) -> Result<(), String> {
    let sdk = runcrew_bench::local_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .build(),
    );
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| e.to_string())
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| e.to_string())
    };
    let created = client
        .create_table()
        .table_name("runcrew-bench-init")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if format!("{e:?}").contains("ResourceInUse") => Ok(()),
        Err(e) => Err(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len().div_ceil(2).saturating_sub(1)]
}

fn parent(runs: usize, endpoint: &str, out: Option<&str>) -> Result<(), String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(create_table(endpoint))?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut samples: Vec<Vec<serde_json::Value>> = VARIANTS.iter().map(|_| Vec::new()).collect();
    // one discarded round warms the page cache and DynamoDB Local
    for round in 0..=runs {
        for (variant, kept) in VARIANTS.iter().zip(samples.iter_mut()) {
            let mut command = std::process::Command::new(&me);
            command
                .env_clear()
                .env("DYNAMODB_ENDPOINT", endpoint)
                .env("AWS_ACCESS_KEY_ID", "bench")
                .env("AWS_SECRET_ACCESS_KEY", "bench")
                .env("AWS_REGION", "us-east-1")
                .stdin(Stdio::null())
                .stderr(Stdio::inherit());
            if let Ok(path) = std::env::var("PATH") {
                command.env("PATH", path);
            }
            if variant.lambda_environment {
                // never contacted: it only marks the process as inside Lambda
                command.env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9");
            }
            if variant.cert_file {
                command.env("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt");
            }
            let spawned_at = now_unix_ms();
            let output = command
                .args(["--child", variant.name, &format!("{spawned_at:.4}")])
                .output()
                .map_err(|e| e.to_string())?;
            if !output.status.success() {
                return Err(format!("the {} start failed", variant.name));
            }
            let line: serde_json::Value =
                serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
            if round > 0 {
                kept.push(line);
            }
        }
    }
    let mut table = String::from("| start | ");
    table += &STEPS
        .iter()
        .map(|(_, h)| *h)
        .collect::<Vec<_>>()
        .join(" | ");
    table += " | exec → end of the first GetItem |\n|---|";
    table += &"---:|".repeat(STEPS.len() + 1);
    table += "\n";
    for (variant, kept) in VARIANTS.iter().zip(&samples) {
        let at = |step: &str| -> Vec<f64> {
            kept.iter()
                .map(|s| s[step].as_f64().unwrap_or(f64::NAN))
                .collect()
        };
        table += &format!("| {} |", variant.label);
        let mut previous: Option<&str> = None;
        for (step, _) in STEPS {
            let took: Vec<f64> = match previous {
                None => at(step),
                Some(before) => at(step)
                    .iter()
                    .zip(at(before))
                    .map(|(end, start)| end - start)
                    .collect(),
            };
            table += &format!(" {:.2} |", median(took));
            previous = Some(step);
        }
        table += &format!(" {:.2} |\n", median(at("first_call")));
    }
    let note = format!(
        "Median of {runs} starts of each (interleaved), in ms; each step is the time since the previous one.\n"
    );
    print!("{table}\n{note}");
    if let Some(path) = out {
        std::fs::write(path, format!("{table}\n{note}")).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, name, spawned] = args.as_slice()
        && flag == "--child"
    {
        let variant = VARIANTS
            .iter()
            .find(|v| v.name == name)
            .ok_or("unknown variant")?;
        let spawned: f64 = spawned.parse().map_err(|_| "--child VARIANT UNIX_MS")?;
        return child(variant, spawned);
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs = value("--runs").map_or(Ok(20), |n| n.parse().map_err(|_| "--runs N"))?;
    let endpoint = value("--dynamodb").ok_or("--dynamodb URL is required")?;
    parent(runs, &endpoint, value("--out").as_deref())
}
