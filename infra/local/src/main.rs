//! `cargo run -p runcrew-local`: the whole API on http://127.0.0.1:3000.

use std::path::Path;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let env_file = Path::new(".env");
    let settings = match runcrew_local::env_file::read(env_file) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("runcrew-local: {err}");
            return ExitCode::FAILURE;
        }
    };
    let from_file = settings.len();
    let lookup = runcrew_local::env_file::layered(settings, |name| std::env::var(name).ok());
    runcrew_shared::telemetry::init_from(&lookup);
    match runcrew_local::start(lookup).await {
        Ok(running) => {
            if running.config.api_docs {
                runcrew_local::docs::install_assets_in_background();
            }
            println!(
                "RunCrew local API listening on {url}\n  environment: {env}\n  data folder: {data}\n  routes:      {routes} from template.yaml\n  try:         curl {url}/healthz\n  API docs:    {docs}",
                url = running.url(),
                env = running.config.environment,
                data = runcrew_local::absolute(&running.config.data_dir).display(),
                routes = running.routes,
                docs = if running.config.api_docs {
                    format!(
                        "{}/docs (description: {}/openapi.json)",
                        running.url(),
                        running.url()
                    )
                } else {
                    "off (API_DOCS=false)".to_owned()
                },
            );
            if from_file > 0 {
                println!("  settings:    {from_file} from .env (the shell's win)");
            }
            let queues = running.queues.banner();
            let schedules = running.schedules.banner();
            for (what, lines) in [("queues:", queues), ("schedules:", schedules)] {
                if lines.is_empty() {
                    println!("  {what:<12} none in template.yaml");
                }
                for (index, line) in lines.iter().enumerate() {
                    let label = if index == 0 { what } else { "" };
                    println!("  {label:<12} {line}");
                }
            }
            println!(
                "  pushes:      {}",
                match &running.config.push.service_account {
                    Some(_) => format!("FCM HTTP v1 at {}", running.config.push.api_url),
                    None => "off: no FCM_SERVICE_ACCOUNT_PATH (the inbox still fills)".to_owned(),
                }
            );
            println!(
                "  background:  GET {url}/_local/queues, /_local/schedules, /_local/streams",
                url = running.url()
            );
            running.until_ctrl_c().await;
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("runcrew-local: {err}");
            ExitCode::FAILURE
        }
    }
}
