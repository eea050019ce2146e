//! `mcc-emu inspect trace` end to end: the JSON figures of every shipped
//! trace, aggregation over a multi-trace file, handovers of the Limerick bus
//! along the example topology, and one-line errors naming the file for every
//! crafted bad trace.

use std::process::Output;

mod common;
use common::{mcc_emu, repo};

use serde_json::Value;

fn inspect(args: &[&str]) -> Output {
    mcc_emu(&[&["inspect", "trace"], args].concat())
}

/// The JSON array printed for `args` (with `--json` added).
fn json(args: &[&str]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.push("--json");
    let out = inspect(&all);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    v.as_array().expect("a JSON array").clone()
}

/// The one object printed for one file.
fn one(args: &[&str]) -> Value {
    let mut v = json(args);
    assert_eq!(v.len(), 1, "{args:?}");
    v.remove(0)
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number in {v}"))
}

fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

/// The keys of the object for a file holding one trace, sorted.
fn single_keys() -> Vec<&'static str> {
    vec![
        "bbox",
        "cleaning",
        "duration_s",
        "file",
        "length_km",
        "longest_gap_s",
        "max_speed_mps",
        "mean_speed_mps",
        "points",
        "traces",
    ]
}

fn bbox(v: &Value) -> [f64; 4] {
    let b: Vec<f64> = v["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    b.try_into().expect("four numbers")
}

#[test]
fn bus_trace_figures() {
    let v = one(&["topologies/traces/bus-304-limerick.gpx"]);
    assert_eq!(keys(&v), single_keys());
    assert_eq!(v["file"], "topologies/traces/bus-304-limerick.gpx");
    assert_eq!(v["points"], 2144);
    assert_eq!(v["traces"], 1);
    // 07:45:50 to 09:00:26 UTC: about 75 minutes.
    assert_eq!(f(&v, "duration_s"), 4476.0);
    let length_km = f(&v, "length_km");
    assert!((14.0..14.4).contains(&length_km), "{length_km}");
    let mean = f(&v, "mean_speed_mps");
    assert!((mean - length_km * 1000.0 / 4476.0).abs() < 1e-9, "{mean}");
    let max = f(&v, "max_speed_mps");
    assert!(max > mean && max < 40.0, "a city bus: {max}");
    // Limerick.
    assert_eq!(bbox(&v), [-8.661812, 52.624051, -8.570741, 52.672777]);
    assert_eq!(v["cleaning"]["points_read"], 2144);
    assert_eq!(v["cleaning"]["out_of_order"], 0);
}

#[test]
fn geolife_plt_figures() {
    let v = json(&[
        "topologies/traces/geolife-000-20081024020959.plt",
        "topologies/traces/geolife-020-20111130151807.plt",
    ]);
    assert_eq!(v.len(), 2);
    let expected = [
        ("geolife-000-20081024020959.plt", 244, 2227.0),
        ("geolife-020-20111130151807.plt", 327, 326.0),
    ];
    for (v, (name, points, duration_s)) in v.iter().zip(expected) {
        assert_eq!(keys(v), single_keys());
        assert!(v["file"].as_str().unwrap().ends_with(name), "{v}");
        assert_eq!(v["points"], points);
        assert_eq!(f(v, "duration_s"), duration_s);
        assert!(f(v, "length_km") > 0.5, "{v}");
        let [w, s, e, n] = bbox(v);
        // Beijing.
        assert!(w > 116.0 && e < 117.0 && s > 39.5 && n < 40.5, "{v}");
        assert!(w <= e && s <= n);
        assert_eq!(v["cleaning"]["points_read"], points);
    }
}

#[test]
fn geolife_csv_aggregates_its_five_traces() {
    let v = one(&["topologies/traces/geolife-demo.csv"]);
    let mut expected = single_keys();
    expected.push("per_trace");
    expected.sort_unstable();
    assert_eq!(keys(&v), expected);
    assert_eq!(v["traces"], 5);
    let per: &Vec<Value> = v["per_trace"].as_array().unwrap();
    assert_eq!(per.len(), 5);
    let counts: Vec<u64> = per.iter().map(|t| t["points"].as_u64().unwrap()).collect();
    assert_eq!(counts, [466, 897, 1810, 1864, 871]);
    assert_eq!(v["points"], 5908);
    for (i, t) in per.iter().enumerate() {
        assert_eq!(
            t["file"],
            format!("topologies/traces/geolife-demo.csv#{}", i + 1)
        );
        assert!(t.get("cleaning").is_none(), "per_trace holds summaries");
    }
    assert_eq!(f(&per[0], "duration_s"), 2012.0);
    let sum = |key: &str| per.iter().map(|t| f(t, key)).sum::<f64>();
    assert!((f(&v, "duration_s") - sum("duration_s")).abs() < 1e-6);
    assert!((f(&v, "length_km") - sum("length_km")).abs() < 1e-9);
    let mean = f(&v, "length_km") * 1000.0 / f(&v, "duration_s");
    assert!((f(&v, "mean_speed_mps") - mean).abs() < 1e-9);
    let max = per
        .iter()
        .map(|t| f(t, "max_speed_mps"))
        .fold(0.0, f64::max);
    assert_eq!(f(&v, "max_speed_mps"), max);
    let boxes: Vec<[f64; 4]> = per.iter().map(bbox).collect();
    let union = [
        boxes.iter().map(|b| b[0]).fold(f64::INFINITY, f64::min),
        boxes.iter().map(|b| b[1]).fold(f64::INFINITY, f64::min),
        boxes.iter().map(|b| b[2]).fold(f64::NEG_INFINITY, f64::max),
        boxes.iter().map(|b| b[3]).fold(f64::NEG_INFINITY, f64::max),
    ];
    assert_eq!(bbox(&v), union);
    assert_ne!(boxes[0], union, "the traces cover different areas");
    assert_eq!(v["cleaning"]["points_read"], 5908);
}

#[test]
fn messy_files_that_must_be_accepted() {
    let v = one(&["tests/data/bad/trace-out-of-order.gpx"]);
    assert_eq!(v["points"], 4);
    assert_eq!(f(&v, "duration_s"), 6.0);
    assert_eq!(v["cleaning"]["out_of_order"], 1);
    assert_eq!(v["cleaning"]["duplicate_times_dropped"], 2);

    // Two devices; their cleaning reports add up.
    let v = one(&["tests/data/bad/trace-out-of-order.csv"]);
    assert_eq!(v["traces"], 2);
    assert_eq!(v["per_trace"].as_array().unwrap().len(), 2);
    assert_eq!(v["cleaning"]["out_of_order"], 1);
    assert_eq!(v["cleaning"]["duplicate_times_dropped"], 1);

    let v = one(&["tests/data/bad/trace-segments-partly-timed.gpx"]);
    assert_eq!(v["traces"], 2);
    assert_eq!(v["points"], 5);
    assert_eq!(v["cleaning"]["empty_segments_skipped"], 2);
    assert_eq!(v["cleaning"]["times_interpolated"], 1);
    assert_eq!(v["cleaning"]["times_from_assumed_speed"], 1);

    // No time at all: walking pace by default; half the speed, twice the time.
    let walk = one(&["tests/data/bad/trace-untimed-route.gpx"]);
    assert_eq!(walk["cleaning"]["times_from_assumed_speed"], 3);
    assert!((f(&walk, "mean_speed_mps") - 1.4).abs() < 1e-9);
    let slow = one(&[
        "tests/data/bad/trace-untimed-route.gpx",
        "--assumed-speed-mps",
        "0.7",
    ]);
    assert!((f(&slow, "duration_s") - 2.0 * f(&walk, "duration_s")).abs() < 1e-6);
}

/// Access point ids of the example topology, read from the file itself.
fn example_access_points() -> Vec<String> {
    let text = std::fs::read_to_string(repo("topologies/example-topology.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    doc["node"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"].as_str() == Some("access_point"))
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn bus_handovers_along_the_example_topology() {
    let v = one(&[
        "topologies/traces/bus-304-limerick.gpx",
        "--topology",
        "topologies/example-topology.toml",
    ]);
    let mut expected = single_keys();
    expected.push("handovers");
    expected.sort_unstable();
    assert_eq!(keys(&v), expected);
    let aps = example_access_points();
    assert!(aps.len() >= 2, "{aps:?}");
    let handovers = v["handovers"].as_array().unwrap();
    for h in handovers {
        let mut k: Vec<&str> = h.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort_unstable();
        assert_eq!(k, ["from", "t_s", "to", "trace"]);
        assert_eq!(h["trace"], "topologies/traces/bus-304-limerick.gpx#trk1");
        for end in [&h["from"], &h["to"]] {
            assert!(
                end.is_null() || aps.iter().any(|a| end == a.as_str()),
                "{end} is an access point of the topology"
            );
        }
        assert_ne!(h["from"], h["to"]);
        let t = f(h, "t_s");
        assert!((0.0..=4476.0).contains(&t), "{t}");
    }
    // The device starts detached.
    assert!(handovers[0]["from"].is_null(), "{}", handovers[0]);
    let times: Vec<f64> = handovers.iter().map(|h| f(h, "t_s")).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    // The topology is laid along the route: the bus passes from one cell
    // site to another, and from the south-west of the city to the east.
    let real: Vec<&Value> = handovers
        .iter()
        .filter(|h| h["from"].is_string() && h["to"].is_string())
        .collect();
    assert!(!real.is_empty(), "{handovers:?}");
    let visited: Vec<&str> = handovers.iter().filter_map(|h| h["to"].as_str()).collect();
    assert!(
        visited.contains(&"ap-raheen") && visited.contains(&"ap-ul"),
        "{visited:?}"
    );

    // The same options give the same answer; --step-s sets the sampling grid.
    let again = one(&[
        "topologies/traces/bus-304-limerick.gpx",
        "--topology",
        "topologies/example-topology.toml",
    ]);
    assert_eq!(again, v);
    let coarse = one(&[
        "topologies/traces/bus-304-limerick.gpx",
        "--topology",
        "topologies/example-topology.toml",
        "--step-s",
        "60",
    ]);
    let coarse = coarse["handovers"].as_array().unwrap();
    assert!(!coarse.is_empty());
    for h in coarse {
        let t = f(h, "t_s");
        assert!(
            t % 60.0 == 0.0 || t == 4476.0,
            "{t} is not on the 60 s grid"
        );
    }
    assert_ne!(coarse, handovers, "a 60 s step sees the route differently");
}

#[test]
fn readable_output_is_a_table_per_file_with_handovers() {
    let out = inspect(&[
        "topologies/traces/geolife-demo.csv",
        "topologies/traces/bus-304-limerick.gpx",
        "--topology",
        "topologies/example-topology.toml",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("topologies/traces/geolife-demo.csv: 5 trace(s)\n"),
        "{text}"
    );
    assert!(text.contains("topologies/traces/bus-304-limerick.gpx: 1 trace(s)\n"));
    let header = text.lines().nth(1).unwrap();
    for col in [
        "trace",
        "points",
        "duration",
        "length_km",
        "mean_mps",
        "max_mps",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let total = text
        .lines()
        .find(|l| l.trim_start().starts_with("total"))
        .unwrap();
    assert!(
        total.contains(" 5908 ") && total.contains("17:40:21"),
        "{total}"
    );
    // Columns are aligned: every row of the first table has the header's width.
    let rows: Vec<&str> = text.lines().skip(1).take(7).collect();
    assert!(rows.iter().all(|r| r.len() == header.len()), "{rows:#?}");
    assert!(text.contains("  handovers: "), "{text}");
    assert!(text.contains("ap-raheen"), "{text}");
}

#[test]
fn bad_trace_files_fail_with_one_line_naming_the_file() {
    let cases: &[(&str, &str)] = &[
        ("trace-bad-attribute.gpx", ":6: malformed XML"),
        ("trace-bad-time.gpx", ":6: time \"yesterday at noon\""),
        ("trace-empty-track.gpx", ":3: "),
        ("trace-empty.gpx", ": the file is empty"),
        ("trace-garbage.gpx", ":1: not UTF-8"),
        ("trace-garbage.plt", ":2: not UTF-8"),
        ("trace-lat-123.gpx", ":7: latitude 123"),
        ("trace-mismatched-tags.gpx", ":5: malformed XML"),
        ("trace-missing-column.csv", ":1: unknown trace format"),
        ("trace-missing-lon.gpx", ":4: missing attribute lon"),
        ("trace-nonnumeric-lat.gpx", ":6: latitude \"fifty-two\""),
        ("trace-short-line.plt", ":9: 5 fields"),
        ("trace-short-row.csv", ":3: 3 fields"),
        ("trace-truncated-mid-tag.gpx", ":65: malformed XML"),
        ("trace-truncated.gpx", ":60: the file ends inside <trkpt>"),
        ("no-such-file.gpx", ": cannot read the file"),
    ];
    let accepted = [
        "trace-out-of-order.csv",
        "trace-out-of-order.gpx",
        "trace-segments-partly-timed.gpx",
        "trace-untimed-route.gpx",
    ];
    // Every crafted trace file is either refused or accepted here.
    let mut on_disk: Vec<String> = std::fs::read_dir(repo("tests/data/bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("trace-"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = cases
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(accepted.iter().map(|n| n.to_string()))
        .filter(|n| n.starts_with("trace-"))
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);

    for name in accepted {
        let out = inspect(&[&format!("tests/data/bad/{name}")]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (name, expected) in cases {
        let path = format!("tests/data/bad/{name}");
        // Alone, and after a good file: nothing is printed for the good one.
        for args in [
            vec![path.as_str(), "--json"],
            vec!["topologies/traces/bus-304-limerick.gpx", path.as_str()],
        ] {
            let out = inspect(&args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
            let err = String::from_utf8(out.stderr).unwrap();
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(
                err.starts_with(&format!("mcc-emu: {path}{expected}")),
                "{args:?}: {err}"
            );
        }
    }
}

#[test]
fn bad_topologies_and_options_fail_with_one_line() {
    let bus = "topologies/traces/bus-304-limerick.gpx";
    let cases: &[(&[&str], &str)] = &[
        (
            &[bus, "--topology", "tests/data/bad/topo-truncated.graphml"],
            "mcc-emu: tests/data/bad/topo-truncated.graphml:34: malformed XML",
        ),
        (
            &[
                bus,
                "--topology",
                "tests/data/bad/topo-link-unknown-node.toml",
            ],
            "mcc-emu: tests/data/bad/topo-link-unknown-node.toml:18: link 2",
        ),
        (
            &[
                bus,
                "--topology",
                "topologies/Heanet.graphml",
                "--sites",
                "tests/data/bad/topo-latitude-123.csv",
            ],
            "mcc-emu: tests/data/bad/topo-latitude-123.csv:3: site 1: latitude 123",
        ),
        (
            // Routers only: nothing to attach to.
            &[bus, "--topology", "topologies/Heanet.graphml"],
            "mcc-emu: topologies/Heanet.graphml: no access point with coordinates",
        ),
        (
            &["topologies/Heanet.graphml"],
            "mcc-emu: topologies/Heanet.graphml: unknown trace format",
        ),
        (
            &[bus, "--sites", "topologies/sites/site-optus-melbCBD.csv"],
            "mcc-emu: --sites, --site-role and --relocate-to need --topology FILE",
        ),
        (
            &[bus, "--assumed-speed-mps", "-1"],
            "mcc-emu: --assumed-speed-mps -1: must be a speed in m/s > 0",
        ),
        (
            &[
                bus,
                "--topology",
                "topologies/example-topology.toml",
                "--step-s",
                "0",
            ],
            "mcc-emu: --step-s 0: must be a number of seconds > 0",
        ),
        (
            &[
                bus,
                "--topology",
                "topologies/example-topology.toml",
                "--hysteresis-m",
                "-5",
            ],
            "mcc-emu: --hysteresis-m -5: must be a number of metres >= 0",
        ),
    ];
    for (args, expected) in cases {
        let out = inspect(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with(expected), "{args:?}: {err}");
    }
    // Milliseconds read as seconds: a day becomes 2.7 years, too many
    // samples at one a second; the error says what to do instead of hanging.
    let dir = tempfile::tempdir().unwrap();
    let ms = dir.path().join("times-in-ms.csv");
    std::fs::write(
        &ms,
        "device_id,time,lat,lon\nbus,1550475950000,52.66,-8.63\nbus,1550562350000,52.67,-8.60\n",
    )
    .unwrap();
    let ms = ms.to_str().unwrap();
    let topo = "topologies/example-topology.toml";
    let out = inspect(&[ms, "--topology", topo]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("mcc-emu: {ms}#bus: lasts 8.640e7 s")) && err.contains("--step-s"),
        "{err}"
    );
    assert!(
        inspect(&[ms, "--topology", topo, "--step-s", "3600"])
            .status
            .success()
    );

    // Handover options without a topology are a usage error (clap's).
    let out = inspect(&[bus, "--step-s", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--topology"));
}

#[test]
fn a_fleet_file_reports_its_vehicles_and_their_gaps() {
    let v = one(&[
        "topologies/traces/dublin-bus-siri-20130131-sample.csv",
        "--max-gap-s",
        "600",
    ]);
    assert_eq!(v["traces"], 259);
    assert_eq!(v["cleaning"]["points_read"], 10_000);
    // The excerpt thins out after 01:00 and picks up at 06:00: some bus
    // goes hours between two fixes.
    assert!(
        f(&v, "longest_gap_s") > 3.0 * 3600.0,
        "{}",
        v["longest_gap_s"]
    );
    let gaps = v["gaps_over_max"].as_u64().unwrap();
    assert!(gaps > 0);
    let per: &Vec<Value> = v["per_trace"].as_array().unwrap();
    let over = per.iter().filter(|t| f(t, "longest_gap_s") > 600.0).count() as u64;
    assert!(over > 0 && over <= gaps, "{over} {gaps}");
    let austin = one(&["topologies/traces/austin-capmetro-20160322.csv"]);
    assert_eq!(austin["traces"], 195);
    assert!(austin["cleaning"]["out_of_order"].as_u64().unwrap() > 0);
    assert!(austin.get("gaps_over_max").is_none());
}
