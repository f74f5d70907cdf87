//! Routes drawn on a map: read from a request (a GeoJSON LineString or an encoded
//! polyline), measured, and shrunk for previews and map images.
//!
//! Coordinates follow GeoJSON and geo-types: `x` is the longitude, `y` the latitude.
//! Distances are haversine metres on the mean Earth radius (georust `geo`).

use geo::{Haversine, Length, Simplify};
use geo_types::{Coord, LineString};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::ApiError;

/// The fewest positions a route has.
pub const MIN_POINTS: usize = 2;
/// The most positions a route may have.
pub const MAX_POINTS: usize = 10_000;
/// Google's encoded polyline precision (five decimals, about a metre).
pub const POLYLINE_PRECISION: u32 = 5;

/// A point as the API shows it: latitude first, unlike GeoJSON and [`Route::coords`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct LatLng {
    /// Degrees north.
    pub lat: f64,
    /// Degrees east.
    pub lng: f64,
}

/// The smallest box holding a route, in degrees. Not wrapped at the antimeridian: a route
/// across it gets a box spanning nearly every longitude.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct BoundingBox {
    /// Southern edge.
    pub min_lat: f64,
    /// Western edge.
    pub min_lng: f64,
    /// Northern edge.
    pub max_lat: f64,
    /// Eastern edge.
    pub max_lng: f64,
}

/// A checked route: 2 to [`MAX_POINTS`] finite positions inside the coordinate ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    line: LineString<f64>,
}

/// Why a stored route file could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RouteError {
    /// The field at fault, as the API names it.
    pub field: String,
    /// What is wrong, for a person: the message of the 422 it becomes.
    pub message: String,
}

impl From<RouteError> for ApiError {
    fn from(err: RouteError) -> Self {
        ApiError::invalid(err.field, err.message)
    }
}

fn fail(field: impl Into<String>, message: impl Into<String>) -> RouteError {
    RouteError {
        field: field.into(),
        message: message.into(),
    }
}

/// Decimal places kept of a coordinate: 1e-7 degrees is about 1 cm, finer than any GPS.
pub const COORDINATE_DECIMALS: i32 = 7;

/// A coordinate to [`COORDINATE_DECIMALS`] places, so a route means the same in every store:
/// a latitude of 1e-300 is 0 (which DynamoDB could not even hold), not a number underflow.
pub fn round_coordinate(value: f64) -> f64 {
    let scale = 10f64.powi(COORDINATE_DECIMALS);
    let rounded = (value * scale).round() / scale;
    // -0.0 reads as 0 to a person; keep it so in the stored JSON too.
    if rounded == 0.0 { 0.0 } else { rounded }
}

