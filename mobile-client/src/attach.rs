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
//! position), with cells sized for about one access point each; a query
//! visits rings of cells around the device until no closer access point can
//! exist, ranks candidates by distance in the plane tangent at each access
//! point (no trigonometry per candidate), and measures the great-circle
//! distance only to the few that can win. The decision is made on
//! great-circle distances, so the answer is that of a scan of all access
//! points for deployments up to a few hundred kilometres across (not across
//! the antimeridian or near the poles), and a query costs the same whether
//! coverage discs are small or overlap by the hundred.

use std::cell::RefCell;

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
    /// Grid extent in cells: the cell of the south-west-most access point,
    /// and the number of columns and rows.
    min_cell: (i64, i64),
    columns: i64,
    rows: i64,
    /// Access points of cell `(column, row)` are
    /// `cell_sites[cell_start[c]..cell_start[c + 1]]` with `c = row * columns + column`.
    cell_start: Vec<u32>,
    /// Every access point once, cell by cell (row by row), with what the
    /// search reads of it side by side.
    cell_sites: Vec<Site>,
}

/// An access point as the grid search reads it.
#[derive(Debug, Clone, Copy)]
struct Site {
    pos: LatLon,
    /// Metres per degree of longitude at the site's latitude.
    m_per_deg_lon: f64,
    radius_m: f64,
    /// Local distance within which the site may be in range:
    /// `radius_m * (1 + PROJECTION_SLACK) + 1`.
    maybe_in_range_m: f64,
    /// Local distance within which it surely is:
    /// `radius_m * (1 - PROJECTION_SLACK) - 1`.
    surely_in_range_m: f64,
    /// Index in the list given to [`ApIndex::new`].
    index: u32,
}

impl Site {
    /// Distance in metres from the site to `pos` in the plane tangent at the
    /// site's latitude: no trigonometry per call, and within a small
    /// fraction of a percent of the great-circle distance at coverage scales.
    fn local_distance_m(&self, pos: LatLon) -> f64 {
        let dx = (pos.lon_deg - self.pos.lon_deg) * self.m_per_deg_lon;
        let dy = (pos.lat_deg - self.pos.lat_deg) * M_PER_DEG;
        (dx * dx + dy * dy).sqrt()
    }
}

thread_local! {
    /// The candidates of a search, kept from one search to the next so that
    /// a search allocates nothing (devices are polled by the hundred
    /// thousand).
    static CANDIDATES: RefCell<Vec<(f64, usize)>> = const { RefCell::new(Vec::new()) };
}

