//! What `mcc-emu inspect trace` reports for one trace file: the traces'
//! figures added up over the file, what cleaning did, and (with a topology)
//! the handovers between its access points.
//!
//! **Aggregation.** A file can hold several traces (a GPX file one per track
//! or route, a CSV file one per device). Its report sums `points`,
//! `duration_s` and `length_km` over them; `mean_speed_mps` is the summed
//! length over the summed duration (0 when that is 0), `max_speed_mps` the
//! highest of the traces', `bbox` the union of their boxes; `cleaning` sums
//! their [`CleaningReport`]s field by field. `per_trace` lists each trace's
//! own [`TraceSummary`] when there are several.

use anyhow::{Context, bail};
use mcc_mobile_client::trace::CleaningReport;
use mcc_mobile_client::{AccessPoint, ApIndex, Trace, TraceSummary, handovers_along};
use serde::Serialize;

use crate::topology::Topology;

/// The report on one trace file, as `inspect trace --json` emits it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// The file, as named on the command line.
    pub file: String,
    /// Points of all its traces, after cleaning.
    pub points: usize,
    /// Sum of the traces' durations, in seconds.
    pub duration_s: f64,
    /// Sum of the traces' great-circle lengths, in kilometres.
    pub length_km: f64,
    /// `length_km` over `duration_s`, in m/s (0 when the duration is 0).
    pub mean_speed_mps: f64,
    /// Highest speed between two consecutive points of any trace, in m/s.
    pub max_speed_mps: f64,
    /// Union of the traces' boxes: `[min_lon, min_lat, max_lon, max_lat]` in degrees.
    pub bbox: [f64; 4],
    /// Longest time between two consecutive fixes of any trace, in seconds
    /// (a vehicle that stopped reporting; see docs/traces.md, Fleets).
    pub longest_gap_s: f64,
    /// With `--max-gap-s`: how many times two consecutive fixes of a trace
    /// are further apart than that.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gaps_over_max: Option<usize>,
    /// How many traces the file holds.
    pub traces: usize,
    /// Each trace's own summary, when the file holds more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_trace: Option<Vec<TraceSummary>>,
    /// What cleaning did, summed over the traces.
    pub cleaning: CleaningReport,
    /// Attachment changes along each trace, when a topology was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handovers: Option<Vec<HandoverRecord>>,
}

/// One change of access point along a trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandoverRecord {
    /// The trace's name (its file, and `#id` when the file holds several).
    pub trace: String,
    /// Trace time of the change, in seconds from the trace's first point.
    pub t_s: f64,
    /// Id of the access point left, `None` (JSON `null`) when detached.
    pub from: Option<String>,
    /// Id of the access point joined, `None` when leaving every range.
    pub to: Option<String>,
}

/// Adds `b` into `a`, field by field. The destructuring is exhaustive so that
/// a new field of [`CleaningReport`] cannot be forgotten here.
fn add_cleaning(a: &mut CleaningReport, b: &CleaningReport) {
    let CleaningReport {
        points_read,
        out_of_order,
        duplicate_times_dropped,
        empty_segments_skipped,
        empty_traces_skipped,
        times_interpolated,
        times_from_assumed_speed,
    } = *b;
    a.points_read += points_read;
    a.out_of_order += out_of_order;
    a.duplicate_times_dropped += duplicate_times_dropped;
    a.empty_segments_skipped += empty_segments_skipped;
    a.empty_traces_skipped += empty_traces_skipped;
    a.times_interpolated += times_interpolated;
    a.times_from_assumed_speed += times_from_assumed_speed;
}

