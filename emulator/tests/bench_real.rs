//! `mcc-emu bench real`: tiny runs of small-real with two fleet sizes
//! print figures that add up; bad flags are refused naming them. No
//! figure is judged here (performance is the benchmark's output, not a
//! test's).

mod common;

use common::mcc_emu;

const SCENARIO: &str = "topologies/small-real.toml";

#[test]
fn tiny_runs_print_figures_that_add_up() {
    // small-real has 10 buses at 2 requests/s; at speed 8 for 1 s a fleet
    // of 2 (spread over them) asks for 32 requests, one of 12 (the ten and
    // two copies) for 192.
    let report = common::json_of(&[
        "bench",
        "real",
        SCENARIO,
        "--devices",
        "2,12",
        "--seconds",
        "1",
        "--speed",
        "8",
        "--json",
    ]);
    assert_eq!(report["scenario"], "small-real");
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    for (run, devices) in runs.iter().zip([2u64, 12]) {
        assert_eq!(run["devices"].as_u64(), Some(devices), "{run}");
        let nominal = (devices * 2 * 8) as f64;
        assert_eq!(run["nominal_per_s"].as_f64(), Some(nominal), "{run}");
        // Periodic arrivals: each device sends 16 in its 8 s of scenario
        // time, give or take the one its phase puts at the end.
        let requests = run["requests"].as_u64().unwrap();
        assert!(
            requests.abs_diff(devices * 16) <= devices,
            "{requests} requests: {run}"
        );
        assert_eq!(run["requests_per_s"].as_f64(), Some(requests as f64));
        assert!(run["failed"].as_u64().unwrap() <= requests, "{run}");
        let added = &run["added_ms"];
        let ms = |key: &str| {
            added[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key}: {run}"))
        };
        assert!(ms("p50") > 0.0, "an answer takes its wake-ups: {run}");
        assert!(ms("p50") <= ms("p99") && ms("p99") <= ms("max"), "{run}");
        assert_eq!(run["holds"].as_bool(), Some(ms("p99") < 1.0), "{run}");
    }
}

#[test]
fn bad_flags_are_refused_naming_them() {
    for (flag, value, says) in [
        ("--devices", "0", "--devices: 0 is out of range"),
        ("--seconds", "0", "--seconds: 0 is out of range"),
        ("--rate-scale", "1000", "--rate-scale: 1000 is out of range"),
        ("--speed", "5000", "--speed"),
        ("--p99-ms", "0", "--p99-ms: 0 must be > 0"),
    ] {
        let output = mcc_emu(&["bench", "real", SCENARIO, flag, value]);
        assert!(!output.status.success(), "{flag} {value}");
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains(says), "{flag} {value}: {err}");
    }
}