/// Relative error the ranking by local projection may make against
/// great-circle distances (it is below 0.1 % for radii up to tens of km;
/// candidates within this of the best are measured exactly).
const PROJECTION_SLACK: f64 = 0.01;

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
        let m_per_deg_lon = M_PER_DEG * origin.lat_deg.to_radians().cos().max(1e-6);
        let project = |pos: LatLon| {
            (
                (pos.lon_deg - origin.lon_deg) * m_per_deg_lon,
                (pos.lat_deg - origin.lat_deg) * M_PER_DEG,
            )
        };
        // Cells of about one access point each, so that a query looks at a
        // handful of them, whatever the coverage radii.
        let xy: Vec<(f64, f64)> = aps.iter().map(|a| project(a.pos)).collect();
        let (min_x, max_x, min_y, max_y) = xy.iter().fold(
            (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
            |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
        );
        let area_m2 = ((max_x - min_x).max(1.0)) * ((max_y - min_y).max(1.0));
        let cell_m = (area_m2 / n).sqrt().clamp(25.0, max_radius_m.max(25.0));
        let cell = |v: f64| (v / cell_m).floor() as i64;
        let (min_cell, columns, rows) = if aps.is_empty() {
            ((0, 0), 0, 0)
        } else {
            (
                (cell(min_x), cell(min_y)),
                cell(max_x) - cell(min_x) + 1,
                cell(max_y) - cell(min_y) + 1,
            )
        };
        let cell_of = |&(x, y): &(f64, f64)| {
            ((cell(y) - min_cell.1) * columns + (cell(x) - min_cell.0)) as usize
        };
        let cells = (columns * rows) as usize;
        let mut counts = vec![0u32; cells + 1];
        for p in &xy {
            counts[cell_of(p) + 1] += 1;
        }
        for c in 0..cells {
            counts[c + 1] += counts[c];
        }
        let cell_start = counts.clone();
        let mut cell_sites = vec![None; aps.len()];
        for (i, (ap, p)) in aps.iter().zip(&xy).enumerate() {
            let c = cell_of(p);
            cell_sites[counts[c] as usize] = Some(Site {
                pos: ap.pos,
                m_per_deg_lon: M_PER_DEG * ap.pos.lat_deg.to_radians().cos().max(1e-6),
                radius_m: ap.coverage_radius_m,
                maybe_in_range_m: ap.coverage_radius_m * (1.0 + PROJECTION_SLACK) + 1.0,
                surely_in_range_m: ap.coverage_radius_m * (1.0 - PROJECTION_SLACK) - 1.0,
                index: i as u32,
            });
            counts[c] += 1;
        }
        Ok(Self {
            // Each access point has exactly one place in its cell.
            cell_sites: cell_sites.into_iter().flatten().collect(),
            aps,
            origin,
            m_per_deg_lon,
            cell_m,
            max_radius_m,
            min_cell,
            columns,
            rows,
            cell_start,
        })
    }

    /// The indexed access points.
    pub fn access_points(&self) -> &[AccessPoint] {
        &self.aps
    }

    /// Calls `visit` for every access point in the cells of ring `k` around
    /// cell `(cx, cy)` (the cells at Chebyshev distance `k`; ring 0 is the
    /// cell itself), skipping the cells outside the grid without looking at
    /// them.
    fn for_each_in_ring(&self, cx: i64, cy: i64, k: i64, mut visit: impl FnMut(&Site)) {
        let (gx0, gy0) = self.min_cell;
        let (gx1, gy1) = (gx0 + self.columns - 1, gy0 + self.rows - 1);
        // Cells x0..=x1 of row y are contiguous in `cell_sites`.
        let mut row = |y: i64, x0: i64, x1: i64| {
            let (x0, x1) = (x0.max(gx0), x1.min(gx1));
            if y < gy0 || y > gy1 || x0 > x1 {
                return;
            }
            let first = ((y - gy0) * self.columns + (x0 - gx0)) as usize;
            let last = ((y - gy0) * self.columns + (x1 - gx0)) as usize;
            let (start, end) = (self.cell_start[first], self.cell_start[last + 1]);
            self.cell_sites[start as usize..end as usize]
                .iter()
                .for_each(&mut visit);
        };
        if k == 0 {
            row(cy, cx, cx);
            return;
        }
        row(cy - k, cx - k, cx + k);
        row(cy + k, cx - k, cx + k);
        for y in (cy - k + 1).max(gy0)..=(cy + k - 1).min(gy1) {
            row(y, cx - k, cx - k);
            row(y, cx + k, cx + k);
        }
    }

    /// The nearest access point whose range covers `pos`, with its distance in metres.
    ///
    /// Cells are visited in rings around the device until no closer access
    /// point can exist; candidates are ranked by local distance, and the
    /// few within `PROJECTION_SLACK` (1 %) of the best are measured on the great
    /// circle, which makes the decision.
    pub fn nearest_in_range(&self, pos: LatLon) -> Option<(usize, f64)> {
        self.search(pos).best
    }

    /// [`ApIndex::nearest_in_range`] with the bounds [`ApIndex::attach_with_slack`] needs.
    fn search(&self, pos: LatLon) -> Search {
        CANDIDATES.with_borrow_mut(|candidates| {
            candidates.clear();
            self.search_with(pos, candidates)
        })
    }

    /// [`ApIndex::search`] collecting candidates in `candidates` (empty).
    fn search_with(&self, pos: LatLon, candidates: &mut Vec<(f64, usize)>) -> Search {
        let mut search = Search {
            best: None,
            nearest: [(f64::INFINITY, usize::MAX); 2],
            excess_floor_m: f64::INFINITY,
            unseen_floor_m: 0.0,
        };
        if self.aps.is_empty() {
            search.unseen_floor_m = f64::INFINITY;
            return search;
        }
        let x = (pos.lon_deg - self.origin.lon_deg) * self.m_per_deg_lon;
        let y = (pos.lat_deg - self.origin.lat_deg) * M_PER_DEG;
        let (cx, cy) = (
            (x / self.cell_m).floor() as i64,
            (y / self.cell_m).floor() as i64,
        );
        let reach_m = self.max_radius_m * (1.0 + GRID_MARGIN) + 1.0;
        // Rings needed to reach the grid at all, and to cover the reach.
        let gap = |c: i64, lo: i64, n: i64| (lo - c).max(c - (lo + n - 1)).max(0);
        let first_ring =
            gap(cx, self.min_cell.0, self.columns).max(gap(cy, self.min_cell.1, self.rows));
        let last_ring = (reach_m / self.cell_m).ceil() as i64 + 1;
        let ring_floor = |k: i64| (k - 1).max(0) as f64 * self.cell_m * (1.0 - GRID_MARGIN);
        if first_ring > last_ring {
            search.unseen_floor_m = ring_floor(first_ring);
            search.excess_floor_m = search.unseen_floor_m - self.max_radius_m;
            return search;
        }
        // Local distance of the nearest access point surely in range: no
        // access point in a ring beyond it can win.
        let mut best_sure = f64::INFINITY;
        // Every cell of ring k is at least (k - 1) cells from the device.
        let mut first_unvisited = last_ring + 1;
        for k in first_ring..=last_ring {
            if ring_floor(k) > best_sure * (1.0 + PROJECTION_SLACK) + 1.0 {
                first_unvisited = k;
                break;
            }
            self.for_each_in_ring(cx, cy, k, |site| {
                let d = site.local_distance_m(pos);
                search.note_visited(
                    site.index as usize,
                    d * (1.0 - PROJECTION_SLACK) - 1.0,
                    site.radius_m,
                );
                if d <= site.maybe_in_range_m {
                    candidates.push((d, site.index as usize));
                }
                if d <= site.surely_in_range_m {
                    best_sure = best_sure.min(d);
                }
            });
        }
        // Candidates farther than this cannot beat the nearest site surely
        // in range: the same bound that left the outer rings unvisited
        // (sites pushed before that site was found would be measured, only
        // to lose, and cost a scan each).
        let beaten_m = best_sure * (1.0 + PROJECTION_SLACK) + 1.0;
        candidates.retain(|&(d, _)| d <= beaten_m);
        search.unseen_floor_m = ring_floor(first_unvisited);
        search.excess_floor_m = search
            .excess_floor_m
            .min(search.unseen_floor_m - self.max_radius_m);
        // Exact decision on the candidates that can win, nearest first; if
        // none of those is really in range, the others are measured too.
        let mut best: Option<(usize, f64)> = None;
        let mut nearest_first = NearestFirst::new(candidates);
        while let Some((local, i)) = nearest_first.next() {
            if let Some((_, bd)) = best
                && local > bd * (1.0 + PROJECTION_SLACK) + 1.0
            {
                break;
            }
            let ap = self.aps[i];
            let d = ap.pos.distance_m(pos);
            let better = match best {
                None => true,
                Some((j, bd)) => d < bd || (d == bd && i < j),
            };
            if d <= ap.coverage_radius_m && better {
                best = Some((i, d));
            }
        }
        search.best = best;
        search
    }

    /// The access point a device at `pos`, attached to `current`, attaches to
    /// under the module's rule with margin `hysteresis_m`.
    pub fn attach(&self, pos: LatLon, current: Option<usize>, hysteresis_m: f64) -> Option<usize> {
        self.attach_with_slack(pos, current, hysteresis_m).0
    }

    /// [`ApIndex::attach`], and how far (metres, great circle) the device may
    /// move from `pos` before the answer can change: until it has moved that
    /// far, `attach(new_pos, answer, hysteresis_m)` is `answer` again, so a
    /// caller that polls many devices often can skip the query.
    ///
    /// The bound follows from the triangle inequality (a move of δ changes
    /// every distance by at most δ): attached to `c` at distance `d_c`, the
    /// device stays while `d_c + δ <= r_c` and no other site can get closer by
    /// the margin, `d_b - δ + h >= d_c + δ`; detached, it stays while
    /// `d_i - δ > r_i` for every site.
    pub fn attach_with_slack(
        &self,
        pos: LatLon,
        current: Option<usize>,
        hysteresis_m: f64,
    ) -> (Option<usize>, f64) {
        let search = self.search(pos);
        let kept = current.and_then(|c| {
            let ap = self.aps.get(c)?;
            // Usually the current access point is still the nearest, whose
            // distance the search has just measured.
            let d = match search.best {
                Some((b, d_b)) if b == c => d_b,
                _ => ap.pos.distance_m(pos),
            };
            (d <= ap.coverage_radius_m).then_some((c, d))
        });
        let answer = match (kept, search.best) {
            (Some((c, dc)), Some((b, db))) if b != c && db + hysteresis_m < dc => Some((b, db)),
            (Some(kept), _) => Some(kept),
            (None, best) => best,
        };
        let slack = match answer {
            Some((c, d_c)) => {
                let radius = self.aps[c].coverage_radius_m;
                let others = search.nearest_other_floor_m(c);
                (radius - d_c).min((others + hysteresis_m - d_c) / 2.0)
            }
            None => search.excess_floor_m,
        };
        (answer.map(|(c, _)| c), slack.max(0.0))
    }
}

