//! `mcc-emu run` end to end: outputs, determinism, and bad input.

use std::path::Path;

mod common;
use common::{has_python3, json_of, mcc_emu, python3, repo, stdout_of_success};

fn run_example(out: &Path, extra: &[&str]) -> serde_json::Value {
    let scenario = repo("topologies/example-scenario.toml");
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    json_of(&args)
}

#[test]
fn a_run_writes_every_output_and_a_complete_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = run_example(dir.path(), &[]);
    for key in [
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
    ] {
        assert!(summary.get(key).is_some(), "summary has {key}: {summary}");
    }
    assert_eq!(summary["devices"], 10);
    assert_eq!(summary["requests"], 10 * 5 * 1800);
    assert!(summary["migrations"].as_u64().unwrap() > 0, "{summary}");
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(on_disk["requests"], summary["requests"]);

    let requests = std::fs::read_to_string(dir.path().join("requests.csv")).unwrap();
    assert!(requests.starts_with("time_s,device,vm,host,access_ms,backbone_ms,queueing_ms,processing_ms,migration_stall_ms,total_ms,device_energy_j,outcome\n"));
    assert_eq!(
        requests.lines().count() as u64,
        1 + summary["requests"].as_u64().unwrap()
    );
    let migrations = std::fs::read_to_string(dir.path().join("migrations.csv")).unwrap();
    assert_eq!(
        migrations.lines().count() as u64,
        1 + summary["migrations"].as_u64().unwrap()
    );
    assert!(
        migrations
            .lines()
            .nth(1)
            .unwrap()
            .contains(",nearest,handover,soft,")
    );
    let handovers = std::fs::read_to_string(dir.path().join("handovers.csv")).unwrap();
    assert!(handovers.starts_with("time_s,device,from_ap,to_ap\n"));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "no temporary file left behind: {names:?}");
}

#[test]
fn the_same_seed_gives_byte_identical_records() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    run_example(a.path(), &[]);
    run_example(b.path(), &[]);
    run_example(c.path(), &["--seed", "2"]);
    for file in ["requests.csv", "migrations.csv", "handovers.csv"] {
        let first = std::fs::read(a.path().join(file)).unwrap();
        assert_eq!(first, std::fs::read(b.path().join(file)).unwrap(), "{file}");
    }
    assert_ne!(
        std::fs::read(a.path().join("requests.csv")).unwrap(),
        std::fs::read(c.path().join("requests.csv")).unwrap(),
        "another seed, other request times"
    );
}

