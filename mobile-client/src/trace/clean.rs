//! From raw points as a file lists them to a [`Trace`]: times filled in,
//! order restored, repeated times removed, everything counted.
//!
//! The rules, in the order they run:
//! 1. **Missing times.** Points without a time get one. Between two timed
//!    points, untimed points are placed at constant speed along the path
//!    (time proportional to the distance covered; evenly by index if the
//!    timed points are at the same place). Before the first or after the last
//!    timed point, and in a file with no time at all, the device is assumed to
//!    move at [`CleanOptions::assumed_speed_mps`] (walking, 1.4 m/s, by default).
//! 2. **Out-of-order points** are sorted by time; the sort is stable, so points
//!    with equal times keep their file order. A point counts as out of order
//!    when an earlier line of the file has a later time.
//! 3. **Repeated timestamps.** Of several points with the same time, the first
//!    (in file order) is kept and the others are dropped and counted.
//! 4. Time zero is the earliest point; the trace's real start time is that
//!    point's time when the file had any time.
//!
//! Invalid coordinates never reach this stage: readers reject them with the
//! line. A trace left with no point is an error.

use std::path::Path;

use serde::Serialize;

use super::{Trace, TraceError, TraceErrorKind, TracePoint};
use crate::position::LatLon;

/// Default assumed speed for untimed points: a walking pace, in m/s.
pub const DEFAULT_ASSUMED_SPEED_MPS: f64 = 1.4;

/// A point as a reader found it, before cleaning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawPoint {
    /// The 1-based line of the file the point is on.
    pub line: u64,
    /// Its real time in unix seconds, if the file gave one.
    pub unix_s: Option<f64>,
    /// Its position.
    pub pos: LatLon,
}

/// Options for cleaning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanOptions {
    /// Speed used to give times to untimed points, in m/s (must be > 0).
    pub assumed_speed_mps: f64,
}

impl Default for CleanOptions {
    fn default() -> Self {
        Self {
            assumed_speed_mps: DEFAULT_ASSUMED_SPEED_MPS,
        }
    }
}

/// What cleaning did to a trace, for `inspect` to print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CleaningReport {
    /// Points the file listed for this trace.
    pub points_read: usize,
    /// Points whose time was earlier than that of a preceding line (moved by the sort).
    pub out_of_order: usize,
    /// Points dropped because an earlier point had the same time.
    pub duplicate_times_dropped: usize,
    /// Empty segments (GPX `trkseg` with no point) skipped.
    pub empty_segments_skipped: usize,
    /// On a file's first trace only: the tracks and routes of the file that
    /// held no point at all and were skipped (GPX).
    pub empty_traces_skipped: usize,
    /// Untimed points whose time was interpolated between timed neighbours.
    pub times_interpolated: usize,
    /// Untimed points whose time came from the assumed speed.
    pub times_from_assumed_speed: usize,
}

/// Cleans `raw` (in file order) into a trace named `name`.
///
/// `empty_segments` is how many empty segments the reader skipped; `line` is
/// where the trace starts in the file (for the error when it has no point).
pub fn build_trace(
    file: &Path,
    line: Option<u64>,
    name: String,
    raw: &[RawPoint],
    empty_segments: usize,
    options: &CleanOptions,
) -> Result<Trace, TraceError> {
    let speed = options.assumed_speed_mps;
    if !(speed.is_finite() && speed > 0.0) {
        return Err(TraceError::new(
            file,
            None,
            TraceErrorKind::BadOption(format!("assumed speed {speed} m/s must be > 0")),
        ));
    }
    if raw.is_empty() {
        return Err(TraceError::new(file, line, TraceErrorKind::NoPoints(name)));
    }
    let mut report = CleaningReport {
        points_read: raw.len(),
        empty_segments_skipped: empty_segments,
        ..CleaningReport::default()
    };
    let times = fill_times(raw, speed, &mut report);
    let any_timed = raw.iter().any(|p| p.unix_s.is_some());

    let mut order: Vec<(f64, LatLon)> = times
        .iter()
        .copied()
        .zip(raw.iter().map(|p| p.pos))
        .collect();
    let mut latest = f64::NEG_INFINITY;
    for &(t, _) in &order {
        if t < latest {
            report.out_of_order += 1;
        }
        latest = latest.max(t);
    }
    order.sort_by(|a, b| a.0.total_cmp(&b.0));

    let t0 = order[0].0;
    let mut points: Vec<TracePoint> = Vec::with_capacity(order.len());
    for (t, pos) in order {
        let t_s = t - t0;
        match points.last() {
            Some(prev) if t_s <= prev.t_s => report.duplicate_times_dropped += 1,
            _ => points.push(TracePoint { t_s, pos }),
        }
    }
    let start_unix_ms = any_timed.then(|| (t0 * 1000.0).round() as i64);
    Trace::with_report(name.clone(), start_unix_ms, points, report).map_err(|e| {
        TraceError::new(
            file,
            line,
            TraceErrorKind::NoPoints(format!("{name} ({e})")),
        )
    })
}

