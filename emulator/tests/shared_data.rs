//! `mcc-emu inspect` on every real data file the repository ships (the copies
//! of the shared data under `topologies/`): every backbone, every site list
//! alone and hung off every backbone, every trace alone and attached to real
//! sites moved under it. Each must load, and its figures must be the real
//! ones.

mod common;
use common::{mcc_emu, repo};

use serde_json::Value;

/// Runs `mcc-emu inspect ARGS`: it must succeed in readable form and in
/// JSON; returns the JSON.
fn inspect(args: &[&str]) -> Value {
    let mut all = vec!["inspect"];
    all.extend_from_slice(args);
    let out = mcc_emu(&all);
    assert!(
        out.status.success() && !out.stdout.is_empty(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    all.push("--json");
    let out = mcc_emu(&all);
    assert!(
        out.status.success(),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// The files of a shipped directory with an extension (or all), as
/// repository-relative paths, sorted.
fn files(dir: &str, ext: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| ext.is_none_or(|x| p.extension().is_some_and(|e| e == x)))
        .map(|p| format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    names.sort();
    names
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number in {v}"))
}

/// What is true of each shipped backbone: nodes, links, connected, a node to
/// relocate site lists to (a city of its own).
fn backbone_facts(file: &str) -> (u64, u64, bool, &'static str) {
    match file {
        // Topology Zoo's 197 nodes and 245 edges, two of them parallel
        // (merged, capacities added); Cogent's Austin PoP (experiments/austin).
        "topologies/Cogentco.graphml" => (197, 243, true, "Austin"),
        "topologies/Geant2012.graphml" => (40, 61, true, "IE"),
        "topologies/Heanet.graphml" => (7, 11, true, "Limerick"),
        other => panic!("{other}: a new backbone; add its facts to this test"),
    }
}

/// What is true of each shipped site list loaded alone: nodes, links, connected.
fn site_facts(file: &str) -> (u64, u64, bool) {
    match file {
        // 125 EUA sites, each an access point and a cloudlet linked together;
        // without a backbone the sites are not linked to each other.
        "topologies/sites/site-optus-melbCBD.csv" => (250, 125, false),
        // A tree: 1 cloud, 12 cloudlets, 118 access points.
        "topologies/sites/ifogsim-edgeResources-melbCBD.csv" => (131, 130, true),
        other => panic!("{other}: a new site list; add its facts to this test"),
    }
}

#[test]
fn the_shared_data_is_all_there() {
    assert_eq!(
        files("topologies", Some("graphml")),
        [
            "topologies/Cogentco.graphml",
            "topologies/Geant2012.graphml",
            "topologies/Heanet.graphml"
        ]
    );
    assert_eq!(
        files("topologies/sites", Some("csv")),
        [
            "topologies/sites/ifogsim-edgeResources-melbCBD.csv",
            "topologies/sites/site-optus-melbCBD.csv"
        ]
    );
    assert_eq!(
        files("topologies/traces", None),
        [
            "topologies/traces/austin-capmetro-20160322.csv",
            "topologies/traces/bus-304-limerick.gpx",
            "topologies/traces/dublin-bus-siri-20130131-sample.csv",
            "topologies/traces/geolife-000-20081024020959.plt",
            "topologies/traces/geolife-020-20111130151807.plt",
            "topologies/traces/geolife-demo.csv"
        ]
    );
}

#[test]
fn every_backbone() {
    for file in files("topologies", Some("graphml")) {
        let (nodes, links, connected, _) = backbone_facts(&file);
        let v = inspect(&["topology", &file]);
        assert_eq!(v["nodes"], nodes, "{file}");
        assert_eq!(v["links"], links, "{file}");
        assert_eq!(v["by_kind"]["router"], nodes, "{file}");
        assert_eq!(v["connected"], connected, "{file}");
        let d = num(&v, "diameter_ms");
        // Across a country or a continent: more than the 0.1 ms of one hop,
        // less than light takes across Europe and back.
        assert!(d > 1.0 && d < 100.0, "{file}: {d}");
    }
    // Geant2012 has the pan-European reach, Heanet an Irish one.
    let geant = inspect(&["topology", "topologies/Geant2012.graphml"]);
    let heanet = inspect(&["topology", "topologies/Heanet.graphml"]);
    assert!(num(&geant, "diameter_ms") > 5.0 * num(&heanet, "diameter_ms"));
}

#[test]
fn every_site_list_alone() {
    for file in files("topologies/sites", Some("csv")) {
        let (nodes, links, connected) = site_facts(&file);
        let v = inspect(&["topology", &file]);
        assert_eq!(
            (&v["nodes"], &v["links"]),
            (&nodes.into(), &links.into()),
            "{file}"
        );
        assert_eq!(v["connected"], connected, "{file}");
        assert!(num(&v, "diameter_ms") > 0.0, "{file}");
        // Melbourne CBD: a few km across, a few hops, well under 1 ms.
        assert!(num(&v, "diameter_ms") < 1.0, "{file}");
    }
}

#[test]
fn every_site_list_hung_off_every_backbone() {
    for backbone in files("topologies", Some("graphml")) {
        let (bb_nodes, bb_links, _, city) = backbone_facts(&backbone);
        let bb_diameter = num(&inspect(&["topology", &backbone]), "diameter_ms");
        for sites in files("topologies/sites", Some("csv")) {
            let (site_nodes, site_links, _) = site_facts(&sites);
            let v = inspect(&[
                "topology",
                &backbone,
                "--sites",
                &sites,
                "--relocate-to",
                city,
            ]);
            let what = format!("{backbone} + {sites} at {city}");
            assert_eq!(v["nodes"], bb_nodes + site_nodes, "{what}");
            assert!(
                v["links"].as_u64().unwrap() > bb_links + site_links,
                "{what}"
            );
            assert_eq!(v["connected"], true, "{what}");
            // Relocated onto a backbone node: the sites add little to the
            // backbone's own diameter.
            let d = num(&v, "diameter_ms");
            assert!(d >= bb_diameter && d < bb_diameter + 1.0, "{what}: {d}");
            assert!(
                v["warnings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|w| !w.as_str().unwrap().contains("far from the backbone")),
                "{what}: {v}"
            );
        }
    }
    // Heanet has Limerick (and no node of that name in Geant2012).
    let out = mcc_emu(&[
        "inspect",
        "topology",
        "topologies/Geant2012.graphml",
        "--sites",
        "topologies/sites/site-optus-melbCBD.csv",
        "--relocate-to",
        "Limerick",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a node id"));
}

#[test]
fn every_trace_alone() {
    for file in files("topologies/traces", None) {
        let v = inspect(&["trace", &file]);
        let v = &v.as_array().unwrap()[0];
        assert_eq!(v["file"], file.as_str());
        let traces = v["traces"].as_u64().unwrap();
        assert!(traces >= 1, "{file}");
        assert_eq!(v.get("per_trace").is_some(), traces > 1, "{file}");
        let points = v["points"].as_u64().unwrap();
        assert!(points > 200, "{file}: {points}");
        // A fleet file (a vehicle per trace) repeats some fixes; a ride does not.
        let fleet = traces > 100;
        let read = v["cleaning"]["points_read"].as_u64().unwrap();
        assert!(read == points || (fleet && read > points), "{file}");
        // Figures per vehicle for a fleet.
        let per = if fleet { traces as f64 } else { 1.0 };
        let (duration_s, length_km) = (num(v, "duration_s") / per, num(v, "length_km") / per);
        // Real rides: minutes to hours, one to a hundred and some km.
        assert!(
            (300.0..100_000.0).contains(&duration_s),
            "{file}: {duration_s}"
        );
        assert!((1.0..200.0).contains(&length_km), "{file}: {length_km}");
        let (mean, max) = (num(v, "mean_speed_mps"), num(v, "max_speed_mps"));
        assert!(mean > 0.0 && mean < max, "{file}: {mean} {max}");
        let b: Vec<f64> = v["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!(b[0] < b[2] && b[1] < b[3], "{file}: {b:?}");
        // A city (a fleet: its region): under half a degree (one) across.
        let across = if fleet { 1.0 } else { 0.5 };
        assert!(
            b[2] - b[0] < across && b[3] - b[1] < across,
            "{file}: {b:?}"
        );
    }
}

#[test]
fn every_trace_attached_to_real_sites_moved_under_it() {
    for file in files("topologies/traces", None) {
        let alone = inspect(&["trace", &file]);
        let b: Vec<f64> = alone[0]["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let centre = format!("{},{}", (b[1] + b[3]) / 2.0, (b[0] + b[2]) / 2.0);
        for sites in files("topologies/sites", Some("csv")) {
            let v = inspect(&[
                "trace",
                &file,
                "--topology",
                &sites,
                "--relocate-to",
                &centre,
            ]);
            let handovers = v[0]["handovers"].as_array().unwrap();
            let what = format!("{file} over {sites} at {centre}");
            assert!(
                handovers
                    .iter()
                    .any(|h| h["from"].is_string() && h["to"].is_string()),
                "{what}: a device crossing a CBD's worth of cells changes cell"
            );
            assert!(
                handovers
                    .iter()
                    .all(|h| h["to"].is_null() || h["to"].as_str().unwrap().starts_with("ap-")),
                "{what}"
            );
        }
    }
    // And the bus under the Melbourne sites hung off Heanet at Limerick.
    let v = inspect(&[
        "trace",
        "topologies/traces/bus-304-limerick.gpx",
        "--topology",
        "topologies/Heanet.graphml",
        "--sites",
        "topologies/sites/site-optus-melbCBD.csv",
        "--site-role",
        "access-point",
        "--relocate-to",
        "Limerick",
    ]);
    assert!(v[0]["handovers"].as_array().unwrap().len() > 2, "{v}");
}
