//! Positions on the Earth and the great-circle arithmetic every crate shares.

use geo::{Bearing, Destination, Distance, Haversine, Point};
use serde::{Deserialize, Serialize};

use crate::leg::Leg;

/// A WGS 84 position in degrees.
///
/// Construct it with [`LatLon::new`], which rejects coordinates off the globe,
/// so that every `LatLon` in the program is a valid one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLon {
    /// Latitude in degrees, in [-90, 90].
    pub lat_deg: f64,
    /// Longitude in degrees, in [-180, 180].
    pub lon_deg: f64,
}

/// Why a pair of numbers is not a position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidCoordinate {
    /// Latitude outside [-90, 90] or not a finite number.
    #[error("latitude {0} is outside [-90, 90]")]
    Latitude(f64),
    /// Longitude outside [-180, 180] or not a finite number.
    #[error("longitude {0} is outside [-180, 180]")]
    Longitude(f64),
}

impl LatLon {
    /// A position, if `lat_deg` is in [-90, 90] and `lon_deg` in [-180, 180].
    pub fn new(lat_deg: f64, lon_deg: f64) -> Result<Self, InvalidCoordinate> {
        if !(-90.0..=90.0).contains(&lat_deg) {
            return Err(InvalidCoordinate::Latitude(lat_deg));
        }
        if !(-180.0..=180.0).contains(&lon_deg) {
            return Err(InvalidCoordinate::Longitude(lon_deg));
        }
        Ok(Self { lat_deg, lon_deg })
    }

    /// Great-circle (haversine) distance in metres.
    pub fn distance_m(self, other: LatLon) -> f64 {
        Haversine.distance(self.to_point(), other.to_point())
    }

    /// The point a `fraction` (0 to 1) of the way from `self` to `other` along
    /// the great circle (for segments of a few tens of metres, linearly in
    /// degrees, which is the same point to well under a millimetre). For many
    /// points between the same two positions, build a [`Leg`] once.
    pub fn towards(self, other: LatLon, fraction: f64) -> LatLon {
        if fraction <= 0.0 || self == other {
            return self;
        }
        if fraction >= 1.0 {
            return other;
        }
        Leg::new(self, other).at(fraction)
    }

    /// Initial great-circle bearing from `self` to `other` in degrees, clockwise
    /// from north, in [0, 360).
    pub fn bearing_deg(self, other: LatLon) -> f64 {
        Haversine.bearing(self.to_point(), other.to_point())
    }

    /// The point `distance_m` metres from `self` along the great circle that
    /// leaves at `bearing_deg` (clockwise from north). The longitude is wrapped
    /// into [-180, 180] so the result is always a valid position.
    pub fn destination(self, bearing_deg: f64, distance_m: f64) -> LatLon {
        let p = Haversine.destination(self.to_point(), bearing_deg, distance_m);
        let mut lon_deg = (p.x() + 180.0).rem_euclid(360.0) - 180.0;
        if !lon_deg.is_finite() {
            lon_deg = self.lon_deg;
        }
        LatLon {
            lat_deg: p.y().clamp(-90.0, 90.0),
            lon_deg,
        }
    }

    /// As a `geo` point (x = longitude, y = latitude).
    pub fn to_point(self) -> Point<f64> {
        Point::new(self.lon_deg, self.lat_deg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_positions_off_the_globe() {
        assert_eq!(
            LatLon::new(123.0, 0.0),
            Err(InvalidCoordinate::Latitude(123.0))
        );
        assert!(matches!(
            LatLon::new(0.0, f64::NAN),
            Err(InvalidCoordinate::Longitude(_))
        ));
        assert!(LatLon::new(-90.0, 180.0).is_ok());
    }

    #[test]
    fn distance_matches_a_known_pair() {
        // Dublin to Limerick, about 160 km as the crow flies.
        let dublin = LatLon::new(53.3498, -6.2603).unwrap();
        let limerick = LatLon::new(52.6638, -8.6267).unwrap();
        let d = dublin.distance_m(limerick);
        assert!((165_000.0..180_000.0).contains(&d), "{d}");
    }

    #[test]
    fn destination_inverts_bearing_and_distance() {
        let a = LatLon::new(52.66, -8.63).unwrap();
        let b = LatLon::new(52.68, -8.55).unwrap();
        let c = a.destination(a.bearing_deg(b), a.distance_m(b));
        assert!(c.distance_m(b) < 0.01, "{c:?}");
        let east = LatLon::new(0.0, 179.9).unwrap().destination(90.0, 50_000.0);
        assert!((-180.0..=-179.0).contains(&east.lon_deg), "{east:?}");
    }

    #[test]
    fn towards_halfway_is_equidistant() {
        let a = LatLon::new(52.0, -8.0).unwrap();
        let b = LatLon::new(53.0, -6.0).unwrap();
        let m = a.towards(b, 0.5);
        assert!((a.distance_m(m) - b.distance_m(m)).abs() < 1e-3);
    }
}
