//! The way from one position to the next, prepared once for many points
//! along it.
//!
//! [`LatLon::towards`] answers one question about a pair of positions; a
//! device sampled every second on a trace whose fixes are minutes apart asks
//! the same pair hundreds of times. A [`Leg`] decides once whether the pair
//! is short enough to interpolate in degrees and, when it is not, does the
//! trigonometry of the two ends once ([`GreatCircleArc`]), so each point
//! along it costs only the work that depends on the fraction.
//!
//! The arithmetic is `geo`'s haversine interpolation
//! (`Haversine.point_at_ratio_between`) split in two: the same operations in
//! the same order, so the points are the same bit for bit (a test holds it
//! to `geo`).

use crate::position::LatLon;

/// Segments shorter than this in both latitude and longitude (about 30 m)
/// are interpolated linearly in degrees.
const SHORT_SEGMENT_DEG: f64 = 0.000_3;

/// A great-circle arc between two positions, with everything that does not
/// depend on the fraction computed (unit vectors of the ends and the angle
/// between them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GreatCircleArc {
    /// Angle between the ends, radians.
    angle_rad: f64,
    /// Its sine.
    sin_angle: f64,
    /// The start's unit vector (x, y, z).
    start: [f64; 3],
    /// The end's unit vector.
    end: [f64; 3],
}

impl GreatCircleArc {
    /// The arc from `start` to `end`.
    pub fn new(start: LatLon, end: LatLon) -> Self {
        let lat1 = start.lat_deg.to_radians();
        let lon1 = start.lon_deg.to_radians();
        let lat2 = end.lat_deg.to_radians();
        let lon2 = end.lon_deg.to_radians();
        let (lat1_sin, lat1_cos) = lat1.sin_cos();
        let (lat2_sin, lat2_cos) = lat2.sin_cos();
        let (lon1_sin, lon1_cos) = lon1.sin_cos();
        let (lon2_sin, lon2_cos) = lon2.sin_cos();
        let m = lat1_cos * lat2_cos;
        let k =
            (((lat1 - lat2) / 2.0).sin().powi(2) + m * ((lon1 - lon2) / 2.0).sin().powi(2)).sqrt();
        let angle_rad = 2.0 * k.asin();
        Self {
            angle_rad,
            sin_angle: angle_rad.sin(),
            start: [lat1_cos * lon1_cos, lat1_cos * lon1_sin, lat1_sin],
            end: [lat2_cos * lon2_cos, lat2_cos * lon2_sin, lat2_sin],
        }
    }

    /// The point `fraction` of the way along the arc (0 the start, 1 the end).
    pub fn at(&self, fraction: f64) -> LatLon {
        let a = ((1.0 - fraction) * self.angle_rad).sin() / self.sin_angle;
        let b = (fraction * self.angle_rad).sin() / self.sin_angle;
        let x = a * self.start[0] + b * self.end[0];
        let y = a * self.start[1] + b * self.end[1];
        let z = a * self.start[2] + b * self.end[2];
        let lat = z.atan2(x.hypot(y));
        let lon = y.atan2(x);
        LatLon {
            lat_deg: lat.to_degrees(),
            lon_deg: lon.to_degrees(),
        }
    }
}

/// How points between the two ends of a leg are found.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// Both ends are the same position.
    Point,
    /// A few tens of metres at most: linearly in degrees (off the great
    /// circle by well under a millimetre, and no trigonometry).
    Short { d_lat_deg: f64, d_lon_deg: f64 },
    /// Along the great circle.
    Arc(GreatCircleArc),
}

/// The way from one position to another, ready to give points along it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leg {
    from: LatLon,
    to: LatLon,
    shape: Shape,
}

impl Leg {
    /// The leg from `from` to `to`.
    pub fn new(from: LatLon, to: LatLon) -> Self {
        let d_lat_deg = to.lat_deg - from.lat_deg;
        let d_lon_deg = to.lon_deg - from.lon_deg;
        let shape = if from == to {
            Shape::Point
        } else if d_lat_deg.abs() < SHORT_SEGMENT_DEG && d_lon_deg.abs() < SHORT_SEGMENT_DEG {
            Shape::Short {
                d_lat_deg,
                d_lon_deg,
            }
        } else {
            Shape::Arc(GreatCircleArc::new(from, to))
        };
        Self { from, to, shape }
    }

    /// The point a `fraction` of the way from the start to the end: the start
    /// for fractions up to 0 (and all along a leg whose ends are the same
    /// position), the end from 1 on.
    pub fn at(&self, fraction: f64) -> LatLon {
        if fraction <= 0.0 || self.shape == Shape::Point {
            return self.from;
        }
        if fraction >= 1.0 {
            return self.to;
        }
        match self.shape {
            Shape::Point => self.from,
            Shape::Short {
                d_lat_deg,
                d_lon_deg,
            } => LatLon {
                lat_deg: self.from.lat_deg + d_lat_deg * fraction,
                lon_deg: self.from.lon_deg + d_lon_deg * fraction,
            },
            Shape::Arc(arc) => arc.at(fraction),
        }
    }
}

#[cfg(test)]
mod tests {
    use geo::{Haversine, InterpolatePoint};
    use proptest::prelude::*;

    use super::*;

    fn latlon() -> impl Strategy<Value = LatLon> {
        (-89.0..89.0f64, -179.0..179.0f64).prop_map(|(lat, lon)| LatLon::new(lat, lon).unwrap())
    }

    proptest! {
        /// The split computation gives geo's point bit for bit, for legs from
        /// a few metres to across the globe.
        #[test]
        fn arc_is_geo_bit_for_bit(
            from in latlon(),
            offset in (-0.01..0.01f64, -0.01..0.01f64),
            far in latlon(),
            near in any::<bool>(),
            fraction in 0.0001..0.9999f64,
        ) {
            let to = if near {
                LatLon::new(
                    (from.lat_deg + offset.0).clamp(-90.0, 90.0),
                    (from.lon_deg + offset.1).clamp(-180.0, 180.0),
                )
                .unwrap()
            } else {
                far
            };
            prop_assume!(from != to);
            let ours = GreatCircleArc::new(from, to).at(fraction);
            let geo = Haversine.point_at_ratio_between(from.to_point(), to.to_point(), fraction);
            prop_assert_eq!(ours.lat_deg.to_bits(), geo.y().to_bits());
            prop_assert_eq!(ours.lon_deg.to_bits(), geo.x().to_bits());
        }
    }

    #[test]
    fn ends_same_point_and_short_legs() {
        let a = LatLon::new(52.66, -8.63).unwrap();
        let b = LatLon::new(52.6601, -8.6302).unwrap();
        let far = LatLon::new(53.35, -6.26).unwrap();
        for to in [b, far] {
            let leg = Leg::new(a, to);
            assert_eq!(leg.at(-1.0), a);
            assert_eq!(leg.at(0.0), a);
            assert_eq!(leg.at(1.0), to);
            assert_eq!(leg.at(7.0), to);
        }
        assert_eq!(Leg::new(a, a).at(0.5), a);
        let mid = Leg::new(a, b).at(0.5);
        assert!((mid.lat_deg - 52.660_05).abs() < 1e-12, "{mid:?}");
        assert!((mid.lon_deg + 8.6301).abs() < 1e-12, "{mid:?}");
        // The long leg's midpoint is halfway along the great circle.
        let m = Leg::new(a, far).at(0.5);
        assert!((a.distance_m(m) - far.distance_m(m)).abs() < 1e-3);
    }
}
