//! The disc a device may move in before its attachment can change, with a
//! membership test that needs no trigonometry in the usual case.
//!
//! [`ApIndex::attach_with_slack`](crate::ApIndex::attach_with_slack) returns
//! how far a device may move before the answer can change; a caller polling
//! many devices keeps a [`Slack`] per device and asks
//! [`Slack::contains`] at every step. The answer is exactly
//! `anchor.distance_m(pos) < radius_m` (the haversine distance): a cheap
//! upper bound on that distance settles most calls, and the haversine is
//! computed only when the bound cannot.

use crate::position::LatLon;

/// An upper bound on the Earth radius the haversine of
/// [`LatLon::distance_m`] uses (6,371,008.8 m).
const RADIUS_UPPER_M: f64 = 6_371_009.0;

/// A disc of `radius_m` (great circle) around `anchor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slack {
    anchor: LatLon,
    radius_m: f64,
    /// Cosine of the anchor's latitude.
    cos_lat: f64,
}

impl Slack {
    /// The disc of `radius_m` around `anchor`.
    pub fn new(anchor: LatLon, radius_m: f64) -> Self {
        Self {
            anchor,
            radius_m,
            cos_lat: anchor.lat_deg.to_radians().cos().max(0.0),
        }
    }

    /// Its centre.
    pub fn anchor(&self) -> LatLon {
        self.anchor
    }

    /// Its radius in metres.
    pub fn radius_m(&self) -> f64 {
        self.radius_m
    }

    /// Whether `pos` is strictly inside: `anchor.distance_m(pos) < radius_m`,
    /// the same answer bit for bit.
    ///
    /// The haversine is `d = 2R asin(sqrt(a))` with
    /// `a = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2)`. As `|sin x| <= |x|`,
    /// `cos φ2 <= cos φ1 + |Δφ|` and `asin y <= y / sqrt(1 - y²)`,
    /// `d <= R·u·(1 + u²/4)` where `u² = Δφ² + cos φ1 (cos φ1 + |Δφ|) Δλ²`
    /// (for `u² <= 2`). When that bound, with a margin far above rounding
    /// error, is below the radius, `pos` is inside; otherwise the haversine
    /// decides.
    pub fn contains(&self, pos: LatLon) -> bool {
        let d_lat = (pos.lat_deg - self.anchor.lat_deg).to_radians();
        let d_lon = (pos.lon_deg - self.anchor.lon_deg).to_radians();
        let cos_product = self.cos_lat * (self.cos_lat + d_lat.abs()).min(1.0);
        let u2 = d_lat * d_lat + cos_product * d_lon * d_lon;
        if u2 <= 1e-4 {
            let bound_m = RADIUS_UPPER_M * u2.sqrt() * (1.0 + u2 / 4.0);
            if bound_m * (1.0 + 1e-9) + 1e-6 < self.radius_m {
                return true;
            }
        }
        self.anchor.distance_m(pos) < self.radius_m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn pos(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).unwrap()
    }

    #[test]
    fn answers_exactly_like_the_haversine() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut bounded = 0;
        for _ in 0..200_000 {
            let anchor = pos(
                rng.random_range(-89.9..89.9),
                rng.random_range(-179.0..179.0),
            );
            // Moves from centimetres to hundreds of kilometres, any way.
            let scale = 10f64.powf(rng.random_range(-7.0..0.5));
            let other = pos(
                (anchor.lat_deg + rng.random_range(-1.0..1.0) * scale).clamp(-90.0, 90.0),
                (anchor.lon_deg + rng.random_range(-1.0..1.0) * scale).clamp(-180.0, 180.0),
            );
            let d = anchor.distance_m(other);
            // Radii at, just around, and far from the distance.
            for radius_m in [
                d,
                d * (1.0 + 1e-12),
                d * (1.0 - 1e-12),
                d * 1.01,
                d * 0.99,
                0.0,
            ] {
                let slack = Slack::new(anchor, radius_m);
                assert_eq!(
                    slack.contains(other),
                    d < radius_m,
                    "{anchor:?} {other:?} r={radius_m}"
                );
            }
            // How often the bound settles it, for a comfortable radius.
            let slack = Slack::new(anchor, d * 1.01 + 1e-3);
            let (d_lat, d_lon) = (
                (other.lat_deg - anchor.lat_deg).to_radians(),
                (other.lon_deg - anchor.lon_deg).to_radians(),
            );
            if d_lat * d_lat + d_lon * d_lon <= 1e-4 {
                bounded += 1;
                assert!(slack.contains(other));
            }
        }
        assert!(bounded > 100_000, "{bounded}");
    }

    #[test]
    fn near_the_poles_and_across_the_antimeridian_the_haversine_decides() {
        let north = pos(89.999_9, 10.0);
        let across = pos(89.999_9, -170.0);
        let d = north.distance_m(across);
        assert!(!Slack::new(north, d).contains(across));
        assert!(Slack::new(north, d + 0.01).contains(across));
        let east = pos(10.0, 179.999_9);
        let west = pos(10.0, -179.999_9);
        let d = east.distance_m(west);
        assert!(d < 30.0);
        assert!(Slack::new(east, d + 0.01).contains(west));
        assert!(!Slack::new(east, d).contains(west));
    }

    #[test]
    fn a_zero_radius_contains_nothing() {
        let here = pos(52.66, -8.63);
        assert!(!Slack::new(here, 0.0).contains(here));
        assert!(Slack::new(here, 1e-3).contains(here));
    }
}
