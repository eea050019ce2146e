//! Which access point a device attaches to.
//!
//! **Rule.** A device attaches to the nearest access point whose coverage
//! disc (great-circle distance <= `coverage_radius_m`) contains it. Once
//! attached, it keeps its access point while it stays in that one's range,
//! unless another access point in range is closer by more than the hysteresis
//! margin (`hysteresis_m`, [`DEFAULT_HYSTERESIS_M`] by default): it switches
//! only when `d(other) + hysteresis_m < d(current)`. Out of every range it is
//! detached (`None`). Ties go to the lower index, so results never depend on
//! hash order.
//!
//! **Index.** [`ApIndex`] puts the access points in a uniform grid in local
//! metres (an equirectangular projection around the access points' mean
//! position), with cells as wide as the largest coverage radius; a query
//! looks at the 3 x 3 (or a few more) cells around the device, drops the
//! candidates whose projected distance is clearly beyond their radius, and
//! measures great-circle distances to the rest only. The grid is a filter with
//! a safety margin, the decision is made on great-circle distances, so the
//! answer is that of a scan of all access points for deployments up to a few
//! hundred kilometres across (not across the antimeridian or near the poles).

use std::collections::HashMap;

use crate::position::LatLon;
use crate::trace::{Edge, Trace};

/// Default hysteresis margin in metres: larger than typical GPS noise (5-10 m)
/// and small next to urban cell radii (a few hundred metres).
pub const DEFAULT_HYSTERESIS_M: f64 = 50.0;

/// Metres per degree of latitude (mean Earth radius 6 371 008.8 m).
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// Relative slack added to the grid search radius to cover projection error.
const GRID_MARGIN: f64 = 0.05;

/// An access point as attachment sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccessPoint {
    /// Where the antenna is.
    pub pos: LatLon,
    /// Radius of the coverage disc in metres (> 0).
    pub coverage_radius_m: f64,
}

/// A change of attachment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Handover {
    /// Trace time of the change, in seconds.
    pub t_s: f64,
    /// Access point left (index into the list given to [`ApIndex::new`]), or `None` if detached.
    pub from: Option<usize>,
    /// Access point joined, or `None` when the device leaves every range.
    pub to: Option<usize>,
}

/// A parameter attachment cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AttachError {
    /// A coverage radius that is not a finite number > 0.
    #[error("access point {index}: coverage radius {radius_m} m must be > 0")]
    BadRadius {
        /// Index of the access point.
        index: usize,
        /// The radius given.
        radius_m: f64,
    },
    /// A sampling step that is not a finite number > 0.
    #[error("step {0} s must be > 0")]
    BadStep(f64),
    /// A hysteresis margin that is negative or not finite.
    #[error("hysteresis {0} m must be >= 0")]
    BadHysteresis(f64),
}

/// Access points in a grid, for nearest-in-range queries.
#[derive(Debug, Clone)]
pub struct ApIndex {
    aps: Vec<AccessPoint>,
    origin: LatLon,
    m_per_deg_lon: f64,
    cell_m: f64,
    max_radius_m: f64,
    /// Projected position of each access point, in metres.
    xy_m: Vec<(f64, f64)>,
    cells: HashMap<(i64, i64), Vec<usize>>,
}

impl ApIndex {
    /// Indexes `aps`; query answers are indices into this list.
    pub fn new(aps: Vec<AccessPoint>) -> Result<Self, AttachError> {
        for (index, ap) in aps.iter().enumerate() {
            if !(ap.coverage_radius_m.is_finite() && ap.coverage_radius_m > 0.0) {
                return Err(AttachError::BadRadius {
                    index,
                    radius_m: ap.coverage_radius_m,
                });
            }
        }
        let n = aps.len().max(1) as f64;
        let origin = LatLon {
            lat_deg: aps.iter().map(|a| a.pos.lat_deg).sum::<f64>() / n,
            lon_deg: aps.iter().map(|a| a.pos.lon_deg).sum::<f64>() / n,
        };
        let max_radius_m = aps.iter().map(|a| a.coverage_radius_m).fold(0.0, f64::max);
        let mut index = Self {
            aps,
            origin,
            m_per_deg_lon: M_PER_DEG * origin.lat_deg.to_radians().cos().max(1e-6),
            cell_m: max_radius_m.max(1.0),
            max_radius_m,
            xy_m: Vec::new(),
            cells: HashMap::new(),
        };
        index.xy_m = index.aps.iter().map(|a| index.project(a.pos)).collect();
        for i in 0..index.aps.len() {
            let cell = index.cell_of(index.aps[i].pos);
            index.cells.entry(cell).or_default().push(i);
        }
        Ok(index)
    }

    /// The indexed access points.
    pub fn access_points(&self) -> &[AccessPoint] {
        &self.aps
    }

    fn project(&self, pos: LatLon) -> (f64, f64) {
        (
            (pos.lon_deg - self.origin.lon_deg) * self.m_per_deg_lon,
            (pos.lat_deg - self.origin.lat_deg) * M_PER_DEG,
        )
    }

    fn cell_of(&self, pos: LatLon) -> (i64, i64) {
        let (x, y) = self.project(pos);
        (
            (x / self.cell_m).floor() as i64,
            (y / self.cell_m).floor() as i64,
        )
    }

