//! Shortest paths by latency, cached as one Dijkstra tree per source.
//!
//! A tree is computed the first time a source is asked for and kept until a
//! node or link changes; after that a latency, bottleneck or one-way delay
//! query is two vector reads. Among paths of equal latency the one with the
//! larger bottleneck wins, then the one found first in link order, so results
//! are deterministic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::OnceLock;

use super::graph::{LinkIx, NodeIx, Topology};

/// A route between two nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// Nodes visited, from source to destination (both included).
    pub nodes: Vec<NodeIx>,
    /// Links crossed, in order (empty when source = destination).
    pub links: Vec<LinkIx>,
    /// Sum of the links' latencies.
    pub latency_ms: f64,
    /// Smallest capacity along the path (infinite for the empty path).
    pub bottleneck_bps: f64,
}

impl Path {
    /// One-way delay of a message of `bytes` bytes: latency plus
    /// serialisation at the bottleneck (`bytes·8 / bottleneck`).
    pub fn one_way_delay_ms(&self, bytes: u64) -> f64 {
        one_way_delay_ms(self.latency_ms, self.bottleneck_bps, bytes)
    }
}

fn one_way_delay_ms(latency_ms: f64, bottleneck_bps: f64, bytes: u64) -> f64 {
    latency_ms + bytes as f64 * 8.0 / bottleneck_bps * 1000.0
}

/// Shortest-path tree from one source: the same paths as the cached queries
/// give, for callers that visit every source once and want no cache of
/// them (the engine's path tables: keeping a tree per source costs
/// sources × nodes of memory).
#[derive(Debug, Clone)]
pub struct Tree {
    latency_ms: Vec<f64>,
    bottleneck_bps: Vec<f64>,
    via: Vec<Option<(NodeIx, LinkIx)>>,
}

impl Tree {
    /// Latency of the shortest path to `to`; `None` when `to` is not a node
    /// or cannot be reached.
    pub fn latency_ms(&self, to: NodeIx) -> Option<f64> {
        let lat = *self.latency_ms.get(to.index())?;
        lat.is_finite().then_some(lat)
    }

    /// Latencies of the shortest paths to every node, in index order
    /// (`None` for unreachable nodes).
    pub fn latencies(&self) -> impl Iterator<Item = Option<f64>> + '_ {
        self.latency_ms.iter().map(|l| l.is_finite().then_some(*l))
    }

    /// The path to `to` walked backwards: each step is a node and the link
    /// that leads from it one node nearer `to`, from `to`'s last link back to
    /// the source's first. Empty for the source itself and for nodes that
    /// cannot be reached.
    pub fn walk_back(&self, to: NodeIx) -> impl Iterator<Item = (NodeIx, LinkIx)> + '_ {
        let mut at = to;
        std::iter::from_fn(move || {
            let step = (*self.via.get(at.index())?)?;
            at = step.0;
            Some(step)
        })
    }
}

/// Lazily filled per-source trees; reset on every edit. The table itself is
/// made on the first query after an edit, so that building a graph of `n`
/// nodes one edit at a time costs no `n` slots per edit.
#[derive(Debug, Clone, Default)]
pub(super) struct PathCache {
    trees: OnceLock<Vec<OnceLock<Tree>>>,
}

impl PathCache {
    pub(super) fn reset(&mut self) {
        self.trees = OnceLock::new();
    }

    fn slot(&self, source: usize, node_count: usize) -> Option<&OnceLock<Tree>> {
        self.trees
            .get_or_init(|| (0..node_count).map(|_| OnceLock::new()).collect())
            .get(source)
    }
}