fn coordinate(value: &Value, field: String, limit: f64) -> Result<f64, RouteError> {
    let number = match value {
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    match number.map(round_coordinate) {
        Some(v) if v.is_finite() && (-limit..=limit).contains(&v) => Ok(v),
        Some(v) if v.is_finite() => {
            Err(fail(field, format!("must be between -{limit} and {limit}")))
        }
        _ => Err(fail(field, "must be a finite number")),
    }
}

impl Route {
    /// Reads `value`, the request field named `field`: a GeoJSON LineString object or an
    /// encoded polyline string. Every problem names the exact position at fault, e.g.
    /// `route.coordinates[3][1]` for a latitude out of range.
    pub fn from_json(value: &Value, field: &str) -> Result<Route, RouteError> {
        match value {
            Value::String(encoded) => Self::from_polyline(encoded, field),
            Value::Object(object) => {
                let kind = object.get("type").and_then(Value::as_str);
                if kind != Some("LineString") {
                    return Err(fail(
                        format!("{field}.type"),
                        "must be \"LineString\" (a route is one line)",
                    ));
                }
                let Some(Value::Array(positions)) = object.get("coordinates") else {
                    return Err(fail(
                        format!("{field}.coordinates"),
                        "must be an array of [longitude, latitude] positions",
                    ));
                };
                Self::check_count(positions.len(), &format!("{field}.coordinates"))?;
                let mut coords = Vec::with_capacity(positions.len());
                for (i, position) in positions.iter().enumerate() {
                    let at = format!("{field}.coordinates[{i}]");
                    let parts = position
                        .as_array()
                        .filter(|p| (2..=3).contains(&p.len()))
                        .ok_or_else(|| {
                            fail(
                                &at,
                                "must be [longitude, latitude] or [longitude, latitude, altitude]",
                            )
                        })?;
                    let x = coordinate(&parts[0], format!("{at}[0]"), 180.0)?;
                    let y = coordinate(&parts[1], format!("{at}[1]"), 90.0)?;
                    coords.push(Coord { x, y });
                }
                Ok(Route {
                    line: LineString::new(coords),
                })
            }
            _ => Err(fail(
                field,
                "must be a GeoJSON LineString or an encoded polyline (precision 5)",
            )),
        }
    }

    fn from_polyline(encoded: &str, field: &str) -> Result<Route, RouteError> {
        // A position takes at least two characters; refuse a huge string before decoding.
        if encoded.len() > MAX_POINTS * 24 {
            return Err(fail(field, format!("has more than {MAX_POINTS} positions")));
        }
        let line = polyline::decode_polyline(encoded, POLYLINE_PRECISION)
            .map_err(|_| fail(field, "is not a valid encoded polyline (precision 5)"))?;
        Self::check_count(line.0.len(), field)?;
        for (i, c) in line.0.iter().enumerate() {
            if !(c.x.is_finite() && c.y.is_finite() && c.x.abs() <= 180.0 && c.y.abs() <= 90.0) {
                return Err(fail(
                    field,
                    format!("position {i} is outside longitude -180..180 or latitude -90..90"),
                ));
            }
        }
        Ok(Route { line })
    }

    fn check_count(count: usize, field: &str) -> Result<(), RouteError> {
        if count < MIN_POINTS {
            return Err(fail(
                field,
                format!("needs at least {MIN_POINTS} positions, got {count}"),
            ));
        }
        if count > MAX_POINTS {
            return Err(fail(
                field,
                format!("may have at most {MAX_POINTS} positions, got {count}"),
            ));
        }
        Ok(())
    }

    /// Reads a route file we stored (a GeoJSON LineString), with the same checks.
    pub fn from_geojson_bytes(bytes: &[u8]) -> Result<Route, RouteError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| fail("route", format!("not JSON: {e}")))?;
        Self::from_json(&value, "route")
    }

    /// How many positions: 2 to [`MAX_POINTS`].
    pub fn len(&self) -> usize {
        self.line.0.len()
    }

    /// Never true: a route has at least two positions.
    pub fn is_empty(&self) -> bool {
        self.line.0.is_empty()
    }

    /// The positions, longitude first.
    pub fn coords(&self) -> &[Coord<f64>] {
        &self.line.0
    }

    /// Length along the route in metres (haversine).
    pub fn distance_m(&self) -> f64 {
        Haversine.length(&self.line)
    }

    /// The first position; a course is found by "near a point" searches through its
    /// geohash.
    pub fn start(&self) -> LatLng {
        let c = self.line.0[0];
        LatLng { lat: c.y, lng: c.x }
    }

    /// The last position, latitude first like every [`LatLng`].
    pub fn finish(&self) -> LatLng {
        let c = self.line.0[self.line.0.len() - 1];
        LatLng { lat: c.y, lng: c.x }
    }

    /// The smallest box around every position (see [`BoundingBox`] at the antimeridian).
    pub fn bbox(&self) -> BoundingBox {
        let mut b = BoundingBox {
            min_lat: f64::INFINITY,
            min_lng: f64::INFINITY,
            max_lat: f64::NEG_INFINITY,
            max_lng: f64::NEG_INFINITY,
        };
        for c in &self.line.0 {
            b.min_lat = b.min_lat.min(c.y);
            b.max_lat = b.max_lat.max(c.y);
            b.min_lng = b.min_lng.min(c.x);
            b.max_lng = b.max_lng.max(c.x);
        }
        b
    }

    /// The route with at most `max_points` positions (at least 2), by Douglas–Peucker with
    /// a tolerance found by bisection, so the shape keeps as much detail as the budget
    /// allows. The search stops once the result uses at least 90% of the budget: the last
    /// few points are not worth the extra passes over a 10,000-position route. Start and
    /// finish always stay.
    pub fn simplified(&self, max_points: usize) -> Route {
        let max_points = max_points.max(MIN_POINTS);
        if self.len() <= max_points {
            return self.clone();
        }
        let good_enough = max_points - max_points / 10;
        let b = self.bbox();
        // Tolerances in degrees, bisected on a log scale: from the whole box down to about
        // a millimetre, which any real route's budget lies between.
        let (mut fits, mut too_fine) = (
            (b.max_lat - b.min_lat)
                .hypot(b.max_lng - b.min_lng)
                .max(1e-8),
            1e-8_f64,
        );
        let mut best = None;
        for _ in 0..48 {
            let mid = (fits * too_fine).sqrt();
            let line = self.line.simplify(mid);
            if line.0.len() <= max_points {
                fits = mid;
                let enough = line.0.len() >= good_enough;
                best = Some(line);
                if enough {
                    break;
                }
            } else {
                too_fine = mid;
            }
        }
        let line = best.unwrap_or_else(|| self.line.simplify(fits));
        if line.0.len() <= max_points {
            Route { line }
        } else {
            // Only for degenerate input (many identical points): keep start and finish.
            Route {
                line: LineString::new(vec![self.line.0[0], self.line.0[self.len() - 1]]),
            }
        }
    }

    /// The encoded polyline (precision 5) of the route.
    pub fn to_polyline(&self) -> String {
        // Encoding fails only for coordinates out of range, which a Route never has.
        polyline::encode_coordinates(self.line.0.iter().copied(), POLYLINE_PRECISION)
            .unwrap_or_default()
    }

    /// The route as a GeoJSON LineString.
    pub fn to_geojson(&self) -> Value {
        let coordinates: Vec<[f64; 2]> = self.line.0.iter().map(|c| [c.x, c.y]).collect();
        json!({"type": "LineString", "coordinates": coordinates})
    }
}

