//! Fleets: many vehicles recorded in one file, read as one trace per
//! vehicle, then cut to a time window, rid of vehicles with too few fixes,
//! and kept from driving straight across the hours a vehicle did not report.
//!
//! Rules, in the order [`apply`] runs them on the cleaned traces of a file:
//! 1. **Window** (`window_unix_s = [from, to]`): only fixes with `from <= t
//!    <= to` (real time) are kept; a vehicle with no fix inside is dropped.
//! 2. **Split** (when `max_gap_s` is set and the rule is [`GapRule::Split`]):
//!    a trace is cut wherever two consecutive fixes are more than `max_gap_s`
//!    apart; each piece becomes a trace of its own, named `name@2`,
//!    `name@3`, ... after the first.
//! 3. **Fewest fixes** (`min_fixes`): traces (pieces) with fewer fixes are
//!    dropped.
//! 4. **Hold** (when `max_gap_s` is set and the rule is [`GapRule::Hold`],
//!    the default): across a gap longer than `max_gap_s` the vehicle stays
//!    at its last fix until `max_gap_s` before the next one, then moves to
//!    it; so it never drives in a straight line for hours, and never faster
//!    than across a gap of `max_gap_s`.

use serde::Serialize;

use super::{Trace, TracePoint};

/// What happens at a gap longer than `max_gap_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GapRule {
    /// The vehicle waits at its last fix, then moves to the next one in the
    /// last `max_gap_s` seconds of the gap.
    #[default]
    Hold,
    /// The trace is cut in two: each piece is a trace (a device) of its own.
    Split,
}

impl GapRule {
    /// The rule called `name` (`hold` or `split`).
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name {
            "hold" => Ok(Self::Hold),
            "split" => Ok(Self::Split),
            other => Err(format!("{other:?} is not one of hold, split")),
        }
    }
}

/// How a fleet file's traces are filtered (every field off by default:
/// the traces as read).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FleetOptions {
    /// Keep only fixes between these real times, in unix seconds (inclusive).
    pub window_unix_s: Option<[f64; 2]>,
    /// Drop traces with fewer fixes than this (0 and 1 keep every trace).
    pub min_fixes: usize,
    /// Fixes further apart than this, in seconds, make a gap.
    pub max_gap_s: Option<f64>,
    /// What happens at a gap.
    pub gap: GapRule,
}

/// What [`apply`] did, for `inspect` and the scenario's warnings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FleetReport {
    /// Traces (vehicles) the file held.
    pub traces_read: usize,
    /// Fixes dropped because they fall outside the window.
    pub fixes_outside_window: usize,
    /// Traces dropped because no fix falls inside the window.
    pub traces_outside_window: usize,
    /// Gaps longer than `max_gap_s` (held or split).
    pub gaps: usize,
    /// Traces (or pieces) dropped for having fewer than `min_fixes` fixes.
    pub traces_too_few_fixes: usize,
    /// Traces left.
    pub traces_kept: usize,
}

/// Why a fleet filter cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FleetError {
    /// A window on a trace whose file gave no time.
    #[error("{0}: a time window needs real times, and this trace has none")]
    NoRealTime(String),
    /// A window that ends before it starts, or is not finite.
    #[error("the window [{0}, {1}] must be finite with its start before its end")]
    BadWindow(f64, f64),
    /// A gap threshold that is not a number above zero.
    #[error("max_gap_s must be a number > 0, got {0}")]
    BadGap(f64),
}

/// Longest time between two consecutive fixes of `trace`, in seconds (0 for
/// a trace of one fix).
pub fn longest_gap_s(trace: &Trace) -> f64 {
    trace
        .points()
        .windows(2)
        .map(|w| w[1].t_s - w[0].t_s)
        .fold(0.0, f64::max)
}

/// How many times two consecutive fixes of `trace` are more than
/// `max_gap_s` apart.
pub fn gaps_over(trace: &Trace, max_gap_s: f64) -> usize {
    trace
        .points()
        .windows(2)
        .filter(|w| w[1].t_s - w[0].t_s > max_gap_s)
        .count()
}

/// A trace from `points` (in order, at least one), renamed and with its time
/// zero moved to the first of them.
fn rebased(trace: &Trace, name: String, points: &[TracePoint]) -> Option<Trace> {
    let t0 = points.first()?.t_s;
    let moved = points
        .iter()
        .map(|p| TracePoint {
            t_s: p.t_s - t0,
            pos: p.pos,
        })
        .collect();
    let start = trace
        .start_unix_ms()
        .map(|ms| ms + (t0 * 1000.0).round() as i64);
    Trace::with_report(name, start, moved, *trace.cleaning()).ok()
}

/// The fixes of `trace` between unix times `from` and `to` (inclusive), or
/// `None` when there is none.
pub fn within_window(trace: &Trace, [from, to]: [f64; 2]) -> Result<Option<Trace>, FleetError> {
    let start_s = trace
        .start_unix_ms()
        .ok_or_else(|| FleetError::NoRealTime(trace.name().to_string()))? as f64
        / 1000.0;
    let kept: Vec<TracePoint> = trace
        .points()
        .iter()
        .copied()
        .filter(|p| (from..=to).contains(&(start_s + p.t_s)))
        .collect();
    Ok(rebased(trace, trace.name().to_string(), &kept))
}

/// `trace` cut at every gap longer than `max_gap_s`: the first piece keeps
/// the name, the next are `name@2`, `name@3`, ...
pub fn split_at_gaps(trace: &Trace, max_gap_s: f64) -> Vec<Trace> {
    let points = trace.points();
    let mut pieces = Vec::new();
    let mut start = 0;
    for i in 1..=points.len() {
        let cut = i == points.len() || points[i].t_s - points[i - 1].t_s > max_gap_s;
        if cut {
            let name = match pieces.len() {
                0 => trace.name().to_string(),
                n => format!("{}@{}", trace.name(), n + 1),
            };
            pieces.extend(rebased(trace, name, &points[start..i]));
            start = i;
        }
    }
    pieces
}

