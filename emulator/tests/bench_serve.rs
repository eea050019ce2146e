//! `mcc-emu bench serve`: it runs a tiny step against its own serve and
//! prints figures that add up; bad flags are refused naming them. No
//! figure is judged here (performance is the benchmark's output, not a
//! test's).

mod common;

use common::mcc_emu;

const SCENARIO: &str = "topologies/small-real.toml";

#[test]
fn a_tiny_step_runs_and_its_counts_add_up() {
    let output = mcc_emu(&[
        "bench",
        "serve",
        SCENARIO,
        "--rates",
        "40,80",
        "--seconds",
        "0.5",
        "--devices",
        "2",
        "--access-point",
        "ap-dooradoyle",
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["scenario"], "small-real");
    assert_eq!(report["access_point"], "ap-dooradoyle");
    // The devices' VMs are on one host, with a configured path above the
    // propagation alone (two wireless hops and the backbone both ways).
    let configured = report["configured_ms"].as_object().expect("hosts");
    assert_eq!(configured.len(), 1, "{configured:?}");
    assert!(configured.values().all(|ms| ms.as_f64().unwrap() > 0.0));
    let steps = report["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2);
    for (step, rate) in steps.iter().zip([40.0, 80.0]) {
        assert_eq!(step["rate_per_s"].as_f64(), Some(rate));
        let count = |key: &str| step[key].as_u64().unwrap_or_else(|| panic!("{key}"));
        let failed: u64 = step["failures"]
            .as_object()
            .expect("failures")
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        // Two devices, each sending every 2/rate s for 0.5 s (give or take
        // a send at the step's end, where rounding decides).
        let expected = (rate * 0.5).round() as u64;
        let offered = count("sent") + count("not_sent");
        assert!(
            offered.abs_diff(expected) <= 2,
            "{offered} of {expected}: {step}"
        );
        assert_eq!(count("answered") + failed, count("sent"), "{step}");
        assert!(count("answered") <= count("sent"), "{step}");
        assert!(
            step["answered_per_s"].as_f64().unwrap() <= step["offered_per_s"].as_f64().unwrap()
        );
        for key in ["added_p50_ms", "added_p99_ms", "added_max_ms"] {
            assert!(step[key].is_number(), "{key}: {step}");
        }
        assert!(step["added_p50_ms"].as_f64() <= step["added_p99_ms"].as_f64());
        assert!(step["added_p99_ms"].as_f64() <= step["added_max_ms"].as_f64());
        // The transport probes (one every 10 ms, 50 in the half second)
        // were all refused as the unregistered device they name, and timed.
        assert_eq!(count("floor_unexpected"), 0, "{step}");
        let floor = |key: &str| {
            step[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key}: {step}"))
        };
        assert!(floor("floor_p50_ms") > 0.0, "{step}");
        assert!(floor("floor_p50_ms") <= floor("floor_p99_ms"), "{step}");
    }
}

#[test]
fn bad_flags_are_refused_naming_them() {
    for (flag, value, says) in [
        ("--rates", "0", "--rates: 0 is out of range"),
        ("--seconds", "0", "--seconds: 0 is out of range"),
        ("--devices", "0", "--devices: 0 is out of range"),
        ("--access-point", "ap-nowhere", "no such access point"),
    ] {
        let output = mcc_emu(&["bench", "serve", SCENARIO, flag, value]);
        assert!(!output.status.success(), "{flag} {value}");
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains(says), "{flag} {value}: {err}");
    }
}
