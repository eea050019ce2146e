//! Issue #15's reproductions on numbers that size a run: each is refused
//! before anything is allocated, naming the key and the range.

use std::path::{Path, PathBuf};

use mcc_emu::scenario::resolve::load;
use mcc_emu::scenario::source::DiskSource;

fn topologies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies")
}

/// The example scenario with `replace` applied to its text.
fn example_with(replace: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(topologies().join("example-scenario.toml")).unwrap();
    for (from, to) in replace {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    text
}

fn refused(text: &str) -> String {
    let source = DiskSource::new(&topologies());
    match load(Path::new("hostile.toml"), text, &source) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_billion_random_waypoint_devices_are_refused_before_any_is_made() {
    let text = example_with(&[(
        "trace = \"traces/bus-304-limerick.gpx\"\ncount = 10",
        "count = 1000000000\nrandom_waypoint = { center = { lat = 52.66, lon = -8.63 }, radius_m = 2000 }",
    )]);
    let e = refused(&text);
    assert!(
        e.contains("devices[0].count") && e.contains("100000"),
        "{e}"
    );
}

#[test]
fn a_trace_group_too_large_is_refused() {
    let e = refused(&example_with(&[("count = 10", "count = 1000000000")]));
    assert!(
        e.contains("devices[0].count") && e.contains("at most 100000"),
        "{e}"
    );
}

#[test]
fn durations_steps_and_rates_out_of_range_are_refused_naming_the_key() {
    for (from, to, needle) in [
        (
            "duration_s = 1800",
            "duration_s = 1e300",
            "key `duration_s`: 1",
        ),
        (
            "duration_s = 1800",
            "duration_s = 1800\nmobility_step_s = 1e-12",
            "key `mobility_step_s`",
        ),
        ("rate_hz = 5", "rate_hz = 1e9", "key `workload.rate_hz`"),
    ] {
        let e = refused(&example_with(&[(from, to)]));
        assert!(e.contains(needle) && e.contains("out of range"), "{e}");
    }
    // Each in range, but together too many requests for one run.
    let e = refused(&example_with(&[
        (
            "duration_s = 1800",
            "duration_s = 31536000\nmobility_step_s = 1000",
        ),
        ("rate_hz = 5", "rate_hz = 1000"),
    ]));
    assert!(e.contains("requests") && e.contains("1e9"), "{e}");
}
