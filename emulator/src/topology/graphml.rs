//! GraphML as the Internet Topology Zoo writes it.
//!
//! `<key id="d31" for="node" attr.name="label">` declarations map the `d..`
//! ids of `<data>` elements to attribute names. Used attributes: node
//! `label`, `Latitude`, `Longitude`; edge `LinkSpeedRaw` (bit/s). Every Zoo
//! node becomes a [`NodeRole::Router`].
//!
//! Choices (also in `docs/topology.md`):
//! - node id = the label; when several nodes share a label, each of them gets
//!   `label#graphml-id` (a warning lists them); no label → `node-<graphml id>`;
//! - a node without both coordinates is kept; its links get the unlocated
//!   latency of [`LinkDefaults`] (a warning lists such nodes);
//! - parallel edges are merged into one link whose capacity is the sum of
//!   theirs (a bundle of circuits), with a warning;
//! - self-loops are dropped with a warning;
//! - coordinates that are not numbers or off the globe, edges to unknown
//!   nodes and malformed XML are errors with the line.

use std::collections::BTreeMap;
use std::path::Path;

use mcc_mobile_client::position::LatLon;
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

use super::Loaded;
use super::error::{LineCounter, LoadError, line_of, read_text};
use super::graph::{NodeIx, Topology};
use super::model::{LinkDefaults, Node, NodeRole};

/// A `<data>` value with the line it is on.
#[derive(Debug)]
struct Datum {
    key: String,
    value: String,
    line: u64,
}

/// A `<node>` or `<edge>` as read.
#[derive(Debug, Default)]
struct RawElement {
    line: u64,
    /// `id` (node; optional for edges).
    id: Option<String>,
    /// Edge ends.
    source: String,
    target: String,
    data: Vec<Datum>,
}

#[derive(Debug)]
struct KeyDecl {
    name: String,
}

#[derive(Debug, Default)]
struct Document {
    keys: BTreeMap<String, KeyDecl>,
    nodes: Vec<RawElement>,
    edges: Vec<RawElement>,
    saw_root: bool,
}

/// Loads a Topology Zoo GraphML file.
pub fn load_graphml(file: &Path, defaults: &LinkDefaults) -> Result<Loaded, LoadError> {
    parse_graphml(&read_text(file)?, file, defaults)
}

/// Parses Topology Zoo GraphML text; `file` names it in errors.
pub fn parse_graphml(
    text: &str,
    file: &Path,
    defaults: &LinkDefaults,
) -> Result<Loaded, LoadError> {
    let doc = read_document(text, file)?;
    build(doc, file, defaults)
}

