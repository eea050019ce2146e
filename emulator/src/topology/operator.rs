//! A generated operator access network hung off a backbone: cell sites on a
//! hexagonal grid, aggregation sites (each with a cloudlet) on a coarser
//! grid, every aggregation site linked to its nearest backbone point of
//! presence (the metro core), the backbone itself the national core.
//!
//! Everything here is **synthetic**: the operator's real site list is not
//! public. What it rests on is published:
//!
//! - cell sites stand on a hexagonal grid with the inter-site distance of
//!   3GPP TR 38.901 (v17.0.0) Table 7.2-1: 500 m for Urban Macro (UMa) in a
//!   dense zone, 1732 m for Rural Macro (RMa) elsewhere;
//! - aggregation sites stand on a hexagonal grid `aggregation_spacing` times
//!   as coarse (3 by default, so about 3² = 9 cell sites per aggregation
//!   site); every cell site is linked to its nearest aggregation site;
//! - link latency = great-circle length × route factor × fibre delay + a
//!   per-hop equipment cost; capacities per tier.
//!
//! The defaults and their sources are the `DEFAULT_*` constants below and
//! `docs/topology.md` ("Generated operator network").

use mcc_mobile_client::position::LatLon;
use serde::Serialize;

use super::graph::{NodeIx, Topology};
use super::hexgrid::{LocalFrame, cell_radius_m, hex_points};
use super::model::{AccessPointSpec, CloudletSpec, Link, Node, NodeKind, NodeRole};

/// Inter-site distance of the Urban Macro (UMa) deployment: 500 m
/// (3GPP TR 38.901 v17.0.0, Table 7.2-1, "ISD").
pub const DEFAULT_DENSE_ISD_M: f64 = 500.0;
/// Inter-site distance of the Rural Macro (RMa) deployment: 1732 m
/// (3GPP TR 38.901 v17.0.0, Table 7.2-1; the table also allows 5000 m).
pub const DEFAULT_RURAL_ISD_M: f64 = 1732.0;
/// Aggregation-site spacing as a multiple of the cell inter-site distance:
/// 3, a hexagonal cluster of about 9 cell sites per aggregation site. A
/// modelling choice of this project, in the range of the 6 to 10 cell sites
/// per access ring that 5G transport dimensioning studies assume (see
/// `docs/topology.md`; not a figure of one standard).
pub const DEFAULT_AGGREGATION_SPACING: f64 = 3.0;
/// Fibre route length over great-circle distance: 1.3, the median ratio of
/// the shortest fibre-conduit path to the line-of-sight distance between
/// the 120 largest US population centres on the InterTubes conduit map
/// (Bozkurt et al., "Dissecting Latency in the Internet's Fiber
/// Infrastructure", arXiv:1811.10737, 2018, abstract: "could be reduced
/// from 2.1 to 1.3, in the median"). Their 2.1 is what measured Internet
/// latencies imply with routing detours included; a generated link is one
/// fibre between two sites and the detours of routing are the graph's own
/// hops, so the conduit figure applies. The ITU-T G.826 route-length rule
/// (1.5 × air-route distance) this default used before could not be
/// checked against the Recommendation's text.
pub const DEFAULT_ROUTE_FACTOR: f64 = 1.3;
/// Equipment latency per generated link: 0.015 ms, the top of the 10-15 µs
/// of IP processing per node that a transport-network training page gives
/// ("Where Bearer Network Delay Occurs", telecomtrainer.com: IP processing
/// about 10-15 µs per set, OTN about 30 µs per set); not a standard's
/// figure. Queueing is modelled apart, so nothing is added for it.
pub const DEFAULT_PER_HOP_LATENCY_MS: f64 = 0.015;
/// Propagation delay in optical fibre: 5 µs/km (ITU-T Rec. G.114 (05/2003),
/// Table 1, "optical fibre cable system").
pub const DEFAULT_FIBRE_US_PER_KM: f64 = 5.0;
/// Capacity of a cell site's backhaul to its aggregation site: 10 Gbit/s.
/// A training page's backhaul table ("Backhaul Capacity Requirements for 5G
/// Sites", telecomtrainer.com; not a standard) asks > 10 Gbit/s of a dense
/// urban site carrying LTE, 200 MHz of 5G at ~4 GHz and ≥ 400 MHz at ~30
/// GHz; a site with one 100 MHz NR carrier needs less. The ITU-T GSTR-TN5G
/// (10/2018) tier rates once quoted for it could not be read in the copies
/// at hand.
pub const DEFAULT_ACCESS_CAPACITY_BPS: f64 = 10e9;
/// Capacity of an aggregation site's uplink to the metro core, and of the
/// link to the cloudlet standing beside it: 100 Gbit/s. China Telecom's
/// 5G plan (OFC 2018 plenary, reported by Light Reading, "China Telecom
/// Eyes 2M+ Basestations for 5G") feeds each base station's fronthaul
/// (up to 25 Gbit/s) into mid-haul and backhaul links "with up to 100
/// Gbit/s of capacity"; ITU-T G.8310 (12/2020), the metro transport
/// network for 5G RAN traffic, runs on 50, 100, 200 and 400GBASE-R
/// Ethernet. 100 Gbit/s is the least of those above about nine 10 Gbit/s
/// cell-site links, so the uplink is not oversubscribed (see
/// `docs/topology.md`).
pub const DEFAULT_AGGREGATION_CAPACITY_BPS: f64 = 100e9;

