//! The remote cloud behind the cloudlets: a public-cloud region reached over
//! the backbone, with real wide-area latency and room for every VM.
//!
//! It is a host like a cloudlet (node kind `cloudlet`, id `cloud-<name>`),
//! so the placement policies and the initial placement see it without any
//! change: it is simply the host with the longest path, used when the
//! cloudlets nearer the device are full. It has no coordinates: its only
//! link, to a backbone node, carries the measured one-way latency (half the
//! round-trip time), and policies that rank hosts by distance leave it out.

use serde::Serialize;

use super::graph::{NodeIx, Topology};
use super::model::{CloudletSpec, Link, Node, NodeRole};

/// Round-trip time from Dublin to the remote cloud region: 19 ms, the P95
/// round trip between Azure "North Europe" (Dublin) and "West Europe"
/// (Amsterdam) over 30 days ending 30 July 2026 (Microsoft Learn, "Azure
/// network round-trip latency statistics", Europe table).
pub const DEFAULT_CLOUD_RTT_MS: f64 = 19.0;

/// The remote cloud to add.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudSpec {
    /// Its name (node id `cloud-<name>`).
    pub name: String,
    /// The backbone node its link starts from.
    pub attach_to: NodeIx,
    /// Round-trip time of that link, ms (the link's latency is half).
    pub rtt_ms: f64,
    /// Capacity of that link, bit/s.
    pub capacity_bps: f64,
    /// Its cores and memory.
    pub capacity: CloudletSpec,
}

/// What was added, for `mcc-emu inspect scenario`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudReport {
    /// Node id of the cloud.
    pub id: String,
    /// Node id it hangs off.
    pub attached_to: String,
    /// Round-trip time of its link, ms.
    pub rtt_ms: f64,
    /// Capacity of its link, bit/s.
    pub link_capacity_bps: f64,
    /// Cores.
    pub cpu_cores: u32,
    /// Memory, MiB.
    pub memory_mib: u64,
}

/// Adds the cloud and its link; fails on a bad figure or a taken id.
pub fn add_remote_cloud(topology: &mut Topology, spec: &CloudSpec) -> Result<CloudReport, String> {
    if !(spec.rtt_ms.is_finite() && spec.rtt_ms >= 0.0) {
        return Err(format!("rtt_ms must be a number >= 0, got {}", spec.rtt_ms));
    }
    let id = format!("cloud-{}", spec.name);
    let attached_to = topology
        .node(spec.attach_to)
        .map(|n| n.id.clone())
        .ok_or("attach_to is not a node")?;
    let cloud = topology
        .add_node(Node::new(
            id.clone(),
            None,
            NodeRole::Cloudlet(spec.capacity),
        ))
        .map_err(|e| e.to_string())?;
    topology
        .add_link(
            spec.attach_to,
            cloud,
            Link {
                latency_ms: spec.rtt_ms / 2.0,
                capacity_bps: spec.capacity_bps,
            },
        )
        .map_err(|e| e.to_string())?;
    Ok(CloudReport {
        id,
        attached_to,
        rtt_ms: spec.rtt_ms,
        link_capacity_bps: spec.capacity_bps,
        cpu_cores: spec.capacity.cpu_cores,
        memory_mib: spec.capacity.memory_mib,
    })
}
