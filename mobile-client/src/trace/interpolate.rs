//! Where a device is at any time: great-circle interpolation between the two
//! points around `t`, and a policy for times outside the trace.
//!
//! Two ways to ask: [`Trace::position_at`] (a binary search, any order of
//! queries) and [`TraceCursor`] (remembers the segment it is on, so queries
//! with non-decreasing times cost O(1) amortised; it falls back to a binary
//! search when time goes back or jumps far; and it keeps that segment's
//! [`Leg`], so the trigonometry of two fixes far apart is done once).

use super::{Trace, TracePoint};
use crate::leg::Leg;
use crate::position::LatLon;

/// What a trace says before its first and after its last point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Edge {
    /// Stay at the first point before the trace starts and at the last point
    /// after it ends.
    #[default]
    Hold,
    /// Replay the trace: time is taken modulo the trace's duration, starting
    /// from the first point (the device jumps from the last point back to the
    /// first). A trace of one point, or of zero duration, holds.
    Loop,
}

/// How many segments a cursor walks forward before it switches to a binary search.
const CURSOR_LINEAR_STEPS: usize = 8;

impl Trace {
    /// The time in the trace that `t_s` maps to under `edge`: clamped into
    /// [first, last] for `Hold`, wrapped for `Loop`.
    pub fn trace_time(&self, t_s: f64, edge: Edge) -> f64 {
        let (start, end) = (self.first().t_s, self.last().t_s);
        let duration = end - start;
        if t_s.is_nan() {
            return start;
        }
        match edge {
            Edge::Loop if duration > 0.0 && t_s.is_finite() => {
                let since_start = t_s - start;
                // Within one duration of the start, `%` is exact and returns
                // its operand, so these are rem_euclid's own bits without a
                // library `fmod` per query (devices whose trace starts later
                // wrap back by one duration).
                if (0.0..duration).contains(&since_start) {
                    start + since_start
                } else if since_start > -duration && since_start < 0.0 {
                    start + (since_start + duration)
                } else {
                    start + since_start.rem_euclid(duration)
                }
            }
            _ => t_s.clamp(start, end),
        }
    }

    /// Where the device is at `t_s` (binary search; for many queries in
    /// time order use [`Trace::cursor`]).
    pub fn position_at(&self, t_s: f64, edge: Edge) -> LatLon {
        let t = self.trace_time(t_s, edge);
        let next = self.points().partition_point(|p| p.t_s <= t);
        along(
            self.points(),
            spot(self.points(), next.saturating_sub(1), t),
        )
    }

    /// A cursor for queries whose times mostly go forward.
    pub fn cursor(&self, edge: Edge) -> TraceCursor<'_> {
        TraceCursor {
            trace: self,
            edge,
            segment: 0,
            leg: None,
        }
    }
}

/// Where trace time `t` falls, given the index of the last point at or before it.
enum Spot {
    /// On a point (before the first, after the last, or exactly on one).
    At(LatLon),
    /// This fraction of the way along the segment from point `segment` to
    /// the next.
    Along { segment: usize, fraction: f64 },
}

fn spot(points: &[TracePoint], segment: usize, t: f64) -> Spot {
    let Some(a) = points.get(segment) else {
        return Spot::At(points.last().map_or(
            LatLon {
                lat_deg: 0.0,
                lon_deg: 0.0,
            },
            |p| p.pos,
        ));
    };
    match points.get(segment + 1) {
        Some(b) if t > a.t_s => Spot::Along {
            segment,
            fraction: (t - a.t_s) / (b.t_s - a.t_s),
        },
        _ => Spot::At(a.pos),
    }
}

/// A sequential reader of one trace: `position_at` with non-decreasing times
/// walks forward from the last segment instead of searching, and keeps the
/// [`Leg`] of the segment it is on, so a device sampled many times between
/// two fixes far apart does the great circle's trigonometry of the fixes
/// once.
#[derive(Debug, Clone)]
pub struct TraceCursor<'a> {
    trace: &'a Trace,
    edge: Edge,
    segment: usize,
    /// The leg from point `.0` to the next one, once a query fell on it.
    leg: Option<(usize, Leg)>,
}

