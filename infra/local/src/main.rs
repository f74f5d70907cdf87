//! `cargo run -p runcrew-local`: the whole API on http://127.0.0.1:3000.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    runcrew_shared::telemetry::init();
    match runcrew_local::start(|name| std::env::var(name).ok()).await {
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
            running.until_ctrl_c().await;
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("runcrew-local: {err}");
            ExitCode::FAILURE
        }
    }
}