fn attr(
    e: &BytesStart<'_>,
    name: &str,
    file: &Path,
    line: u64,
) -> Result<Option<String>, LoadError> {
    for a in e.attributes() {
        let a = a.map_err(|err| LoadError::line(file, line, format!("bad attribute: {err}")))?;
        if a.key.as_ref() == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| {
                    LoadError::line(file, line, format!("bad attribute {name}: {err}"))
                })?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn required(e: &BytesStart<'_>, name: &str, file: &Path, line: u64) -> Result<String, LoadError> {
    let element = e.name().as_ref().to_string();
    attr(e, name, file, line)?.ok_or_else(|| {
        LoadError::element(
            file,
            line,
            format!("<{element}>"),
            format!("missing attribute {name:?}"),
        )
    })
}

fn read_document(text: &str, file: &Path) -> Result<Document, LoadError> {
    let bytes = text.as_bytes();
    let mut reader = Reader::from_str(text);
    let mut lines = LineCounter::new(bytes);
    let mut doc = Document::default();
    // Open elements with the line each starts on.
    let mut open: Vec<(String, u64)> = Vec::new();
    let mut node: Option<RawElement> = None;
    let mut edge: Option<RawElement> = None;
    let mut datum: Option<Datum> = None;

    loop {
        let start = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|err| {
            let pos = reader.error_position() as usize;
            LoadError::line(file, line_of(bytes, pos), format!("malformed XML: {err}"))
        })?;
        // The event begins after any whitespace the previous one left.
        let skipped = text
            .get(start..)
            .map(|rest| rest.len() - rest.trim_start().len())
            .unwrap_or(0);
        let line = lines.line_at(start + skipped);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.local_name().as_ref().to_string();
                let is_empty = matches!(event, Event::Empty(_));
                if open.is_empty() {
                    if name != "graphml" {
                        return Err(LoadError::element(
                            file,
                            line,
                            format!("<{name}>"),
                            "the root element must be <graphml>; is this a GraphML file?",
                        ));
                    }
                    doc.saw_root = true;
                }
                match name.as_str() {
                    "key" => {
                        let id = required(e, "id", file, line)?;
                        let attr_name = required(e, "attr.name", file, line)?;
                        doc.keys.insert(id, KeyDecl { name: attr_name });
                    }
                    "node"
                        if open.iter().any(|(n, _)| n == "graph")
                            && node.is_none()
                            && edge.is_none() =>
                    {
                        node = Some(RawElement {
                            line,
                            id: Some(required(e, "id", file, line)?),
                            ..RawElement::default()
                        });
                    }
                    "edge"
                        if open.iter().any(|(n, _)| n == "graph")
                            && node.is_none()
                            && edge.is_none() =>
                    {
                        edge = Some(RawElement {
                            line,
                            id: attr(e, "id", file, line)?,
                            source: required(e, "source", file, line)?,
                            target: required(e, "target", file, line)?,
                            data: Vec::new(),
                        });
                    }
                    "data" if node.is_some() || edge.is_some() => {
                        datum = Some(Datum {
                            key: required(e, "key", file, line)?,
                            value: String::new(),
                            line,
                        });
                    }
                    _ => {}
                }
                if is_empty {
                    close(&name, &mut node, &mut edge, &mut datum, &mut doc);
                } else {
                    open.push((name, line));
                }
            }
            Event::End(e) => {
                let name = e.local_name().as_ref().to_string();
                open.pop();
                close(&name, &mut node, &mut edge, &mut datum, &mut doc);
            }
            Event::Text(t) => {
                if let Some(d) = datum.as_mut() {
                    d.value.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(d) = datum.as_mut() {
                    d.value.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(d) = datum.as_mut() {
                    let resolved = match r.resolve_char_ref().map_err(|err| {
                        LoadError::line(file, line, format!("bad character reference: {err}"))
                    })? {
                        Some(c) => c.to_string(),
                        None => resolve_predefined_entity(&r)
                            .ok_or_else(|| {
                                LoadError::line(file, line, format!("unknown entity &{};", &*r))
                            })?
                            .to_string(),
                    };
                    d.value.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some((name, line)) = open.last() {
        return Err(LoadError::element(
            file,
            line_of(bytes, bytes.len().saturating_sub(1)),
            format!("<{name}> opened at line {line}"),
            "the file ends before this element is closed (truncated?)",
        ));
    }
    if !doc.saw_root {
        return Err(LoadError::file(
            file,
            "no <graphml> element: not a GraphML file",
        ));
    }
    Ok(doc)
}

fn close(
    name: &str,
    node: &mut Option<RawElement>,
    edge: &mut Option<RawElement>,
    datum: &mut Option<Datum>,
    doc: &mut Document,
) {
    match name {
        "data" => {
            if let (Some(d), Some(owner)) = (datum.take(), node.as_mut().or(edge.as_mut())) {
                owner.data.push(d);
            }
        }
        "node" => doc.nodes.extend(node.take()),
        "edge" => doc.edges.extend(edge.take()),
        _ => {}
    }
}

/// The value of attribute `attr_name` in an element's data, with its line.
fn lookup<'a>(doc: &'a Document, el: &'a RawElement, attr_name: &str) -> Option<&'a Datum> {
    el.data
        .iter()
        .find(|d| doc.keys.get(&d.key).is_some_and(|k| k.name == attr_name))
}

fn number(d: &Datum, what: &str, element: &str, file: &Path) -> Result<f64, LoadError> {
    let v = d.value.trim();
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| {
            LoadError::element(
                file,
                d.line,
                element,
                format!("{what} {v:?} is not a number"),
            )
        })
}

fn build(doc: Document, file: &Path, defaults: &LinkDefaults) -> Result<Loaded, LoadError> {
    let mut warnings = Vec::new();
    let warn = |line: u64, element: &str, msg: String| {
        format!("{}:{line}: {element}: {msg}", file.display())
    };

    for el in doc.nodes.iter().chain(&doc.edges) {
        if let Some(d) = el.data.iter().find(|d| !doc.keys.contains_key(&d.key)) {
            return Err(LoadError::element(
                file,
                d.line,
                "<data>",
                format!("key {:?} is not declared by any <key>", d.key),
            ));
        }
    }

    // Node ids: labels, disambiguated when shared.
    let mut graphml_ids: BTreeMap<&str, usize> = BTreeMap::new();
    let mut labels = Vec::with_capacity(doc.nodes.len());
    for (i, el) in doc.nodes.iter().enumerate() {
        let gid = el.id.as_deref().unwrap_or("");
        if graphml_ids.insert(gid, i).is_some() {
            return Err(LoadError::element(
                file,
                el.line,
                format!("<node id={gid:?}>"),
                "this node id is used twice",
            ));
        }
        let label = lookup(&doc, el, "label")
            .map(|d| d.value.trim().to_string())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| format!("node-{gid}"));
        labels.push(label);
    }
    let mut label_uses: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &labels {
        *label_uses.entry(l.as_str()).or_default() += 1;
    }
    for (label, uses) in &label_uses {
        if *uses > 1 {
            warnings.push(format!(
                "{}: {uses} nodes are labelled {label:?}; their ids are \"{label}#<graphml id>\"",
                file.display()
            ));
        }
    }

    let mut topology = Topology::new();
    let mut index: BTreeMap<&str, NodeIx> = BTreeMap::new();
    let mut unlocated = Vec::new();
    for (el, label) in doc.nodes.iter().zip(&labels) {
        let gid = el.id.as_deref().unwrap_or("");
        let element = format!("<node id={gid:?}> ({label})");
        let lat = lookup(&doc, el, "Latitude");
        let lon = lookup(&doc, el, "Longitude");
        let position =
            match (lat, lon) {
                (Some(lat), Some(lon)) => {
                    let (la, lo) = (
                        number(lat, "Latitude", &element, file)?,
                        number(lon, "Longitude", &element, file)?,
                    );
                    Some(LatLon::new(la, lo).map_err(|err| {
                        LoadError::element(file, lat.line, &element, err.to_string())
                    })?)
                }
                _ => {
                    unlocated.push(label.clone());
                    None
                }
            };
        let id = if label_uses.get(label.as_str()).copied().unwrap_or(0) > 1 {
            format!("{label}#{gid}")
        } else {
            label.clone()
        };
        let ix = topology
            .add_node(Node::new(id, position, NodeRole::Router).with_label(label.clone()))
            .map_err(|err| LoadError::element(file, el.line, &element, err.to_string()))?;
        index.insert(gid, ix);
    }
    if !unlocated.is_empty() {
        warnings.push(format!(
            "{}: {} node(s) without coordinates: {}; their links get {} ms + {} ms per hop",
            file.display(),
            unlocated.len(),
            unlocated.join(", "),
            defaults.unlocated_latency_ms,
            defaults.per_hop_latency_ms
        ));
    }

    // Edges: merge parallel ones, drop self-loops.
    for (i, el) in doc.edges.iter().enumerate() {
        let element = match &el.id {
            Some(id) => format!("<edge id={id:?}> ({} – {})", el.source, el.target),
            None => format!("edge {} ({} – {})", i + 1, el.source, el.target),
        };
        let end = |gid: &str| {
            index.get(gid).copied().ok_or_else(|| {
                LoadError::element(
                    file,
                    el.line,
                    &element,
                    format!("node {gid:?} is not declared"),
                )
            })
        };
        let (a, b) = (end(&el.source)?, end(&el.target)?);
        // Name the ends by node id (labels) from here on.
        let node_id = |ix| topology.node(ix).map(|n| n.id.clone()).unwrap_or_default();
        let element = match &el.id {
            Some(id) => format!("<edge id={id:?}> ({} – {})", node_id(a), node_id(b)),
            None => format!("edge {} ({} – {})", i + 1, node_id(a), node_id(b)),
        };
        let capacity_bps = match lookup(&doc, el, "LinkSpeedRaw") {
            Some(d) => {
                let v = number(d, "LinkSpeedRaw", &element, file)?;
                if v <= 0.0 {
                    return Err(LoadError::element(
                        file,
                        d.line,
                        &element,
                        format!("LinkSpeedRaw {v} must be > 0 bit/s"),
                    ));
                }
                Some(v)
            }
            None => None,
        };
        if a == b {
            warnings.push(warn(el.line, &element, "self-loop dropped".into()));
            continue;
        }
        let pa = topology.node(a).and_then(|n| n.position);
        let pb = topology.node(b).and_then(|n| n.position);
        let link = defaults.link(pa, pb, capacity_bps);
        match topology.link_between(a, b) {
            Some(existing) => {
                let merged = topology
                    .link(existing)
                    .map(|(_, _, l)| l.capacity_bps + link.capacity_bps)
                    .unwrap_or(link.capacity_bps);
                topology
                    .set_link_capacity_bps(existing, merged)
                    .map_err(|err| LoadError::element(file, el.line, &element, err.to_string()))?;
                warnings.push(warn(
                    el.line,
                    &element,
                    format!(
                        "parallel edge merged into one link of {merged} bit/s (capacities add up)"
                    ),
                ));
            }
            None => {
                topology
                    .add_link(a, b, link)
                    .map_err(|err| LoadError::element(file, el.line, &element, err.to_string()))?;
            }
        }
    }
    if topology.node_count() == 0 {
        return Err(LoadError::file(file, "the graph has no <node>"));
    }
    Ok(Loaded { topology, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::model::NodeKind;

    fn shipped(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../topologies")
            .join(name)
    }

    fn parse(text: &str) -> Result<Loaded, LoadError> {
        parse_graphml(text, Path::new("t.graphml"), &LinkDefaults::default())
    }

    #[test]
    fn heanet_loads_with_real_facts() {
        let loaded = load_graphml(&shipped("Heanet.graphml"), &LinkDefaults::default()).unwrap();
        let t = &loaded.topology;
        assert_eq!(t.node_count(), 7);
        // 13 edges, two pairs of them parallel.
        assert_eq!(t.link_count(), 11);
        assert_eq!(
            loaded
                .warnings
                .iter()
                .filter(|w| w.contains("parallel"))
                .count(),
            2
        );
        let limerick = t.node_by_id("Limerick").unwrap();
        assert_eq!(limerick.kind(), NodeKind::Router);
        let p = limerick.position.unwrap();
        assert_eq!((p.lat_deg, p.lon_deg), (52.66472, -8.62306));
        // No link speeds in Heanet: default capacity, doubled where merged.
        let (cw, tcd) = (
            t.index_of("CityWest").unwrap(),
            t.index_of("TDC (Trinity College Dublin)").unwrap(),
        );
        let merged = t.link_between(cw, tcd).unwrap();
        assert_eq!(t.link(merged).unwrap().2.capacity_bps, 2e9);
        // Galway–CityWest: great-circle length at 5 µs/km plus 0.1 ms.
        let (g, c) = (t.index_of("Galway").unwrap(), cw);
        let km = t
            .node(g)
            .unwrap()
            .position
            .unwrap()
            .distance_m(t.node(c).unwrap().position.unwrap())
            / 1000.0;
        let l = t.link(t.link_between(g, c).unwrap()).unwrap().2.latency_ms;
        assert!((l - (km * 0.005 + 0.1)).abs() < 1e-9);
        assert!((180.0..200.0).contains(&km), "{km}");
        assert!(t.summary().connected);
    }

    #[test]
    fn geant_loads_speeds_and_reports_unlocated_nodes() {
        let loaded = load_graphml(&shipped("Geant2012.graphml"), &LinkDefaults::default()).unwrap();
        let t = &loaded.topology;
        assert_eq!(t.node_count(), 40);
        assert_eq!(t.link_count(), 61);
        let located = t.nodes().filter(|(_, n)| n.position.is_some()).count();
        assert_eq!(located, 37);
        let w = loaded
            .warnings
            .iter()
            .find(|w| w.contains("without coordinates"))
            .unwrap();
        assert!(
            w.contains("UA") && w.contains("MD") && w.contains("BY"),
            "{w}"
        );
        let (nl, uk) = (t.index_of("NL").unwrap(), t.index_of("UK").unwrap());
        let nl_uk = t.link(t.link_between(nl, uk).unwrap()).unwrap().2;
        assert_eq!(nl_uk.capacity_bps, 2.5e9);
        let speeds: std::collections::BTreeSet<u64> = t
            .links()
            .map(|(_, _, _, l)| l.capacity_bps as u64)
            .collect();
        assert!(speeds.contains(&155_000_000) && speeds.contains(&10_000_000_000));
        let s = t.summary();
        assert!(s.connected);
        assert!(
            s.diameter_ms > 10.0 && s.diameter_ms < 100.0,
            "{}",
            s.diameter_ms
        );
    }

    fn bad(name: &str) -> String {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/bad")
            .join(name);
        let err = load_graphml(&file, &LinkDefaults::default()).unwrap_err();
        assert!(err.file.ends_with(name));
        err.to_string()
    }

    #[test]
    fn crafted_bad_files_fail_with_file_line_and_reason() {
        let e = bad("topo-truncated.graphml");
        assert!(
            e.contains("topo-truncated.graphml:34: malformed XML"),
            "{e}"
        );
        let e = bad("topo-truncated-node.graphml");
        assert!(
            e.contains(":100: <graph> opened at line 41: the file ends"),
            "{e}"
        );
        let e = bad("topo-nonnumeric-coords.graphml");
        assert!(
            e.contains(":85: <node id=\"1\"> (Limerick): Latitude \"fifty-two\" is not a number"),
            "{e}"
        );
        let e = bad("topo-latitude-123.graphml");
        assert!(
            e.contains(":85: <node id=\"1\"> (Limerick): latitude 123 is outside"),
            "{e}"
        );
        assert!(bad("topo-empty.graphml").ends_with("topo-empty.graphml: the file is empty"));
        assert!(
            bad("topo-garbage.graphml").contains("topo-garbage.graphml:1: byte 0 is not UTF-8")
        );
    }

    #[test]
    fn crafted_files_are_handled() {
        let head = r#"<?xml version="1.0"?><graphml>
<key attr.name="label" for="node" id="d0"/>
<key attr.name="Latitude" for="node" id="d1"/>
<key attr.name="Longitude" for="node" id="d2"/>
<key attr.name="LinkSpeedRaw" for="edge" id="d3"/>
<graph edgedefault="undirected">
"#;
        let ok = format!(
            "{head}<node id=\"a\"><data key=\"d0\">X &amp; Y</data></node>
<node id=\"b\"><data key=\"d0\">X &amp; Y</data></node>
<node id=\"c\"/>
<edge source=\"a\" target=\"a\"/>
<edge source=\"a\" target=\"b\"><data key=\"d3\">1e6</data></edge>
</graph></graphml>"
        );
        let loaded = parse(&ok).unwrap();
        let t = &loaded.topology;
        assert!(t.node_by_id("X & Y#a").is_some());
        assert!(t.node_by_id("X & Y#b").is_some());
        assert!(t.node_by_id("node-c").is_some());
        assert_eq!(t.link_count(), 1);
        assert!(loaded.warnings.iter().any(|w| w.contains("self-loop")));
        let a = t.index_of("X & Y#a").unwrap();
        let b = t.index_of("X & Y#b").unwrap();
        assert_eq!(t.latency_ms(a, b), Some(5.1));

        let bad_lat = format!(
            "{head}<node id=\"a\">\n<data key=\"d1\">abc</data>\n<data key=\"d2\">1</data></node></graph></graphml>"
        );
        let e = parse(&bad_lat).unwrap_err().to_string();
        assert!(e.starts_with("t.graphml:8: <node id=\"a\">"), "{e}");
        assert!(e.contains("Latitude \"abc\" is not a number"), "{e}");

        let off_globe = format!(
            "{head}<node id=\"a\"><data key=\"d1\">123</data><data key=\"d2\">1</data></node></graph></graphml>"
        );
        assert!(
            parse(&off_globe)
                .unwrap_err()
                .to_string()
                .contains("latitude 123")
        );

        let unknown_end =
            format!("{head}<node id=\"a\"/>\n<edge source=\"a\" target=\"z\"/></graph></graphml>");
        let e = parse(&unknown_end).unwrap_err().to_string();
        assert!(
            e.contains(":8: edge 1 (a – z): node \"z\" is not declared"),
            "{e}"
        );

        let truncated = format!("{head}<node id=\"a\"><data key=\"d0\">A</da");
        let e = parse(&truncated).unwrap_err().to_string();
        assert!(e.starts_with("t.graphml:7:"), "{e}");

        let truncated = format!("{head}<node id=\"a\"><data key=\"d0\">A</data>");
        let e = parse(&truncated).unwrap_err().to_string();
        assert!(
            e.contains("<node> opened at line 7") && e.contains("truncated"),
            "{e}"
        );

        let mismatched = format!("{head}<node id=\"a\"></edge></graph></graphml>");
        let e = parse(&mismatched).unwrap_err().to_string();
        assert!(e.starts_with("t.graphml:7: malformed XML"), "{e}");

        let e = parse("<html><body/></html>").unwrap_err().to_string();
        assert!(e.contains("root element must be <graphml>"), "{e}");

        let e = parse("just text").unwrap_err().to_string();
        assert!(e.contains("no <graphml> element"), "{e}");
    }
}