/// A latitude/longitude box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundingBox {
    /// Southern edge, degrees.
    pub south: f64,
    /// Western edge, degrees.
    pub west: f64,
    /// Northern edge, degrees.
    pub north: f64,
    /// Eastern edge, degrees.
    pub east: f64,
}

impl BoundingBox {
    /// Why the box is unusable, if it is.
    pub fn problem(&self) -> Option<String> {
        let ok = LatLon::new(self.south, self.west).is_ok()
            && LatLon::new(self.north, self.east).is_ok()
            && self.south < self.north
            && self.west < self.east;
        (!ok).then(|| {
            format!(
                "south {} < north {} and west {} < east {} must hold, within [-90, 90] and [-180, 180]",
                self.south, self.north, self.west, self.east
            )
        })
    }

    fn centre(&self) -> Option<LatLon> {
        LatLon::new(
            (self.south + self.north) / 2.0,
            (self.west + self.east) / 2.0,
        )
        .ok()
    }

    /// Whether `p` is in the box grown by `margin_m` on every side.
    fn contains_with_margin(&self, p: LatLon, margin_m: f64) -> bool {
        let dlat = (margin_m / 6_371_008.8).to_degrees();
        let dlon = dlat / p.lat_deg.to_radians().cos().max(1e-9);
        p.lat_deg >= self.south - dlat
            && p.lat_deg <= self.north + dlat
            && p.lon_deg >= self.west - dlon
            && p.lon_deg <= self.east + dlon
    }
}

/// A zone with denser cell sites (a city centre).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DenseZone {
    /// Its centre.
    pub centre: LatLon,
    /// Its radius, metres.
    pub radius_m: f64,
    /// Inter-site distance inside it, metres.
    pub isd_m: f64,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorSpec {
    /// The area to cover.
    pub region: BoundingBox,
    /// Inter-site distance outside the dense zone, metres.
    pub isd_m: f64,
    /// The dense zone, if any.
    pub dense: Option<DenseZone>,
    /// Aggregation-site spacing over cell-site spacing (≥ 1).
    pub aggregation_spacing: f64,
    /// Fibre route length over great-circle length (≥ 1).
    pub route_factor: f64,
    /// Propagation delay of fibre, µs per km.
    pub fibre_us_per_km: f64,
    /// Equipment latency added to every generated link, ms.
    pub per_hop_latency_ms: f64,
    /// Cell site to aggregation site capacity, bit/s.
    pub access_capacity_bps: f64,
    /// Aggregation site to metro core (and to its cloudlet) capacity, bit/s.
    pub aggregation_capacity_bps: f64,
    /// Capacity of each aggregation site's cloudlet.
    pub cloudlet: CloudletSpec,
    /// Radio data of every cell site (its coverage radius is replaced by the
    /// radius of its hexagonal cell, `isd/√3`, so the grid leaves no hole).
    pub access_point: AccessPointSpec,
}

