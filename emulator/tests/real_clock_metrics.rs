//! `run --clock real --metrics-listen`: the Prometheus page is live while
//! the run goes, and once the outputs are written (`--metrics-linger-s`
//! keeps it up) its counters agree with them, outcome by outcome.
//!
//! The run is [`common::agreement_scenario`] (small-real's topology, 4
//! buses, 60 s at speed 20: 3 s of wall time, two migrations), its nodes in
//! process.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use common::http_get;
use common::metrics::{family_sum, metrics_address, sample};

/// Every outcome the edge counts, as requests.csv names them.
const OUTCOMES: [&str; 4] = ["ok", "timed_out", "no_coverage", "unanswered"];

/// `mcc_edge_requests_total{outcome="OUTCOME"}` in `text` (0 when absent).
fn ended(text: &str, outcome: &str) -> f64 {
    sample(
        text,
        &format!("mcc_edge_requests_total{{outcome=\"{outcome}\"}}"),
    )
    .unwrap_or(0.0)
}

#[test]
fn a_scrape_agrees_with_the_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agree.toml");
    std::fs::write(&file, common::agreement_scenario("")).unwrap();
    let out = dir.path().join("out");
    let stderr = dir.path().join("stderr.txt");
    let child = Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
        .arg("run")
        .arg(&file)
        .args(["--clock", "real", "--speed", "20", "--out"])
        .arg(&out)
        .args([
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-linger-s",
            "120",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("mcc-emu run starts");
    let printed = || std::fs::read_to_string(&stderr).unwrap_or_default();
    let written = |text: &str| text.contains("mcc-emu: outputs written; metrics stay on");
    let address = common::wait_for_text(&stderr, "metrics address", |text| {
        metrics_address(text, "mcc-emu: metrics on ")
    });
    let scrape = || {
        let (status, _, text) = http_get(address, "/metrics", "");
        assert_eq!(status, 200, "{text}");
        text
    };
    // While the run goes: requests end and are counted.
    let live = common::wait_for_text(&stderr, "requests counted during the run", |_| {
        let text = scrape();
        (family_sum(&text, "mcc_edge_requests_total") > 0.0).then_some(text)
    });
    assert!(
        !written(&printed()),
        "the first counts came after the run: {}",
        printed()
    );
    // Once the outputs are written: the final figures.
    common::wait_for_text(&stderr, "the linger line", |text| {
        written(text).then_some(())
    });
    let last = scrape();
    let status = common::interrupt(child, printed);
    assert!(status.success(), "{}", printed());

    let rows = common::rows(&out, "requests.csv");
    let mut by_outcome: BTreeMap<&str, f64> = BTreeMap::new();
    for row in &rows {
        let outcome = OUTCOMES
            .iter()
            .find(|o| **o == row["outcome"])
            .unwrap_or_else(|| panic!("an outcome the edge does not count: {row:?}"));
        *by_outcome.entry(outcome).or_default() += 1.0;
    }
    for outcome in OUTCOMES {
        let rows = by_outcome.get(outcome).copied().unwrap_or(0.0);
        assert_eq!(ended(&last, outcome), rows, "{outcome}: {last}");
        assert!(ended(&live, outcome) <= rows, "{outcome}: {live}");
    }
    let ok = by_outcome.get("ok").copied().unwrap_or(0.0);
    assert!(ok > 100.0, "4 buses at 2/s for 60 s: {by_outcome:?}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        family_sum(&last, "mcc_edge_requests_total"),
        summary["requests"].as_f64().unwrap(),
        "{last}"
    );
    // One delay sample per `ok` row, their sum the rows' (to their
    // printed µs).
    let delays_ms: f64 = rows
        .iter()
        .filter(|r| r["outcome"] == "ok")
        .map(|r| r["total_ms"].parse::<f64>().unwrap())
        .sum();
    for histogram in [
        "mcc_edge_request_delay_seconds",
        "mcc_edge_request_added_delay_seconds",
    ] {
        assert_eq!(
            sample(&last, &format!("{histogram}_count")),
            Some(ok),
            "{last}"
        );
    }
    let delay_sum = sample(&last, "mcc_edge_request_delay_seconds_sum").unwrap();
    assert!(
        (delay_sum - delays_ms / 1e3).abs() <= ok * 1e-6,
        "{delay_sum} s against the rows' {delays_ms} ms"
    );
    // The summary's added delay is the histogram's, to the µs of its mean.
    let added_sum = sample(&last, "mcc_edge_request_added_delay_seconds_sum").unwrap();
    let added_mean_ms = summary["real_clock"]["added_delay_ms"]["mean"]
        .as_f64()
        .unwrap();
    assert!(
        (added_sum / ok * 1e3 - added_mean_ms).abs() <= 1e-3,
        "{added_sum} s over {ok} against a mean of {added_mean_ms} ms"
    );
    let migration = |phase: &str| {
        sample(
            &last,
            &format!("mcc_edge_migrations_total{{phase=\"{phase}\"}}"),
        )
        .unwrap_or(0.0)
    };
    let migrations = summary["migrations"].as_f64().unwrap();
    assert!(migrations >= 1.0, "{summary}");
    assert_eq!(migration("done"), migrations, "{last}");
    let migration_rows = common::rows(&out, "migrations.csv").len() as f64;
    assert_eq!(migration("start"), migration_rows, "{last}");
    assert_eq!(
        migration("done") + migration("aborted"),
        migration_rows,
        "{last}"
    );
    for gauge in [
        "mcc_edge_requests_in_flight",
        "mcc_edge_migrations_in_progress",
    ] {
        assert_eq!(sample(&last, gauge), Some(0.0), "{gauge}: {last}");
    }
}
