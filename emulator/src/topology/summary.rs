//! [`TopologySummary`]: the counts and figures `mcc-emu inspect topology`
//! prints.

use std::collections::BTreeMap;

use serde::Serialize;

use super::graph::Topology;
use super::model::NodeKind;

/// What a topology contains, as `inspect` prints it and `--json` emits it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopologySummary {
    /// Number of nodes.
    pub nodes: usize,
    /// Number of links.
    pub links: usize,
    /// Nodes per kind (every kind is listed, zero included).
    pub by_kind: BTreeMap<&'static str, usize>,
    /// Whether every node can reach every other (true for an empty topology).
    pub connected: bool,
    /// The largest shortest-path latency over connected pairs of nodes.
    pub diameter_ms: f64,
}

impl Topology {
    /// Counts nodes and links, checks connectivity and computes the diameter.
    ///
    /// The diameter takes one shortest-path search from every node that is
    /// not a leaf, skipping the leaves (a leaf is a node with one link whose
    /// other end is not a leaf itself: every path to it crosses that link,
    /// and in a generated operator layout most nodes are such cell sites).
    /// A leaf's distances are its link's latency plus its neighbour's, so
    /// the longest path from a search's source `s` to a node `t` is the
    /// longest leaf link on `s` (or none), the distance, and the longest
    /// leaf link on `t`; two leaves on one node are the two longest links
    /// on it. Each search is dropped before the next, so memory stays
    /// linear in the nodes; the path cache is left alone.
    pub fn summary(&self) -> TopologySummary {
        let mut by_kind: BTreeMap<&'static str, usize> =
            NodeKind::ALL.iter().map(|k| (k.name(), 0)).collect();
        for (_, node) in self.nodes() {
            *by_kind.entry(node.kind().name()).or_default() += 1;
        }
        let n = self.node_count();
        // The two longest leaf links on each node, and which nodes are leaves.
        let mut leaf = vec![false; n];
        let mut hanging = vec![[0.0f64; 2]; n];
        for (node, _) in self.nodes() {
            let Some((other, link)) = self.sole_link(node) else {
                continue;
            };
            if self.sole_link(other).is_some() {
                continue;
            }
            let Some((_, _, link)) = self.link(link) else {
                continue;
            };
            leaf[node.index()] = true;
            let top = &mut hanging[other.index()];
            if link.latency_ms > top[0] {
                *top = [link.latency_ms, top[0]];
            } else if link.latency_ms > top[1] {
                top[1] = link.latency_ms;
            }
        }
        let mut connected = true;
        let mut diameter_ms: f64 = 0.0;
        for (source, _) in self.nodes().filter(|(ix, _)| !leaf[ix.index()]) {
            let Some(tree) = self.shortest_tree_avoiding(source, &leaf) else {
                continue;
            };
            let [first, second] = hanging[source.index()];
            diameter_ms = diameter_ms.max(first + second);
            for (to, latency) in tree.latencies().enumerate().filter(|(to, _)| !leaf[*to]) {
                match latency {
                    Some(l) if to != source.index() => {
                        diameter_ms = diameter_ms.max(first + l + hanging[to][0]);
                    }
                    Some(_) => {}
                    None => connected = false,
                }
            }
        }
        TopologySummary {
            nodes: self.node_count(),
            links: self.link_count(),
            by_kind,
            connected,
            diameter_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::topology::Topology;
    use crate::topology::model::{CloudletSpec, Link, Node, NodeRole};

    #[test]
    fn summary_counts_and_diameter() {
        let mut t = Topology::new();
        let s = t.summary();
        assert!(s.connected);
        assert_eq!((s.nodes, s.links, s.diameter_ms), (0, 0, 0.0));
        let a = t.add_node(Node::new("a", None, NodeRole::Router)).unwrap();
        let b = t.add_node(Node::new("b", None, NodeRole::Cloud)).unwrap();
        let c = t
            .add_node(Node::new(
                "c",
                None,
                NodeRole::Cloudlet(CloudletSpec::default()),
            ))
            .unwrap();
        let l = |latency_ms| Link {
            latency_ms,
            capacity_bps: 1e9,
        };
        t.add_link(a, b, l(2.0)).unwrap();
        let s = t.summary();
        assert!(!s.connected);
        assert_eq!(s.diameter_ms, 2.0);
        t.add_link(a, c, l(3.0)).unwrap();
        let s = t.summary();
        assert!(s.connected);
        assert_eq!(s.diameter_ms, 5.0);
        assert_eq!(s.by_kind["router"], 1);
        assert_eq!(s.by_kind["access_point"], 0);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"nodes": 3, "links": 2, "connected": true, "diameter_ms": 5.0,
                "by_kind": {"cloud": 1, "cloudlet": 1, "access_point": 0, "router": 1}})
        );
    }

    #[test]
    fn the_diameter_through_leaves_is_the_longest_shortest_path() {
        // A ring of three routers; two leaves on r0 (the two longest links
        // on one node), one on r1, a chain of two beyond r2 (the first is
        // not a leaf) and a pair of nodes linked only to each other.
        let mut t = Topology::new();
        let mut node = |id: &str| t.add_node(Node::new(id, None, NodeRole::Router)).unwrap();
        let ids = ["r0", "r1", "r2", "a", "b", "c", "d", "e", "x", "y"];
        let [r0, r1, r2, a, b, c, d, e, x, y] = ids.map(&mut node);
        let l = |latency_ms| Link {
            latency_ms,
            capacity_bps: 1e9,
        };
        for (p, q, ms) in [
            (r0, r1, 1.0),
            (r1, r2, 1.5),
            (r2, r0, 4.0),
            (a, r0, 7.0),
            (b, r0, 6.5),
            (c, r1, 0.5),
            (d, r2, 2.0),
            (e, d, 3.0),
            (x, y, 0.25),
        ] {
            t.add_link(p, q, l(ms)).unwrap();
        }
        let brute = t
            .nodes()
            .filter_map(|(ix, _)| t.shortest_tree(ix))
            .flat_map(|tree| tree.latencies().flatten().collect::<Vec<_>>())
            .fold(0.0, f64::max);
        let s = t.summary();
        assert!(!s.connected);
        // a → r0 → r1 → r2 → d → e: 7 + 1 + 1.5 + 2 + 3.
        assert_eq!(brute, 14.5);
        assert_eq!(s.diameter_ms, brute);
    }
}
