//! Turns a [`Topology`] into the dense network tables the engine runs on.

use std::collections::BTreeMap;

use super::links::{DirectedLink, LinkSpec, directed};
use super::world::{AccessPoint, Cloudlet, Paths, Unreachable};
use crate::topology::{LinkIx, NodeIx, Topology};

/// The network part of a [`World`](super::World).
#[derive(Debug, Clone)]
pub struct Network {
    /// Access points, in topology order.
    pub access_points: Vec<AccessPoint>,
    /// Cloudlets, in topology order.
    pub cloudlets: Vec<Cloudlet>,
    /// Every link, by dense index.
    pub links: Vec<LinkSpec>,
    /// Paths between access points and cloudlets and between cloudlets.
    pub paths: Paths,
}

/// Why a topology cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetworkError {
    /// Some access point cannot reach some cloudlet.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// An access point has no coordinates, so no device can ever attach to it.
    #[error("access point {0} has no coordinates, so no device can attach to it")]
    AccessPointWithoutPosition(String),
}

fn ms_to_ns(ms: f64) -> u64 {
    (ms * 1e6).round().max(0.0) as u64
}

/// Reads access points, cloudlets, links and shortest paths (by latency) out
/// of `topology`. Fails when some access point cannot reach some cloudlet or
/// has no position.
pub fn network_from_topology(topology: &Topology) -> Result<Network, NetworkError> {
    let mut links = Vec::new();
    let mut dense: BTreeMap<LinkIx, (u32, NodeIx)> = BTreeMap::new();
    for (ix, a, _b, link) in topology.links() {
        dense.insert(ix, (links.len() as u32, a));
        links.push(LinkSpec {
            capacity_bps: link.capacity_bps,
            latency_ns: ms_to_ns(link.latency_ms),
        });
    }
    let access_points: Vec<(String, NodeIx, AccessPoint)> = topology
        .access_points()
        .map(|(ix, node, spec)| {
            let position = node
                .position
                .ok_or_else(|| NetworkError::AccessPointWithoutPosition(node.id.clone()))?;
            Ok((
                node.id.clone(),
                ix,
                AccessPoint {
                    name: node.id.clone(),
                    position,
                    coverage_radius_m: spec.coverage_radius_m,
                    wireless_latency_ns: ms_to_ns(spec.wireless_latency_ms),
                    wireless_rate_bps: spec.wireless_rate_bps,
                },
            ))
        })
        .collect::<Result<_, NetworkError>>()?;
    let cloudlets: Vec<(String, NodeIx, Cloudlet)> = topology
        .cloudlets()
        .map(|(ix, node, spec)| {
            (
                node.id.clone(),
                ix,
                Cloudlet {
                    name: node.id.clone(),
                    cpu_cores: spec.cpu_cores,
                    memory_bytes: spec.memory_mib << 20,
                    position: node.position,
                },
            )
        })
        .collect();
    let route = |from: NodeIx, to: NodeIx| -> Option<(Vec<DirectedLink>, u64)> {
        let path = topology.path(from, to)?;
        let hops = path
            .links
            .iter()
            .zip(&path.nodes)
            .map(|(link, at)| {
                let (index, first_end) = dense.get(link).copied()?;
                Some(directed(index, *at == first_end))
            })
            .collect::<Option<Vec<_>>>()?;
        Some((hops, ms_to_ns(path.latency_ms)))
    };
    let ap_nodes: Vec<(String, NodeIx)> = access_points
        .iter()
        .map(|(name, ix, _)| (name.clone(), *ix))
        .collect();
    let cloudlet_nodes: Vec<(String, NodeIx)> = cloudlets
        .iter()
        .map(|(name, ix, _)| (name.clone(), *ix))
        .collect();
    let paths = Paths::build(&ap_nodes, &cloudlet_nodes, route)?;
    Ok(Network {
        access_points: access_points.into_iter().map(|(_, _, ap)| ap).collect(),
        cloudlets: cloudlets.into_iter().map(|(_, _, c)| c).collect(),
        links,
        paths,
    })
}