impl OperatorSpec {
    /// The documented defaults over `region`, without a dense zone.
    pub fn new(region: BoundingBox) -> Self {
        Self {
            region,
            isd_m: DEFAULT_RURAL_ISD_M,
            dense: None,
            aggregation_spacing: DEFAULT_AGGREGATION_SPACING,
            route_factor: DEFAULT_ROUTE_FACTOR,
            fibre_us_per_km: DEFAULT_FIBRE_US_PER_KM,
            per_hop_latency_ms: DEFAULT_PER_HOP_LATENCY_MS,
            access_capacity_bps: DEFAULT_ACCESS_CAPACITY_BPS,
            aggregation_capacity_bps: DEFAULT_AGGREGATION_CAPACITY_BPS,
            cloudlet: CloudletSpec::default(),
            access_point: AccessPointSpec::default(),
        }
    }

    /// Why the spec is unusable, naming the field, if it is.
    pub fn problem(&self) -> Option<String> {
        if let Some(p) = self.region.problem() {
            return Some(format!("region: {p}"));
        }
        let positive = |name: &str, v: f64, min: f64| {
            (!(v.is_finite() && v >= min))
                .then(|| format!("{name} must be a number >= {min}, got {v}"))
        };
        positive("isd_m", self.isd_m, 10.0)
            .or_else(|| {
                self.dense.and_then(|d| {
                    positive("dense.isd_m", d.isd_m, 10.0)
                        .or_else(|| positive("dense.radius_m", d.radius_m, 0.0))
                })
            })
            .or_else(|| positive("aggregation_spacing", self.aggregation_spacing, 1.0))
            .or_else(|| positive("route_factor", self.route_factor, 1.0))
            .or_else(|| positive("fibre_latency_us_per_km", self.fibre_us_per_km, 0.0))
            .or_else(|| positive("per_hop_latency_ms", self.per_hop_latency_ms, 0.0))
            .or_else(|| positive("access_capacity_gbps", self.access_capacity_bps, 1.0))
            .or_else(|| {
                positive(
                    "aggregation_capacity_gbps",
                    self.aggregation_capacity_bps,
                    1.0,
                )
            })
    }

    fn link(&self, a: LatLon, b: LatLon, capacity_bps: f64) -> Link {
        let fibre_km = a.distance_m(b) / 1000.0 * self.route_factor;
        Link {
            latency_ms: fibre_km * self.fibre_us_per_km / 1000.0 + self.per_hop_latency_ms,
            capacity_bps,
        }
    }
}

/// What was generated, for `mcc-emu inspect scenario`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatorReport {
    /// Cell sites (access points) in all.
    pub cell_sites: usize,
    /// Of which in the dense zone.
    pub cell_sites_dense: usize,
    /// Inter-site distance in the dense zone, metres (if there is one).
    pub dense_isd_m: Option<f64>,
    /// Inter-site distance elsewhere, metres.
    pub isd_m: f64,
    /// Aggregation sites, each with a cloudlet.
    pub aggregation_sites: usize,
    /// Most cell sites on one aggregation site.
    pub max_cells_per_aggregation: usize,
    /// Backbone nodes the aggregation sites hang off (the metro core), with
    /// how many each.
    pub metro_pops: Vec<(String, usize)>,
}

/// One zone's grid: its spacing and whether a point belongs to it.
struct Zone {
    spacing_m: f64,
    dense: bool,
}

