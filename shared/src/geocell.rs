//! "Near a point" as index queries: geohash cells.
//!
//! A place is indexed under partition `GEO#<3-character geohash>` with its 9-character
//! geohash as the start of the sort key. A search picks the finest precision (3 to 6)
//! whose cells are at least as wide and tall as the radius at that latitude; the circle
//! then lies inside the centre cell and its 8 neighbours. Neighbours the circle does not
//! reach are dropped (a search near the middle of its cell reads that cell alone), and each
//! cell left is one Query (a partition, or a sort-key prefix inside one). An exact
//! haversine filter follows.

use crate::route::LatLng;
use crate::store::{Index, MAX_PAGE, Query, SortRange};

/// Characters of the geohash in the index partition key.
pub const PARTITION_PRECISION: usize = 3;
/// Characters of the geohash stored in the sort key.
pub const STORED_PRECISION: usize = 9;
/// The finest precision a search uses.
const FINEST_SEARCH_PRECISION: usize = 6;
/// Mean Earth radius in metres, as `geo`'s haversine uses.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// One index read of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchCell {
    /// The 3-character geohash of the partition.
    pub partition: String,
    /// The sort-key prefix inside it, when the cell is finer than the partition.
    pub prefix: Option<String>,
}

/// Why a radius cannot be searched from one cell and its neighbours.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("at this latitude a search reaches at most {max_km:.0} km")]
pub struct RadiusTooLarge {
    /// The largest radius that works here, in kilometres.
    pub max_km: f64,
}

/// The stored geohash of a point (9 characters, about 5 m).
pub fn encode(point: LatLng) -> String {
    geohash::encode(
        geo_types::Coord {
            x: point.lng,
            y: point.lat,
        },
        STORED_PRECISION,
    )
    .unwrap_or_default()
}

/// The index partition of a stored geohash.
pub fn partition_of(hash: &str) -> &str {
    &hash[..PARTITION_PRECISION.min(hash.len())]
}

/// Width and height of a cell of `precision` in degrees (longitude, latitude).
fn cell_degrees(precision: usize) -> (f64, f64) {
    let bits = 5 * precision as i32;
    let lng_bits = (bits + 1) / 2;
    let lat_bits = bits / 2;
    (360.0 / 2f64.powi(lng_bits), 180.0 / 2f64.powi(lat_bits))
}

/// The smallest side in metres of a cell of `precision` anywhere within `radius_m` of
/// `center` (cells narrow towards the poles).
fn smallest_side_m(precision: usize, center: LatLng, radius_m: f64) -> f64 {
    let (w, h) = cell_degrees(precision);
    let reach_deg = (radius_m / EARTH_RADIUS_M).to_degrees();
    let worst_lat = (center.lat.abs() + reach_deg).min(90.0);
    let height = EARTH_RADIUS_M * h.to_radians();
    let width = EARTH_RADIUS_M * worst_lat.to_radians().cos() * w.to_radians();
    height.min(width)
}

/// Whether the circle of `radius_m` around `center` may reach into `cell`: the distance to
/// the cell's nearest point is at most the radius. The nearest point is taken as the centre
/// clamped into the cell's box, which on a sphere can overstate the distance by well under a
/// metre at these cell sizes; the slack covers that, so a cell is never wrongly dropped.
fn reaches(center: LatLng, radius_m: f64, cell: &str) -> bool {
    const SLACK_M: f64 = 10.0;
    let Ok(bbox) = geohash::decode_bbox(cell) else {
        return true;
    };
    let (min, max) = (bbox.min(), bbox.max());
    // Across the antimeridian, compare with the centre's longitude on the cell's side.
    let mid_lng = (min.x + max.x) / 2.0;
    let mut lng = center.lng;
    if lng - mid_lng > 180.0 {
        lng -= 360.0;
    } else if mid_lng - lng > 180.0 {
        lng += 360.0;
    }
    let nearest = LatLng {
        lat: center.lat.clamp(min.y, max.y),
        lng: lng.clamp(min.x, max.x),
    };
    crate::route::distance_between(center, nearest) <= radius_m + SLACK_M
}

/// The queries of `index` (one per cell the circle reaches, at most 9) that find every
/// place within `radius_m` of `center` stored under `partition(<3-character geohash>)`, and
/// some beyond it for the exact filter to drop; each reads pages of [`MAX_PAGE`] items.
pub fn index_queries(
    center: LatLng,
    radius_m: f64,
    index: Index,
    partition: impl Fn(&str) -> String,
) -> Result<Vec<Query>, RadiusTooLarge> {
    Ok(search_cells(center, radius_m)?
        .into_iter()
        .map(|cell| {
            Query::index(index, partition(&cell.partition))
                .limit(MAX_PAGE)
                .range(match cell.prefix {
                    Some(prefix) => SortRange::BeginsWith(prefix),
                    None => SortRange::All,
                })
        })
        .collect())
}

