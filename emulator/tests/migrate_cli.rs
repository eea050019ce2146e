//! `mcc-emu migrate` from the outside: JSON keys and values, the table, bad input.

use std::process::{Command, Output};

fn migrate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
        .arg("migrate")
        .args(args)
        .output()
        .expect("mcc-emu runs")
}

fn json(args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = args.to_vec();
    all.push("--json");
    let out = migrate(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is a JSON array")
}

const KEYS: [&str; 14] = [
    "technique",
    "converged",
    "total_ms",
    "downtime_ms",
    "stall_ms",
    "bytes_total",
    "bytes_precopy",
    "bytes_stop",
    "bytes_postcopy",
    "rounds",
    "page_faults",
    "fault_stall_ms",
    "dual_served_requests",
    "request_delay_ms",
];

#[test]
fn json_has_exactly_the_documented_keys_for_every_technique() {
    let reports = json(&["--technique", "all"]);
    assert_eq!(reports.len(), 5);
    let names: Vec<&str> = reports
        .iter()
        .map(|r| r["technique"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["stop-and-copy", "pre-copy", "post-copy", "soft", "hybrid"]
    );
    for report in &reports {
        let object = report.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = KEYS.to_vec();
        want.sort_unstable();
        assert_eq!(keys, want);
        let delay = report["request_delay_ms"].as_object().unwrap();
        let mut delay_keys: Vec<&str> = delay.keys().map(String::as_str).collect();
        delay_keys.sort_unstable();
        assert_eq!(delay_keys, ["max", "p50", "p99"]);
    }
}

#[test]
fn stop_and_copy_json_values_match_the_closed_form() {
    // 256 MiB at 1000 Mbit/s plus 10 ms, with no CPU state: 2147.48 ms + 10 ms.
    let reports = json(&[
        "--technique",
        "stop-and-copy",
        "--memory-mib",
        "256",
        "--working-set-mib",
        "64",
        "--latency-ms",
        "10",
        "--cpu-state-kib",
        "0",
        "--request-rate",
        "0",
    ]);
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r["technique"], "stop-and-copy");
    assert_eq!(r["converged"], true);
    assert_eq!(r["bytes_total"], 268_435_456u64);
    assert_eq!(r["bytes_stop"], 268_435_456u64);
    assert_eq!(r["rounds"], 0);
    let downtime = r["downtime_ms"].as_f64().unwrap();
    assert!(
        (downtime - (268_435_456.0 * 8.0 / 1e6 + 10.0)).abs() < 1e-3,
        "{downtime}"
    );
    // A 10 ms heartbeat sees the suspension plus one period.
    let stall = r["stall_ms"].as_f64().unwrap();
    assert!((stall - (downtime + 10.0)).abs() < 1e-3, "{stall}");
    assert!(
        r["request_delay_ms"]["p50"].is_null(),
        "no request, no delay"
    );
}

#[test]
fn soft_reports_no_downtime_and_dual_served_requests() {
    let reports = json(&[
        "--technique",
        "soft",
        "--request-rate",
        "500",
        "--seed",
        "3",
    ]);
    let r = &reports[0];
    assert_eq!(r["downtime_ms"].as_f64(), Some(0.0));
    assert_eq!(r["bytes_stop"], 0);
    assert!(r["dual_served_requests"].as_u64().unwrap() > 0, "{r}");
    assert!(r["request_delay_ms"]["max"].as_f64().unwrap() >= 15.0);
}

#[test]
fn the_same_seed_prints_the_same_output() {
    let a = migrate(&["--seed", "9", "--request-rate", "100"]);
    let b = migrate(&["--seed", "9", "--request-rate", "100"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn the_table_has_a_header_and_one_aligned_row_per_technique() {
    let out = migrate(&["--technique", "all"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[0].starts_with("technique"));
    for (line, name) in
        lines[1..]
            .iter()
            .zip(["stop-and-copy", "pre-copy", "post-copy", "soft", "hybrid"])
    {
        assert!(line.starts_with(name), "{line}");
    }
    // Right-aligned columns: every row ends where the header ends.
    let width = lines[0].len();
    assert!(lines.iter().all(|l| l.len() == width), "{text}");
}

fn fails_with(args: &[&str], needle: &str) {
    let out = migrate(args);
    assert!(!out.status.success(), "{args:?} should fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "no half-written output");
}

#[test]
fn impossible_input_exits_non_zero_with_a_clear_message() {
    fails_with(
        &["--memory-mib", "-5"],
        "--memory-mib must be a number > 0, got -5",
    );
    fails_with(&["--memory-mib", "0"], "--memory-mib");
    fails_with(&["--working-set-mib", "-1"], "--working-set-mib");
    fails_with(
        &["--memory-mib", "512", "--working-set-mib", "1024"],
        "--working-set-mib (1024) is larger than --memory-mib (512)",
    );
    fails_with(
        &["--bandwidth-mbps", "0"],
        "--bandwidth-mbps must be a number > 0",
    );
    fails_with(&["--bandwidth-mbps", "-100"], "--bandwidth-mbps");
    fails_with(&["--dirty-rate-pps", "-1"], "--dirty-rate-pps");
    fails_with(&["--zero-fraction", "1.5"], "--zero-fraction");
    fails_with(&["--zero-fraction", "0.9"], "zero pages");
    fails_with(&["--max-rounds", "0"], "--max-rounds");
    fails_with(
        &["--technique", "teleport"],
        "unknown technique \"teleport\"",
    );
    fails_with(&["--dirty-model", "zipf"], "unknown dirty model \"zipf\"");
    fails_with(
        &["--pass-end", "soon"],
        "pass_end must be drained or below-target",
    );
    fails_with(
        &["--exec-data-write-rate-pps", "-1"],
        "--exec-data-write-rate-pps must be a number >= 0",
    );
    fails_with(
        &["--top-data-mib", "-1"],
        "--top-data-mib must be a number >= 0",
    );
    fails_with(
        &["--top-data-mib", "2048"],
        "--top-data-mib must be at most --memory-mib",
    );
    // Within the memory, but more than its idle data.
    fails_with(
        &[
            "--memory-mib",
            "64",
            "--working-set-mib",
            "16",
            "--zero-fraction",
            "0.5",
            "--top-data-mib",
            "17",
        ],
        "--top-data-mib (within the VM's memory): top_data_bytes must be at most the idle data (4096 pages",
    );
    fails_with(&["--latency-ms", "nan"], "--latency-ms");
    fails_with(&["--request-rate", "1e9"], "--request-rate");
    fails_with(&["--latency-ms", "1e300"], "--latency-ms must be a time");
    fails_with(
        &["--rate-cap-mbps", "100", "--cap-window-ms", "0"],
        "--cap-window-ms must lie in (0, 10000] ms",
    );
    fails_with(&["--downtime-target-ms", "-3"], "--downtime-target-ms");
    fails_with(&["--bandwidth-mbps", "1e-300"], "raise the bandwidth");
    fails_with(
        &["--max-rounds", "99999999"],
        "--max-rounds must be at most",
    );
    fails_with(
        &["--pages-per-request", "99999999"],
        "--pages-per-request must be at most",
    );
    fails_with(&["--cpu-state-kib", "1e30"], "--cpu-state-kib");
    fails_with(&["--memory-mib", "1e12"], "--memory-mib must be at most");
    fails_with(
        &["--bandwidth-mbps", "0.001", "--request-rate", "1000"],
        "lower the request rate",
    );
}

#[test]
fn the_dirty_rate_can_be_given_in_mib_per_second() {
    let pps = json(&["--technique", "pre-copy", "--dirty-rate-pps", "2560"]);
    let mibps = json(&["--technique", "pre-copy", "--dirty-rate-mibps", "10"]);
    assert_eq!(pps, mibps);
}