/// The sites of both zones over the region: `factor` scales the spacing
/// (1 for cell sites, the aggregation spacing for aggregation sites).
/// Dense-zone sites stand within the zone's radius; the others at least one
/// of their own cell radius inside the zone's edge, so the two grids
/// overlap a little and leave no hole. Every site within one cell radius of
/// the region counts, so the region is covered to its edges.
fn zone_sites(spec: &OperatorSpec, frame: &LocalFrame, factor: f64) -> Vec<(LatLon, bool)> {
    let mut zones = vec![Zone {
        spacing_m: spec.isd_m * factor,
        dense: false,
    }];
    if let Some(d) = spec.dense {
        zones.insert(
            0,
            Zone {
                spacing_m: d.isd_m * factor,
                dense: true,
            },
        );
    }
    let r = &spec.region;
    let corners = [
        (r.south, r.west),
        (r.south, r.east),
        (r.north, r.west),
        (r.north, r.east),
    ]
    .map(|(lat, lon)| frame.to_local(LatLon::new(lat, lon).unwrap_or(frame.origin)));
    // The widest east-west extent is on the edge nearer the equator.
    let west = corners.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
    let east = corners
        .iter()
        .map(|c| c.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let south = corners.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
    let north = corners
        .iter()
        .map(|c| c.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut sites = Vec::new();
    for zone in zones {
        let radius = cell_radius_m(zone.spacing_m);
        let grow = radius + zone.spacing_m;
        for (e, n) in hex_points(
            zone.spacing_m,
            (west - grow, east + grow),
            (south - grow, north + grow),
        ) {
            let Some(p) = frame.to_latlon(e, n) else {
                continue;
            };
            if !r.contains_with_margin(p, radius) {
                continue;
            }
            let keep = match spec.dense {
                None => true,
                Some(d) if zone.dense => p.distance_m(d.centre) <= d.radius_m,
                Some(d) => p.distance_m(d.centre) >= d.radius_m - radius,
            };
            if keep {
                sites.push((p, zone.dense));
            }
        }
    }
    sites
}

/// The index of the position in `candidates` nearest to `p` (ties: first).
fn nearest(p: LatLon, candidates: &[LatLon]) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.distance_m(p), i))
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, i)| i)
}