#[test]
fn no_requests_keeps_the_summary_and_drops_requests_csv() {
    let full = tempfile::tempdir().unwrap();
    let lean = tempfile::tempdir().unwrap();
    // A requests.csv left by an earlier run must not pass for this run's.
    std::fs::write(lean.path().join("requests.csv"), "previous run\n").unwrap();
    let mut with_rows = run_example(full.path(), &[]);
    let mut without = run_example(lean.path(), &["--no-requests"]);
    for summary in [&mut with_rows, &mut without] {
        let fields = summary.as_object_mut().unwrap();
        fields.remove("wall_s");
        fields.remove("sim_requests_per_s");
    }
    assert_eq!(with_rows, without);
    assert!(without["requests"].as_u64().unwrap() > 0);
    assert!(!lean.path().join("requests.csv").exists());
    for file in ["migrations.csv", "handovers.csv"] {
        assert_eq!(
            std::fs::read(full.path().join(file)).unwrap(),
            std::fs::read(lean.path().join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn a_bad_scenario_fails_with_one_line_and_leaves_old_outputs_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requests.csv"), "previous run\n").unwrap();
    let scenario = dir.path().join("broken.toml");
    std::fs::write(
        &scenario,
        "duration_s = 60\n[topology]\nfile = \"nowhere.graphml\"\n[[devices]]\ntrace = \"x.gpx\"\n",
    )
    .unwrap();
    let output = mcc_emu(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("broken.toml") && stderr.contains("nowhere.graphml"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("requests.csv")).unwrap(),
        "previous run\n"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn the_technique_and_policy_can_be_overridden_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let summary = run_example(dir.path(), &["--technique", "pre-copy"]);
    assert!(
        summary["downtime_ms_total"].as_f64().unwrap() > 0.0,
        "{summary}"
    );
    let migrations = std::fs::read_to_string(dir.path().join("migrations.csv")).unwrap();
    assert!(
        migrations
            .lines()
            .skip(1)
            .all(|l| l.contains(",nearest,handover,pre-copy,"))
    );
    assert_eq!(summary["policy"], "nearest");
    assert_eq!(summary["technique"], "pre-copy");
    let summary = run_example(dir.path(), &["--policy", "never"]);
    assert_eq!(summary["migrations"], 0);
    assert_eq!(summary["policy"], "never");
    assert_eq!(summary["technique"], "soft", "the scenario's own technique");
    let scenario = repo("topologies/example-scenario.toml");
    let output = mcc_emu(&["run", scenario.to_str().unwrap(), "--technique", "teleport"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--technique"));
}

#[test]
fn a_policy_is_measured_against_never_on_the_same_seed() {
    let dir = tempfile::tempdir().unwrap();
    let nearest = run_example(dir.path(), &["--technique", "stop-and-copy"]);
    let against = &nearest["against_never"];
    let never = run_example(dir.path(), &["--policy", "never"]);
    assert!(never.get("against_never").is_none(), "{never}");
    // The baseline is the `never` run of the same seed, figure for figure.
    assert_eq!(against["never_delay_ms"], never["delay_ms"]);
    assert_eq!(against["never_failed"], never["failed"]);
    assert_eq!(against["never_sla_violations"], never["sla_violations"]);
    let saved = |key: &str| against["delay_saved_ms"][key].as_f64().unwrap();
    let of = |s: &serde_json::Value, key: &str| s["delay_ms"][key].as_f64().unwrap();
    for key in ["mean", "p50", "p95", "p99", "max"] {
        let want = of(&never, key) - of(&nearest, key);
        assert!((saved(key) - want).abs() < 1.5e-3, "{key}: {against}");
    }
    assert_eq!(
        against["sla_violations_avoided"].as_i64().unwrap(),
        never["sla_violations"].as_i64().unwrap() - nearest["sla_violations"].as_i64().unwrap()
    );
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert!(
        on_disk.get("against_never").is_none(),
        "the last run was `never`"
    );
    let quiet = run_example(dir.path(), &["--no-baseline"]);
    assert!(quiet.get("against_never").is_none(), "{quiet}");
}

#[test]
fn real_clock_options_are_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo("topologies/small-real.toml");
    let scenario = scenario.to_str().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    for (args, expected) in [
        (vec!["--speed", "4"], "--speed applies to --clock real only"),
        (
            vec!["--clock", "real", "--no-requests"],
            "--no-requests applies to the virtual clock only",
        ),
        (
            vec!["--no-requests", "--ui", "127.0.0.1:0"],
            "--no-requests and --ui do not go together",
        ),
        (
            vec!["--spawn", "processes"],
            "--spawn applies to --clock real only",
        ),
        (
            vec!["--clock", "real", "--speed", "0"],
            "from 0.001 to 1000",
        ),
        (vec!["--clock", "real", "--speed=-2"], "from 0.001 to 1000"),
        (
            vec!["--clock", "real", "--speed", "inf"],
            "from 0.001 to 1000",
        ),
        (
            vec!["--clock", "real", "--cloudlet-bin", "/bin/true"],
            "--cloudlet-bin applies to --spawn processes only",
        ),
        (
            vec!["--clock", "real", "--spawn", "remote"],
            "no address for cloudlet cl-south",
        ),
        (
            vec![
                "--clock",
                "real",
                "--spawn",
                "processes",
                "--cloudlet-bin",
                "/nonexistent/cloudlet",
            ],
            "/nonexistent/cloudlet cannot be started",
        ),
        (
            // Starts, but prints no address.
            vec![
                "--clock",
                "real",
                "--spawn",
                "processes",
                "--cloudlet-bin",
                "/bin/true",
            ],
            "exited before it printed its address",
        ),
        (
            // Prints something else.
            vec![
                "--clock",
                "real",
                "--spawn",
                "processes",
                "--cloudlet-bin",
                "/bin/echo",
            ],
            "not an address",
        ),
    ] {
        let mut all = vec!["run", scenario, "--out", out];
        all.extend(args.iter().copied());
        let output = mcc_emu(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        let left = std::fs::read_dir(dir.path().join("out")).map_or(0, |d| d.count());
        assert_eq!(left, 0, "{args:?} left outputs behind");
    }
}

#[test]
fn sleeping_cloudlets_run_on_both_clocks_and_serve_refuses_them() {
    // small-real.toml with cloudlets that sleep when empty, its files
    // named by absolute path so the copy runs from anywhere.
    let dir = tempfile::tempdir().unwrap();
    let topologies = repo("topologies");
    let text = std::fs::read_to_string(topologies.join("small-real.toml"))
        .unwrap()
        .replace(
            "\"small-real-topology.toml\"",
            &format!("{:?}", topologies.join("small-real-topology.toml")),
        )
        .replace("\"traces/", &format!("\"{}/traces/", topologies.display()));
    let scenario = dir.path().join("sleep.toml");
    std::fs::write(
        &scenario,
        format!("{text}\n[energy]\nsleep_empty_cloudlets = true\n"),
    )
    .unwrap();
    let scenario = scenario.to_str().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();

    // serve refuses it, naming the key and saying why, before it writes
    // anything.
    let output = mcc_emu(&["serve", scenario, "--listen", "127.0.0.1:0", "--out", out]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "serve accepted it");
    assert!(
        stderr.contains("energy.sleep_empty_cloudlets") && stderr.contains("`serve`"),
        "{stderr}"
    );
    assert!(std::fs::read_dir(out).is_err(), "outputs left behind");

    // Both clocks of `run` run it and report the sleep (one of the four
    // cloudlets is never used: it sleeps on both).
    for clock in [
        &["--clock", "virtual"][..],
        &["--clock", "real", "--speed", "60"],
    ] {
        let args = [&["run", scenario, "--out", out, "--json"][..], clock].concat();
        let summary = json_of(&args);
        let sleep = &summary["cloudlet_sleep"];
        assert!(
            sleep["asleep_s"].as_f64().unwrap() > 0.0,
            "{clock:?}: {summary}"
        );
        assert!(sleep["wake_ups"].is_u64(), "{clock:?}: {summary}");
    }
}

#[test]
fn hybrid_runs_from_a_scenario_and_falls_back_to_post_copy() {
    // The example scenario with `technique = "hybrid"` and a downtime
    // target no round can meet: after its two rounds every migration
    // switches as post-copy (only the CPU state while stopped).
    let example = std::fs::read_to_string(repo("topologies/example-scenario.toml")).unwrap();
    let topologies = repo("topologies");
    let topologies = topologies.to_str().unwrap();
    let scenario = example
        .replace(
            "file = \"example-topology.toml\"",
            &format!("file = \"{topologies}/example-topology.toml\""),
        )
        .replace(
            "trace = \"traces/",
            &format!("trace = \"{topologies}/traces/"),
        )
        .replace("dirty_rate_pps = 3000", "dirty_rate_pps = 100000")
        .replace(
            "technique = \"soft\"",
            "technique = \"hybrid\"\nmax_rounds = 2\ndowntime_target_ms = 0",
        );
    assert!(scenario.contains("technique = \"hybrid\""), "{scenario}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hybrid.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.path().join("out");
    let summary = json_of(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--no-baseline",
    ]);
    assert_eq!(summary["technique"], "hybrid");
    // Every request is answered but those sent out of coverage.
    let requests = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    let outcomes: Vec<&str> = requests
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(outcomes.len() as u64, summary["requests"].as_u64().unwrap());
    let answered = outcomes.iter().filter(|o| **o == "ok").count() as u64;
    let failed = summary["failed"].as_u64().unwrap();
    assert_eq!(answered + failed, outcomes.len() as u64);
    assert!(outcomes.iter().all(|o| *o == "ok" || *o == "no_coverage"));
    assert!(answered > 80_000, "{summary}");
    let migrations = std::fs::read_to_string(out.join("migrations.csv")).unwrap();
    let mut lines = migrations.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len() as u64, summary["migrations"].as_u64().unwrap());
    assert!(!rows.is_empty(), "{summary}");
    for row in &rows {
        assert_eq!(row[col("technique")], "hybrid", "{row:?}");
        assert_eq!(row[col("converged")], "false", "{row:?}");
        assert_eq!(row[col("rounds")], "2", "{row:?}");
        // The CPU state (256 KiB) while stopped; the rest after the switch.
        assert_eq!(row[col("bytes_stop")], "262144", "{row:?}");
        assert!(
            row[col("bytes_postcopy")].parse::<u64>().unwrap() > 0,
            "{row:?}"
        );
        let stall: f64 = row[col("stall_ms")].parse().unwrap();
        let downtime: f64 = row[col("downtime_ms")].parse().unwrap();
        assert!(stall >= downtime + 10.0 - 1e-3, "{row:?}");
    }
}

#[test]
fn the_moves_example_reads_a_runs_migrations() {
    if !has_python3("examples/moves.py") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let summary = run_example(dir.path(), &["--policy", "nearest", "--no-baseline"]);
    let migrations = summary["migrations"].as_u64().unwrap();
    assert!(migrations > 0, "{summary}");
    let stdout = stdout_of_success(
        &python3("examples/moves.py")
            .arg(dir.path())
            .output()
            .expect("python3 runs"),
    );
    assert!(
        stdout.contains(&format!("migrations: {migrations}\n")),
        "{stdout}"
    );
    let judged: u64 = stdout
        .split("with requests on both sides (30 s): ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(judged > 0 && judged <= migrations, "{stdout}");
    // A folder without the run's files is refused, naming it.
    let output = python3("examples/moves.py")
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("missing"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
