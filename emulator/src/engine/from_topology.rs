//! Turns a [`Topology`] into the dense network tables the engine runs on.

use super::links::{DirectedLink, LinkSpec, directed};
use super::world::{AccessPoint, ApAttachment, Cloudlet, PathTableError, Paths};
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
    // Dense link index and first end, by topology link index
    // (which may have holes where links were removed).
    let mut dense: Vec<Option<(u32, NodeIx)>> = Vec::new();
    for (ix, a, b, link) in topology.links() {
        let slot = ix.0 as usize;
        if dense.len() <= slot {
            dense.resize(slot + 1, None);
        }
        dense[slot] = Some((links.len() as u32, a));
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
    // A cell site with one link shares the paths of the node at its other
    // end (every path to it crosses that node, then that link), unless the
    // user plane breaks out at the cell site itself.
    let ap_nodes: Vec<(String, ApAttachment<NodeIx>)> = access_points
        .iter()
        .map(|(name, ix, _)| {
            let own = ApAttachment {
                node: *ix,
                hop: None,
            };
            let attachment = match topology.sole_link(*ix) {
                Some(_) if breakout == Breakout::Central(*ix) => own,
                Some((other, link)) => match dense.get(link.0 as usize).copied().flatten() {
                    Some((index, first_end)) => ApAttachment {
                        node: other,
                        hop: Some(directed(index, other == first_end)),
                    },
                    None => own,
                },
                None => own,
            };
            (name.clone(), attachment)
        })
        .collect();
    let dead_ends: Vec<bool> = {
        let mut flags = vec![false; topology.node_count()];
        for (ix, (_, attachment)) in access_points.iter().map(|(_, ix, _)| ix).zip(&ap_nodes) {
            flags[ix.index()] = attachment.hop.is_some();
        }
        // A row's node is searched for, whatever else it is.
        for (_, attachment) in &ap_nodes {
            flags[attachment.node.index()] = false;
        }
        flags
    };
    // One tree per source, computed when the source is first asked for and
    // dropped when the next source is: `Paths::build` asks source by source,
    // so every tree is computed once and only one is held (keeping them all
    // costs sources × nodes of memory: gigabytes at 10,000 nodes). The
    // searches skip the cell sites that hang off a row's node: no path
    // crosses them, and in a large layout they are most of the nodes.
    let core_tree = match breakout {
        Breakout::Central(core) => topology.shortest_tree_avoiding(core, &dead_ends),
        Breakout::Edge => None,
    };
    let mut current: Option<(NodeIx, Tree)> = None;
    // Appends the links from `from` to `to` to `hops`.
    let mut shortest = |from: NodeIx, to: NodeIx, hops: &mut Vec<DirectedLink>| {
        let tree = match (&core_tree, breakout) {
            (Some(tree), Breakout::Central(core)) if from == core => tree,
            _ => {
                if current.as_ref().is_none_or(|(source, _)| *source != from) {
                    current = Some((from, topology.shortest_tree_avoiding(from, &dead_ends)?));
                }
                &current.as_ref()?.1
            }
        };
        let there_ms = tree.latency_ms(to)?;
        let start = hops.len();
        for (at, link) in tree.walk_back(to) {
            let (index, first_end) = (*dense.get(link.0 as usize)?)?;
            hops.push(directed(index, at == first_end));
        }
        hops[start..].reverse();
        Some(ms_to_ns(there_ms))
    };
    let route = move |from: NodeIx, to: NodeIx, user_plane: bool, hops: &mut Vec<DirectedLink>| {
        match breakout {
            // Only asked from cloudlets: to the core, then on to `to` when
            // the path leads to an access point (user-plane traffic crosses
            // the core).
            Breakout::Central(core) if user_plane => {
                let first = shortest(from, core, hops)?;
                let second = shortest(core, to, hops)?;
                Some(first + second)
            }
            _ => shortest(from, to, hops),
        }
    };
    let cloudlet_nodes: Vec<(String, NodeIx)> = cloudlets
        .iter()
        .map(|(name, ix, _)| (name.clone(), *ix))
        .collect();
    let link_latency_ns =
        |hop: DirectedLink| links.get((hop / 2) as usize).map_or(0, |l| l.latency_ns);
    let paths = Paths::build(&ap_nodes, &cloudlet_nodes, link_latency_ns, route)?;
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
        let link_ns = |hop: &u32| network.links[(hop / 2) as usize].latency_ns;
        for (a, &ap) in aps.iter().enumerate() {
            for (c, &cl) in cls.iter().enumerate() {
                let (a, c) = (a as u32, c as u32);
                // The same links as a search from the cloudlet finds, the
                // way up the same links reversed, and the latency their sum.
                let down: Vec<u32> = network.paths.down(a, c).collect();
                let up: Vec<u32> = network.paths.up(a, c).collect();
                assert_eq!(down, as_hops(t.path(cl, ap).unwrap()));
                assert_eq!(up, as_hops(t.path(ap, cl).unwrap()));
                let back: Vec<u32> = down.iter().rev().map(|h| h ^ 1).collect();
                assert_eq!(up, back);
                assert_eq!(
                    network.paths.ap_latency_ns(a, c),
                    up.iter().map(link_ns).sum::<u64>()
                );
            }
        }
        // Both cell sites hang off their aggregation site by one link: the
        // table keeps one row for each aggregation site, not one per cell.
        assert_eq!(network.paths.rows(), 2);
        assert!(network.paths.ap_hop(0).is_some());
        // cell-a to cl-b goes the short way round the ring (r0 → r2 → r1:
        // 2.0 ms against 2.3 ms).
        assert_eq!(network.paths.up(0, 1).len(), 6);
        let expected = [0.3, 0.7, 1.1, 0.9, 0.7, 0.015].map(ms_to_ns);
        assert_eq!(
            network.paths.ap_latency_ns(0, 1),
            expected.iter().sum::<u64>()
        );
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
    fn a_cell_site_with_two_links_keeps_a_row_of_its_own() {
        let mut t = ring();
        let (a, b) = (t.index_of("cell-b").unwrap(), t.index_of("r2").unwrap());
        let link = Link {
            latency_ms: 0.2,
            capacity_bps: 1e10,
        };
        t.add_link(a, b, link).unwrap();
        let network = network_from_topology(&t).unwrap();
        assert_eq!(network.paths.rows(), 2, "agg-a's row and cell-b's own");
        assert_eq!(network.paths.ap_hop(1), None);
        // cell-b now reaches cl-a through r2 and r0, skipping agg-b.
        let (cell_b, cl_a) = (t.index_of("cell-b").unwrap(), t.index_of("cl-a").unwrap());
        let up: Vec<u32> = network.paths.up(1, 0).map(|h| h / 2).collect();
        assert_eq!(up.len(), t.path(cell_b, cl_a).unwrap().links.len());
        assert_eq!(
            network.paths.ap_latency_ns(1, 0),
            ms_to_ns(0.2) + ms_to_ns(1.1) + ms_to_ns(0.7) + ms_to_ns(0.015)
        );
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
        let mut up: Vec<u32> = central.paths.up(0, 0).map(|h| h / 2).collect();
        let down: Vec<u32> = central.paths.down(0, 0).map(|h| h / 2).collect();
        up.reverse();
        assert_eq!(up, down);
        // Host to host paths do not detour.
        assert_eq!(central.paths.between(0, 0), edge.paths.between(0, 0));
    }
}
