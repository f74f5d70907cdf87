//! Mapbox Static Images: `GET {api}/styles/v1/{user}/{style}/static/{overlay}/auto/600x400@2x`
//! with the overlay `path-{width}+{color}-{opacity}({url-encoded polyline})`.
//!
//! URLs beyond about 8 KB fail with 413, so the route is simplified further until the URL
//! fits. 5xx, 429 and timeouts are retried with backoff; the token never appears in a log
//! line or an error (reqwest's errors carry the URL, so they are stripped of it).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use runcrew_shared::config::MapboxConfig;
use runcrew_shared::route::Route;
use runcrew_shared::secrets::{ExposeSecret, SecretString, SecretsManager};

use super::{HEIGHT, MapError, ROUTE_COLOR, RouteMaps, WIDTH};

/// The longest URL sent (Mapbox refuses longer ones with 413 at about 8 KB).
pub const MAX_URL_BYTES: usize = 8_192;
/// Tries per image: the first and two retries.
const ATTEMPTS: usize = 3;
/// The pauses before the retries (200 ms, then 800 ms): long enough for a 429 or a 5xx
/// blip to pass, short enough that the thumbnail task is done within seconds.
const BACKOFF: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_millis(200))
    .with_factor(4.0)
    .with_max_times(ATTEMPTS - 1);
/// The route line's width in logical pixels and its opacity.
const LINE_WIDTH: u32 = 5;
const LINE_OPACITY: &str = "0.9";

/// Everything except RFC 3986 unreserved characters is escaped, so a polyline's `?`, `@`,
/// `\` or `|` cannot end the path early.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The longest a connection to Mapbox may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest one request to Mapbox may take, so a stalled answer cannot hold the task
/// until the function's own timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);

/// One HTTP client per execution environment, built once. A client that cannot be built
/// (no TLS roots, say) is an error every time, never a default client without our
/// timeouts; the `thumbnails` binary builds it at start so such a start fails loudly.
pub fn client() -> Result<&'static reqwest::Client, MapError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| runcrew_shared::outbound::https_client(CONNECT_TIMEOUT, REQUEST_TIMEOUT))
        .as_ref()
        .map_err(|detail| MapError::Setup(format!("the Mapbox HTTP client: {detail}")))
}

/// The Mapbox adapter. Its token is read through `secrets` on the first map (from Secrets
/// Manager on AWS), so a start never waits for it and a rotated token reaches the next
/// execution environment.
#[derive(Debug, Clone)]
pub struct MapboxMaps {
    config: MapboxConfig,
    secrets: Arc<SecretsManager>,
    client: &'static reqwest::Client,
}

impl MapboxMaps {
    /// An adapter with these settings; fails when its HTTP client cannot be built.
    pub fn new(config: MapboxConfig, secrets: Arc<SecretsManager>) -> Result<Self, MapError> {
        Ok(MapboxMaps {
            config,
            secrets,
            client: client()?,
        })
    }

    /// The request URL for `route` with `token`, simplified until it fits
    /// [`MAX_URL_BYTES`].
    pub fn url_for(&self, route: &Route, token: &SecretString) -> String {
        let mut points = route.len();
        loop {
            let shown = route.simplified(points);
            let overlay = format!(
                "path-{LINE_WIDTH}+{ROUTE_COLOR}-{LINE_OPACITY}({})",
                utf8_percent_encode(&shown.to_polyline(), UNRESERVED)
            );
            let url = format!(
                "{}/styles/v1/{}/static/{overlay}/auto/{WIDTH}x{HEIGHT}@2x?padding=40&access_token={}",
                self.config.api_url,
                self.config.style,
                utf8_percent_encode(token.expose_secret(), UNRESERVED)
            );
            if url.len() <= MAX_URL_BYTES || points <= 2 {
                return url;
            }
            points = (points * 3 / 4).max(2);
        }
    }
}

/// A failed request for the image, and whether another request may succeed.
struct Failure {
    error: MapError,
    transient: bool,
}

impl Failure {
    /// Mapbox or the network is struggling (5xx, 429, a connection or timeout error).
    fn transient(error: MapError) -> Self {
        Failure {
            error,
            transient: true,
        }
    }

    /// Asking again would get the same answer.
    fn lasting(error: MapError) -> Self {
        Failure {
            error,
            transient: false,
        }
    }
}

impl MapboxMaps {
    /// One request for the image at `url`.
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, Failure> {
        let response = self.client.get(url).send().await.map_err(|err| {
            Failure::transient(MapError::Unavailable(err.without_url().to_string()))
        })?;
        let status = response.status();
        if status.is_success() {
            // A body cut off half-way is not asked for again: on `Unavailable` the thumbnail
            // task draws the map itself, sooner than two more tries would.
            let bytes = response.bytes().await.map_err(|e| {
                Failure::lasting(MapError::Unavailable(e.without_url().to_string()))
            })?;
            if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                return Err(Failure::lasting(MapError::Refused(
                    "the answer is not a PNG".into(),
                )));
            }
            return Ok(bytes.to_vec());
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(Failure::transient(MapError::Unavailable(format!(
                "HTTP {}",
                status.as_u16()
            ))));
        }
        // 401/403 (token), 404/422 (style, overlay), 413 (URL): retrying cannot help.
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_default();
        Err(Failure::lasting(MapError::Refused(format!(
            "HTTP {}: {message}",
            status.as_u16()
        ))))
    }
}

#[async_trait]
impl RouteMaps for MapboxMaps {
    async fn render(&self, route: &Route) -> Result<Vec<u8>, MapError> {
        // Without the token no map can be had: the thumbnail task draws one itself.
        let token = self
            .secrets
            .resolve(&self.config.access_token)
            .await
            .map_err(|e| MapError::Unavailable(e.to_string()))?;
        let url = self.url_for(route, &token);
        (|| self.fetch(&url))
            .retry(BACKOFF)
            .when(|failure| failure.transient)
            .notify(|failure, pause| {
                tracing::warn!(
                    error = %failure.error,
                    retry_in_ms = pause.as_millis() as u64,
                    "Mapbox did not answer with a map; trying again"
                );
            })
            .await
            .map_err(|failure| failure.error)
    }

    fn name(&self) -> &'static str {
        "mapbox"
    }
}
