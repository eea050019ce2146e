//! The scenario's network tiers: backbone positions (`[topology.positions]`),
//! the generated operator access network (`[operator]`), the user-plane
//! breakout (`[user_plane]`) and the remote cloud (`[cloud]`): their tables
//! as written, and how each is applied to the topology. Every table is
//! optional; without them a scenario runs exactly as before.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::schema::Position;
use crate::engine::from_topology::Breakout;
use crate::topology::Topology;
use crate::topology::cloud::{CloudReport, CloudSpec, DEFAULT_CLOUD_RTT_MS, add_remote_cloud};
use crate::topology::model::{CloudletSpec, LinkDefaults};
use crate::topology::operator::{
    self, BoundingBox, DenseZone, OperatorReport, OperatorSpec, add_operator_network,
};
use crate::topology::positions::{override_positions, resolve_node};
use mcc_mobile_client::LatLon;

/// `[operator]`: cell sites on a hexagonal grid over `region`, aggregation
/// sites with cloudlets, hung off the backbone's nearest points of presence.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSection {
    /// The area to cover.
    pub region: Region,
    /// Inter-site distance outside the dense zone, metres (RMa, 1732).
    #[serde(default = "rural_isd")]
    pub isd_m: f64,
    /// A denser zone (a city centre), if any.
    pub dense: Option<DenseSection>,
    /// Aggregation-site spacing over cell-site spacing (3).
    #[serde(default = "aggregation_spacing")]
    pub aggregation_spacing: f64,
    /// Fibre route length over great-circle length (1.3).
    #[serde(default = "route_factor")]
    pub route_factor: f64,
    /// Fibre propagation delay, µs/km (5).
    #[serde(default = "fibre")]
    pub fibre_latency_us_per_km: f64,
    /// Equipment latency per generated link, ms (0.015).
    #[serde(default = "per_hop")]
    pub per_hop_latency_ms: f64,
    /// Cell site backhaul, Gbit/s (10).
    #[serde(default = "access_gbps")]
    pub access_capacity_gbps: f64,
    /// Aggregation uplink and cloudlet link, Gbit/s (100).
    #[serde(default = "aggregation_gbps")]
    pub aggregation_capacity_gbps: f64,
    /// Cores of each aggregation site's cloudlet (the cloudlet default, 8).
    pub cloudlet_cpu_cores: Option<u32>,
    /// Memory of each aggregation site's cloudlet, MiB (the default, 32768).
    pub cloudlet_memory_mib: Option<u64>,
}

fn rural_isd() -> f64 {
    operator::DEFAULT_RURAL_ISD_M
}
fn dense_isd() -> f64 {
    operator::DEFAULT_DENSE_ISD_M
}
fn aggregation_spacing() -> f64 {
    operator::DEFAULT_AGGREGATION_SPACING
}
fn route_factor() -> f64 {
    operator::DEFAULT_ROUTE_FACTOR
}
fn fibre() -> f64 {
    operator::DEFAULT_FIBRE_US_PER_KM
}
fn per_hop() -> f64 {
    operator::DEFAULT_PER_HOP_LATENCY_MS
}
fn access_gbps() -> f64 {
    operator::DEFAULT_ACCESS_CAPACITY_BPS / 1e9
}
fn aggregation_gbps() -> f64 {
    operator::DEFAULT_AGGREGATION_CAPACITY_BPS / 1e9
}

/// `[operator.region]`: a latitude/longitude box.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Southern edge, degrees.
    pub south: f64,
    /// Western edge, degrees.
    pub west: f64,
    /// Northern edge, degrees.
    pub north: f64,
    /// Eastern edge, degrees.
    pub east: f64,
}

/// `[operator.dense]`: the dense zone.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseSection {
    /// Its centre.
    pub center: Position,
    /// Its radius, metres.
    pub radius_m: f64,
    /// Inter-site distance inside it, metres (UMa, 500).
    #[serde(default = "dense_isd")]
    pub isd_m: f64,
}

/// `[user_plane]`: where requests leave the operator's network.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPlaneSection {
    /// `edge` (default) or `central`.
    #[serde(default = "edge")]
    pub breakout: String,
    /// The core node (id or label) for `central`.
    pub core: Option<String>,
}

fn edge() -> String {
    "edge".into()
}

/// `[cloud]`: the remote cloud.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudSection {
    /// Its name; the node id is `cloud-<name>`.
    #[serde(default = "cloud_name")]
    pub name: String,
    /// The backbone node (id or label) its wide-area link starts from.
    pub attach_to: String,
    /// Round-trip time of that link, ms (19).
    #[serde(default = "cloud_rtt")]
    pub rtt_ms: f64,
    /// Capacity of that link, Gbit/s (the topology's default link capacity).
    pub capacity_gbps: Option<f64>,
    /// Cores (default: one per device).
    pub cpu_cores: Option<u32>,
    /// Memory, MiB (default: room for every device's VM).
    pub memory_mib: Option<u64>,
}

fn cloud_name() -> String {
    "region".into()
}
fn cloud_rtt() -> f64 {
    DEFAULT_CLOUD_RTT_MS
}

/// What the scenario's network tiers amount to (`mcc-emu inspect scenario`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetworkTiers {
    /// Backbone nodes moved by `[topology.positions]`.
    pub moved_nodes: Vec<String>,
    /// The generated access network, if any.
    pub operator: Option<OperatorReport>,
    /// `edge`, or `central at <node id>`.
    pub breakout: String,
    /// The remote cloud, if any.
    pub cloud: Option<CloudReport>,
    /// Whether the cloud's cores were left to the default (one per device).
    #[serde(skip)]
    pub cloud_cores_default: bool,
    /// Whether the cloud's memory was left to the default (every VM).
    #[serde(skip)]
    pub cloud_memory_default: bool,
}