/// The cells to read for every place within `radius_m` of `center`.
pub fn search_cells(center: LatLng, radius_m: f64) -> Result<Vec<SearchCell>, RadiusTooLarge> {
    let precision = (PARTITION_PRECISION..=FINEST_SEARCH_PRECISION)
        .rev()
        .find(|&p| smallest_side_m(p, center, radius_m) >= radius_m)
        .ok_or_else(|| RadiusTooLarge {
            max_km: smallest_side_m(PARTITION_PRECISION, center, 0.0) / 1000.0,
        })?;
    let here = geohash::encode(
        geo_types::Coord {
            x: center.lng,
            y: center.lat,
        },
        precision,
    )
    .map_err(|_| RadiusTooLarge { max_km: 0.0 })?;
    let mut cells = vec![here.clone()];
    if let Ok(n) = geohash::neighbors(&here) {
        let reached = [n.n, n.ne, n.e, n.se, n.s, n.sw, n.w, n.nw]
            .into_iter()
            .filter(|cell| reaches(center, radius_m, cell));
        cells.extend(reached);
    }
    cells.sort();
    cells.dedup();
    Ok(cells
        .into_iter()
        .map(|cell| SearchCell {
            partition: cell[..PARTITION_PRECISION].to_owned(),
            prefix: (cell.len() > PARTITION_PRECISION).then_some(cell),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::distance_between;

    const SEOUL: LatLng = LatLng {
        lat: 37.5665,
        lng: 126.978,
    };

    #[test]
    fn small_radii_use_fine_cells_and_large_ones_coarse_cells() {
        let fine = search_cells(SEOUL, 500.0).expect("cells");
        assert!(!fine.is_empty());
        assert!(
            fine.iter()
                .all(|c| c.prefix.as_deref().map(str::len) == Some(6))
        );
        let coarse = search_cells(SEOUL, 50_000.0).expect("cells");
        assert!(coarse.iter().all(|c| c.prefix.is_none()));
    }

    /// Centres that matter: a city, a cell's corner, both sides of the antimeridian, the
    /// southern hemisphere, the equator on the prime meridian.
    const CENTRES: [LatLng; 6] = [
        SEOUL,
        LatLng {
            lat: 37.529_296_875,
            lng: 126.914_062_5,
        },
        LatLng {
            lat: -16.5,
            lng: 179.995,
        },
        LatLng {
            lat: -16.5,
            lng: -179.995,
        },
        LatLng {
            lat: -33.86,
            lng: 151.21,
        },
        LatLng { lat: 0.0, lng: 0.0 },
    ];

    #[test]
    fn every_point_inside_the_radius_falls_in_a_searched_cell() {
        for centre in CENTRES {
            for radius in [300.0, 2_000.0, 10_000.0, 25_000.0, 50_000.0] {
                let cells = search_cells(centre, radius).expect("cells");
                for step in 0..720 {
                    use geo::Destination;
                    for reach in [0.5, 0.9, 0.999] {
                        let edge = geo::Haversine.destination(
                            geo_types::Point::new(centre.lng, centre.lat),
                            step as f64 / 2.0,
                            radius * reach,
                        );
                        let point = LatLng {
                            lat: edge.y(),
                            lng: edge.x(),
                        };
                        assert!(distance_between(centre, point) <= radius);
                        let hash = encode(point);
                        let found = cells.iter().any(|c| {
                            partition_of(&hash) == c.partition
                                && c.prefix.as_deref().is_none_or(|p| hash.starts_with(p))
                        });
                        assert!(
                            found,
                            "centre {centre:?} radius {radius} bearing {step}/2: {hash} not searched"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn neighbours_the_circle_does_not_reach_are_not_read() {
        // The middle of a 6-character cell (about 1.2 km x 0.6 km here): 200 m stays inside.
        let middle = geohash::decode("wydm9q").expect("decodes").0;
        let middle = LatLng {
            lat: middle.y,
            lng: middle.x,
        };
        assert_eq!(search_cells(middle, 200.0).expect("cells").len(), 1);
        // A cell's corner: the circle reaches the three cells that meet there, not the rest.
        assert_eq!(search_cells(CENTRES[1], 200.0).expect("cells").len(), 4);
    }

    #[test]
    fn near_the_pole_a_large_radius_is_refused_with_the_limit() {
        let svalbard = LatLng {
            lat: 78.2,
            lng: 15.6,
        };
        let err = search_cells(svalbard, 50_000.0).expect_err("too wide");
        assert!(err.max_km > 20.0 && err.max_km < 50.0, "{}", err.max_km);
    }
}
