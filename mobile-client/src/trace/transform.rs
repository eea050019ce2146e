//! Transforms that make one recorded trace serve many experiments: play it
//! faster, later, or somewhere else.
//!
//! Every transform keeps the name and the cleaning report. `start_unix_ms`
//! is the real time of `t_s = 0`: a time offset moves it so that every point
//! keeps its real time; a speed-up or a transplant leaves it as it was (the
//! point at `t_s = 0` keeps its real time).

use super::{Trace, TracePoint};
use crate::position::LatLon;

/// A transform parameter that would break the trace's invariants.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransformError {
    /// The speed-up factor must be finite and > 0.
    #[error("speed-up factor {0} must be finite and > 0")]
    BadFactor(f64),
    /// The time offset must be finite.
    #[error("time offset {0} s must be finite")]
    BadOffset(f64),
}

impl Trace {
    fn with_points(&self, points: Vec<TracePoint>, start_unix_ms: Option<i64>) -> Trace {
        Trace {
            name: self.name.clone(),
            start_unix_ms,
            points,
            cleaning: self.cleaning,
        }
    }

    /// The trace played `factor` times faster: every `t_s` divided by `factor`
    /// (pauses shrink too; positions are unchanged).
    pub fn sped_up(&self, factor: f64) -> Result<Trace, TransformError> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(TransformError::BadFactor(factor));
        }
        let mut points: Vec<TracePoint> = self
            .points
            .iter()
            .map(|p| TracePoint {
                t_s: p.t_s / factor,
                pos: p.pos,
            })
            .collect();
        // A huge factor can merge neighbouring times; keep the first of each.
        points.dedup_by(|b, a| b.t_s <= a.t_s);
        Ok(self.with_points(points, self.start_unix_ms))
    }

    /// The trace `offset_s` seconds later (earlier if negative): every `t_s`
    /// plus `offset_s`.
    pub fn offset(&self, offset_s: f64) -> Result<Trace, TransformError> {
        if !offset_s.is_finite() {
            return Err(TransformError::BadOffset(offset_s));
        }
        let points = self
            .points
            .iter()
            .map(|p| TracePoint {
                t_s: p.t_s + offset_s,
                pos: p.pos,
            })
            .collect();
        let start = self
            .start_unix_ms
            .map(|ms| ms - (offset_s * 1000.0).round() as i64);
        Ok(self.with_points(points, start))
    }

    /// The same movement starting at `origin`: each point keeps its
    /// great-circle distance and initial bearing from the first point, re-applied
    /// from `origin`. Times are unchanged, so pauses stay pauses; distances from
    /// the start are exact, and distances between neighbours (hence speeds) are
    /// kept to well under 1 % for city-sized traces away from the poles.
    pub fn transplanted(&self, origin: LatLon) -> Trace {
        let from = self.first().pos;
        let points = self
            .points
            .iter()
            .map(|p| {
                let pos = if p.pos == from {
                    origin
                } else {
                    origin.destination(from.bearing_deg(p.pos), from.distance_m(p.pos))
                };
                TracePoint { t_s: p.t_s, pos }
            })
            .collect();
        self.with_points(points, self.start_unix_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace() -> Trace {
        let p = |t_s, lat, lon| TracePoint {
            t_s,
            pos: LatLon::new(lat, lon).unwrap(),
        };
        Trace::new(
            "t",
            Some(1_000_000),
            vec![
                p(0.0, 52.66, -8.63),
                p(10.0, 52.661, -8.628),
                p(30.0, 52.661, -8.628),
                p(50.0, 52.665, -8.62),
            ],
        )
        .unwrap()
    }

    #[test]
    fn speed_up_and_offset_change_times_only() {
        let t = trace();
        let fast = t.sped_up(2.0).unwrap();
        assert_eq!(fast.duration_s(), 25.0);
        assert_eq!(fast.points()[3].pos, t.points()[3].pos);
        let late = t.offset(100.0).unwrap();
        assert_eq!(late.first().t_s, 100.0);
        assert_eq!(late.start_unix_ms(), Some(900_000));
        assert!(t.sped_up(0.0).is_err());
        assert!(t.offset(f64::NAN).is_err());
    }

    #[test]
    fn transplant_keeps_distances_and_times() {
        let t = trace();
        let melbourne = LatLon::new(-37.8136, 144.9631).unwrap();
        let moved = t.transplanted(melbourne);
        assert_eq!(moved.first().pos, melbourne);
        for (a, b) in t.points().windows(2).zip(moved.points().windows(2)) {
            let (d0, d1) = (a[0].pos.distance_m(a[1].pos), b[0].pos.distance_m(b[1].pos));
            assert!((d0 - d1).abs() <= 0.01 * d0 + 1e-6, "{d0} vs {d1}");
            assert_eq!(a[1].t_s, b[1].t_s);
        }
        assert!((t.length_m() - moved.length_m()).abs() < 0.01 * t.length_m());
    }
}