/// `[topology.positions]`: moves the named nodes; names the bad entry.
pub fn apply_positions(
    topology: &mut Topology,
    positions: &BTreeMap<String, Position>,
    defaults: &LinkDefaults,
) -> Result<Vec<String>, String> {
    let mut list = Vec::with_capacity(positions.len());
    for (name, p) in positions {
        let key = format!("topology.positions.\"{name}\"");
        let at = LatLon::new(p.lat, p.lon).map_err(|e| format!("key `{key}`: {e}"))?;
        resolve_node(topology, name).map_err(|e| format!("key `{key}`: {e}"))?;
        list.push((name.clone(), at));
    }
    let moved = override_positions(topology, &list, defaults)
        .map_err(|e| format!("key `topology.positions`: {e}"))?;
    Ok(moved
        .into_iter()
        .filter_map(|ix| topology.node(ix).map(|n| n.id.clone()))
        .collect())
}

/// `[operator]`: generates the access network under the topology.
pub fn apply_operator(
    topology: &mut Topology,
    section: &OperatorSection,
) -> Result<OperatorReport, String> {
    let r = section.region;
    let mut spec = OperatorSpec::new(BoundingBox {
        south: r.south,
        west: r.west,
        north: r.north,
        east: r.east,
    });
    spec.isd_m = section.isd_m;
    if let Some(d) = section.dense {
        spec.dense = Some(DenseZone {
            centre: LatLon::new(d.center.lat, d.center.lon)
                .map_err(|e| format!("key `operator.dense.center`: {e}"))?,
            radius_m: d.radius_m,
            isd_m: d.isd_m,
        });
    }
    spec.aggregation_spacing = section.aggregation_spacing;
    spec.route_factor = section.route_factor;
    spec.fibre_us_per_km = section.fibre_latency_us_per_km;
    spec.per_hop_latency_ms = section.per_hop_latency_ms;
    spec.access_capacity_bps = section.access_capacity_gbps * 1e9;
    spec.aggregation_capacity_bps = section.aggregation_capacity_gbps * 1e9;
    let base = CloudletSpec::default();
    spec.cloudlet = CloudletSpec {
        cpu_cores: section.cloudlet_cpu_cores.unwrap_or(base.cpu_cores),
        memory_mib: section.cloudlet_memory_mib.unwrap_or(base.memory_mib),
    };
    if spec.cloudlet.cpu_cores == 0 {
        return Err("key `operator.cloudlet_cpu_cores`: must be at least 1".into());
    }
    add_operator_network(topology, &spec).map_err(|e| format!("key `operator`: {e}"))
}

/// `[user_plane]`: the breakout and, for `central`, its core node.
pub fn breakout(
    topology: &Topology,
    section: Option<&UserPlaneSection>,
) -> Result<(Breakout, String), String> {
    let Some(section) = section else {
        return Ok((Breakout::Edge, "edge".into()));
    };
    match (section.breakout.as_str(), &section.core) {
        ("edge", None) => Ok((Breakout::Edge, "edge".into())),
        ("edge", Some(_)) => {
            Err("key `user_plane.core`: only a `central` breakout has a core node".into())
        }
        ("central", Some(core)) => {
            let ix = resolve_node(topology, core)
                .map_err(|e| format!("key `user_plane.core`: {e}"))?;
            let id = topology.node(ix).map(|n| n.id.clone()).unwrap_or_default();
            Ok((Breakout::Central(ix), format!("central at {id}")))
        }
        ("central", None) => Err(
            "key `user_plane.core`: a `central` breakout needs the core node (id or label) where the user plane leaves"
                .into(),
        ),
        (other, _) => Err(format!(
            "key `user_plane.breakout`: {other:?} is not one of edge, central"
        )),
    }
}

/// `[cloud]`: adds the remote cloud (its default cores and memory are set
/// once the devices are known, see [`NetworkTiers`]).
pub fn apply_cloud(
    topology: &mut Topology,
    section: &CloudSection,
    defaults: &LinkDefaults,
) -> Result<CloudReport, String> {
    let attach_to = resolve_node(topology, &section.attach_to)
        .map_err(|e| format!("key `cloud.attach_to`: {e}"))?;
    let capacity_bps = match section.capacity_gbps {
        Some(g) if g.is_finite() && g > 0.0 => g * 1e9,
        Some(g) => {
            return Err(format!(
                "key `cloud.capacity_gbps`: must be a number > 0, got {g}"
            ));
        }
        None => defaults.capacity_bps,
    };
    if section.cpu_cores == Some(0) {
        return Err("key `cloud.cpu_cores`: must be at least 1".into());
    }
    if section.name.is_empty() || section.name.contains(',') {
        return Err(format!(
            "key `cloud.name`: {:?} must be a non-empty name without commas",
            section.name
        ));
    }
    let spec = CloudSpec {
        name: section.name.clone(),
        attach_to,
        rtt_ms: section.rtt_ms,
        capacity_bps,
        capacity: CloudletSpec {
            cpu_cores: section.cpu_cores.unwrap_or(1),
            memory_mib: section.memory_mib.unwrap_or(0),
        },
    };
    add_remote_cloud(topology, &spec).map_err(|e| format!("key `cloud`: {e}"))
}
