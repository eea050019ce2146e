//! The random-waypoint mobility model, seeded: pick a point, pause, walk to
//! another point at a random speed, pause, and so on.
//!
//! The trace starts at a random point at `t_s = 0`; each leg draws a pause
//! (uniform in the pause range) and then a destination (uniform in the area)
//! and a speed (uniform in the speed range); the device moves along the great
//! circle. The trace ends exactly at `duration_s` (mid-leg if need be). Points
//! are recorded at the ends of pauses and legs only; interpolation gives the
//! positions in between. A bounding box draws latitude and longitude
//! uniformly (fine for city-sized boxes); a circle draws uniformly by area.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::position::LatLon;
use crate::trace::{Trace, TracePoint};

/// Where waypoints are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WaypointArea {
    /// A latitude/longitude box (not across the antimeridian).
    BBox {
        /// South-west corner.
        south_west: LatLon,
        /// North-east corner.
        north_east: LatLon,
    },
    /// A disc around a centre.
    Circle {
        /// Centre of the disc.
        centre: LatLon,
        /// Radius in metres.
        radius_m: f64,
    },
}

/// A random-waypoint model; [`RandomWaypoint::generate`] turns it into a trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomWaypoint {
    /// Where waypoints are drawn.
    pub area: WaypointArea,
    /// Speed range in m/s, `[min, max]`, min > 0.
    pub speed_mps: [f64; 2],
    /// Pause range in seconds, `[min, max]`, min >= 0.
    pub pause_s: [f64; 2],
    /// Length of the trace in seconds (> 0).
    pub duration_s: f64,
    /// Seed of the model's ChaCha8 generator.
    pub seed: u64,
}

/// Most points a generated trace may hold (waypoints and pause ends): a
/// million, about 24 MB. A model that would need more (very short legs and
/// pauses over a long duration, or an area of radius 0 without pauses) is
/// refused instead of filling memory or looping for ever.
pub const MAX_POINTS: usize = 1_000_000;

/// A parameter of the model that makes no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("random waypoint: {0}")]
pub struct WaypointError(String);

impl RandomWaypoint {
    fn validate(&self) -> Result<(), WaypointError> {
        let range_ok = |[lo, hi]: [f64; 2], min: f64| {
            lo.is_finite() && hi.is_finite() && lo >= min && lo <= hi
        };
        if !range_ok(self.speed_mps, f64::MIN_POSITIVE) {
            return Err(WaypointError(format!(
                "speed range {:?} m/s must be 0 < min <= max",
                self.speed_mps
            )));
        }
        if !range_ok(self.pause_s, 0.0) {
            return Err(WaypointError(format!(
                "pause range {:?} s must be 0 <= min <= max",
                self.pause_s
            )));
        }
        if !(self.duration_s.is_finite() && self.duration_s > 0.0) {
            return Err(WaypointError(format!(
                "duration {} s must be > 0",
                self.duration_s
            )));
        }
        match self.area {
            WaypointArea::BBox {
                south_west,
                north_east,
            } => {
                if south_west.lat_deg > north_east.lat_deg
                    || south_west.lon_deg > north_east.lon_deg
                {
                    return Err(WaypointError(
                        "bounding box corners are not south-west, north-east".into(),
                    ));
                }
            }
            WaypointArea::Circle { radius_m, .. } => {
                if !(radius_m.is_finite() && radius_m >= 0.0) {
                    return Err(WaypointError(format!("radius {radius_m} m must be >= 0")));
                }
            }
        }
        Ok(())
    }

    fn draw_point(&self, rng: &mut ChaCha8Rng) -> LatLon {
        match self.area {
            WaypointArea::BBox {
                south_west,
                north_east,
            } => LatLon {
                lat_deg: rng.random_range(south_west.lat_deg..=north_east.lat_deg),
                lon_deg: rng.random_range(south_west.lon_deg..=north_east.lon_deg),
            },
            WaypointArea::Circle { centre, radius_m } => {
                let r = radius_m * rng.random_range(0.0..=1.0f64).sqrt();
                centre.destination(rng.random_range(0.0..360.0), r)
            }
        }
    }

