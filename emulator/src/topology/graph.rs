//! [`Topology`]: the network as an undirected petgraph graph, with lookups by
//! string id and by dense index, and the link edits that invalidate the path
//! cache.

use std::collections::BTreeMap;

use mcc_mobile_client::position::LatLon;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableUnGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};

use super::model::{AccessPointSpec, CloudletSpec, Link, Node, NodeKind, NodeRole};
use super::paths::PathCache;

/// Dense index of a node: nodes are numbered 0, 1, 2... in the order they were
/// added and are never removed, so a `NodeIx` can index plain vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeIx(pub u32);

impl NodeIx {
    /// As a vector index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a link; stays valid when other links are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkIx(pub u32);

/// Why an edit of the topology was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TopologyError {
    /// Two nodes with the same id.
    #[error("node id {0:?} is used twice")]
    DuplicateNodeId(String),
    /// A link from a node to itself.
    #[error("link from {0:?} to itself")]
    SelfLoop(String),
    /// A second link between the same two nodes.
    #[error("nodes {0:?} and {1:?} are already linked")]
    DuplicateLink(String, String),
    /// Latency or capacity out of range.
    #[error("invalid link: {0}")]
    InvalidLink(String),
    /// A node index or id that is not in the topology.
    #[error("no node {0}")]
    UnknownNode(String),
    /// A link index that is not (or no longer) in the topology.
    #[error("no link {0:?}")]
    UnknownLink(LinkIx),
}

/// The network: nodes (clouds, cloudlets, access points, routers) and
/// undirected links, with cached shortest paths (see [`super::paths`]).
///
/// Node order is insertion order; every iteration follows it, so outputs do
/// not depend on hash-map order.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    pub(super) graph: StableUnGraph<Node, Link>,
    ids: BTreeMap<String, NodeIx>,
    pub(super) cache: PathCache,
}

fn nx(ix: NodeIx) -> NodeIndex {
    NodeIndex::new(ix.index())
}

fn ex(ix: LinkIx) -> EdgeIndex {
    EdgeIndex::new(ix.0 as usize)
}

impl Topology {
    /// An empty topology.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of links.
    pub fn link_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Adds a node; its id must be new.
    pub fn add_node(&mut self, node: Node) -> Result<NodeIx, TopologyError> {
        if self.ids.contains_key(&node.id) {
            return Err(TopologyError::DuplicateNodeId(node.id));
        }
        let id = node.id.clone();
        let ix = NodeIx(self.graph.add_node(node).index() as u32);
        self.ids.insert(id, ix);
        self.cache.reset();
        Ok(ix)
    }

    /// Links two distinct, not yet linked nodes.
    pub fn add_link(&mut self, a: NodeIx, b: NodeIx, link: Link) -> Result<LinkIx, TopologyError> {
        let (na, nb) = (self.checked(a)?, self.checked(b)?);
        if a == b {
            return Err(TopologyError::SelfLoop(na.id.clone()));
        }
        if self.link_between(a, b).is_some() {
            return Err(TopologyError::DuplicateLink(na.id.clone(), nb.id.clone()));
        }
        if let Some(problem) = link.problem() {
            return Err(TopologyError::InvalidLink(problem));
        }
        let e = self.graph.add_edge(nx(a), nx(b), link);
        self.cache.reset();
        Ok(LinkIx(e.index() as u32))
    }

    /// Replaces a link's latency and capacity.
    pub fn set_link(&mut self, link: LinkIx, value: Link) -> Result<(), TopologyError> {
        if let Some(problem) = value.problem() {
            return Err(TopologyError::InvalidLink(problem));
        }
        let slot = self
            .graph
            .edge_weight_mut(ex(link))
            .ok_or(TopologyError::UnknownLink(link))?;
        *slot = value;
        self.cache.reset();
        Ok(())
    }

    /// Changes a link's latency, keeping its capacity.
    pub fn set_link_latency_ms(
        &mut self,
        link: LinkIx,
        latency_ms: f64,
    ) -> Result<(), TopologyError> {
        let current = *self.link(link).ok_or(TopologyError::UnknownLink(link))?.2;
        self.set_link(
            link,
            Link {
                latency_ms,
                ..current
            },
        )
    }

