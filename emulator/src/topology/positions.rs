//! Backbone node positions given by the scenario, for files whose
//! coordinates are coarse (Topology Zoo's HEAnet puts its four Dublin
//! points of presence on one point in the city centre).
//!
//! A node is named by its id or, failing that, by its label; a label shared
//! by several nodes, or a name that matches nothing, is an error listing
//! what would be right. Every link at a moved node gets its latency derived
//! again from the new positions with the loader's [`LinkDefaults`] (its
//! capacity is kept): use this only on topologies whose link latencies were
//! derived from positions (Topology Zoo GraphML).

use mcc_mobile_client::position::LatLon;

use super::graph::{NodeIx, Topology};
use super::model::LinkDefaults;

/// The node `name` refers to: the node with that id, else the one node with
/// that label.
pub fn resolve_node(topology: &Topology, name: &str) -> Result<NodeIx, String> {
    if let Some(ix) = topology.index_of(name) {
        return Ok(ix);
    }
    let by_label: Vec<(NodeIx, &str)> = topology
        .nodes()
        .filter(|(_, n)| n.label == name)
        .map(|(ix, n)| (ix, n.id.as_str()))
        .collect();
    match by_label.as_slice() {
        [(ix, _)] => Ok(*ix),
        [] => {
            let known: Vec<String> = topology
                .nodes()
                .map(|(_, n)| format!("{:?}", n.id))
                .collect();
            Err(format!(
                "no node has the id or label {name:?}; the ids are {}",
                known.join(", ")
            ))
        }
        several => {
            let ids: Vec<String> = several.iter().map(|(_, id)| format!("{id:?}")).collect();
            Err(format!(
                "{} nodes are labelled {name:?} ({}); name one by its id",
                several.len(),
                ids.join(", ")
            ))
        }
    }
}

/// Moves the named nodes to the given positions and derives again the
/// latency of every link at a moved node. Returns the moved nodes in the
/// order given; fails (naming the entry) on an unknown or ambiguous name.
pub fn override_positions(
    topology: &mut Topology,
    overrides: &[(String, LatLon)],
    defaults: &LinkDefaults,
) -> Result<Vec<NodeIx>, String> {
    let mut moved = Vec::with_capacity(overrides.len());
    for (name, position) in overrides {
        let ix = resolve_node(topology, name)?;
        topology
            .set_position(ix, Some(*position))
            .map_err(|e| e.to_string())?;
        moved.push(ix);
    }
    let relinks: Vec<_> = topology
        .links()
        .filter(|(_, a, b, _)| moved.contains(a) || moved.contains(b))
        .map(|(ix, a, b, link)| (ix, a, b, link.capacity_bps))
        .collect();
    for (ix, a, b, capacity_bps) in relinks {
        let pa = topology.node(a).and_then(|n| n.position);
        let pb = topology.node(b).and_then(|n| n.position);
        topology
            .set_link(ix, defaults.link(pa, pb, Some(capacity_bps)))
            .map_err(|e| e.to_string())?;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::topology::graphml::load_graphml;

    #[test]
    fn heanet_dublin_pops_move_and_their_links_follow() {
        let defaults = LinkDefaults::default();
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/Heanet.graphml");
        let mut t = load_graphml(&file, &defaults).unwrap().topology;
        let (cw, kil) = (
            t.index_of("CityWest").unwrap(),
            t.index_of("Kilcarbery").unwrap(),
        );
        // Co-located in the file: only the per-hop cost between them.
        let before = t.latency_ms(cw, kil).unwrap();
        assert!((before - 0.1).abs() < 1e-9, "{before}");
        let citywest = LatLon::new(53.28772, -6.43079).unwrap();
        let tcd = LatLon::new(53.3444, -6.2577).unwrap();
        let moved = override_positions(
            &mut t,
            &[
                ("CityWest".into(), citywest),
                ("TDC (Trinity College Dublin)".into(), tcd),
            ],
            &defaults,
        )
        .unwrap();
        assert_eq!(moved.len(), 2);
        assert_eq!(t.node(cw).unwrap().position, Some(citywest));
        let km = citywest.distance_m(LatLon::new(53.34399, -6.26719).unwrap()) / 1000.0;
        let after = t.latency_ms(cw, kil).unwrap();
        assert!(
            (after - (0.1 + km * 0.005)).abs() < 1e-9,
            "{after} vs {km} km"
        );
        let tcd_ix = t.index_of("TDC (Trinity College Dublin)").unwrap();
        let l = t.latency_ms(cw, tcd_ix).unwrap();
        assert!((l - (0.1 + citywest.distance_m(tcd) / 1e6 * 5.0)).abs() < 1e-9);
    }

    #[test]
    fn unknown_and_ambiguous_names_are_clear_errors() {
        let defaults = LinkDefaults::default();
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/Heanet.graphml");
        let mut t = load_graphml(&file, &defaults).unwrap().topology;
        let p = LatLon::new(53.0, -6.0).unwrap();
        let e = override_positions(&mut t, &[("Trinity".into(), p)], &defaults).unwrap_err();
        assert!(e.contains("no node has the id or label \"Trinity\""), "{e}");
        assert!(e.contains("\"CityWest\""), "{e}");
        use crate::topology::model::{Node, NodeRole};
        let mut two = Topology::new();
        for id in ["a", "b"] {
            two.add_node(Node::new(id, None, NodeRole::Router).with_label("pop"))
                .unwrap();
        }
        let e = resolve_node(&two, "pop").unwrap_err();
        assert!(e.contains("2 nodes are labelled \"pop\""), "{e}");
        assert_eq!(resolve_node(&two, "b").unwrap(), NodeIx(1));
    }
}