/// A time (unix seconds, or seconds from an arbitrary zero when the file has
/// none) for every raw point, following rule 1 of the module docs.
fn fill_times(raw: &[RawPoint], speed_mps: f64, report: &mut CleaningReport) -> Vec<f64> {
    let timed: Vec<usize> = (0..raw.len())
        .filter(|&i| raw[i].unix_s.is_some())
        .collect();
    let mut times: Vec<f64> = raw.iter().map(|p| p.unix_s.unwrap_or(0.0)).collect();
    let (Some(&first), Some(&last)) = (timed.first(), timed.last()) else {
        for i in 1..raw.len() {
            times[i] = times[i - 1] + raw[i - 1].pos.distance_m(raw[i].pos) / speed_mps;
        }
        report.times_from_assumed_speed = raw.len();
        return times;
    };
    for i in (0..first).rev() {
        times[i] = times[i + 1] - raw[i].pos.distance_m(raw[i + 1].pos) / speed_mps;
        report.times_from_assumed_speed += 1;
    }
    for i in last + 1..raw.len() {
        times[i] = times[i - 1] + raw[i - 1].pos.distance_m(raw[i].pos) / speed_mps;
        report.times_from_assumed_speed += 1;
    }
    for pair in timed.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b == a + 1 {
            continue;
        }
        let cumulative: Vec<f64> = (a + 1..=b)
            .scan(0.0, |acc, i| {
                *acc += raw[i - 1].pos.distance_m(raw[i].pos);
                Some(*acc)
            })
            .collect();
        let total_m = cumulative.last().copied().unwrap_or(0.0);
        let (ta, tb) = (times[a], times[b]);
        for i in a + 1..b {
            let fraction = if total_m > 0.0 {
                cumulative[i - a - 1] / total_m
            } else {
                (i - a) as f64 / (b - a) as f64
            };
            times[i] = ta + (tb - ta) * fraction;
            report.times_interpolated += 1;
        }
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(line: u64, unix_s: Option<f64>, lat: f64) -> RawPoint {
        RawPoint {
            line,
            unix_s,
            pos: LatLon::new(lat, 0.0).unwrap(),
        }
    }

    fn build(points: &[RawPoint]) -> Trace {
        build_trace(
            Path::new("x"),
            None,
            "x".into(),
            points,
            0,
            &CleanOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn sorts_out_of_order_and_drops_repeated_times() {
        let t = build(&[
            raw(1, Some(100.0), 0.0),
            raw(2, Some(102.0), 0.002),
            raw(3, Some(101.0), 0.001),
            raw(4, Some(102.0), 0.009),
        ]);
        let times: Vec<f64> = t.points().iter().map(|p| p.t_s).collect();
        assert_eq!(times, vec![0.0, 1.0, 2.0]);
        // The first point with t = 102 in file order is kept.
        assert_eq!(t.points()[2].pos.lat_deg, 0.002);
        assert_eq!(t.cleaning().out_of_order, 1);
        assert_eq!(t.cleaning().duplicate_times_dropped, 1);
        assert_eq!(t.start_unix_ms(), Some(100_000));
    }

    #[test]
    fn interpolates_untimed_points_by_distance() {
        // 0 -> 0.001 deg -> 0.003 deg latitude: the middle point is a third of the way.
        let t = build(&[
            raw(1, Some(0.0), 0.0),
            raw(2, None, 0.001),
            raw(3, Some(30.0), 0.003),
        ]);
        assert!((t.points()[1].t_s - 10.0).abs() < 1e-6, "{:?}", t.points());
        assert_eq!(t.cleaning().times_interpolated, 1);
    }

    #[test]
    fn untimed_points_move_at_the_assumed_speed() {
        let t = build(&[
            raw(1, None, 0.0),
            raw(2, None, 0.001),
            raw(3, Some(1000.0), 0.002),
        ]);
        let leg_m = LatLon::new(0.0, 0.0)
            .unwrap()
            .distance_m(LatLon::new(0.001, 0.0).unwrap());
        assert!((t.duration_s() - 2.0 * leg_m / 1.4).abs() < 1e-6);
        assert_eq!(t.cleaning().times_from_assumed_speed, 2);
        assert_eq!(
            t.start_unix_ms(),
            Some(((1000.0 - 2.0 * leg_m / 1.4) * 1000.0).round() as i64)
        );
    }

    #[test]
    fn no_point_is_an_error_with_the_line() {
        let e = build_trace(
            Path::new("f.gpx"),
            Some(7),
            "f.gpx#trk1".into(),
            &[],
            2,
            &CleanOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.line, Some(7));
        assert!(matches!(e.kind, TraceErrorKind::NoPoints(_)));
    }
}
