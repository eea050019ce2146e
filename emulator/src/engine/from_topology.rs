//! Turns a [`Topology`] into the dense network tables the engine runs on.

use std::collections::BTreeMap;

use super::links::{DirectedLink, LinkSpec, directed};
use super::world::{AccessPoint, Cloudlet, Paths, Unreachable};
use crate::energy::LinkClass;
use crate::topology::{LinkIx, NodeIx, NodeKind, Topology};

/// The network part of a [`World`](super::World).
#[derive(Debug, Clone)]
pub struct Network {
    /// Access points, in topology order.
    pub access_points: Vec<AccessPoint>,
    /// Cloudlets, in topology order.
    pub cloudlets: Vec<Cloudlet>,
    /// Every link, by dense index.
    pub links: Vec<LinkSpec>,
    /// Each link's class for the energy model, by the same index: a link
    /// touching an access point is aggregation (the cell site's backhaul),
    /// any other metro/core.
    pub link_classes: Vec<LinkClass>,
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

/// Where the user plane leaves the operator's network (where its user plane
/// function stands): the scenario's `[user_plane] breakout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Breakout {
    /// At the edge: a request turns towards its cloudlet wherever the
    /// shortest path does (at the aggregation site for a cloudlet beside
    /// it). The behaviour of every scenario without the setting.
    #[default]
    Edge,
    /// Only at a central core site: every path between an access point and
    /// a host is the shortest path to this node followed by the shortest
    /// path from it (and the same way back). Paths between hosts (migration
    /// traffic, operator-internal) stay shortest.
    Central(NodeIx),
}

/// Reads access points, cloudlets, links and shortest paths (by latency) out
/// of `topology`. Fails when some access point cannot reach some cloudlet or
/// has no position.
pub fn network_from_topology(topology: &Topology) -> Result<Network, NetworkError> {
    network_from_topology_with(topology, Breakout::Edge)
}

/// [`network_from_topology`] with the user plane breaking out as `breakout`
/// says: paths between access points and hosts go through the core node
/// under [`Breakout::Central`].
pub fn network_from_topology_with(
    topology: &Topology,
    breakout: Breakout,
) -> Result<Network, NetworkError> {
    let mut links = Vec::new();
    let mut link_classes = Vec::new();
    let mut dense: BTreeMap<LinkIx, (u32, NodeIx)> = BTreeMap::new();
    for (ix, a, b, link) in topology.links() {
        dense.insert(ix, (links.len() as u32, a));
        links.push(LinkSpec {
            capacity_bps: link.capacity_bps,
            latency_ns: ms_to_ns(link.latency_ms),
        });
        let at_cell = [a, b].into_iter().any(|n| {
            topology
                .node(n)
                .is_some_and(|n| n.kind() == NodeKind::AccessPoint)
        });
        link_classes.push(if at_cell {
            LinkClass::Aggregation
        } else {
            LinkClass::MetroCore
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
    let shortest = |from: NodeIx, to: NodeIx| -> Option<(Vec<DirectedLink>, u64)> {
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
    let is_ap: Vec<bool> = {
        let mut flags = vec![false; topology.node_count()];
        for (_, ix, _) in &access_points {
            flags[ix.index()] = true;
        }
        flags
    };
    let route = |from: NodeIx, to: NodeIx| -> Option<(Vec<DirectedLink>, u64)> {
        match breakout {
            Breakout::Central(core) if is_ap[from.index()] || is_ap[to.index()] => {
                let (mut hops, first_ns) = shortest(from, core)?;
                let (rest, second_ns) = shortest(core, to)?;
                hops.extend(rest);
                Some((hops, first_ns + second_ns))
            }
            _ => shortest(from, to),
        }
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
        link_classes,
        paths,
    })
}

#[cfg(test)]
mod tests {
    use mcc_mobile_client::LatLon;

    use super::*;
    use crate::topology::model::{AccessPointSpec, CloudletSpec, Link, Node, NodeRole};

    /// cell —1 ms— agg —0.1 ms— cloudlet, and agg —2 ms— core.
    fn tree() -> (Topology, NodeIx) {
        let mut t = Topology::new();
        let here = Some(LatLon::new(53.35, -6.26).unwrap());
        let cell = t
            .add_node(Node::new(
                "cell",
                here,
                NodeRole::AccessPoint(AccessPointSpec::default()),
            ))
            .unwrap();
        let agg = t
            .add_node(Node::new("agg", here, NodeRole::Router))
            .unwrap();
        let cl = t
            .add_node(Node::new(
                "cl",
                here,
                NodeRole::Cloudlet(CloudletSpec::default()),
            ))
            .unwrap();
        let core = t
            .add_node(Node::new("core", here, NodeRole::Router))
            .unwrap();
        let l = |latency_ms| Link {
            latency_ms,
            capacity_bps: 1e9,
        };
        t.add_link(cell, agg, l(1.0)).unwrap();
        t.add_link(agg, cl, l(0.1)).unwrap();
        t.add_link(agg, core, l(2.0)).unwrap();
        (t, core)
    }

    #[test]
    fn central_breakout_adds_the_detour_to_the_core_both_ways() {
        let (t, core) = tree();
        let edge = network_from_topology(&t).unwrap();
        assert_eq!(edge.paths.ap_latency_ns(0, 0), 1_100_000);
        assert_eq!(edge.paths.up(0, 0).len(), 2);
        let central = network_from_topology_with(&t, Breakout::Central(core)).unwrap();
        // cell → agg → core, then core → agg → cloudlet: 1 + 2 + 2 + 0.1 ms.
        assert_eq!(central.paths.ap_latency_ns(0, 0), 5_100_000);
        assert_eq!(central.paths.up(0, 0).len(), 4);
        assert_eq!(central.paths.down(0, 0).len(), 4);
        // The way up and the way down cross the same links in reverse.
        let mut up: Vec<u32> = central.paths.up(0, 0).iter().map(|h| h / 2).collect();
        let down: Vec<u32> = central.paths.down(0, 0).iter().map(|h| h / 2).collect();
        up.reverse();
        assert_eq!(up, down);
        // Host to host paths do not detour.
        assert_eq!(central.paths.between(0, 0), edge.paths.between(0, 0));
    }
}