    /// Changes a link's capacity, keeping its latency.
    pub fn set_link_capacity_bps(
        &mut self,
        link: LinkIx,
        capacity_bps: f64,
    ) -> Result<(), TopologyError> {
        let current = *self.link(link).ok_or(TopologyError::UnknownLink(link))?.2;
        self.set_link(
            link,
            Link {
                capacity_bps,
                ..current
            },
        )
    }

    /// Removes a link and returns it.
    pub fn remove_link(&mut self, link: LinkIx) -> Result<Link, TopologyError> {
        let removed = self
            .graph
            .remove_edge(ex(link))
            .ok_or(TopologyError::UnknownLink(link))?;
        self.cache.reset();
        Ok(removed)
    }

    /// Moves a node (or forgets where it is). Link latencies are not
    /// touched: whoever moves a node re-derives the links it wants
    /// re-derived (see [`super::positions`]).
    pub fn set_position(
        &mut self,
        ix: NodeIx,
        position: Option<LatLon>,
    ) -> Result<(), TopologyError> {
        let node = self
            .graph
            .node_weight_mut(nx(ix))
            .ok_or_else(|| TopologyError::UnknownNode(format!("#{}", ix.0)))?;
        node.position = position;
        Ok(())
    }

    /// The node at `ix`, if any.
    pub fn node(&self, ix: NodeIx) -> Option<&Node> {
        self.graph.node_weight(nx(ix))
    }

    fn checked(&self, ix: NodeIx) -> Result<&Node, TopologyError> {
        self.node(ix)
            .ok_or_else(|| TopologyError::UnknownNode(format!("#{}", ix.0)))
    }

    /// The index of the node with this id.
    pub fn index_of(&self, id: &str) -> Option<NodeIx> {
        self.ids.get(id).copied()
    }

    /// The node with this id.
    pub fn node_by_id(&self, id: &str) -> Option<&Node> {
        self.index_of(id).and_then(|ix| self.node(ix))
    }