impl FileReport {
    /// The report on `file`, which holds `traces` (at least one), without handovers.
    pub fn new(file: &str, traces: &[Trace]) -> anyhow::Result<FileReport> {
        let summaries: Vec<TraceSummary> = traces.iter().map(Trace::summary).collect();
        let Some(first) = summaries.first() else {
            bail!("{file}: holds no trace");
        };
        let mut cleaning = CleaningReport::default();
        for t in traces {
            add_cleaning(&mut cleaning, t.cleaning());
        }
        let mut bbox = first.bbox;
        let (mut points, mut duration_s, mut length_km, mut max_speed_mps) = (0, 0.0, 0.0, 0.0);
        let mut longest_gap_s: f64 = 0.0;
        for s in &summaries {
            longest_gap_s = longest_gap_s.max(s.longest_gap_s);
            points += s.points;
            duration_s += s.duration_s;
            length_km += s.length_km;
            max_speed_mps = f64::max(max_speed_mps, s.max_speed_mps);
            bbox[0] = bbox[0].min(s.bbox[0]);
            bbox[1] = bbox[1].min(s.bbox[1]);
            bbox[2] = bbox[2].max(s.bbox[2]);
            bbox[3] = bbox[3].max(s.bbox[3]);
        }
        let mean_speed_mps = if duration_s > 0.0 {
            length_km * 1000.0 / duration_s
        } else {
            0.0
        };
        Ok(FileReport {
            file: file.to_string(),
            points,
            duration_s,
            length_km,
            mean_speed_mps,
            max_speed_mps,
            bbox,
            longest_gap_s,
            gaps_over_max: None,
            traces: summaries.len(),
            per_trace: (summaries.len() > 1).then_some(summaries),
            cleaning,
            handovers: None,
        })
    }
}

/// Most positions one trace is sampled at for its handovers: 10 million,
/// 116 days at one sample a second, some seconds of work in a release build.
pub const MAX_SAMPLES: f64 = 1e7;

/// A topology's access points ready for attachment queries: the index and
/// the node id of each indexed access point.
#[derive(Debug, Clone)]
pub struct Attachment {
    index: ApIndex,
    ids: Vec<String>,
    /// Sampling step along a trace, in seconds (> 0).
    pub step_s: f64,
    /// Hysteresis margin, in metres (>= 0).
    pub hysteresis_m: f64,
}

impl Attachment {
    /// The access points of `topology` (named `name` in messages), each with
    /// its own coverage radius. Access points without coordinates cannot be
    /// attached to; they are left out and their ids returned, to be reported.
    /// A topology without any located access point is an error: no handover
    /// could ever happen.
    pub fn new(
        name: &str,
        topology: &Topology,
        step_s: f64,
        hysteresis_m: f64,
    ) -> anyhow::Result<(Attachment, Vec<String>)> {
        let mut aps = Vec::new();
        let mut ids = Vec::new();
        let mut unlocated = Vec::new();
        for (_, node, spec) in topology.access_points() {
            match node.position {
                Some(pos) => {
                    aps.push(AccessPoint {
                        pos,
                        coverage_radius_m: spec.coverage_radius_m,
                    });
                    ids.push(node.id.clone());
                }
                None => unlocated.push(node.id.clone()),
            }
        }
        if aps.is_empty() {
            bail!(
                "{name}: no access point with coordinates, so no device can attach \
                 (give one with --sites CSV and --site-role access-point or both)"
            );
        }
        let index = ApIndex::new(aps).with_context(|| name.to_string())?;
        let attachment = Attachment {
            index,
            ids,
            step_s,
            hysteresis_m,
        };
        Ok((attachment, unlocated))
    }

