//! What the test files share: where the repository is, how to run the
//! `mcc-emu` binary Cargo built for them, and the real-clock tests' scenario
//! and CSV reading.

#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A path inside the repository (the workspace folder).
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Runs `mcc-emu ARGS`, which must succeed, and parses what it prints as JSON.
pub fn json_of(args: &[&str]) -> serde_json::Value {
    let output = mcc_emu(args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

/// Runs `mcc-emu ARGS` from the repository's folder and waits for it.
pub fn mcc_emu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
        .current_dir(repo(""))
        .args(args)
        .output()
        .expect("mcc-emu runs")
}

/// The scenario the real-clock tests run under both clocks:
/// topologies/small-real.toml cut down to 60 s of scenario time, 4 devices
/// and 4 MiB VMs, meant for speed 20 (3 s of wall time), so that a real
/// migration (tens of milliseconds of wall time, under a second of scenario
/// time) is over long before the same VM can be moved again, as on the
/// virtual clock. `addresses` fills `[cloudlets.addresses]`.
pub fn agreement_scenario(addresses: &str) -> String {
    let topology = repo("topologies/small-real-topology.toml");
    let trace = repo("topologies/traces/bus-304-limerick.gpx");
    format!(
        r#"
name = "agree"
seed = 11
duration_s = 60
sla_ms = 50
mobility_step_s = 1
output = "unused"

[topology]
file = "{}"

[[devices]]
trace = "{}"
count = 4
stagger_s = 1000
speedup = 20
end = "loop"

[workload]
rate_hz = 2
arrival = "periodic"
request_bytes = 1024
response_bytes = 1024
cpu_ms = 2

[vm]
memory_mib = 4
working_set_mib = 1
dirty_rate_pps = 200

[migration]
technique = "pre-copy"

[placement]
policy = "nearest"
on_handover = true

[cloudlets]
addresses = {{ {} }}
"#,
        topology.display(),
        trace.display(),
        addresses
    )
}

/// The rows of the CSV file `file` in `dir`, as maps from column to value.
pub fn rows(dir: &Path, file: &str) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(dir.join(file)).expect("output file");
    reader.deserialize().map(|r| r.expect("row")).collect()
}

pub mod serve;