#[derive(PartialEq)]
struct Candidate {
    latency_ms: f64,
    bottleneck_bps: f64,
    node: NodeIx,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    /// The best candidate is the greatest: lowest latency, then widest, then
    /// lowest index.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .latency_ms
            .total_cmp(&self.latency_ms)
            .then(self.bottleneck_bps.total_cmp(&other.bottleneck_bps))
            .then(other.node.cmp(&self.node))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Dijkstra from `source`; nodes flagged in `dead_ends` (by index; a
/// shorter slice flags none past its end) are neither reached nor crossed.
fn dijkstra(topology: &Topology, source: NodeIx, dead_ends: &[bool]) -> Tree {
    let n = topology.node_count();
    let mut tree = Tree {
        latency_ms: vec![f64::INFINITY; n],
        bottleneck_bps: vec![0.0; n],
        via: vec![None; n],
    };
    let mut done = vec![false; n];
    done[..dead_ends.len().min(n)].copy_from_slice(&dead_ends[..dead_ends.len().min(n)]);
    done[source.index()] = false;
    let mut heap = BinaryHeap::new();
    tree.latency_ms[source.index()] = 0.0;
    tree.bottleneck_bps[source.index()] = f64::INFINITY;
    heap.push(Candidate {
        latency_ms: 0.0,
        bottleneck_bps: f64::INFINITY,
        node: source,
    });
    while let Some(Candidate {
        latency_ms,
        bottleneck_bps,
        node,
    }) = heap.pop()
    {
        if std::mem::replace(&mut done[node.index()], true) {
            continue;
        }
        for (next, link_ix, link) in topology.neighbours(node) {
            if done[next.index()] {
                continue;
            }
            let lat = latency_ms + link.latency_ms;
            let width = bottleneck_bps.min(link.capacity_bps);
            let (cur_lat, cur_width) = (
                tree.latency_ms[next.index()],
                tree.bottleneck_bps[next.index()],
            );
            if lat < cur_lat || (lat == cur_lat && width > cur_width) {
                tree.latency_ms[next.index()] = lat;
                tree.bottleneck_bps[next.index()] = width;
                tree.via[next.index()] = Some((node, link_ix));
                heap.push(Candidate {
                    latency_ms: lat,
                    bottleneck_bps: width,
                    node: next,
                });
            }
        }
    }
    tree
}

impl Topology {
    /// The shortest-path tree from `source`, computed now and not cached;
    /// `None` when `source` is not a node.
    pub fn shortest_tree(&self, source: NodeIx) -> Option<Tree> {
        self.shortest_tree_avoiding(source, &[])
    }

    /// [`Topology::shortest_tree`] that neither reaches nor crosses the
    /// nodes flagged in `dead_ends` (by index). Flag only nodes no shortest
    /// path to a wanted node crosses, such as a leaf (a node with one link)
    /// that is not wanted itself: then the tree's paths to every other node
    /// are the same, and a search through a large layout whose nodes are
    /// mostly leaves visits only the rest.
    pub fn shortest_tree_avoiding(&self, source: NodeIx, dead_ends: &[bool]) -> Option<Tree> {
        (source.index() < self.node_count()).then(|| dijkstra(self, source, dead_ends))
    }

    fn tree(&self, source: NodeIx) -> Option<&Tree> {
        let slot = self.cache.slot(source.index(), self.node_count())?;
        Some(slot.get_or_init(|| dijkstra(self, source, &[])))
    }

    /// Latency of the shortest path from `a` to `b`; `None` when either is not
    /// a node or `b` cannot be reached. The hot-path query: cached.
    pub fn latency_ms(&self, a: NodeIx, b: NodeIx) -> Option<f64> {
        let lat = *self.tree(a)?.latency_ms.get(b.index())?;
        lat.is_finite().then_some(lat)
    }

    /// Bottleneck capacity of the shortest path from `a` to `b` (infinite
    /// when `a == b`). Cached.
    pub fn bottleneck_bps(&self, a: NodeIx, b: NodeIx) -> Option<f64> {
        let tree = self.tree(a)?;
        tree.latency_ms
            .get(b.index())?
            .is_finite()
            .then(|| tree.bottleneck_bps[b.index()])
    }

    /// One-way delay of a `bytes`-byte message from `a` to `b` along the
    /// shortest path: latency + bytes·8 / bottleneck. Cached.
    pub fn one_way_delay_ms(&self, a: NodeIx, b: NodeIx, bytes: u64) -> Option<f64> {
        let tree = self.tree(a)?;
        let lat = *tree.latency_ms.get(b.index())?;
        lat.is_finite()
            .then(|| one_way_delay_ms(lat, tree.bottleneck_bps[b.index()], bytes))
    }

    /// The shortest path from `a` to `b` by latency, with its links.
    pub fn path(&self, a: NodeIx, b: NodeIx) -> Option<Path> {
        let tree = self.tree(a)?;
        let latency_ms = *tree.latency_ms.get(b.index())?;
        if !latency_ms.is_finite() {
            return None;
        }
        let mut nodes = vec![b];
        let mut links = Vec::new();
        for (prev, link) in tree.walk_back(b) {
            nodes.push(prev);
            links.push(link);
        }
        nodes.reverse();
        links.reverse();
        Some(Path {
            nodes,
            links,
            latency_ms,
            bottleneck_bps: tree.bottleneck_bps[b.index()],
        })
    }

    /// [`Topology::path`] by node id; `None` when an id is unknown or there
    /// is no path.
    pub fn path_by_id(&self, a: &str, b: &str) -> Option<Path> {
        self.path(self.index_of(a)?, self.index_of(b)?)
    }

    /// Drops every cached tree (edits do this by themselves; this is for
    /// measuring the cold cost).
    pub fn clear_path_cache(&mut self) {
        self.cache.reset();
    }

    /// How many sources have a cached tree (a diagnostic for tests and
    /// benchmarks).
    pub fn cached_trees(&self) -> usize {
        self.cache.trees.get().map_or(0, |trees| {
            trees.iter().filter(|t| t.get().is_some()).count()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::model::{Link, Node, NodeRole};

    /// a —1 ms, 1 Gb/s— b —2 ms, 100 Mb/s— c, and a —5 ms, 10 Gb/s— c.
    fn triangle() -> (Topology, [NodeIx; 3], [LinkIx; 3]) {
        let mut t = Topology::new();
        let ix =
            ["a", "b", "c"].map(|id| t.add_node(Node::new(id, None, NodeRole::Router)).unwrap());
        let [a, b, c] = ix;
        let link = |latency_ms, capacity_bps| Link {
            latency_ms,
            capacity_bps,
        };
        let ab = t.add_link(a, b, link(1.0, 1e9)).unwrap();
        let bc = t.add_link(b, c, link(2.0, 1e8)).unwrap();
        let ac = t.add_link(a, c, link(5.0, 1e10)).unwrap();
        (t, ix, [ab, bc, ac])
    }

    #[test]
    fn shortest_path_is_hand_computable() {
        let (t, [a, b, c], [ab, bc, _]) = triangle();
        let p = t.path(a, c).unwrap();
        assert_eq!(p.nodes, vec![a, b, c]);
        assert_eq!(p.links, vec![ab, bc]);
        assert_eq!(p.latency_ms, 3.0);
        assert_eq!(p.bottleneck_bps, 1e8);
        // 1 MB over 100 Mb/s = 80 ms, plus 3 ms.
        assert!((p.one_way_delay_ms(1_000_000) - 83.0).abs() < 1e-9);
        assert_eq!(
            t.one_way_delay_ms(c, a, 1_000_000),
            Some(p.one_way_delay_ms(1_000_000))
        );
        assert_eq!(t.latency_ms(a, a), Some(0.0));
        assert_eq!(t.one_way_delay_ms(b, b, 1000), Some(0.0));
        assert_eq!(t.path_by_id("c", "a").unwrap().nodes, vec![c, b, a]);
        assert_eq!(t.path_by_id("c", "zz"), None);
    }

    #[test]
    fn cache_is_lazy_and_invalidated_by_link_edits() {
        let (mut t, [a, b, c], [ab, bc, ac]) = triangle();
        assert_eq!(t.cached_trees(), 0);
        assert_eq!(t.latency_ms(a, c), Some(3.0));
        assert_eq!(t.cached_trees(), 1);
        t.set_link_latency_ms(bc, 10.0).unwrap();
        assert_eq!(t.cached_trees(), 0);
        assert_eq!(t.latency_ms(a, c), Some(5.0));
        assert_eq!(t.path(a, c).unwrap().links, vec![ac]);
        t.set_link_capacity_bps(ac, 1e6).unwrap();
        assert_eq!(t.bottleneck_bps(a, c), Some(1e6));
        t.remove_link(ac).unwrap();
        assert_eq!(t.latency_ms(a, c), Some(11.0));
        t.remove_link(ab).unwrap();
        assert_eq!(t.latency_ms(a, c), None);
        assert_eq!(t.path(a, b), None);
        let ab2 = t
            .add_link(
                a,
                b,
                Link {
                    latency_ms: 0.5,
                    capacity_bps: 1e9,
                },
            )
            .unwrap();
        assert_eq!(t.latency_ms(a, c), Some(10.5));
        assert_eq!(t.path(c, a).unwrap().links, vec![bc, ab2]);
    }

    #[test]
    fn equal_latency_prefers_the_wider_path() {
        let mut t = Topology::new();
        let [s, x, y, d] = ["s", "x", "y", "d"]
            .map(|id| t.add_node(Node::new(id, None, NodeRole::Router)).unwrap());
        let l = |capacity_bps| Link {
            latency_ms: 1.0,
            capacity_bps,
        };
        t.add_link(s, x, l(1e6)).unwrap();
        t.add_link(x, d, l(1e9)).unwrap();
        t.add_link(s, y, l(1e9)).unwrap();
        t.add_link(y, d, l(1e8)).unwrap();
        let p = t.path(s, d).unwrap();
        assert_eq!(p.nodes, vec![s, y, d]);
        assert_eq!(p.bottleneck_bps, 1e8);
    }

    fn topology_from(n: usize, edges: &[(usize, usize, f64, f64)]) -> Topology {
        let mut t = Topology::new();
        for i in 0..n {
            t.add_node(Node::new(format!("n{i}"), None, NodeRole::Router))
                .unwrap();
        }
        for &(a, b, latency_ms, capacity_bps) in edges {
            let (a, b) = (NodeIx((a % n) as u32), NodeIx((b % n) as u32));
            // Self-loops and repeats are refused; the rest make the graph.
            let _ = t.add_link(
                a,
                b,
                Link {
                    latency_ms,
                    capacity_bps,
                },
            );
        }
        t
    }

    proptest::proptest! {
        #[test]
        fn paths_are_consistent(
            n in 2usize..9,
            edges in proptest::collection::vec((0usize..9, 0usize..9, 0.0f64..20.0, 1e6f64..1e10), 0..20),
        ) {
            let t = topology_from(n, &edges);
            let ix = |i: usize| NodeIx(i as u32);
            for a in 0..n {
                for b in 0..n {
                    let ab = t.latency_ms(ix(a), ix(b));
                    let ba = t.latency_ms(ix(b), ix(a));
                    proptest::prop_assert_eq!(ab.is_some(), ba.is_some());
                    if let (Some(ab), Some(ba)) = (ab, ba) {
                        proptest::prop_assert!((ab - ba).abs() < 1e-9);
                        let p = t.path(ix(a), ix(b)).unwrap();
                        let links: Vec<&Link> = p.links.iter().map(|l| t.link(*l).unwrap().2).collect();
                        let sum: f64 = links.iter().map(|l| l.latency_ms).sum();
                        proptest::prop_assert!((sum - ab).abs() < 1e-9);
                        let min = links.iter().map(|l| l.capacity_bps).fold(f64::INFINITY, f64::min);
                        proptest::prop_assert_eq!(min, p.bottleneck_bps);
                        proptest::prop_assert_eq!(p.nodes.len(), p.links.len() + 1);
                        for c in 0..n {
                            if let (Some(ac), Some(cb)) = (t.latency_ms(ix(a), ix(c)), t.latency_ms(ix(c), ix(b))) {
                                proptest::prop_assert!(ab <= ac + cb + 1e-9);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn topology_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Topology>();
    }
}
