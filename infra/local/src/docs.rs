//! The docs page of the local gateway: Swagger UI over `GET /openapi.json`, at `/docs`.
//!
//! Swagger UI comes from the npm registry (`infra/local/docs/package.json`, pinned by its
//! lock file) into `infra/local/docs/node_modules`, installed by `infra/scripts/setup-tools`
//! or, on the first `cargo run -p runcrew-local`, in the background at start-up (tests never
//! install anything themselves). The page
//! never loads anything from a CDN. Until the assets are there, `/docs` answers 503 saying
//! why, and `/openapi.json` works regardless.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The npm project that pins Swagger UI.
pub const PACKAGE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs");

/// The files of Swagger UI the page loads, with their content types: nothing else under
/// `node_modules` is served.
const ASSETS: &[(&str, &str)] = &[
    ("swagger-ui.css", "text/css; charset=utf-8"),
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    ("favicon-32x32.png", "image/png"),
];

/// Where the assets are once installed.
pub fn assets_dir() -> PathBuf {
    Path::new(PACKAGE_DIR).join("node_modules/swagger-ui-dist")
}

/// Whether every asset the page loads is on disk.
pub fn assets_installed() -> bool {
    let dir = assets_dir();
    ASSETS.iter().all(|(name, _)| dir.join(name).is_file())
}

static INSTALLING: AtomicBool = AtomicBool::new(false);

/// Starts `npm ci` for the assets in the background unless they are installed or an
/// install is running; the gateway serves meanwhile. A failure is logged with what to run.
pub fn install_assets_in_background() {
    if assets_installed() || INSTALLING.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::info!(target: "gateway", "installing Swagger UI for /docs from npm (first run only)");
    std::thread::spawn(|| {
        let outcome = std::process::Command::new("npm")
            // No install scripts: Swagger UI needs none, and its dependency @scarf/scarf
            // would otherwise report the install to its vendor.
            .args([
                "ci",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--prefix",
                PACKAGE_DIR,
            ])
            .stdin(std::process::Stdio::null())
            .output();
        match outcome {
            Ok(out) if out.status.success() => {
                tracing::info!(target: "gateway", "Swagger UI installed: /docs is ready");
            }
            Ok(out) => tracing::warn!(
                target: "gateway",
                status = %out.status,
                stderr = %String::from_utf8_lossy(&out.stderr),
                "installing Swagger UI failed; run infra/scripts/setup-tools"
            ),
            Err(err) => tracing::warn!(
                target: "gateway",
                error = %err,
                "npm is not available to install Swagger UI for /docs; install Node.js and run infra/scripts/setup-tools"
            ),
        }
        INSTALLING.store(false, Ordering::SeqCst);
    });
}

/// The page: Swagger UI's bundle, pointed at this gateway's `/openapi.json`.
const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>RunCrew API</title>
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: false
    });
  </script>
</body>
</html>
"##;

/// `GET /docs`.
pub async fn page() -> Response {
    if !assets_installed() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            "Swagger UI is being installed from npm for this page (first run only); reload in a few seconds. \
             If it never appears, run infra/scripts/setup-tools. The description itself is at /openapi.json.\n",
        )
            .into_response();
    }
    Html(PAGE).into_response()
}

/// `GET /docs/<asset>`: one of Swagger UI's files, from the installed package.
pub async fn asset(UrlPath(name): UrlPath<String>) -> Response {
    let Some((file, content_type)) = ASSETS.iter().find(|(file, _)| *file == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(assets_dir().join(file)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
