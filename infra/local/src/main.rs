//! `cargo run -p runcrew-local`: the whole API on http://127.0.0.1:3000.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    runcrew_shared::telemetry::init();
    match runcrew_local::start(|name| std::env::var(name).ok()).await {
        Ok(running) => {
            println!(
                "RunCrew local API listening on {url}\n  environment: {env}\n  data folder: {data}\n  routes:      {routes} from template.yaml\n  try:         curl {url}/healthz",
                url = running.url(),
                env = running.config.environment,
                data = runcrew_local::absolute(&running.config.data_dir).display(),
                routes = running.routes,
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
