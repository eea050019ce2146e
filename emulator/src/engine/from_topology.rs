//! Turns a [`Topology`] into the dense network tables the engine runs on.

use super::links::{DirectedLink, LinkSpec, directed};
use super::world::{AccessPoint, Cloudlet, PathTableError, Paths, RouteLatency};
use crate::energy::LinkClass;
use crate::topology::paths::Tree;
use crate::topology::{NodeIx, NodeKind, Topology};

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
    /// Some access point cannot reach some cloudlet, or the table is too
    /// large.
    #[error(transparent)]
    Paths(#[from] PathTableError),
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
    // Dense link index, first end and latency, by topology link index
    // (which may have holes where links were removed).
    let mut dense: Vec<Option<(u32, NodeIx, f64)>> = Vec::new();
    for (ix, a, b, link) in topology.links() {
        let slot = ix.0 as usize;
        if dense.len() <= slot {
            dense.resize(slot + 1, None);
        }
        dense[slot] = Some((links.len() as u32, a, link.latency_ms));
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
    // One tree per source, computed when the source is first asked for and
    // dropped when the next source is: `Paths::build` asks source by source,
    // so every tree is computed once and only one is held (keeping them all
    // costs sources × nodes of memory: gigabytes at 10,000 nodes).
    let core_tree = match breakout {
        Breakout::Central(core) => topology.shortest_tree(core),
        Breakout::Edge => None,
    };
    let is_ap: Vec<bool> = {
        let mut flags = vec![false; topology.node_count()];
        for (_, ix, _) in &access_points {
            flags[ix.index()] = true;
        }
        flags
    };
    let mut current: Option<(NodeIx, Tree)> = None;
    // Appends the links from `from` to `to` to `hops`.
    let mut shortest = |from: NodeIx, to: NodeIx, hops: &mut Vec<DirectedLink>| {
        let tree = match (&core_tree, breakout) {
            (Some(tree), Breakout::Central(core)) if from == core => tree,
            _ => {
                if current.as_ref().is_none_or(|(source, _)| *source != from) {
                    current = Some((from, topology.shortest_tree(from)?));
                }
                &current.as_ref()?.1
            }
        };
        let there_ms = tree.latency_ms(to)?;
        let start = hops.len();
        // Summed from `to`'s end, as a search from `to` would add them up.
        let mut back_ms = 0.0;
        for (at, link) in tree.walk_back(to) {
            let (index, first_end, link_ms) = (*dense.get(link.0 as usize)?)?;
            hops.push(directed(index, at == first_end));
            back_ms += link_ms;
        }
        hops[start..].reverse();
        Some(RouteLatency {
            there_ns: ms_to_ns(there_ms),
            back_ns: ms_to_ns(back_ms),
        })
    };
    let route = move |from: NodeIx, to: NodeIx, hops: &mut Vec<DirectedLink>| {
        match breakout {
            // Only asked from cloudlets: to the core, then on to `to` when it
            // is an access point (user-plane traffic crosses the core).
            Breakout::Central(core) if is_ap[to.index()] => {
                let first = shortest(from, core, hops)?;
                let second = shortest(core, to, hops)?;
                Some(RouteLatency {
                    there_ns: first.there_ns + second.there_ns,
                    back_ns: second.back_ns + first.back_ns,
                })
            }
            _ => shortest(from, to, hops),
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

    /// Two cell sites on two aggregation sites with a cloudlet each, joined
    /// by a ring of three routers, so that some pairs have two routes.
    fn ring() -> Topology {
        let mut t = Topology::new();
        let here = Some(LatLon::new(53.35, -6.26).unwrap());
        let mut node = |id: &str, role| t.add_node(Node::new(id, here, role)).unwrap();
        let cells = ["cell-a", "cell-b"]
            .map(|id| node(id, NodeRole::AccessPoint(AccessPointSpec::default())));
        let aggs = ["agg-a", "agg-b"].map(|id| node(id, NodeRole::Router));
        let cloudlets =
            ["cl-a", "cl-b"].map(|id| node(id, NodeRole::Cloudlet(CloudletSpec::default())));
        let ring = ["r0", "r1", "r2"].map(|id| node(id, NodeRole::Router));
        let l = |latency_ms, capacity_bps| Link {
            latency_ms,
            capacity_bps,
        };
        for i in 0..2 {
            t.add_link(cells[i], aggs[i], l(0.3 + 0.01 * i as f64, 1e10))
                .unwrap();
            t.add_link(aggs[i], cloudlets[i], l(0.015, 1e11)).unwrap();
            t.add_link(aggs[i], ring[i], l(0.7, 1e11)).unwrap();
        }
        t.add_link(ring[0], ring[1], l(2.3, 1e10)).unwrap();
        t.add_link(ring[1], ring[2], l(0.9, 1e10)).unwrap();
        t.add_link(ring[2], ring[0], l(1.1, 1e10)).unwrap();
        t
    }

    #[test]
    fn paths_are_the_shortest_and_the_way_up_reverses_the_way_down() {
        let t = ring();
        let network = network_from_topology(&t).unwrap();
        // Built one source at a time: the topology's own cache stays empty.
        assert_eq!(t.cached_trees(), 0);
        let aps: Vec<NodeIx> = t.access_points().map(|(ix, _, _)| ix).collect();
        let cls: Vec<NodeIx> = t.cloudlets().map(|(ix, _, _)| ix).collect();
        let dense: Vec<(u32, NodeIx)> = t
            .links()
            .enumerate()
            .map(|(i, (_, a, _, _))| (i as u32, a))
            .collect();
        let as_hops = |path: crate::topology::NetPath| -> Vec<u32> {
            path.links
                .iter()
                .zip(&path.nodes)
                .map(|(link, at)| {
                    let (index, first) = dense[t.links().position(|l| l.0 == *link).unwrap()];
                    directed(index, *at == first)
                })
                .collect()
        };
        for (a, &ap) in aps.iter().enumerate() {
            for (c, &cl) in cls.iter().enumerate() {
                let (a, c) = (a as u32, c as u32);
                // The same latency, to the nanosecond, as a search from the
                // access point finds; the same links as a search from the
                // cloudlet.
                let up_ms = t.latency_ms(ap, cl).unwrap();
                assert_eq!(network.paths.ap_latency_ns(a, c), ms_to_ns(up_ms));
                assert_eq!(network.paths.down(a, c), as_hops(t.path(cl, ap).unwrap()));
                assert_eq!(network.paths.up(a, c), as_hops(t.path(ap, cl).unwrap()));
                let back: Vec<u32> = network
                    .paths
                    .down(a, c)
                    .iter()
                    .rev()
                    .map(|h| h ^ 1)
                    .collect();
                assert_eq!(network.paths.up(a, c), back);
            }
        }
        // cell-a to cl-b goes the short way round the ring (r0 → r2 → r1:
        // 2.0 ms against 2.3 ms).
        assert_eq!(network.paths.up(0, 1).len(), 6);
        let expected = 0.3 + 0.7 + 1.1 + 0.9 + 0.7 + 0.015;
        assert_eq!(network.paths.ap_latency_ns(0, 1), ms_to_ns(expected));
        for (f, &from) in cls.iter().enumerate() {
            for (to_ix, &to) in cls.iter().enumerate() {
                let latency = ms_to_ns(t.latency_ms(from, to).unwrap());
                assert_eq!(
                    network.paths.between_latency_ns(f as u32, to_ix as u32),
                    latency
                );
            }
        }
    }

    #[test]
    fn a_cloudlet_cut_off_from_the_rest_is_named() {
        let (mut t, _) = tree();
        let here = Some(LatLon::new(53.35, -6.26).unwrap());
        t.add_node(Node::new(
            "island",
            here,
            NodeRole::Cloudlet(CloudletSpec::default()),
        ))
        .unwrap();
        let err = network_from_topology(&t).unwrap_err();
        // The first pair found: `cl` reaches every cell but not `island`.
        assert_eq!(err.to_string(), "no path from cl to island");
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