    /// The handovers of a device following `trace`, sampled every
    /// [`step_s`](Self::step_s); the first attachment is one from `None`.
    ///
    /// A trace that would need more than [`MAX_SAMPLES`] samples (a duration
    /// of years, from timestamps in the wrong unit) is an error asking for a
    /// larger step, rather than a command that seems to hang.
    pub fn handovers(&self, trace: &Trace) -> anyhow::Result<Vec<HandoverRecord>> {
        let samples = trace.duration_s() / self.step_s;
        if samples > MAX_SAMPLES {
            bail!(
                "{}: lasts {:.3e} s, which at --step-s {} is more than {MAX_SAMPLES:.0} samples; \
                 give a larger --step-s (or check the time unit of the file)",
                trace.name(),
                trace.duration_s(),
                self.step_s
            );
        }
        let id = |ix: Option<usize>| ix.and_then(|i| self.ids.get(i).cloned());
        Ok(
            handovers_along(trace, &self.index, self.step_s, self.hysteresis_m)?
                .into_iter()
                .map(|h| HandoverRecord {
                    trace: trace.name().to_string(),
                    t_s: h.t_s,
                    from: id(h.from),
                    to: id(h.to),
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use mcc_mobile_client::{LatLon, TracePoint};

    use super::*;
    use crate::topology::{AccessPointSpec, Node, NodeRole};

    fn trace(name: &str, points: &[(f64, f64, f64)]) -> Trace {
        let points = points
            .iter()
            .map(|&(t_s, lat, lon)| TracePoint {
                t_s,
                pos: LatLon::new(lat, lon).unwrap(),
            })
            .collect();
        Trace::new(name, None, points).unwrap()
    }

    #[test]
    fn several_traces_add_up() {
        let a = trace("f#a", &[(0.0, 0.0, 0.0), (100.0, 0.0, 0.01)]);
        let b = trace(
            "f#b",
            &[(0.0, 1.0, 1.0), (10.0, 1.0, 1.002), (30.0, 1.0, 1.0)],
        );
        let (sa, sb) = (a.summary(), b.summary());
        let r = FileReport::new("f", &[a, b]).unwrap();
        assert_eq!(r.file, "f");
        assert_eq!(r.traces, 2);
        assert_eq!(r.points, 5);
        assert_eq!(r.duration_s, 130.0);
        assert!((r.length_km - (sa.length_km + sb.length_km)).abs() < 1e-12);
        assert!((r.mean_speed_mps - r.length_km * 1000.0 / 130.0).abs() < 1e-9);
        assert_eq!(r.max_speed_mps, sa.max_speed_mps.max(sb.max_speed_mps));
        assert!(sb.max_speed_mps > sa.max_speed_mps);
        assert_eq!(r.bbox, [0.0, 0.0, 1.002, 1.0]);
        assert_eq!(r.per_trace, Some(vec![sa, sb]));
        assert_eq!(r.handovers, None);
    }

    #[test]
    fn one_trace_has_no_per_trace_list_and_zero_duration_has_zero_speed() {
        let r = FileReport::new("g", &[trace("g", &[(0.0, 5.0, 5.0)])]).unwrap();
        assert_eq!((r.traces, r.points, r.per_trace), (1, 1, None));
        assert_eq!((r.duration_s, r.mean_speed_mps), (0.0, 0.0));
        assert_eq!(r.bbox, [5.0, 5.0, 5.0, 5.0]);
        assert!(FileReport::new("empty", &[]).is_err());
    }

    #[test]
    fn handovers_name_access_points_and_skip_unlocated_ones() {
        let mut topo = Topology::new();
        let ap = |id: &str, pos: Option<LatLon>| {
            Node::new(
                id,
                pos,
                NodeRole::AccessPoint(AccessPointSpec {
                    coverage_radius_m: 1500.0,
                    ..AccessPointSpec::default()
                }),
            )
        };
        topo.add_node(ap("west", Some(LatLon::new(0.0, 0.0).unwrap())))
            .unwrap();
        topo.add_node(ap("nowhere", None)).unwrap();
        topo.add_node(ap("east", Some(LatLon::new(0.0, 0.02).unwrap())))
            .unwrap();
        let (att, unlocated) = Attachment::new("t", &topo, 1.0, 50.0).unwrap();
        assert_eq!(unlocated, ["nowhere"]);
        // 2.2 km apart with 1.5 km radii: west to east, then on out of
        // range (4.4 km in 100 s).
        let t = trace("walk", &[(0.0, 0.0, 0.0), (100.0, 0.0, 0.04)]);
        let h = att.handovers(&t).unwrap();
        let names: Vec<(Option<&str>, Option<&str>)> = h
            .iter()
            .map(|h| (h.from.as_deref(), h.to.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                (None, Some("west")),
                (Some("west"), Some("east")),
                (Some("east"), None)
            ]
        );
        assert!(h.windows(2).all(|w| w[0].t_s < w[1].t_s));
        assert!(h.iter().all(|h| h.trace == "walk"));

        let long = trace("long", &[(0.0, 0.0, 0.0), (2e7, 0.0, 0.04)]);
        let e = att.handovers(&long).unwrap_err().to_string();
        assert!(e.starts_with("long: lasts 2.000e7 s"), "{e}");

        let mut routers = Topology::new();
        routers
            .add_node(Node::new("r", None, NodeRole::Router))
            .unwrap();
        let e = Attachment::new("r.toml", &routers, 1.0, 50.0).unwrap_err();
        assert!(e.to_string().starts_with("r.toml: no access point"), "{e}");
    }
}
