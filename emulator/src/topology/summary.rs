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
    /// Counts nodes and links, checks connectivity and computes the diameter
    /// (a shortest-path search from every node, each dropped before the
    /// next, so memory stays linear in the nodes; the path cache is left
    /// alone).
    pub fn summary(&self) -> TopologySummary {
        let mut by_kind: BTreeMap<&'static str, usize> =
            NodeKind::ALL.iter().map(|k| (k.name(), 0)).collect();
        for (_, node) in self.nodes() {
            *by_kind.entry(node.kind().name()).or_default() += 1;
        }
        let mut connected = true;
        let mut diameter_ms: f64 = 0.0;
        for (source, _) in self.nodes() {
            let Some(tree) = self.shortest_tree(source) else {
                continue;
            };
            for latency in tree.latencies() {
                match latency {
                    Some(l) => diameter_ms = diameter_ms.max(l),
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
}