/// `trace` with the vehicle held at its last fix across every gap longer
/// than `max_gap_s`, until `max_gap_s` before the next fix.
pub fn hold_over_gaps(trace: &Trace, max_gap_s: f64) -> Trace {
    let points = trace.points();
    let mut held = Vec::with_capacity(points.len());
    for (i, &p) in points.iter().enumerate() {
        if let Some(prev) = i.checked_sub(1).map(|j| points[j])
            && p.t_s - prev.t_s > max_gap_s
        {
            held.push(TracePoint {
                t_s: p.t_s - max_gap_s,
                pos: prev.pos,
            });
        }
        held.push(p);
    }
    Trace::with_report(trace.name(), trace.start_unix_ms(), held, *trace.cleaning())
        .unwrap_or_else(|_| trace.clone())
}

/// The fleet rules of this module's documentation applied to `traces` (a
/// file's traces in file order); the survivors keep that order.
pub fn apply(
    traces: Vec<Trace>,
    options: &FleetOptions,
) -> Result<(Vec<Trace>, FleetReport), FleetError> {
    if let Some([from, to]) = options.window_unix_s
        && !(from.is_finite() && to.is_finite() && from <= to)
    {
        return Err(FleetError::BadWindow(from, to));
    }
    if let Some(gap) = options.max_gap_s
        && !(gap.is_finite() && gap > 0.0)
    {
        return Err(FleetError::BadGap(gap));
    }
    let mut report = FleetReport {
        traces_read: traces.len(),
        ..FleetReport::default()
    };
    let mut kept = Vec::with_capacity(traces.len());
    for trace in traces {
        let trace = match options.window_unix_s {
            None => trace,
            Some(window) => {
                let inside = within_window(&trace, window)?;
                let n = inside.as_ref().map_or(0, |t| t.points().len());
                report.fixes_outside_window += trace.points().len() - n;
                match inside {
                    Some(t) => t,
                    None => {
                        report.traces_outside_window += 1;
                        continue;
                    }
                }
            }
        };
        if let Some(gap) = options.max_gap_s {
            report.gaps += gaps_over(&trace, gap);
        }
        let pieces = match (options.max_gap_s, options.gap) {
            (Some(gap), GapRule::Split) => split_at_gaps(&trace, gap),
            _ => vec![trace],
        };
        for piece in pieces {
            if piece.points().len() < options.min_fixes {
                report.traces_too_few_fixes += 1;
                continue;
            }
            kept.push(match (options.max_gap_s, options.gap) {
                (Some(gap), GapRule::Hold) => hold_over_gaps(&piece, gap),
                _ => piece,
            });
        }
    }
    report.traces_kept = kept.len();
    Ok((kept, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::LatLon;

    fn trace(times: &[f64]) -> Trace {
        let points = times
            .iter()
            .enumerate()
            .map(|(i, &t_s)| TracePoint {
                t_s,
                pos: LatLon::new(53.0 + i as f64 * 0.001, -6.0).unwrap(),
            })
            .collect();
        Trace::new("bus#7", Some(1_000_000), points).unwrap()
    }

    #[test]
    fn a_gap_is_split_into_two_vehicles_or_held() {
        let t = trace(&[0.0, 20.0, 40.0, 7_240.0, 7_260.0]);
        assert_eq!(longest_gap_s(&t), 7_200.0);
        assert_eq!(gaps_over(&t, 600.0), 1);
        let pieces = split_at_gaps(&t, 600.0);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].points().len(), 3);
        assert_eq!(pieces[1].name(), "bus#7@2");
        assert_eq!(pieces[1].first().t_s, 0.0);
        assert_eq!(pieces[1].start_unix_ms(), Some(1_000_000 + 7_240_000));

        let held = hold_over_gaps(&t, 600.0);
        assert_eq!(held.points().len(), 6);
        // Still at the last fix before the gap 10 minutes before the next fix.
        let at = held.position_at(7_240.0 - 600.0, crate::Edge::Hold);
        assert!(at.distance_m(t.points()[2].pos) < 1e-6);
        let halfway = held.position_at(3_000.0, crate::Edge::Hold);
        assert!(halfway.distance_m(t.points()[2].pos) < 1e-6);
    }

    #[test]
    fn window_and_fewest_fixes_filter_vehicles() {
        // Start at unix 1000 s: fixes at 1000, 1020, 1040, 8240, 8260.
        let a = trace(&[0.0, 20.0, 40.0, 7_240.0, 7_260.0]);
        let b = trace(&[7_000.0, 7_020.0]);
        let options = FleetOptions {
            window_unix_s: Some([1_000.0, 1_030.0]),
            min_fixes: 2,
            ..FleetOptions::default()
        };
        let (kept, report) = apply(vec![a.clone(), b], &options).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].points().len(), 2);
        assert_eq!(report.traces_outside_window, 1);
        assert_eq!(report.fixes_outside_window, 3 + 2);
        let options = FleetOptions {
            min_fixes: 3,
            max_gap_s: Some(600.0),
            gap: GapRule::Split,
            ..FleetOptions::default()
        };
        let (kept, report) = apply(vec![a], &options).unwrap();
        assert_eq!(
            (kept.len(), report.gaps, report.traces_too_few_fixes),
            (1, 1, 1)
        );
        assert!(
            apply(
                vec![],
                &FleetOptions {
                    max_gap_s: Some(0.0),
                    ..FleetOptions::default()
                }
            )
            .is_err()
        );
    }
}
