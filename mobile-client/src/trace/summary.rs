//! A trace in a few numbers, for `mcc-emu inspect trace`.

use serde::Serialize;

use super::Trace;

/// Key figures of a trace.
///
/// Speeds are computed between consecutive points: `max_speed_mps` is the
/// highest of those, so a single GPS jump (a fix tens of metres off for one
/// second) shows up in it; it is the figure a reader checks for noise, not a
/// smoothed top speed. `mean_speed_mps` is the length over the duration,
/// pauses included.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    /// The trace's name: source file, and `#id` when the file holds several traces.
    pub file: String,
    /// Number of points after cleaning.
    pub points: usize,
    /// Time from the first to the last point, in seconds.
    pub duration_s: f64,
    /// Great-circle length of the path, in kilometres.
    pub length_km: f64,
    /// Length over duration, in m/s (0 for a trace of zero duration).
    pub mean_speed_mps: f64,
    /// Highest speed between two consecutive points, in m/s.
    pub max_speed_mps: f64,
    /// Bounding box: `[min_lon, min_lat, max_lon, max_lat]` in degrees.
    pub bbox: [f64; 4],
    /// Longest time between two consecutive fixes, in seconds (a vehicle
    /// that stopped reporting shows here; see [`super::fleet`]).
    pub longest_gap_s: f64,
}

impl Trace {
    /// Great-circle length of the path in metres.
    pub fn length_m(&self) -> f64 {
        self.points()
            .windows(2)
            .map(|w| w[0].pos.distance_m(w[1].pos))
            .sum()
    }

    /// The trace's key figures.
    pub fn summary(&self) -> TraceSummary {
        let points = self.points();
        let mut max_speed_mps: f64 = 0.0;
        let mut length_m = 0.0;
        for w in points.windows(2) {
            let d = w[0].pos.distance_m(w[1].pos);
            length_m += d;
            max_speed_mps = max_speed_mps.max(d / (w[1].t_s - w[0].t_s));
        }
        let first = self.first().pos;
        let mut bbox = [first.lon_deg, first.lat_deg, first.lon_deg, first.lat_deg];
        for p in points {
            bbox[0] = bbox[0].min(p.pos.lon_deg);
            bbox[1] = bbox[1].min(p.pos.lat_deg);
            bbox[2] = bbox[2].max(p.pos.lon_deg);
            bbox[3] = bbox[3].max(p.pos.lat_deg);
        }
        let duration_s = self.duration_s();
        TraceSummary {
            file: self.name().to_string(),
            points: points.len(),
            duration_s,
            length_km: length_m / 1000.0,
            mean_speed_mps: if duration_s > 0.0 {
                length_m / duration_s
            } else {
                0.0
            },
            max_speed_mps,
            bbox,
            longest_gap_s: super::fleet::longest_gap_s(self),
        }
    }
}
