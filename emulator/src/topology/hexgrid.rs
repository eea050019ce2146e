//! Hexagonal site grids in a local metric frame.
//!
//! Positions are expressed as metres east and north of an origin: north from
//! the latitude difference, east from the longitude difference scaled by the
//! cosine of the point's own latitude, so distances along a row of the grid
//! (constant latitude) are exact and those between rows are off by far less
//! than a metre at city scale.

use mcc_mobile_client::position::LatLon;

/// Mean Earth radius in metres (the one haversine distances use).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A local frame around an origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    /// The point at (0, 0).
    pub origin: LatLon,
}

impl LocalFrame {
    /// The position `east_m`, `north_m` from the origin (`None` off the globe).
    pub fn to_latlon(&self, east_m: f64, north_m: f64) -> Option<LatLon> {
        let lat = self.origin.lat_deg + (north_m / EARTH_RADIUS_M).to_degrees();
        let cos = lat.to_radians().cos();
        if cos <= 1e-9 {
            return None;
        }
        let lon = self.origin.lon_deg + (east_m / (EARTH_RADIUS_M * cos)).to_degrees();
        LatLon::new(lat, lon).ok()
    }

    /// Metres east and north of the origin.
    pub fn to_local(&self, p: LatLon) -> (f64, f64) {
        let north = (p.lat_deg - self.origin.lat_deg).to_radians() * EARTH_RADIUS_M;
        let east = (p.lon_deg - self.origin.lon_deg).to_radians()
            * EARTH_RADIUS_M
            * p.lat_deg.to_radians().cos();
        (east, north)
    }
}

/// The points of a hexagonal (triangular-lattice) grid of spacing
/// `spacing_m` anchored at the frame's origin (one point stands on it),
/// within `[west_m, east_m] × [south_m, north_m]`, row by row from south to
/// north, west to east. Rows are `spacing·√3/2` apart; odd rows are shifted
/// east by half a spacing, so every point has six neighbours at `spacing_m`.
pub fn hex_points(
    spacing_m: f64,
    (west_m, east_m): (f64, f64),
    (south_m, north_m): (f64, f64),
) -> Vec<(f64, f64)> {
    let row_m = spacing_m * 3f64.sqrt() / 2.0;
    let first_row = (south_m / row_m).floor() as i64;
    let last_row = (north_m / row_m).ceil() as i64;
    let mut points = Vec::new();
    for row in first_row..=last_row {
        let north = row as f64 * row_m;
        if north < south_m || north > north_m {
            continue;
        }
        let shift = if row.rem_euclid(2) == 1 {
            spacing_m / 2.0
        } else {
            0.0
        };
        let first_col = ((west_m - shift) / spacing_m).floor() as i64;
        let last_col = ((east_m - shift) / spacing_m).ceil() as i64;
        for col in first_col..=last_col {
            let east = col as f64 * spacing_m + shift;
            if east >= west_m && east <= east_m {
                points.push((east, north));
            }
        }
    }
    points
}

/// The radius of the hexagonal cell of a site in a grid of spacing
/// `spacing_m` (its circumradius, `spacing/√3`): every point of the plane is
/// within this distance of some site.
pub fn cell_radius_m(spacing_m: f64) -> f64 {
    spacing_m / 3f64.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_are_one_spacing_apart_and_the_origin_is_a_site() {
        let pts = hex_points(500.0, (-2_000.0, 2_000.0), (-2_000.0, 2_000.0));
        assert!(pts.contains(&(0.0, 0.0)));
        for &(x, y) in &pts {
            let nearest = pts
                .iter()
                .filter(|&&p| p != (x, y))
                .map(|&(a, b)| ((a - x).powi(2) + (b - y).powi(2)).sqrt())
                .fold(f64::INFINITY, f64::min);
            assert!((nearest - 500.0).abs() < 1e-6, "{nearest}");
        }
        // One site per hexagon of area √3/2·d²: 16 km² / 0.2165 km² ≈ 74.
        let expected = 16e6 / (3f64.sqrt() / 2.0 * 500.0 * 500.0);
        assert!(
            (pts.len() as f64 - expected).abs() / expected < 0.15,
            "{}",
            pts.len()
        );
    }

    #[test]
    fn the_frame_round_trips_at_city_scale() {
        let frame = LocalFrame {
            origin: LatLon::new(53.3498, -6.2603).unwrap(),
        };
        let p = frame.to_latlon(12_345.0, -23_456.0).unwrap();
        let (e, n) = frame.to_local(p);
        assert!((e - 12_345.0).abs() < 1e-6 && (n + 23_456.0).abs() < 1e-6);
        let q = frame.to_latlon(12_845.0, -23_456.0).unwrap();
        assert!((p.distance_m(q) - 500.0).abs() < 0.5, "{}", p.distance_m(q));
    }
}