/// Generates the operator network over `spec.region` and hangs it off the
/// located routers of `topology` (the backbone: its points of presence are
/// the metro core). Node ids: `cell-<n>` (access points), `agg-<n>`
/// (aggregation routers), `cloudlet-agg-<n>` (their cloudlets), numbered
/// from 1 in generation order (dense zone first, rows south to north).
pub fn add_operator_network(
    topology: &mut Topology,
    spec: &OperatorSpec,
) -> Result<OperatorReport, String> {
    if let Some(p) = spec.problem() {
        return Err(p);
    }
    let pops: Vec<(NodeIx, LatLon)> = topology
        .nodes_of_kind(NodeKind::Router)
        .filter_map(|(ix, n)| Some((ix, n.position?)))
        .collect();
    if pops.is_empty() {
        return Err(
            "the backbone has no router with coordinates for aggregation sites to hang off (give `topology.file`)"
                .into(),
        );
    }
    let origin = spec
        .dense
        .map(|d| d.centre)
        .or_else(|| spec.region.centre())
        .ok_or("region: its centre is not a position")?;
    let frame = LocalFrame { origin };
    let cells = zone_sites(spec, &frame, 1.0);
    let mut aggs = zone_sites(spec, &frame, spec.aggregation_spacing);
    // Each cell site to its nearest aggregation site; unused ones dropped.
    let agg_positions: Vec<LatLon> = aggs.iter().map(|a| a.0).collect();
    let mut home: Vec<usize> = Vec::with_capacity(cells.len());
    let mut load = vec![0usize; aggs.len()];
    for (p, _) in &cells {
        let a = nearest(*p, &agg_positions).ok_or("no aggregation site was generated")?;
        home.push(a);
        load[a] += 1;
    }
    let mut renumber = vec![usize::MAX; aggs.len()];
    let mut kept = 0;
    for (i, &n) in load.iter().enumerate() {
        if n > 0 {
            renumber[i] = kept;
            kept += 1;
        }
    }
    aggs = aggs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| load[*i] > 0)
        .map(|(_, a)| a)
        .collect();

    let err = |e: super::graph::TopologyError| e.to_string();
    let pop_positions: Vec<LatLon> = pops.iter().map(|p| p.1).collect();
    let mut pop_use = vec![0usize; pops.len()];
    let mut agg_nodes = Vec::with_capacity(aggs.len());
    for (i, (p, _)) in aggs.iter().enumerate() {
        let router = topology
            .add_node(Node::new(
                format!("agg-{}", i + 1),
                Some(*p),
                NodeRole::Router,
            ))
            .map_err(err)?;
        let cloudlet = topology
            .add_node(Node::new(
                format!("cloudlet-agg-{}", i + 1),
                Some(*p),
                NodeRole::Cloudlet(spec.cloudlet),
            ))
            .map_err(err)?;
        topology
            .add_link(
                router,
                cloudlet,
                spec.link(*p, *p, spec.aggregation_capacity_bps),
            )
            .map_err(err)?;
        let pop = nearest(*p, &pop_positions).ok_or("no metro point of presence")?;
        pop_use[pop] += 1;
        topology
            .add_link(
                router,
                pops[pop].0,
                spec.link(*p, pops[pop].1, spec.aggregation_capacity_bps),
            )
            .map_err(err)?;
        agg_nodes.push(router);
    }
    let mut dense_cells = 0;
    for (k, ((p, dense), a)) in cells.iter().zip(&home).enumerate() {
        let isd = match (dense, spec.dense) {
            (true, Some(d)) => d.isd_m,
            _ => spec.isd_m,
        };
        dense_cells += usize::from(*dense);
        let ap = AccessPointSpec {
            coverage_radius_m: cell_radius_m(isd),
            ..spec.access_point
        };
        let cell = topology
            .add_node(Node::new(
                format!("cell-{}", k + 1),
                Some(*p),
                NodeRole::AccessPoint(ap),
            ))
            .map_err(err)?;
        let agg = renumber[*a];
        topology
            .add_link(
                cell,
                agg_nodes[agg],
                spec.link(*p, aggs[agg].0, spec.access_capacity_bps),
            )
            .map_err(err)?;
    }
    Ok(OperatorReport {
        cell_sites: cells.len(),
        cell_sites_dense: dense_cells,
        dense_isd_m: spec.dense.map(|d| d.isd_m),
        isd_m: spec.isd_m,
        aggregation_sites: aggs.len(),
        max_cells_per_aggregation: load.iter().copied().max().unwrap_or(0),
        metro_pops: pops
            .iter()
            .zip(&pop_use)
            .filter(|(_, n)| **n > 0)
            .map(|((ix, _), n)| {
                let id = topology.node(*ix).map(|n| n.id.clone()).unwrap_or_default();
                (id, *n)
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backbone() -> Topology {
        let mut t = Topology::new();
        for (id, lat, lon) in [("pop-w", 53.30, -6.40), ("pop-e", 53.35, -6.25)] {
            t.add_node(Node::new(
                id,
                Some(LatLon::new(lat, lon).unwrap()),
                NodeRole::Router,
            ))
            .unwrap();
        }
        let (w, e) = (t.index_of("pop-w").unwrap(), t.index_of("pop-e").unwrap());
        t.add_link(
            w,
            e,
            Link {
                latency_ms: 0.2,
                capacity_bps: 1e9,
            },
        )
        .unwrap();
        t
    }

    fn region() -> BoundingBox {
        BoundingBox {
            south: 53.25,
            west: -6.45,
            north: 53.40,
            east: -6.20,
        }
    }

    #[test]
    fn site_count_and_spacing_follow_the_isd() {
        let mut t = backbone();
        let spec = OperatorSpec::new(region());
        let report = add_operator_network(&mut t, &spec).unwrap();
        let cells: Vec<LatLon> = t
            .access_points()
            .map(|(_, n, _)| n.position.unwrap())
            .collect();
        assert_eq!(cells.len(), report.cell_sites);
        // Nearest neighbour of every cell site: one ISD (1732 m).
        for (i, p) in cells.iter().enumerate() {
            let d = cells
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, q)| p.distance_m(*q))
                .fold(f64::INFINITY, f64::min);
            assert!((d - 1732.0).abs() < 1732.0 * 0.005, "cell {i}: {d}");
        }
        // About one site per hexagon of area √3/2·ISD² over the region grown
        // by one cell radius on every side.
        let (w, h) = (
            LatLon::new(53.25, -6.45)
                .unwrap()
                .distance_m(LatLon::new(53.25, -6.20).unwrap()),
            LatLon::new(53.25, -6.45)
                .unwrap()
                .distance_m(LatLon::new(53.40, -6.45).unwrap()),
        );
        let r = 1732.0 / 3f64.sqrt();
        let expected = (w + 2.0 * r) * (h + 2.0 * r) / (3f64.sqrt() / 2.0 * 1732.0 * 1732.0);
        let n = report.cell_sites as f64;
        assert!((n - expected).abs() / expected < 0.12, "{n} vs {expected}");
        // Every cell site's coverage is its hexagon's radius.
        assert!(
            t.access_points()
                .all(|(_, _, s)| (s.coverage_radius_m - r).abs() < 1e-9)
        );
        // About 9 cell sites per aggregation site, each with a cloudlet.
        let per_agg = n / report.aggregation_sites as f64;
        assert!((5.0..=12.0).contains(&per_agg), "{per_agg}");
        assert_eq!(t.cloudlets().count(), report.aggregation_sites);
        assert!(t.summary().connected);
    }

    #[test]
    fn a_dense_zone_has_the_uma_spacing() {
        let mut t = backbone();
        let centre = LatLon::new(53.3498, -6.2603).unwrap();
        let mut spec = OperatorSpec::new(region());
        spec.dense = Some(DenseZone {
            centre,
            radius_m: 3_000.0,
            isd_m: DEFAULT_DENSE_ISD_M,
        });
        let report = add_operator_network(&mut t, &spec).unwrap();
        // A disc of 3 km holds about π·3²/(√3/2·0.5²) ≈ 131 UMa sites.
        let expected = std::f64::consts::PI * 9e6 / (3f64.sqrt() / 2.0 * 250_000.0);
        let n = report.cell_sites_dense as f64;
        assert!((n - expected).abs() / expected < 0.1, "{n} vs {expected}");
        let dense: Vec<LatLon> = t
            .access_points()
            .filter(|(_, _, s)| s.coverage_radius_m < 300.0)
            .map(|(_, n, _)| n.position.unwrap())
            .collect();
        assert_eq!(dense.len(), report.cell_sites_dense);
        assert!(dense.iter().any(|p| p.distance_m(centre) < 1.0));
        for p in &dense {
            let d = dense
                .iter()
                .filter(|q| *q != p)
                .map(|q| p.distance_m(*q))
                .fold(f64::INFINITY, f64::min);
            assert!((d - 500.0).abs() < 2.0, "{d}");
        }
    }

    #[test]
    fn bad_specs_name_the_field() {
        let mut t = backbone();
        let mut spec = OperatorSpec::new(region());
        spec.route_factor = 0.5;
        let e = add_operator_network(&mut t, &spec).unwrap_err();
        assert!(e.contains("route_factor must be a number >= 1"), "{e}");
        let mut spec = OperatorSpec::new(BoundingBox {
            south: 53.4,
            ..region()
        });
        spec.isd_m = 500.0;
        let e = add_operator_network(&mut t, &spec).unwrap_err();
        assert!(e.starts_with("region:"), "{e}");
        let e =
            add_operator_network(&mut Topology::new(), &OperatorSpec::new(region())).unwrap_err();
        assert!(e.contains("no router with coordinates"), "{e}");
    }
}
