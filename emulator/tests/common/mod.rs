//! What the test files share: where the repository is, how to run the
//! `mcc-emu` binary Cargo built for them and the Python scripts, the engine
//! tests' run settings, and the real-clock tests' scenario and CSV reading.

#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mcc_cloudlet::memory::{DirtyModel, VmProfile};
use mcc_cloudlet::migration::{MigrationConfig, Technique};
use mcc_emu::engine::{DEFAULT_PLACEMENT_HORIZON_NS, MigrationSettings, RunSettings};

/// A millisecond in the engine's nanoseconds.
pub const MS: u64 = 1_000_000;

/// The page's address `mcc-emu` printed on `live view at http://ADDR/` in
/// `stderr`, once that line is whole (a file or pipe read while the line is
/// being written holds part of it): `http://ADDR/`.
pub fn live_view_url(stderr: &str) -> Option<String> {
    let rest = stderr.split("live view at ").nth(1)?;
    let (line, _) = rest.split_once('\n')?;
    Some(line.trim().to_owned())
}

/// [`live_view_url`]'s host and port.
pub fn live_view_address(stderr: &str) -> Option<std::net::SocketAddr> {
    address_of(&live_view_url(stderr)?)
}

/// The host and port of an `http://ADDR/...` address.
pub fn address_of(url: &str) -> Option<std::net::SocketAddr> {
    url.trim_start_matches("http://")
        .split('/')
        .next()?
        .parse()
        .ok()
}

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

/// Whether `python3` runs here; when it does not, says that the test
/// running `script` is skipped.
pub fn has_python3(script: &str) -> bool {
    let found = Command::new("python3").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: python3 is not installed, {script} cannot run");
    }
    found
}

/// `python3 SCRIPT`, the script a path inside the repository: add its
/// arguments and run it.
pub fn python3(script: &str) -> Command {
    let mut command = Command::new("python3");
    command.arg(repo(script));
    command
}

/// What a process that must have succeeded printed on its standard output;
/// fails the test with both of its outputs when it did not succeed.
pub fn stdout_of_success(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The settings the engine tests share: `duration_ms` of emulated time, a
/// 50 ms SLA, a 10 s timeout, 1 s mobility steps, 50 m of hysteresis, the
/// policy run neither on a timer nor on handover (a test that wants either
/// sets it), the default placement horizon, and VMs of `memory_mib` with a
/// quarter of it written at `dirty_rate_pps` (linear law) moved by
/// `technique`.
pub fn run_settings(
    duration_ms: u64,
    seed: u64,
    memory_mib: u64,
    dirty_rate_pps: f64,
    technique: Technique,
) -> RunSettings {
    RunSettings {
        duration_ns: duration_ms * MS,
        seed,
        sla_ns: 50 * MS,
        timeout_ns: 10_000 * MS,
        mobility_step_ns: 1_000 * MS,
        hysteresis_m: 50.0,
        placement_interval_ns: None,
        placement_on_handover: false,
        placement_horizon_ns: DEFAULT_PLACEMENT_HORIZON_NS,
        migration: MigrationSettings {
            profile: VmProfile::new(
                memory_mib << 20,
                (memory_mib << 20) / 4,
                dirty_rate_pps,
                0.0,
                DirtyModel::Linear,
            )
            .unwrap(),
            config: MigrationConfig::new(technique),
        },
    }
}

/// comparison.csv without the columns that measure the wall clock (which
/// must be there).
pub fn without_wall_clock(csv: &str) -> Vec<Vec<String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let keep: Vec<bool> = header
        .iter()
        .map(|h| !h.starts_with("wall_s") && !h.starts_with("sim_requests_per_s"))
        .collect();
    assert!(
        keep.iter().any(|k| !k),
        "the wall-clock columns are there: {header:?}"
    );
    std::iter::once(header.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .chain(lines.map(|l| l.split(',').map(str::to_owned).collect()))
        .map(|row| {
            row.into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| v)
                .collect()
        })
        .collect()
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

/// Writes small-real with `[radio]` (LTE) and cells reaching 20 km (so
/// that a device can be in range of a site and still not decode) into
/// `dir`, without devices of its own to run; returns the file.
pub fn small_real_with_radio(dir: &Path) -> PathBuf {
    let file = dir.join("radio.toml");
    std::fs::write(
        &file,
        format!(
            r#"
name = "radio-real"
seed = 7
duration_s = 60
output = "unused"

[topology]
file = "{}"

# Not run: the tests register their own devices.
[[devices]]
trace = "{}"

[access_points]
coverage_radius_m = 20000

[radio]
preset = "lte"
"#,
            repo("topologies/small-real-topology.toml").display(),
            repo("topologies/traces/bus-304-limerick.gpx").display()
        ),
    )
    .expect("scenario written");
    file
}

/// Three spots south of ap-raheen, the southern-most site of small-real:
/// 50 m and 1 km from it (both attached to it), and 12 km (attached in
/// [`small_real_with_radio`], but far beyond what the LTE link budget
/// decodes, 4.3 km alone).
pub fn radio_spots() -> [mcc_mobile_client::LatLon; 3] {
    let raheen = mcc_mobile_client::LatLon::new(52.6285, -8.6600).expect("site");
    [50.0, 1_000.0, 12_000.0].map(|metres| raheen.destination(200.0, metres))
}

/// The rows of the CSV file `file` in `dir`, as maps from column to value.
pub fn rows(dir: &Path, file: &str) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(dir.join(file)).expect("output file");
    reader.deserialize().map(|r| r.expect("row")).collect()
}

pub mod metrics;
pub mod serve;

/// Waits (at most a minute) until `find` finds what it looks for in the
/// text of `file` (a child's stderr being written), and returns it; fails
/// the test naming `what` and the text otherwise.
pub fn wait_for_text<T>(file: &Path, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if let Some(found) = find(&text) {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {what} within a minute: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Sends `child` SIGINT (Ctrl-C) and waits for its exit (at most 60 s;
/// then it is killed and the test fails with `output()`, what it printed).
pub fn interrupt(
    mut child: std::process::Child,
    output: impl Fn() -> String,
) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no exit within 60 s of SIGINT: {}", output());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The `cloudlet` executable of this workspace, built for this test (Cargo
/// builds a package's executables for its own tests only, and `cloudlet`
/// belongs to mcc-cloudlet), in the profile this test was built in.
pub fn cloudlet_binary() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_mcc-emu"));
    let release = exe
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = std::process::Command::new(cargo);
    build.current_dir(repo("")).args([
        "build",
        "--quiet",
        "-p",
        "mcc-cloudlet",
        "--bin",
        "cloudlet",
    ]);
    if release {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "cargo build -p mcc-cloudlet failed");
    exe.with_file_name(format!("cloudlet{}", std::env::consts::EXE_SUFFIX))
}

/// `GET path` over HTTP/1.1 to `addr` with the `extra` header lines: the
/// status, the headers (names in lower case) and the body.
pub fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
    extra: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connects");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("reads the answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}
