//! Property tests for "where is the device at time t".

use mcc_mobile_client::{Edge, LatLon, Trace, TracePoint};
use proptest::prelude::*;

fn latlon() -> impl Strategy<Value = LatLon> {
    (-60.0..60.0f64, -170.0..170.0f64).prop_map(|(lat, lon)| LatLon::new(lat, lon).unwrap())
}

/// A trace of 2 to 30 points, each within about 5 km of the previous one, with
/// time steps from 0.1 s to 100 s.
fn trace() -> impl Strategy<Value = Trace> {
    (
        latlon(),
        prop::collection::vec((0.1..100.0f64, 0.0..360.0f64, 0.0..5000.0f64), 1..30),
    )
        .prop_map(|(start, legs)| {
            let mut points = vec![TracePoint {
                t_s: 0.0,
                pos: start,
            }];
            for (dt, bearing, dist) in legs {
                let prev = points[points.len() - 1];
                points.push(TracePoint {
                    t_s: prev.t_s + dt,
                    pos: prev.pos.destination(bearing, dist),
                });
            }
            Trace::new("prop", None, points).unwrap()
        })
}

/// Distance along the path to the position at `t` (Hold).
fn progress_m(trace: &Trace, t: f64) -> f64 {
    let pos = trace.position_at(t, Edge::Hold);
    let t = trace.trace_time(t, Edge::Hold);
    let points = trace.points();
    let mut done = 0.0;
    for w in points.windows(2) {
        if t < w[1].t_s {
            return done + w[0].pos.distance_m(pos);
        }
        done += w[0].pos.distance_m(w[1].pos);
    }
    done
}

proptest! {
    #[test]
    fn position_lies_on_the_great_circle_segment(a in latlon(), bearing in 0.0..360.0f64,
            dist in 1.0..50_000.0f64, dt in 0.5..1000.0f64, f in 0.0..=1.0f64) {
        let b = a.destination(bearing, dist);
        let trace = Trace::new("seg", None, vec![
            TracePoint { t_s: 10.0, pos: a },
            TracePoint { t_s: 10.0 + dt, pos: b },
        ]).unwrap();
        let p = trace.position_at(10.0 + f * dt, Edge::Hold);
        let segment = a.distance_m(b);
        let detour = a.distance_m(p) + p.distance_m(b) - segment;
        prop_assert!(detour.abs() < 1e-6 * segment + 1e-3, "detour {detour} m on {segment} m");
        // Constant speed on the segment: the fraction of time is the fraction of distance.
        prop_assert!((a.distance_m(p) - f * segment).abs() < 1e-6 * segment + 1e-3);
    }

    #[test]
    fn progress_is_monotone_in_time(trace in trace(), mut times in prop::collection::vec(-50.0..3500.0f64, 2..40)) {
        times.sort_by(f64::total_cmp);
        let mut cursor = trace.cursor(Edge::Hold);
        let mut last = f64::NEG_INFINITY;
        for &t in &times {
            let progress = progress_m(&trace, t);
            prop_assert!(progress >= last - 1e-6, "progress fell from {last} to {progress} at t = {t}");
            last = progress;
            prop_assert_eq!(cursor.position_at(t), trace.position_at(t, Edge::Hold));
        }
    }

    #[test]
    fn hold_and_loop_outside_the_trace(trace in trace(), before in 0.001..1e6f64, f in 0.0..0.999f64, k in -5i32..5) {
        let first = trace.first();
        let last = trace.last();
        prop_assert_eq!(trace.position_at(first.t_s - before, Edge::Hold), first.pos);
        prop_assert_eq!(trace.position_at(last.t_s + before, Edge::Hold), last.pos);
        let duration = trace.duration_s();
        let t = first.t_s + f * duration;
        let shifted = t + f64::from(k) * duration;
        let d = trace.position_at(shifted, Edge::Loop).distance_m(trace.position_at(t, Edge::Hold));
        // Equal up to the rounding of t + k * duration (a step of at most ~1e-9 s at 5 km/s).
        prop_assert!(d < 1e-3, "{d} m apart");
        let mut cursor = trace.cursor(Edge::Loop);
        for q in [shifted, t, shifted + duration / 3.0] {
            prop_assert_eq!(cursor.position_at(q), trace.position_at(q, Edge::Loop));
        }
    }
}
