//! The native TOML topology format (documented field by field in
//! `docs/topology.md`; example: `topologies/example-topology.toml`).

use std::path::Path;

use mcc_mobile_client::position::LatLon;
use serde::Deserialize;
use toml::Spanned;

use super::Loaded;
use super::error::{LoadError, line_of, read_text};
use super::graph::Topology;
use super::model::{AccessPointSpec, CloudletSpec, LinkDefaults, Node, NodeRole};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    #[serde(default)]
    defaults: Option<Spanned<DefaultsEntry>>,
    #[serde(default)]
    node: Vec<Spanned<NodeEntry>>,
    #[serde(default)]
    link: Vec<Spanned<LinkEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsEntry {
    fibre_latency_us_per_km: Option<f64>,
    per_hop_latency_ms: Option<f64>,
    link_capacity_bps: Option<f64>,
    unlocated_link_latency_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindEntry {
    Cloud,
    Cloudlet,
    AccessPoint,
    Router,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeEntry {
    id: String,
    kind: KindEntry,
    label: Option<String>,
    lat_deg: Option<f64>,
    lon_deg: Option<f64>,
    coverage_radius_m: Option<f64>,
    wireless_latency_ms: Option<f64>,
    wireless_rate_bps: Option<f64>,
    cpu_cores: Option<u32>,
    memory_mib: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkEntry {
    a: String,
    b: String,
    latency_ms: Option<f64>,
    capacity_bps: Option<f64>,
}

/// Loads a native TOML topology file.
pub fn load_toml(file: &Path) -> Result<Loaded, LoadError> {
    parse_toml(&read_text(file)?, file)
}

/// Parses native TOML topology text; `file` names it in errors.
pub fn parse_toml(text: &str, file: &Path) -> Result<Loaded, LoadError> {
    let line = |span: std::ops::Range<usize>| line_of(text.as_bytes(), span.start);
    let parsed: FileEntry = toml::from_str(text).map_err(|e| {
        let reason = e.message().trim().to_string();
        match e.span() {
            Some(span) => LoadError::line(file, line(span), reason),
            None => LoadError::file(file, reason),
        }
    })?;

    let defaults = match &parsed.defaults {
        Some(d) => {
            let at = line(d.span());
            let d = d.get_ref();
            let base = LinkDefaults::default();
            let defaults = LinkDefaults {
                fibre_latency_us_per_km: d
                    .fibre_latency_us_per_km
                    .unwrap_or(base.fibre_latency_us_per_km),
                per_hop_latency_ms: d.per_hop_latency_ms.unwrap_or(base.per_hop_latency_ms),
                capacity_bps: d.link_capacity_bps.unwrap_or(base.capacity_bps),
                unlocated_latency_ms: d
                    .unlocated_link_latency_ms
                    .unwrap_or(base.unlocated_latency_ms),
            };
            if let Some(problem) = defaults.problem() {
                return Err(LoadError::element(file, at, "[defaults]", problem));
            }
            defaults
        }
        None => LinkDefaults::default(),
    };

    if parsed.node.is_empty() {
        return Err(LoadError::file(
            file,
            "no [[node]] entries: a topology needs at least one node",
        ));
    }

    let mut topology = Topology::new();
    for entry in &parsed.node {
        let at = line(entry.span());
        let element = format!("node {:?}", entry.get_ref().id);
        let node =
            node_from(entry.get_ref()).map_err(|r| LoadError::element(file, at, &element, r))?;
        topology
            .add_node(node)
            .map_err(|e| LoadError::element(file, at, &element, e.to_string()))?;
    }

    for (i, entry) in parsed.link.iter().enumerate() {
        let at = line(entry.span());
        let l = entry.get_ref();
        let element = format!("link {} ({} – {})", i + 1, l.a, l.b);
        let fail = |reason: String| LoadError::element(file, at, &element, reason);
        let a = topology
            .index_of(&l.a)
            .ok_or_else(|| fail(format!("end a = {:?} is not a node id", l.a)))?;
        let b = topology
            .index_of(&l.b)
            .ok_or_else(|| fail(format!("end b = {:?} is not a node id", l.b)))?;
        let pa = topology.node(a).and_then(|n| n.position);
        let pb = topology.node(b).and_then(|n| n.position);
        let mut link = defaults.link(pa, pb, l.capacity_bps);
        if let Some(latency_ms) = l.latency_ms {
            link.latency_ms = latency_ms;
        }
        topology
            .add_link(a, b, link)
            .map_err(|e| fail(e.to_string()))?;
    }

    Ok(Loaded {
        topology,
        warnings: Vec::new(),
    })
}

fn node_from(e: &NodeEntry) -> Result<Node, String> {
    if e.id.trim().is_empty() {
        return Err("id must not be empty".into());
    }
    let position = match (e.lat_deg, e.lon_deg) {
        (Some(lat), Some(lon)) => Some(LatLon::new(lat, lon).map_err(|err| err.to_string())?),
        (None, None) => None,
        _ => return Err("give both lat_deg and lon_deg, or neither".into()),
    };
    let ap_fields = [
        ("coverage_radius_m", e.coverage_radius_m.is_some()),
        ("wireless_latency_ms", e.wireless_latency_ms.is_some()),
        ("wireless_rate_bps", e.wireless_rate_bps.is_some()),
    ];
    let cloudlet_fields = [
        ("cpu_cores", e.cpu_cores.is_some()),
        ("memory_mib", e.memory_mib.is_some()),
    ];
    let misplaced = |fields: &[(&str, bool)], kind: &str| -> Result<(), String> {
        match fields.iter().find(|(_, given)| *given) {
            Some((name, _)) => Err(format!("{name} is only for kind = \"{kind}\"")),
            None => Ok(()),
        }
    };
    let role = match e.kind {
        KindEntry::AccessPoint => {
            misplaced(&cloudlet_fields, "cloudlet")?;
            let d = AccessPointSpec::default();
            let spec = AccessPointSpec {
                coverage_radius_m: e.coverage_radius_m.unwrap_or(d.coverage_radius_m),
                wireless_latency_ms: e.wireless_latency_ms.unwrap_or(d.wireless_latency_ms),
                wireless_rate_bps: e.wireless_rate_bps.unwrap_or(d.wireless_rate_bps),
            };
            for (name, value, zero_ok) in [
                ("coverage_radius_m", spec.coverage_radius_m, false),
                ("wireless_latency_ms", spec.wireless_latency_ms, true),
                ("wireless_rate_bps", spec.wireless_rate_bps, false),
            ] {
                if !(value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0))) {
                    return Err(format!("{name} {value} must be a finite number > 0"));
                }
            }
            NodeRole::AccessPoint(spec)
        }
        KindEntry::Cloudlet => {
            misplaced(&ap_fields, "access_point")?;
            let d = CloudletSpec::default();
            let spec = CloudletSpec {
                cpu_cores: e.cpu_cores.unwrap_or(d.cpu_cores),
                memory_mib: e.memory_mib.unwrap_or(d.memory_mib),
            };
            if spec.cpu_cores == 0 || spec.memory_mib == 0 {
                return Err("cpu_cores and memory_mib must be > 0".into());
            }
            NodeRole::Cloudlet(spec)
        }
        KindEntry::Cloud | KindEntry::Router => {
            misplaced(&ap_fields, "access_point")?;
            misplaced(&cloudlet_fields, "cloudlet")?;
            if matches!(e.kind, KindEntry::Cloud) {
                NodeRole::Cloud
            } else {
                NodeRole::Router
            }
        }
    };
    let node = Node::new(e.id.clone(), position, role);
    Ok(match &e.label {
        Some(label) => node.with_label(label.clone()),
        None => node,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::model::NodeKind;

    fn parse(text: &str) -> Result<Loaded, LoadError> {
        parse_toml(text, Path::new("t.toml"))
    }

    #[test]
    fn example_file_loads() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/example-topology.toml");
        let loaded = load_toml(&path).unwrap();
        let t = &loaded.topology;
        let s = t.summary();
        assert!(s.connected);
        assert_eq!(s.by_kind["cloud"], 1);
        assert!(s.by_kind["cloudlet"] >= 2);
        assert!(s.by_kind["access_point"] >= 3);
        assert!(t.access_points().all(|(_, n, _)| n.position.is_some()));
    }

    #[test]
    fn fields_and_defaults() {
        let loaded = parse(
            r#"
[defaults]
per_hop_latency_ms = 0.5

[[node]]
id = "r1"
kind = "router"
lat_deg = 53.0
lon_deg = -6.0

[[node]]
id = "ap"
kind = "access_point"
label = "Cell"
lat_deg = 53.0
lon_deg = -6.0
coverage_radius_m = 300

[[node]]
id = "cl"
kind = "cloudlet"
cpu_cores = 4

[[link]]
a = "r1"
b = "ap"

[[link]]
a = "r1"
b = "cl"
latency_ms = 2
capacity_bps = 10000000000
"#,
        )
        .unwrap();
        let t = &loaded.topology;
        let ap = t.node_by_id("ap").unwrap();
        assert_eq!(ap.label, "Cell");
        let NodeRole::AccessPoint(spec) = ap.role else {
            panic!("{ap:?}")
        };
        assert_eq!(spec.coverage_radius_m, 300.0);
        assert_eq!(
            spec.wireless_rate_bps,
            AccessPointSpec::default().wireless_rate_bps
        );
        assert_eq!(t.node_by_id("cl").unwrap().kind(), NodeKind::Cloudlet);
        let (r1, apx, cl) = (
            t.index_of("r1").unwrap(),
            t.index_of("ap").unwrap(),
            t.index_of("cl").unwrap(),
        );
        // Co-located: only the per-hop cost from [defaults].
        assert_eq!(t.latency_ms(r1, apx), Some(0.5));
        assert_eq!(t.latency_ms(r1, cl), Some(2.0));
        assert_eq!(t.bottleneck_bps(r1, cl), Some(1e10));
        assert_eq!(t.bottleneck_bps(r1, apx), Some(1e9));
    }

    #[test]
    fn crafted_bad_files_fail_with_file_line_and_reason() {
        let bad = |name: &str| {
            let file = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/data/bad")
                .join(name);
            load_toml(&file).unwrap_err().to_string()
        };
        let e = bad("topo-unknown-key.toml");
        assert!(
            e.contains("topo-unknown-key.toml:5: unknown field `latitude`"),
            "{e}"
        );
        let e = bad("topo-link-unknown-node.toml");
        assert!(
            e.contains("topo-link-unknown-node.toml:18: link 2 (r1 – cl-city): end b = \"cl-city\" is not a node id"),
            "{e}"
        );
        let e = bad("topo-latitude-123.toml");
        assert!(
            e.contains("topo-latitude-123.toml:1: node \"r1\": latitude 123"),
            "{e}"
        );
        assert!(bad("topo-empty.toml").ends_with("topo-empty.toml: the file is empty"));
    }

    #[test]
    fn errors_name_line_and_element() {
        let e = parse("[[node]]\nid = \"a\"\nkind = \"router\"\ncolour = \"red\"\n").unwrap_err();
        assert_eq!(e.location, super::super::error::Location::Line(4));
        assert!(e.reason.contains("colour"), "{e}");

        let e = parse(
            "[[node]]\nid = \"a\"\nkind = \"router\"\n\n[[link]]\na = \"a\"\nb = \"nowhere\"\n",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("t.toml:5: link 1 (a – nowhere)"), "{msg}");
        assert!(msg.contains("\"nowhere\" is not a node id"), "{msg}");

        let e = parse("[[node]]\nid = \"a\"\nkind = \"router\"\nlat_deg = 123\nlon_deg = 0\n")
            .unwrap_err();
        assert!(e.to_string().contains("latitude 123"), "{e}");

        let e = parse("[[node]]\nid = \"a\"\nkind = \"router\"\ncpu_cores = 3\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("cpu_cores is only for kind = \"cloudlet\""),
            "{e}"
        );

        let e = parse("[[node]]\nid = \"a\"\nkind = \"switch\"\n").unwrap_err();
        assert_eq!(e.location, super::super::error::Location::Line(3));

        let e = parse(
            "[[node]]\nid = \"a\"\nkind = \"router\"\n[[node]]\nid = \"a\"\nkind = \"cloud\"\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("t.toml:4: node \"a\": node id \"a\" is used twice"),
            "{e}"
        );

        let e =
            parse("[defaults]\nlink_capacity_bps = 0\n[[node]]\nid = \"a\"\nkind = \"router\"\n")
                .unwrap_err();
        assert!(
            e.to_string().contains("[defaults]: link_capacity_bps 0"),
            "{e}"
        );

        let e = parse("# nothing\n").unwrap_err();
        assert!(e.to_string().contains("no [[node]]"), "{e}");
    }
}