/// Haversine metres between two points.
pub fn distance_between(a: LatLng, b: LatLng) -> f64 {
    use geo::Distance;
    Haversine.distance(
        geo_types::Point::new(a.lng, a.lat),
        geo_types::Point::new(b.lng, b.lat),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(coords: Value) -> Result<Route, RouteError> {
        Route::from_json(
            &json!({"type": "LineString", "coordinates": coords}),
            "route",
        )
    }

    #[test]
    fn coordinates_keep_seven_decimals_and_tiny_ones_become_zero() {
        // given a route with a latitude of 1e-300 (DynamoDB's numbers stop at 1e-130) and
        // a longitude with more decimals than any GPS measures
        let parsed = route(json!([[126.978_000_012_345, 1e-300], [126.98, -1e-200]]))
            .expect("a valid route");
        // then both read as what they mean: the equator, and 1 cm steps
        assert_eq!(parsed.coords()[0].x, 126.978);
        assert_eq!(parsed.coords()[0].y, 0.0);
        assert!(
            parsed.coords()[1].y.is_sign_positive(),
            "no -0 in stored JSON"
        );
    }

    #[test]
    fn the_reference_polyline_encodes_and_decodes() {
        // The published example vector (latitude first in the encoding).
        let r = route(json!([[-120.2, 38.5], [-120.95, 40.7], [-126.453, 43.252]])).expect("valid");
        assert_eq!(r.to_polyline(), "_p~iF~ps|U_ulLnnqC_mqNvxq`@");
        let back =
            Route::from_json(&json!("_p~iF~ps|U_ulLnnqC_mqNvxq`@"), "route").expect("decodes");
        assert_eq!(
            back.start(),
            LatLng {
                lat: 38.5,
                lng: -120.2
            }
        );
        assert_eq!(back.len(), 3);
    }

    #[test]
    fn a_degree_of_latitude_is_about_111_km() {
        let r = route(json!([[127.0, 37.0], [127.0, 38.0]])).expect("valid");
        assert!(
            (r.distance_m() - 111_195.0).abs() < 50.0,
            "{}",
            r.distance_m()
        );
    }

    #[test]
    fn bad_positions_are_named_exactly() {
        let cases = [
            (json!([[127.0, 37.0]]), "route.coordinates"),
            (
                json!([[127.0, 37.0], [127.0, 91.0]]),
                "route.coordinates[1][1]",
            ),
            (
                json!([[127.0, 37.0], [181.0, 37.0]]),
                "route.coordinates[1][0]",
            ),
            (
                json!([[127.0, 37.0], [null, 37.0]]),
                "route.coordinates[1][0]",
            ),
            (
                json!([[127.0, 37.0], ["NaN", 37.0]]),
                "route.coordinates[1][0]",
            ),
            (json!([[127.0, 37.0], [127.0]]), "route.coordinates[1]"),
        ];
        for (coords, field) in cases {
            let err = route(coords.clone()).expect_err("refused");
            assert_eq!(err.field, field, "{coords}");
        }
        let point = Route::from_json(&json!({"type": "Point", "coordinates": [1, 2]}), "route");
        assert_eq!(point.expect_err("refused").field, "route.type");
    }

    #[test]
    fn simplification_fits_the_budget_and_keeps_the_ends() {
        let coords: Vec<[f64; 2]> = (0..5000)
            .map(|i| {
                let t = i as f64 / 100.0;
                [127.0 + t * 0.001, 37.5 + (t.sin() * 0.002)]
            })
            .collect();
        let r = route(json!(coords)).expect("valid");
        let small = r.simplified(100);
        assert!((90..=100).contains(&small.len()), "{}", small.len());
        assert_eq!(small.start(), r.start());
        assert_eq!(small.finish(), r.finish());
    }
}
