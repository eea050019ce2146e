//! The things a topology is made of: nodes (with their kind-specific data),
//! links, and the documented defaults used when a file leaves a value out.

use mcc_mobile_client::position::LatLon;
use serde::Serialize;

/// What a node is, without its kind-specific data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A distant data centre (the "cloud" of mobile cloud computing).
    Cloud,
    /// A small data centre at the network edge that hosts VMs.
    Cloudlet,
    /// A cell site that devices attach to over a wireless hop.
    AccessPoint,
    /// A backbone or aggregation router; forwards traffic, hosts nothing.
    Router,
}

impl NodeKind {
    /// Every kind, in the order summaries list them.
    pub const ALL: [NodeKind; 4] = [
        NodeKind::Cloud,
        NodeKind::Cloudlet,
        NodeKind::AccessPoint,
        NodeKind::Router,
    ];

    /// The snake_case name used in files and JSON (`access_point`, ...).
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Cloud => "cloud",
            NodeKind::Cloudlet => "cloudlet",
            NodeKind::AccessPoint => "access_point",
            NodeKind::Router => "router",
        }
    }
}

impl std::fmt::Display for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Default coverage radius of an access point: 500 m, an urban macro/micro
/// cell in a city centre.
pub const DEFAULT_COVERAGE_RADIUS_M: f64 = 500.0;
/// Default one-way latency of the wireless hop: 10 ms, the order of an LTE
/// user-plane latency.
pub const DEFAULT_WIRELESS_LATENCY_MS: f64 = 10.0;
/// Default rate of the wireless hop: 50 Mbit/s.
pub const DEFAULT_WIRELESS_RATE_BPS: f64 = 50e6;
/// Default number of CPU cores of a cloudlet: 8, the vCPUs of the AWS
/// `g4dn.2xlarge` instance (8 vCPUs, 32 GiB, one NVIDIA T4 that this
/// project does not model), the inference instance among the four types an
/// AWS Wavelength Zone (compute inside an operator's 5G network) offers:
/// t3.medium, t3.xlarge, r5.2xlarge, g4dn.2xlarge (AWS Wavelength Developer
/// Guide, "Quotas and considerations", Amazon EC2 considerations). vCPUs
/// are hardware threads: 8 of them are 4 physical cores.
pub const DEFAULT_CLOUDLET_CPU_CORES: u32 = 8;
/// Default memory of a cloudlet: 32 GiB, that of the same `g4dn.2xlarge`
/// (see [`DEFAULT_CLOUDLET_CPU_CORES`]).
pub const DEFAULT_CLOUDLET_MEMORY_MIB: u64 = 32 * 1024;

/// An access point's cell and its wireless hop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AccessPointSpec {
    /// Devices within this distance of the site can attach.
    pub coverage_radius_m: f64,
    /// One-way latency of the wireless hop between a device and the site.
    pub wireless_latency_ms: f64,
    /// Rate of the wireless hop in bit/s.
    pub wireless_rate_bps: f64,
}

impl Default for AccessPointSpec {
    fn default() -> Self {
        Self {
            coverage_radius_m: DEFAULT_COVERAGE_RADIUS_M,
            wireless_latency_ms: DEFAULT_WIRELESS_LATENCY_MS,
            wireless_rate_bps: DEFAULT_WIRELESS_RATE_BPS,
        }
    }
}

/// A cloudlet's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CloudletSpec {
    /// CPU cores that VMs on this cloudlet share.
    pub cpu_cores: u32,
    /// Memory available to VMs, in MiB.
    pub memory_mib: u64,
}

impl Default for CloudletSpec {
    fn default() -> Self {
        Self {
            cpu_cores: DEFAULT_CLOUDLET_CPU_CORES,
            memory_mib: DEFAULT_CLOUDLET_MEMORY_MIB,
        }
    }
}

/// A node's kind together with the data only that kind has.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum NodeRole {
    /// See [`NodeKind::Cloud`].
    Cloud,
    /// See [`NodeKind::Cloudlet`].
    Cloudlet(CloudletSpec),
    /// See [`NodeKind::AccessPoint`].
    AccessPoint(AccessPointSpec),
    /// See [`NodeKind::Router`].
    Router,
}

impl NodeRole {
    /// The kind of this role.
    pub fn kind(&self) -> NodeKind {
        match self {
            NodeRole::Cloud => NodeKind::Cloud,
            NodeRole::Cloudlet(_) => NodeKind::Cloudlet,
            NodeRole::AccessPoint(_) => NodeKind::AccessPoint,
            NodeRole::Router => NodeKind::Router,
        }
    }
}

/// A node of the topology.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Unique identifier (unique within one topology).
    pub id: String,
    /// Human-readable name (need not be unique).
    pub label: String,
    /// Where it is, when known.
    pub position: Option<LatLon>,
    /// Its kind and kind-specific data.
    pub role: NodeRole,
}

impl Node {
    /// A node whose label is its id.
    pub fn new(id: impl Into<String>, position: Option<LatLon>, role: NodeRole) -> Self {
        let id = id.into();
        Self {
            label: id.clone(),
            id,
            position,
            role,
        }
    }

    /// Sets the label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// The node's kind.
    pub fn kind(&self) -> NodeKind {
        self.role.kind()
    }
}

/// An undirected link.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Link {
    /// One-way propagation latency (including the per-hop cost).
    pub latency_ms: f64,
    /// Capacity in bit/s.
    pub capacity_bps: f64,
}