    /// The nearest access point whose range covers `pos`, with its distance in metres.
    pub fn nearest_in_range(&self, pos: LatLon) -> Option<(usize, f64)> {
        let (x, y) = self.project(pos);
        let reach = self.max_radius_m * (1.0 + GRID_MARGIN) + 1.0;
        let cell = |v: f64| (v / self.cell_m).floor() as i64;
        let mut best: Option<(usize, f64)> = None;
        for cx in cell(x - reach)..=cell(x + reach) {
            for cy in cell(y - reach)..=cell(y + reach) {
                for &i in self.cells.get(&(cx, cy)).map_or(&[][..], Vec::as_slice) {
                    let ap = self.aps[i];
                    // Cheap projected test first; great-circle distance only for
                    // access points that may cover the device.
                    let (ax, ay) = self.xy_m[i];
                    let reach_m = ap.coverage_radius_m * (1.0 + GRID_MARGIN) + 1.0;
                    if (ax - x).powi(2) + (ay - y).powi(2) > reach_m * reach_m {
                        continue;
                    }
                    let d = ap.pos.distance_m(pos);
                    let better = match best {
                        None => true,
                        Some((j, bd)) => d < bd || (d == bd && i < j),
                    };
                    if d <= ap.coverage_radius_m && better {
                        best = Some((i, d));
                    }
                }
            }
        }
        best
    }

    /// The access point a device at `pos`, attached to `current`, attaches to
    /// under the module's rule with margin `hysteresis_m`.
    pub fn attach(&self, pos: LatLon, current: Option<usize>, hysteresis_m: f64) -> Option<usize> {
        let best = self.nearest_in_range(pos);
        let kept = current.and_then(|c| {
            let ap = self.aps.get(c)?;
            let d = ap.pos.distance_m(pos);
            (d <= ap.coverage_radius_m).then_some((c, d))
        });
        match (kept, best) {
            (Some((c, dc)), Some((b, db))) if b != c && db + hysteresis_m < dc => Some(b),
            (Some((c, _)), _) => Some(c),
            (None, best) => best.map(|(b, _)| b),
        }
    }
}

/// The attachment changes of a device following `trace`, sampled every
/// `step_s` seconds from the trace's first to its last point (the last point
/// is always sampled). The device starts detached, so a first attachment is
/// reported as a handover from `None`.
pub fn handovers_along(
    trace: &Trace,
    index: &ApIndex,
    step_s: f64,
    hysteresis_m: f64,
) -> Result<Vec<Handover>, AttachError> {
    if !(step_s.is_finite() && step_s > 0.0) {
        return Err(AttachError::BadStep(step_s));
    }
    if !(hysteresis_m.is_finite() && hysteresis_m >= 0.0) {
        return Err(AttachError::BadHysteresis(hysteresis_m));
    }
    let (start, end) = (trace.first().t_s, trace.last().t_s);
    let mut cursor = trace.cursor(Edge::Hold);
    let mut current = None;
    let mut handovers = Vec::new();
    let mut k: u64 = 0;
    loop {
        let t_s = (start + k as f64 * step_s).min(end);
        let next = index.attach(cursor.position_at(t_s), current, hysteresis_m);
        if next != current {
            handovers.push(Handover {
                t_s,
                from: current,
                to: next,
            });
            current = next;
        }
        if t_s >= end {
            break;
        }
        k += 1;
    }
    Ok(handovers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TracePoint;

    fn ap(lat: f64, lon: f64, r: f64) -> AccessPoint {
        AccessPoint {
            pos: LatLon::new(lat, lon).unwrap(),
            coverage_radius_m: r,
        }
    }

    #[test]
    fn hysteresis_prevents_flapping_at_the_border() {
        // Two access points about 1.1 km apart on a parallel; the device
        // wobbles +-10 m around the midpoint.
        let west = ap(52.66, -8.64, 800.0);
        let east = ap(52.66, -8.624, 800.0);
        let index = ApIndex::new(vec![west, east]).unwrap();
        let mid = west.pos.towards(east.pos, 0.5);
        let half_m = west.pos.distance_m(east.pos) / 2.0;
        let points: Vec<TracePoint> = (0..60)
            .map(|i| {
                let bearing = if i % 2 == 0 { 90.0 } else { 270.0 };
                TracePoint {
                    t_s: i as f64,
                    pos: mid.destination(bearing, 10.0),
                }
            })
            .collect();
        let trace = Trace::new("wobble", None, points).unwrap();
        let calm = handovers_along(&trace, &index, 1.0, DEFAULT_HYSTERESIS_M).unwrap();
        assert_eq!(calm.len(), 1, "{calm:?}");
        assert_eq!(calm[0].from, None);
        let flappy = handovers_along(&trace, &index, 1.0, 0.0).unwrap();
        assert!(flappy.len() > 50, "{}", flappy.len());
        // Hysteresis delays but does not prevent a handover once the other AP is clearly closer.
        let now_east = east.pos.destination(270.0, half_m - 30.0);
        assert_eq!(
            index.attach(now_east, Some(0), DEFAULT_HYSTERESIS_M),
            Some(1)
        );
        let just_past = east.pos.destination(270.0, half_m - 10.0);
        assert_eq!(
            index.attach(just_past, Some(0), DEFAULT_HYSTERESIS_M),
            Some(0)
        );
    }

    #[test]
    fn out_of_every_range_is_detached() {
        let index = ApIndex::new(vec![ap(0.0, 0.0, 100.0)]).unwrap();
        let far = LatLon::new(0.01, 0.0).unwrap();
        assert_eq!(index.attach(far, Some(0), DEFAULT_HYSTERESIS_M), None);
        assert!(ApIndex::new(vec![ap(0.0, 0.0, 0.0)]).is_err());
        assert_eq!(ApIndex::new(vec![]).unwrap().nearest_in_range(far), None);
    }
}