    /// The trace this model and seed produce (identical for identical inputs).
    pub fn generate(&self, name: impl Into<String>) -> Result<Trace, WaypointError> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut pos = self.draw_point(&mut rng);
        let mut t_s = 0.0;
        let mut points = vec![TracePoint { t_s, pos }];
        // Counts legs of length 0 too, so a model that never moves on ends.
        let mut steps = 0usize;
        while t_s < self.duration_s {
            steps += 1;
            if steps > MAX_POINTS {
                return Err(WaypointError(format!(
                    "over {:.0} s the trace would need more than {MAX_POINTS} points \
                     (waypoints and pauses); use a shorter duration, longer pauses, a larger \
                     area or lower speeds",
                    self.duration_s
                )));
            }
            let pause = rng.random_range(self.pause_s[0]..=self.pause_s[1]);
            if pause > 0.0 {
                t_s = (t_s + pause).min(self.duration_s);
                points.push(TracePoint { t_s, pos });
                if t_s >= self.duration_s {
                    break;
                }
            }
            let next = self.draw_point(&mut rng);
            let speed = rng.random_range(self.speed_mps[0]..=self.speed_mps[1]);
            let travel_s = pos.distance_m(next) / speed;
            if travel_s <= 0.0 {
                continue;
            }
            if t_s + travel_s >= self.duration_s {
                let fraction = (self.duration_s - t_s) / travel_s;
                pos = pos.towards(next, fraction);
                t_s = self.duration_s;
            } else {
                pos = next;
                t_s += travel_s;
            }
            points.push(TracePoint { t_s, pos });
        }
        // Pauses and legs always move time forward, so the points are in order.
        Trace::new(name, None, points).map_err(|e| WaypointError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(seed: u64) -> RandomWaypoint {
        RandomWaypoint {
            area: WaypointArea::Circle {
                centre: LatLon::new(-37.8136, 144.9631).unwrap(),
                radius_m: 2000.0,
            },
            speed_mps: [1.0, 2.0],
            pause_s: [0.0, 60.0],
            duration_s: 3600.0,
            seed,
        }
    }

    #[test]
    fn a_model_needing_too_many_points_is_refused_not_looped_on() {
        let mut still = model(1);
        still.area = WaypointArea::Circle {
            centre: LatLon::new(0.0, 0.0).unwrap(),
            radius_m: 0.0,
        };
        still.pause_s = [0.0, 0.0];
        let e = still.generate("x").unwrap_err().to_string();
        assert!(e.contains("1000000 points"), "{e}");
        let mut long = model(1);
        long.duration_s = 1e30;
        assert!(long.generate("x").is_err());
    }

    #[test]
    fn same_seed_same_trace_and_stays_in_bounds() {
        let m = model(7);
        let a = m.generate("a").unwrap();
        assert_eq!(a, m.generate("a").unwrap());
        assert_ne!(a.points(), model(8).generate("a").unwrap().points());
        assert_eq!(a.duration_s(), 3600.0);
        let centre = LatLon::new(-37.8136, 144.9631).unwrap();
        for p in a.points() {
            assert!(centre.distance_m(p.pos) <= 2000.0 + 1.0);
        }
        for w in a.points().windows(2) {
            let speed = w[0].pos.distance_m(w[1].pos) / (w[1].t_s - w[0].t_s);
            assert!(speed <= 2.0 + 1e-6, "{speed}");
        }
        // Walking at 1-2 m/s for an hour with pauses of at most a minute covers kilometres.
        assert!(a.length_m() > 2000.0, "{}", a.length_m());
    }

    #[test]
    fn bounding_box_keeps_the_device_inside() {
        let south_west = LatLon::new(52.62, -8.67).unwrap();
        let north_east = LatLon::new(52.68, -8.57).unwrap();
        let m = RandomWaypoint {
            area: WaypointArea::BBox {
                south_west,
                north_east,
            },
            speed_mps: [5.0, 5.0],
            pause_s: [10.0, 10.0],
            duration_s: 7200.0,
            seed: 3,
        };
        let t = m.generate("box").unwrap();
        assert_eq!(t.duration_s(), 7200.0);
        for p in t.points() {
            assert!(
                (52.62..=52.68).contains(&p.pos.lat_deg)
                    && (-8.67..=-8.57).contains(&p.pos.lon_deg)
            );
        }
        // Fixed speed and pause: every leg is at 5 m/s or a 10 s pause.
        for w in t.points().windows(2) {
            let dt = w[1].t_s - w[0].t_s;
            let speed = w[0].pos.distance_m(w[1].pos) / dt;
            assert!(
                (speed - 5.0).abs() < 1e-6
                    || (speed == 0.0 && (dt - 10.0).abs() < 1e-9)
                    || w[1].t_s == 7200.0
            );
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        let mut m = model(1);
        m.speed_mps = [0.0, 1.0];
        assert!(m.generate("x").is_err());
        let mut m = model(1);
        m.duration_s = f64::NAN;
        assert!(m.generate("x").is_err());
    }
}
