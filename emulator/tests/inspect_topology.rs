//! `mcc-emu inspect topology` end to end: JSON shape on the shipped files,
//! one-line errors naming the file on crafted bad files.

use std::process::Output;

mod common;
use common::mcc_emu;

fn inspect(args: &[&str]) -> Output {
    mcc_emu(&[&["inspect", "topology"], args].concat())
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = inspect(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

#[test]
fn geant_json_has_the_summary_shape() {
    let v = json(&["topologies/Geant2012.graphml", "--json"]);
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "by_kind",
            "connected",
            "diameter_ms",
            "links",
            "nodes",
            "warnings"
        ]
    );
    assert_eq!(v["nodes"], 40);
    assert_eq!(v["links"], 61);
    assert_eq!(v["by_kind"]["router"], 40);
    assert_eq!(v["by_kind"]["cloudlet"], 0);
    assert_eq!(v["connected"], true);
    let d = v["diameter_ms"].as_f64().unwrap();
    assert!(d > 10.0 && d < 100.0, "{d}");
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("UA, MD, BY"))
    );
}

#[test]
fn backbone_with_relocated_sites() {
    let v = json(&[
        "topologies/Heanet.graphml",
        "--sites",
        "topologies/sites/site-optus-melbCBD.csv",
        "--site-role",
        "access-point",
        "--relocate-to",
        "Limerick",
        "--json",
    ]);
    assert_eq!(v["nodes"], 7 + 125);
    assert_eq!(v["links"], 11 + 125);
    assert_eq!(v["by_kind"]["access_point"], 125);
    assert_eq!(v["connected"], true);
    // Relocated: every site is within a few km of a Heanet node.
    assert!(v["diameter_ms"].as_f64().unwrap() < 5.0);

    let far = json(&[
        "topologies/Heanet.graphml",
        "--sites",
        "topologies/sites/ifogsim-edgeResources-melbCBD.csv",
        "--json",
    ]);
    assert_eq!(far["by_kind"]["cloud"], 1);
    assert!(far["diameter_ms"].as_f64().unwrap() > 80.0);
    assert!(
        far["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("far from the backbone"))
    );
}

#[test]
fn toml_and_csv_files_and_readable_output() {
    let v = json(&["topologies/example-topology.toml", "--json"]);
    assert_eq!(v["by_kind"]["cloud"], 1);
    assert_eq!(v["connected"], true);
    let v = json(&[
        "topologies/sites/ifogsim-edgeResources-melbCBD.csv",
        "--json",
    ]);
    assert_eq!(v["nodes"], 131);
    assert_eq!(v["links"], 130);

    let out = inspect(&["topologies/Heanet.graphml"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("topologies/Heanet.graphml: 7 nodes, 11 links\n"),
        "{text}"
    );
    assert!(text.contains("connected: yes"));
    assert!(text.contains("parallel edge merged"));
}

#[test]
fn bad_files_fail_with_one_line_naming_the_file() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["tests/data/bad/topo-truncated.graphml"],
            "topo-truncated.graphml:34: malformed XML",
        ),
        (
            &["tests/data/bad/topo-truncated-node.graphml"],
            "topo-truncated-node.graphml:100: <graph> opened at line 41",
        ),
        (
            &["tests/data/bad/topo-nonnumeric-coords.graphml"],
            ":85: <node id=\"1\"> (Limerick): Latitude \"fifty-two\" is not a number",
        ),
        (
            &["tests/data/bad/topo-latitude-123.graphml"],
            "latitude 123 is outside [-90, 90]",
        ),
        (
            &["tests/data/bad/topo-empty.graphml"],
            "topo-empty.graphml: the file is empty",
        ),
        (
            &["tests/data/bad/topo-garbage.graphml"],
            "topo-garbage.graphml:1: byte 0 is not UTF-8",
        ),
        (
            &["tests/data/bad/topo-unknown-key.toml"],
            "topo-unknown-key.toml:5: unknown field `latitude`",
        ),
        (
            &["tests/data/bad/topo-link-unknown-node.toml"],
            "topo-link-unknown-node.toml:18: link 2 (r1 – cl-city)",
        ),
        (
            &["tests/data/bad/topo-empty.toml"],
            "topo-empty.toml: the file is empty",
        ),
        (&["tests/data/bad/topo-latitude-123.toml"], "latitude 123"),
        (
            &["tests/data/bad/topo-missing-column.csv"],
            "topo-missing-column.csv:1: the header has no LONGITUDE column",
        ),
        (
            &["tests/data/bad/topo-short-row.csv"],
            "topo-short-row.csv:3: 2 fields",
        ),
        (
            &["tests/data/bad/topo-nonnumeric-coords.csv"],
            "topo-nonnumeric-coords.csv:3: longitude \"east\"",
        ),
        (
            &["tests/data/bad/topo-latitude-123.csv"],
            "topo-latitude-123.csv:3: site 1: latitude 123",
        ),
        (&["tests/data/bad/topo-garbage.csv"], "topo-garbage.csv:1:"),
        (
            &[
                "topologies/Heanet.graphml",
                "--sites",
                "tests/data/bad/topo-missing-column.csv",
            ],
            "topo-missing-column.csv:1:",
        ),
        (
            &["tests/data/bad/no-such-file.graphml"],
            "no-such-file.graphml: cannot read",
        ),
        (
            &["topologies/traces/bus-304-limerick.gpx"],
            "bus-304-limerick.gpx: unknown topology file type",
        ),
    ];
    for (args, expected) in cases {
        let out = inspect(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(err.starts_with("mcc-emu: "), "{args:?}: {err}");
    }
}

#[test]
fn a_scenario_shows_its_operator_tiers() {
    let v = json(&["--scenario", "experiments/dublin/dublin.toml", "--json"]);
    let tiers = &v["tiers"];
    let cells = tiers["operator"]["cell_sites"].as_u64().unwrap();
    let aggs = tiers["operator"]["aggregation_sites"].as_u64().unwrap();
    assert_eq!(v["by_kind"]["access_point"].as_u64(), Some(cells));
    // One cloudlet per aggregation site, and the remote cloud.
    assert_eq!(v["by_kind"]["cloudlet"].as_u64(), Some(aggs + 1));
    assert_eq!(tiers["breakout"], "edge");
    assert_eq!(tiers["cloud"]["id"], "cloud-west-europe");
    assert_eq!(tiers["moved_nodes"].as_array().unwrap().len(), 4);
    assert_eq!(v["connected"], true);
    let text = inspect(&["--scenario", "experiments/dublin/dublin.toml"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("operator network (synthetic)"), "{text}");
    assert!(text.contains("remote cloud cloud-west-europe"), "{text}");
    let both = inspect(&[
        "--scenario",
        "experiments/dublin/dublin.toml",
        "--sites",
        "topologies/sites/site-optus-melbCBD.csv",
    ]);
    assert!(!both.status.success());
}