    /// All nodes in index order.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeIx, &Node)> + '_ {
        self.graph
            .node_indices()
            .filter_map(|n| Some((NodeIx(n.index() as u32), self.graph.node_weight(n)?)))
    }

    /// Nodes of one kind, in index order.
    pub fn nodes_of_kind(&self, kind: NodeKind) -> impl Iterator<Item = (NodeIx, &Node)> + '_ {
        self.nodes().filter(move |(_, n)| n.kind() == kind)
    }

    /// Access points with their cell data, in index order.
    pub fn access_points(&self) -> impl Iterator<Item = (NodeIx, &Node, &AccessPointSpec)> + '_ {
        self.nodes().filter_map(|(ix, n)| match &n.role {
            NodeRole::AccessPoint(spec) => Some((ix, n, spec)),
            _ => None,
        })
    }

    /// Cloudlets with their capacities, in index order.
    pub fn cloudlets(&self) -> impl Iterator<Item = (NodeIx, &Node, &CloudletSpec)> + '_ {
        self.nodes().filter_map(|(ix, n)| match &n.role {
            NodeRole::Cloudlet(spec) => Some((ix, n, spec)),
            _ => None,
        })
    }

    /// All links in index order: (index, one end, other end, link).
    pub fn links(&self) -> impl Iterator<Item = (LinkIx, NodeIx, NodeIx, &Link)> + '_ {
        (&self.graph).edge_references().map(|e| {
            (
                LinkIx(e.id().index() as u32),
                NodeIx(e.source().index() as u32),
                NodeIx(e.target().index() as u32),
                e.weight(),
            )
        })
    }

    /// A link's ends and values.
    pub fn link(&self, link: LinkIx) -> Option<(NodeIx, NodeIx, &Link)> {
        let (a, b) = self.graph.edge_endpoints(ex(link))?;
        let w = self.graph.edge_weight(ex(link))?;
        Some((NodeIx(a.index() as u32), NodeIx(b.index() as u32), w))
    }

    /// The link between two nodes, if they are linked.
    pub fn link_between(&self, a: NodeIx, b: NodeIx) -> Option<LinkIx> {
        self.graph
            .find_edge(nx(a), nx(b))
            .map(|e| LinkIx(e.index() as u32))
    }

    /// The other end of a node's only link, and the link, when the node has
    /// exactly one (a leaf: every path to it crosses that link).
    pub fn sole_link(&self, a: NodeIx) -> Option<(NodeIx, LinkIx)> {
        let mut links = self.neighbours(a).map(|(other, link, _)| (other, link));
        let first = links.next()?;
        links.next().is_none().then_some(first)
    }

    /// Neighbours of a node with the connecting links, in link order.
    pub(super) fn neighbours(
        &self,
        a: NodeIx,
    ) -> impl Iterator<Item = (NodeIx, LinkIx, &Link)> + '_ {
        let n = nx(a);
        self.graph.edges(n).map(move |e| {
            let other = if e.source() == n {
                e.target()
            } else {
                e.source()
            };
            (
                NodeIx(other.index() as u32),
                LinkIx(e.id().index() as u32),
                e.weight(),
            )
        })
    }

    /// The located node closest to `position` among those `accept` admits,
    /// with its distance in metres; ties go to the lower index.
    pub fn nearest_where(
        &self,
        position: LatLon,
        mut accept: impl FnMut(&Node) -> bool,
    ) -> Option<(NodeIx, f64)> {
        let mut best: Option<(NodeIx, f64)> = None;
        for (ix, node) in self.nodes() {
            let Some(p) = node.position else { continue };
            if !accept(node) {
                continue;
            }
            let d = p.distance_m(position);
            if best.is_none_or(|(_, bd)| d < bd) {
                best = Some((ix, d));
            }
        }
        best
    }

    /// The located node of `kind` closest to `position`, with its distance in
    /// metres.
    pub fn nearest(&self, kind: NodeKind, position: LatLon) -> Option<(NodeIx, f64)> {
        self.nearest_where(position, |n| n.kind() == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(id: &str, lat: f64, lon: f64) -> Node {
        Node::new(id, Some(LatLon::new(lat, lon).unwrap()), NodeRole::Router)
    }

    const L: Link = Link {
        latency_ms: 1.0,
        capacity_bps: 1e9,
    };

    #[test]
    fn edits_are_checked() {
        let mut t = Topology::new();
        let a = t.add_node(router("a", 0.0, 0.0)).unwrap();
        let b = t.add_node(router("b", 0.0, 1.0)).unwrap();
        assert_eq!(
            t.add_node(router("a", 1.0, 1.0)),
            Err(TopologyError::DuplicateNodeId("a".into()))
        );
        assert!(matches!(
            t.add_link(a, a, L),
            Err(TopologyError::SelfLoop(_))
        ));
        let ab = t.add_link(a, b, L).unwrap();
        assert!(matches!(
            t.add_link(b, a, L),
            Err(TopologyError::DuplicateLink(..))
        ));
        assert!(matches!(
            t.add_link(a, NodeIx(7), L),
            Err(TopologyError::UnknownNode(_))
        ));
        assert!(matches!(
            t.set_link_latency_ms(ab, f64::NAN),
            Err(TopologyError::InvalidLink(_))
        ));
        assert_eq!(t.link_between(b, a), Some(ab));
        t.remove_link(ab).unwrap();
        assert_eq!(t.link_between(a, b), None);
        assert_eq!(t.remove_link(ab), Err(TopologyError::UnknownLink(ab)));
    }

    #[test]
    fn lookups_and_nearest() {
        let mut t = Topology::new();
        t.add_node(router("r", 53.0, -6.0)).unwrap();
        let c = t
            .add_node(Node::new(
                "c",
                Some(LatLon::new(53.1, -6.0).unwrap()),
                NodeRole::Cloudlet(CloudletSpec::default()),
            ))
            .unwrap();
        t.add_node(Node::new(
            "x",
            None,
            NodeRole::Cloudlet(CloudletSpec::default()),
        ))
        .unwrap();
        assert_eq!(t.index_of("c"), Some(c));
        assert_eq!(t.node_by_id("r").map(|n| n.kind()), Some(NodeKind::Router));
        assert_eq!(t.cloudlets().count(), 2);
        assert_eq!(t.access_points().count(), 0);
        let here = LatLon::new(53.0, -6.0).unwrap();
        let (ix, d) = t.nearest(NodeKind::Cloudlet, here).unwrap();
        assert_eq!(ix, c);
        assert!((d - 11_120.0).abs() < 50.0, "{d}");
        assert_eq!(t.nearest(NodeKind::AccessPoint, here), None);
    }
}