/// What a grid search found, with lower bounds on what it did not look at.
#[derive(Debug, Clone, Copy)]
struct Search {
    /// The nearest access point in range, with its great-circle distance.
    best: Option<(usize, f64)>,
    /// The two smallest lower bounds on the distance to a visited access
    /// point, with its index.
    nearest: [(f64, usize); 2],
    /// Lower bound on `distance - radius` over every access point.
    excess_floor_m: f64,
    /// Lower bound on the distance to any access point not visited.
    unseen_floor_m: f64,
}

impl Search {
    /// Records a visited access point `i` whose distance is at least
    /// `floor_m` and whose radius is `radius_m`.
    fn note_visited(&mut self, i: usize, floor_m: f64, radius_m: f64) {
        self.excess_floor_m = self.excess_floor_m.min(floor_m - radius_m);
        if floor_m < self.nearest[0].0 {
            self.nearest = [(floor_m, i), self.nearest[0]];
        } else if floor_m < self.nearest[1].0 {
            self.nearest[1] = (floor_m, i);
        }
    }

    /// Lower bound on the distance to the nearest access point other than `c`.
    fn nearest_other_floor_m(&self, c: usize) -> f64 {
        let visited = if self.nearest[0].1 == c {
            self.nearest[1].0
        } else {
            self.nearest[0].0
        };
        visited.min(self.unseen_floor_m)
    }
}

