//! Map images of a course: the RouteMaps port and its two adapters.
//!
//! [`mapbox::MapboxMaps`] asks Mapbox Static Images for a PNG when a token is configured;
//! [`drawn::DrawnMaps`] draws one itself (no token, no network). Both make the product's
//! image: the route as an orange line, 600x400 at 2x, at most 100 points.

pub mod drawn;
pub mod mapbox;

use std::sync::Arc;

use async_trait::async_trait;
use runcrew_shared::config::Config;
use runcrew_shared::route::Route;
use runcrew_shared::secrets::SecretsManager;

/// The most points of a route on a map image (the product rule, and what keeps a Mapbox
/// URL short).
pub const MAX_MAP_POINTS: usize = 100;
/// Logical width; images are 2x this.
pub const WIDTH: u32 = 600;
/// Logical height; images are 2x this.
pub const HEIGHT: u32 = 400;
/// The route's colour, RGB hex.
pub const ROUTE_COLOR: &str = "ff6a00";

/// Why a map image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The map service is down, slow or throttling; another try may work.
    #[error("map service unavailable: {0}")]
    Unavailable(String),
    /// The map service refused the request (bad token, bad style); retrying will not help.
    #[error("map service refused the request: {0}")]
    Refused(String),
    /// Drawing failed.
    #[error("drawing failed: {0}")]
    Drawing(String),
    /// The map service's client cannot be built: a start-up error, not a retry.
    #[error("cannot set up the map service: {0}")]
    Setup(String),
}

/// Makes the PNG map image of a route.
#[async_trait]
pub trait RouteMaps: Send + Sync {
    /// A PNG of `route` (already simplified to at most [`MAX_MAP_POINTS`]).
    async fn render(&self, route: &Route) -> Result<Vec<u8>, MapError>;
    /// A name for logs.
    fn name(&self) -> &'static str;
}

/// Mapbox when a token is configured (its value read through `secrets`), otherwise our
/// own drawing; an error when the Mapbox client cannot be built.
pub fn from_config(
    config: &Config,
    secrets: Arc<SecretsManager>,
) -> Result<Box<dyn RouteMaps>, MapError> {
    Ok(match &config.maps.mapbox {
        Some(mapbox) => Box::new(mapbox::MapboxMaps::new(mapbox.clone(), secrets)?),
        None => Box::new(drawn::DrawnMaps),
    })
}
