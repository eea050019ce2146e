//! `mcc-emu compare` end to end: the JSON and CSV shapes, runs with mean and
//! spread, row order, determinism, the SVG figures, techniques under one
//! policy, bad input, and examples/sweep.py.

use std::path::{Path, PathBuf};

mod common;
use common::{has_python3, json_of, mcc_emu, python3, repo, stdout_of_success};

use serde_json::Value;

fn small_scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scenarios/compare-small.toml")
}

/// `mcc-emu compare <small scenario> --out OUT --json <extra>`, which must succeed.
fn compare(out: &Path, extra: &[&str]) -> Value {
    let scenario = small_scenario();
    let mut args = vec![
        "compare",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let json = json_of(&args);
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(out.join("comparison.json")).unwrap()).unwrap();
    assert_eq!(json, on_disk, "stdout and comparison.json agree");
    json
}

fn rows(json: &Value) -> &Vec<Value> {
    json["policies"].as_array().expect("a `policies` array")
}

fn combos(json: &Value) -> Vec<(String, String)> {
    rows(json)
        .iter()
        .map(|r| {
            (
                r["policy"].as_str().unwrap().to_owned(),
                r["technique"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

const SUMMARY_KEYS: [&str; 13] = [
    "devices",
    "cloudlets",
    "sim_duration_s",
    "requests",
    "failed",
    "delay_ms",
    "migrations",
    "downtime_ms_total",
    "stall_ms_max",
    "bytes_migrated",
    "sla_violations",
    "wall_s",
    "sim_requests_per_s",
];

#[test]
fn every_combination_runs_in_command_line_order_with_the_summary_keys() {
    let dir = tempfile::tempdir().unwrap();
    let json = compare(
        dir.path(),
        &[
            "--policies",
            "never,nearest",
            "--techniques",
            "soft,pre-copy",
        ],
    );
    assert_eq!(json["runs"], 1);
    assert_eq!(json["seed"], 7);
    assert_eq!(
        combos(&json),
        pairs(&[
            ("never", "soft"),
            ("never", "pre-copy"),
            ("nearest", "soft"),
            ("nearest", "pre-copy"),
        ])
    );
    for row in rows(&json) {
        for key in SUMMARY_KEYS {
            assert!(row.get(key).is_some(), "row has {key}: {row}");
        }
        for key in ["p50", "p95", "p99", "mean", "max"] {
            assert!(row["delay_ms"][key].is_f64(), "{row}");
        }
        assert_eq!(row["seed"], 7, "every combination runs the scenario's seed");
        // Each combination has its own run folder, as `mcc-emu run` writes it.
        let folder = dir.path().join(format!(
            "{}-{}",
            row["policy"].as_str().unwrap(),
            row["technique"].as_str().unwrap()
        ));
        let summary: Value =
            serde_json::from_slice(&std::fs::read(folder.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["requests"], row["requests"]);
        assert_eq!(summary["migrations"], row["migrations"]);
        for file in ["requests.csv", "migrations.csv", "handovers.csv"] {
            assert!(
                folder.join(file).is_file(),
                "{} has {file}",
                folder.display()
            );
        }
    }
    // Identical traces and request times for every combination.
    let requests: Vec<&Value> = rows(&json).iter().map(|r| &r["requests"]).collect();
    assert!(requests.iter().all(|r| *r == requests[0]), "{requests:?}");

    // `never` never migrates; `nearest` does on this scenario.
    let row = |p: &str, t: &str| {
        rows(&json)
            .iter()
            .find(|r| r["policy"] == p && r["technique"] == t)
            .unwrap()
            .clone()
    };
    for t in ["soft", "pre-copy"] {
        assert_eq!(row("never", t)["migrations"], 0);
        assert_eq!(row("never", t)["bytes_migrated"], 0);
    }
    // The seed paper's question under one policy: soft-migration removes the
    // downtime pre-copy has, for the same migrations.
    let soft = row("nearest", "soft");
    let pre_copy = row("nearest", "pre-copy");
    assert!(soft["migrations"].as_u64().unwrap() > 0, "{soft}");
    assert_eq!(soft["migrations"], pre_copy["migrations"]);
    assert_eq!(soft["downtime_ms_total"], 0.0, "{soft}");
    assert!(
        pre_copy["downtime_ms_total"].as_f64().unwrap() > 0.0,
        "{pre_copy}"
    );

    // The CSV has the same rows in the same order.
    let csv = std::fs::read_to_string(dir.path().join("comparison.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..3], ["policy", "technique", "seed"]);
    for key in [
        "delay_ms_p95",
        "migrations",
        "downtime_ms_total",
        "bytes_migrated",
        "wall_s",
    ] {
        assert!(header.contains(&key), "{header:?}");
    }
    let csv_combos: Vec<(String, String)> = lines
        .map(|l| {
            let mut f = l.split(',');
            (f.next().unwrap().to_owned(), f.next().unwrap().to_owned())
        })
        .collect();
    assert_eq!(csv_combos, combos(&json));

    // The order follows the command line, not a fixed one.
    let dir = tempfile::tempdir().unwrap();
    let json = compare(
        dir.path(),
        &[
            "--policies",
            "nearest,never",
            "--techniques",
            "pre-copy,soft",
        ],
    );
    assert_eq!(
        combos(&json),
        pairs(&[
            ("nearest", "pre-copy"),
            ("nearest", "soft"),
            ("never", "pre-copy"),
            ("never", "soft"),
        ])
    );
}

#[test]
fn several_runs_give_mean_and_spread_per_figure() {
    let dir = tempfile::tempdir().unwrap();
    let json = compare(dir.path(), &["--policies", "nearest,never", "--runs", "3"]);
    assert_eq!(json["runs"], 3);
    assert_eq!(
        combos(&json),
        pairs(&[("nearest", "pre-copy"), ("never", "pre-copy")])
    );
    for row in rows(&json) {
        assert_eq!(row["runs"], 3);
        assert_eq!(row["seeds"], serde_json::json!([7, 8, 9]));
        let per_run = row["per_run"].as_array().unwrap();
        assert_eq!(per_run.len(), 3);
        for (key, path) in [
            ("requests", vec!["requests"]),
            ("migrations", vec!["migrations"]),
            ("p95", vec!["delay_ms", "p95"]),
        ] {
            let figure = path.iter().fold(row, |v, k| &v[*k]);
            let values: Vec<f64> = per_run
                .iter()
                .map(|s| path.iter().fold(s, |v, k| &v[*k]).as_f64().unwrap())
                .collect();
            let mean = values.iter().sum::<f64>() / 3.0;
            let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let close =
                |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() <= 1e-9 * b.abs().max(1.0);
            assert!(
                close(&figure["mean"], mean),
                "{key}: {figure} vs {values:?}"
            );
            assert!(close(&figure["sd"], sd), "{key}: {figure} vs {values:?}");
            assert!(close(&figure["min"], min), "{key}: {figure}");
            assert!(close(&figure["max"], max), "{key}: {figure}");
        }
        // Poisson arrivals: each seed sends a different number of requests.
        assert!(row["requests"]["sd"].as_f64().unwrap() > 0.0, "{row}");
        for run in 0..3 {
            let folder = dir.path().join(format!(
                "{}-pre-copy-run{run}",
                row["policy"].as_str().unwrap()
            ));
            assert!(
                folder.join("summary.json").is_file(),
                "{}",
                folder.display()
            );
        }
    }
    // Run k of every combination shares seed + k: the same requests.
    let requests = |i: usize| {
        rows(&json)[i]["per_run"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["requests"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(requests(0), requests(1));

    let csv = std::fs::read_to_string(dir.path().join("comparison.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for key in [
        "runs",
        "seeds",
        "delay_ms_p95_mean",
        "delay_ms_p95_sd",
        "migrations_min",
        "migrations_max",
    ] {
        assert!(header.split(',').any(|h| h == key), "{header}");
    }
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("nearest,pre-copy,3,7;8;9,")
    );
}

#[test]
fn two_invocations_give_the_same_figures_and_plots() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let args = [
        "--policies",
        "ga,nearest,never",
        "--techniques",
        "soft,stop-and-copy",
    ];
    compare(a.path(), &args);
    compare(b.path(), &[&args[..], &["--threads", "1"]].concat());
    let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(
        common::without_wall_clock(&read(a.path(), "comparison.csv")),
        common::without_wall_clock(&read(b.path(), "comparison.csv"))
    );
    for svg in [
        "delay_cdf.svg",
        "migrations_over_time.svg",
        "map.svg",
        "delay_energy.svg",
    ] {
        assert_eq!(read(a.path(), svg), read(b.path(), svg), "{svg}");
    }
    assert_eq!(
        read(a.path(), "nearest-soft/requests.csv"),
        read(b.path(), "nearest-soft/requests.csv")
    );
}

/// The SVG's text contents and element counts, parsed as XML.
fn parse_svg(path: &Path) -> (Vec<String>, usize, usize) {
    use quick_xml::events::Event;
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let (mut texts, mut polylines, mut circles) = (Vec::new(), 0, 0);
    let mut depth = 0i32;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                depth += 1;
                match e.local_name().into_inner() {
                    "polyline" => polylines += 1,
                    "circle" => circles += 1,
                    _ => {}
                }
            }
            Ok(Event::Empty(e)) => match e.local_name().into_inner() {
                "polyline" => polylines += 1,
                "circle" => circles += 1,
                _ => {}
            },
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(t)) => texts.push(t.into_inner().trim().to_owned()),
            Ok(_) => {}
            Err(e) => panic!("{}: not XML: {e}", path.display()),
        }
    }
    assert_eq!(depth, 0, "{}: unbalanced elements", path.display());
    assert!(text.trim_start().starts_with("<svg"), "{}", path.display());
    (texts, polylines, circles)
}

#[test]
fn the_figures_are_svg_with_one_series_per_combination() {
    let dir = tempfile::tempdir().unwrap();
    compare(
        dir.path(),
        &[
            "--policies",
            "never,nearest",
            "--techniques",
            "soft,pre-copy",
        ],
    );
    let labels = [
        "never-soft",
        "never-pre-copy",
        "nearest-soft",
        "nearest-pre-copy",
    ];
    for svg in ["delay_cdf.svg", "migrations_over_time.svg"] {
        let (texts, polylines, _) = parse_svg(&dir.path().join(svg));
        for label in labels {
            assert!(
                texts.iter().any(|t| t == label),
                "{svg} names {label}: {texts:?}"
            );
        }
        // A line per combination (and one per legend entry).
        assert!(polylines >= labels.len(), "{svg}: {polylines} polylines");
    }
    // Delay against energy: a point per combination, soft's circles
    // (point and legend mark) and pre-copy's triangles (polygons).
    let (texts, _, circles) = parse_svg(&dir.path().join("delay_energy.svg"));
    for label in labels {
        assert!(
            texts.iter().any(|t| t == label),
            "delay_energy.svg names {label}: {texts:?}"
        );
    }
    assert_eq!(circles, 2 * 2, "two soft combinations, point and legend");
    let (texts, _, circles) = parse_svg(&dir.path().join("map.svg"));
    for label in [
        "device traces",
        "access points",
        "cloudlets",
        "cl-city",
        "cl-ul",
    ] {
        assert!(
            texts.iter().any(|t| t == label),
            "map names {label}: {texts:?}"
        );
    }
    // The map shows the combination with the most migrations.
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("migrations of nearest-soft (")),
        "{texts:?}"
    );
    // Six access points in the example topology, plus the legend's marker.
    assert_eq!(circles, 6 + 1);
}

#[test]
fn bad_input_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = small_scenario();
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "compare",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let output = mcc_emu(&args);
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let err = run(&["--policies", "nearest,teleport"]);
    assert!(err.contains("unknown placement policy `teleport`"), "{err}");
    let err = run(&["--techniques", "soft,warp"]);
    assert!(
        err.contains("unknown technique `warp`") && err.contains("pre-copy"),
        "{err}"
    );
    let err = run(&["--policies", "never,never"]);
    assert!(err.contains("never-pre-copy is listed twice"), "{err}");
    let err = run(&["--runs", "0"]);
    assert!(err.contains("--runs"), "{err}");
    assert!(!out.exists(), "nothing was written");

    let missing = dir.path().join("nope.toml");
    let output = mcc_emu(&[
        "compare",
        missing.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope.toml"));
}

#[test]
fn the_sweep_example_prints_a_table_from_the_json() {
    if !has_python3("examples/sweep.py") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = python3("examples/sweep.py")
        .args(["--mcc-emu", env!("CARGO_BIN_EXE_mcc-emu")])
        .arg("--scenario")
        .arg(small_scenario())
        .args(["--param", "vm.dirty_rate_pps", "--values", "1000,20000"])
        .args(["--policies", "nearest", "--techniques", "pre-copy"])
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("python3 runs");
    let stdout = stdout_of_success(&output);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("vm.dirty_rate_pps"), "{stdout}");
    let rows: Vec<Vec<&str>> = lines
        .iter()
        .filter(|l| l.contains("nearest"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert_eq!(rows[0][0], "1000");
    assert_eq!(rows[1][0], "20000");
    // A dirtier VM sends more bytes and stops longer in pre-copy.
    let column = |name: &str| lines[0].split_whitespace().position(|h| h == name).unwrap();
    let value = |row: &Vec<&str>, name: &str| row[column(name)].parse::<f64>().unwrap();
    assert!(
        value(&rows[1], "moved_MiB") > value(&rows[0], "moved_MiB"),
        "{stdout}"
    );
    assert!(
        value(&rows[1], "downtime_ms") > value(&rows[0], "downtime_ms"),
        "{stdout}"
    );
    // The temporary scenarios are gone.
    let left: Vec<_> = std::fs::read_dir(small_scenario().parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("sweep"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn on_the_default_scenario_ga_moves_vms_and_fewer_requests_fail_or_miss_the_sla() {
    // The default world's first ten minutes (a whole hour is 5 M requests
    // per policy, too long for a debug build), from a copy whose files
    // point at the repository's.
    let dir = tempfile::tempdir().unwrap();
    let topologies = repo("topologies");
    let default = std::fs::read_to_string(topologies.join("default.toml")).unwrap();
    let cut = default
        .replace("duration_s = 3600", "duration_s = 600")
        .replace(
            "file = \"Heanet.graphml\"",
            &format!("file = {:?}", topologies.join("Heanet.graphml")),
        )
        .replace(
            "trace = \"traces/",
            &format!("trace = \"{}/traces/", topologies.display()),
        );
    assert_ne!(cut, default);
    let scenario = dir.path().join("default-600s.toml");
    std::fs::write(&scenario, cut).unwrap();
    let output = mcc_emu(&[
        "compare",
        scenario.to_str().unwrap(),
        "--policies",
        "ga,nearest,never",
        "--out",
        dir.path().join("out").to_str().unwrap(),
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let row = |p: &str| {
        rows(&json)
            .iter()
            .find(|r| r["policy"] == p)
            .unwrap()
            .clone()
    };
    let (ga, nearest, never) = (row("ga"), row("nearest"), row("never"));
    // In this world the cloudlets where buses meet queue: the GA moves VMs
    // to spread the load, and fewer of its requests time out or miss the
    // SLA (which counts the timed-out ones) than under either baseline.
    // The delay percentiles are over answered requests only, so a policy
    // whose slowest requests time out drops them from its figures: they
    // cannot rank policies that fail different numbers of requests.
    assert!(ga["migrations"].as_u64().unwrap() > 0, "{ga}");
    let count = |row: &Value, key: &str| row[key].as_u64().unwrap();
    for (name, baseline) in [("never", &never), ("nearest", &nearest)] {
        for key in ["failed", "sla_violations"] {
            assert!(
                count(&ga, key) < count(baseline, key),
                "{key}: ga {} vs {name} {}",
                ga[key],
                baseline[key]
            );
        }
    }
    assert_eq!(never["migrations"], 0);
}

#[test]
fn a_failed_combination_leaves_no_comparison_and_names_itself() {
    let dir = tempfile::tempdir().unwrap();
    // A file where nearest's run folder must go: that run cannot write.
    std::fs::write(dir.path().join("nearest-pre-copy"), b"in the way").unwrap();
    let scenario = small_scenario();
    let output = mcc_emu(&[
        "compare",
        scenario.to_str().unwrap(),
        "--policies",
        "never,nearest",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("nearest-pre-copy: cannot create output folder"),
        "{err}"
    );
    for file in [
        "comparison.json",
        "comparison.csv",
        "delay_cdf.svg",
        "map.svg",
    ] {
        assert!(!dir.path().join(file).exists(), "{file} was written");
    }
}

#[test]
fn the_experiments_table_script_prints_a_world_table() {
    if !has_python3("experiments/table.py") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("small-world");
    std::fs::create_dir(&world).unwrap();
    let plan = serde_json::json!({
        "title": "A small world",
        "scenarios": [small_scenario()],
        "policies": ["nearest", "never"],
        "techniques": ["pre-copy"],
    });
    std::fs::write(world.join("experiment.json"), plan.to_string()).unwrap();
    let out = dir.path().join("out");
    let table = |world: &Path| {
        python3("experiments/table.py")
            .arg(world)
            .args(["--mcc-emu", env!("CARGO_BIN_EXE_mcc-emu")])
            .arg("--out")
            .arg(&out)
            .output()
            .expect("python3 runs")
    };
    let output = table(&world);
    let stdout = stdout_of_success(&output);
    assert!(stdout.starts_with("# A small world\n"), "{stdout}");
    // One Markdown row per combination, its figures those of the run's
    // comparison.json, and what each saved against `never`.
    let json: Value = serde_json::from_slice(
        &std::fs::read(out.join("compare-small").join("comparison.json")).unwrap(),
    )
    .unwrap();
    let mean = |policy: &str| {
        rows(&json).iter().find(|r| r["policy"] == policy).unwrap()["delay_ms"]["mean"]
            .as_f64()
            .unwrap()
    };
    let cells = |policy: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {policy} | pre-copy |")))
            .unwrap_or_else(|| panic!("no row for {policy}:\n{stdout}"));
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    for policy in ["nearest", "never"] {
        let row = cells(policy);
        assert_eq!(row[2], format!("{:.3}", mean(policy)), "{stdout}");
        let saved = mean("never") - mean(policy);
        assert_eq!(row.last().unwrap(), &format!("{saved:.3}"), "{stdout}");
    }
    assert_eq!(cells("never").last().unwrap(), "0.000");
    // A plan without its policies is refused, naming the file and the key.
    std::fs::write(
        world.join("experiment.json"),
        r#"{"scenarios": ["x.toml"], "techniques": ["soft"]}"#,
    )
    .unwrap();
    let output = table(&world);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("experiment.json") && stderr.contains("`policies`"),
        "{stderr}"
    );
}