impl TraceCursor<'_> {
    /// Where the device is at `t_s`; the same answer as [`Trace::position_at`].
    pub fn position_at(&mut self, t_s: f64) -> LatLon {
        let t = self.trace.trace_time(t_s, self.edge);
        self.trace.seek(t, &mut self.segment);
        let points = self.trace.points();
        match spot(points, self.segment, t) {
            Spot::At(pos) => pos,
            Spot::Along { segment, fraction } => match self.leg {
                Some((on, leg)) if on == segment => leg.at(fraction),
                _ => {
                    let leg = Leg::new(points[segment].pos, points[segment + 1].pos);
                    self.leg = Some((segment, leg));
                    leg.at(fraction)
                }
            },
        }
    }
}

impl Trace {
    /// [`Trace::position_at`] for callers that keep the cursor state
    /// themselves (one `usize` per device, no borrow of the trace): `segment`
    /// is where the previous query ended (start with 0) and is updated.
    /// Walks like a [`TraceCursor`] (but keeps no leg), same answer as
    /// `position_at`.
    pub fn position_with_hint(&self, t_s: f64, edge: Edge, segment: &mut usize) -> LatLon {
        let t = self.trace_time(t_s, edge);
        self.seek(t, segment);
        along(self.points(), spot(self.points(), *segment, t))
    }

    /// Moves `segment` to the last point at or before trace time `t`: forward
    /// a few points from where it is, by binary search otherwise.
    fn seek(&self, t: f64, segment: &mut usize) {
        let points = self.points();
        let current = points.get(*segment).map_or(f64::INFINITY, |p| p.t_s);
        if t < current {
            *segment = points.partition_point(|p| p.t_s <= t).saturating_sub(1);
        } else {
            let mut steps = 0;
            while *segment + 1 < points.len() && points[*segment + 1].t_s <= t {
                *segment += 1;
                steps += 1;
                if steps == CURSOR_LINEAR_STEPS {
                    let rest = &points[*segment..];
                    *segment += rest.partition_point(|p| p.t_s <= t).saturating_sub(1);
                    break;
                }
            }
        }
    }
}

/// The position at `spot`.
fn along(points: &[TracePoint], spot: Spot) -> LatLon {
    match spot {
        Spot::At(pos) => pos,
        Spot::Along { segment, fraction } => points[segment]
            .pos
            .towards(points[segment + 1].pos, fraction),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace() -> Trace {
        let p = |t_s, lat| TracePoint {
            t_s,
            pos: LatLon::new(lat, 10.0).unwrap(),
        };
        Trace::new(
            "t",
            None,
            vec![p(0.0, 0.0), p(10.0, 0.01), p(20.0, 0.01), p(40.0, 0.03)],
        )
        .unwrap()
    }

    #[test]
    fn hold_and_loop_at_the_edges() {
        let t = trace();
        assert_eq!(t.position_at(-5.0, Edge::Hold), t.first().pos);
        assert_eq!(t.position_at(100.0, Edge::Hold), t.last().pos);
        assert!(
            t.position_at(45.0, Edge::Loop)
                .distance_m(t.position_at(5.0, Edge::Hold))
                < 1e-6
        );
        assert!(
            t.position_at(-35.0, Edge::Loop)
                .distance_m(t.position_at(5.0, Edge::Hold))
                < 1e-6
        );
        // Paused between t = 10 and t = 20.
        assert_eq!(t.position_at(15.0, Edge::Hold), t.points()[1].pos);
    }

    #[test]
    fn loop_time_is_rem_euclid_bit_for_bit() {
        let t = trace();
        let (start, duration) = (t.first().t_s, t.duration_s());
        for q in [
            -80.0, -40.0, -39.999, -12.3, -1e-300, -0.0, 0.0, 1e-300, 0.1, 17.0, 39.999, 40.0,
            40.5, 79.9, 1e6,
        ] {
            let expected = start + (q - start).rem_euclid(duration);
            assert_eq!(
                t.trace_time(q, Edge::Loop).to_bits(),
                expected.to_bits(),
                "t = {q}"
            );
        }
    }

    #[test]
    fn cursor_agrees_with_binary_search_forwards_and_backwards() {
        let t = trace();
        for edge in [Edge::Hold, Edge::Loop] {
            let mut c = t.cursor(edge);
            for q in [-3.0, 0.0, 1.0, 9.9, 10.0, 33.0, 5.0, 60.0, 79.0, 81.0, 2.0] {
                assert_eq!(
                    c.position_at(q),
                    t.position_at(q, edge),
                    "t = {q}, {edge:?}"
                );
            }
        }
    }
}