impl Link {
    /// Why this link is unusable, if it is: latency must be finite and ≥ 0,
    /// capacity finite and > 0.
    pub fn problem(&self) -> Option<String> {
        if !(self.latency_ms.is_finite() && self.latency_ms >= 0.0) {
            return Some(format!(
                "latency_ms {} must be a finite number ≥ 0",
                self.latency_ms
            ));
        }
        if !(self.capacity_bps.is_finite() && self.capacity_bps > 0.0) {
            return Some(format!(
                "capacity_bps {} must be a finite number > 0",
                self.capacity_bps
            ));
        }
        None
    }
}

/// Default propagation delay in fibre: 5 µs per km (light at about 2/3 c).
pub const DEFAULT_FIBRE_LATENCY_US_PER_KM: f64 = 5.0;
/// Default per-hop cost added to every link whose latency is derived:
/// 0.1 ms of switching, queueing at idle and serialisation overhead.
pub const DEFAULT_PER_HOP_LATENCY_MS: f64 = 0.1;
/// Default capacity of a link whose speed is not given: 1 Gbit/s.
pub const DEFAULT_LINK_CAPACITY_BPS: f64 = 1e9;
/// Default propagation latency of a link with an end of unknown position:
/// 5 ms (about 1000 km of fibre), before the per-hop cost.
pub const DEFAULT_UNLOCATED_LINK_LATENCY_MS: f64 = 5.0;

/// How missing link values are filled in. Every loader takes one; the
/// [`Default`] uses the documented `DEFAULT_*` constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkDefaults {
    /// Propagation delay per km of great-circle length.
    pub fibre_latency_us_per_km: f64,
    /// Cost added to every derived latency.
    pub per_hop_latency_ms: f64,
    /// Capacity when none is given.
    pub capacity_bps: f64,
    /// Propagation latency when an end has no position.
    pub unlocated_latency_ms: f64,
}

impl Default for LinkDefaults {
    fn default() -> Self {
        Self {
            fibre_latency_us_per_km: DEFAULT_FIBRE_LATENCY_US_PER_KM,
            per_hop_latency_ms: DEFAULT_PER_HOP_LATENCY_MS,
            capacity_bps: DEFAULT_LINK_CAPACITY_BPS,
            unlocated_latency_ms: DEFAULT_UNLOCATED_LINK_LATENCY_MS,
        }
    }
}

impl LinkDefaults {
    /// The latency of a link between two positions: great-circle length ×
    /// fibre delay + per-hop cost; the unlocated default + per-hop cost when
    /// either end has no position.
    pub fn latency_ms(&self, a: Option<LatLon>, b: Option<LatLon>) -> f64 {
        let propagation_ms = match (a, b) {
            (Some(a), Some(b)) => a.distance_m(b) / 1000.0 * self.fibre_latency_us_per_km / 1000.0,
            _ => self.unlocated_latency_ms,
        };
        propagation_ms + self.per_hop_latency_ms
    }

    /// A link between two positions with the given or the default capacity.
    pub fn link(&self, a: Option<LatLon>, b: Option<LatLon>, capacity_bps: Option<f64>) -> Link {
        Link {
            latency_ms: self.latency_ms(a, b),
            capacity_bps: capacity_bps.unwrap_or(self.capacity_bps),
        }
    }

    /// Why these defaults are unusable, if they are.
    pub fn problem(&self) -> Option<String> {
        let fields = [
            (
                "fibre_latency_us_per_km",
                self.fibre_latency_us_per_km,
                false,
            ),
            ("per_hop_latency_ms", self.per_hop_latency_ms, false),
            ("link_capacity_bps", self.capacity_bps, true),
            (
                "unlocated_link_latency_ms",
                self.unlocated_latency_ms,
                false,
            ),
        ];
        for (name, value, strictly_positive) in fields {
            let ok = value.is_finite() && (value > 0.0 || (!strictly_positive && value == 0.0));
            if !ok {
                let bound = if strictly_positive { "> 0" } else { "≥ 0" };
                return Some(format!("{name} {value} must be a finite number {bound}"));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_latency_is_length_times_fibre_delay_plus_hop() {
        let d = LinkDefaults::default();
        let dublin = LatLon::new(53.3498, -6.2603).unwrap();
        let limerick = LatLon::new(52.6638, -8.6267).unwrap();
        let km = dublin.distance_m(limerick) / 1000.0;
        let expected = km * 0.005 + 0.1;
        assert!((d.latency_ms(Some(dublin), Some(limerick)) - expected).abs() < 1e-9);
        assert!((d.latency_ms(Some(dublin), None) - 5.1).abs() < 1e-12);
        assert!((d.latency_ms(Some(dublin), Some(dublin)) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn bad_links_and_defaults_are_named() {
        let bad = Link {
            latency_ms: -1.0,
            capacity_bps: 1.0,
        };
        assert!(bad.problem().unwrap().contains("latency_ms"));
        let bad = Link {
            latency_ms: 1.0,
            capacity_bps: 0.0,
        };
        assert!(bad.problem().unwrap().contains("capacity_bps"));
        let d = LinkDefaults {
            capacity_bps: f64::NAN,
            ..LinkDefaults::default()
        };
        assert!(d.problem().unwrap().contains("link_capacity_bps"));
        assert!(LinkDefaults::default().problem().is_none());
    }
}