/// Candidates `(local distance, index)` handed out nearest first (ties to the
/// lower index), as sorting them would, without sorting all of them when
/// only the first few are wanted (the usual case: the search stops after one
/// or two).
struct NearestFirst<'a> {
    items: &'a mut Vec<(f64, usize)>,
    picked: usize,
    sorted: bool,
}

impl<'a> NearestFirst<'a> {
    /// Picks made by scanning before the rest is sorted.
    const SCANS: usize = 4;

    fn new(items: &'a mut Vec<(f64, usize)>) -> Self {
        Self {
            items,
            picked: 0,
            sorted: false,
        }
    }

    fn order(a: &(f64, usize), b: &(f64, usize)) -> std::cmp::Ordering {
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
    }

    fn next(&mut self) -> Option<(f64, usize)> {
        if !self.sorted && self.picked < Self::SCANS {
            self.picked += 1;
            let (at, _) = self
                .items
                .iter()
                .enumerate()
                .min_by(|a, b| Self::order(a.1, b.1))?;
            return Some(self.items.swap_remove(at));
        }
        if !self.sorted {
            // Farthest first, so that the nearest is popped off the end.
            self.items.sort_unstable_by(|a, b| Self::order(b, a));
            self.sorted = true;
        }
        self.items.pop()
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
    fn candidates_come_out_as_sorted_whether_scanned_or_sorted() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for n in [0, 1, 3, 4, 5, 9, 40, 200] {
            // Few distinct distances, so that ties by index are exercised.
            let items: Vec<(f64, usize)> = (0..n)
                .map(|i| (f64::from(rng.random_range(0..7u8)) * 10.0, i))
                .collect();
            let mut sorted = items.clone();
            sorted.sort_by(NearestFirst::order);
            let mut items = items;
            let mut nearest_first = NearestFirst::new(&mut items);
            let order: Vec<_> = std::iter::from_fn(|| nearest_first.next()).collect();
            assert_eq!(order, sorted, "{n} candidates");
        }
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
