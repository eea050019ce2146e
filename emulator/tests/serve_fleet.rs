//! External devices against a `mcc-emu serve` process: a fleet of
//! mobile-client devices (the code the `mobile-client` binary runs), and
//! the Python example.

mod common;

use std::process::Command;
use std::time::Duration;

use common::repo;
use common::serve::Served;
use mcc_mobile_client::fleet::{
    self, Arrivals, FleetConfig, FleetReport, Movement, RequestRow, RequestShape, rows,
};
use mcc_mobile_client::{ReadOptions, read_trace_file};

const SCENARIO: &str = "topologies/small-real.toml";

fn config(url: String, movement: Movement) -> FleetConfig {
    FleetConfig {
        emulator: url,
        token: Some("fleet-token".into()),
        devices: 3,
        id_prefix: "dev-".into(),
        duration_s: 3.0,
        speed: 20.0,
        movement,
        rate_hz: 5.0,
        arrivals: Arrivals::Periodic,
        seed: 11,
        request: RequestShape {
            payload_bytes: 512,
            cpu_cost_us: 1_000,
            response_bytes: 256,
        },
        position_interval_s: 0.5,
        request_timeout: Duration::from_secs(10),
        max_in_flight: fleet::MAX_IN_FLIGHT,
    }
}

/// Runs the fleet of `config`; its report and every row it sent, sorted.
fn run_fleet(config: FleetConfig) -> (FleetReport, Vec<RequestRow>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(fleet::ROW_BUFFER);
        let collect = tokio::spawn(async move {
            let mut rows = Vec::new();
            while let Some(row) = receiver.recv().await {
                rows.push(row);
            }
            rows
        });
        let report = fleet::run_fleet(config, sender).await.unwrap();
        let mut rows = collect.await.unwrap();
        rows::sort_rows(&mut rows);
        (report, rows)
    })
}

#[test]
fn a_fleet_following_a_real_trace_gets_one_measured_row_per_request() {
    let mut served = Served::start(&[SCENARIO, "--token", "fleet-token"]);
    let traces = read_trace_file(
        &repo("topologies/traces/bus-304-limerick.gpx"),
        &ReadOptions::default(),
    )
    .unwrap();
    let (report, rows) = run_fleet(config(served.url(), Movement::Traces(traces)));
    // Periodic at 5/s for 3 s: 15 per device, give or take the phase.
    for device in ["dev-0", "dev-1", "dev-2"] {
        let mine: Vec<_> = rows.iter().filter(|r| r.device == device).collect();
        assert!((14..=15).contains(&mine.len()), "{device}: {}", mine.len());
        let ids: Vec<u64> = mine.iter().map(|r| r.request_id).collect();
        assert_eq!(
            ids,
            (0..mine.len() as u64).collect::<Vec<_>>(),
            "one row per request"
        );
    }
    assert_eq!(
        report.position_errors, 0,
        "{:?}",
        report.position_error_examples
    );
    for row in &rows {
        assert_eq!(row.outcome, "ok", "{row:?}");
        assert!(row.host.starts_with("cl-"), "{row:?}");
        let emulator = row.breakdown.unwrap();
        assert!(emulator.processing_us >= 1_000, "{row:?}");
        // The device's own measurement holds the emulator's.
        assert!(row.delay_ms * 1e3 >= emulator.total_us as f64, "{row:?}");
    }
    let text = rows::to_csv(&rows);
    assert!(text.starts_with("device,time_s,delay_ms,host,outcome,"));
    assert_eq!(text.lines().count(), rows.len() + 1);
    assert!(served.is_running());
}

#[test]
fn random_waypoint_devices_stay_inside_the_area_the_emulator_reports() {
    let mut served = Served::start(&[SCENARIO, "--token", "fleet-token"]);
    let movement = Movement::RandomWaypoint {
        speed_mps: [5.0, 15.0],
        pause_s: [0.0, 2.0],
    };
    let (report, rows) = run_fleet(config(served.url(), movement));
    assert!(rows.len() >= 42, "{}", rows.len());
    // Inside the area's box some points are out of every cell.
    for row in &rows {
        assert!(
            row.outcome == "ok" || row.outcome == "no_coverage",
            "{row:?}"
        );
    }
    assert_eq!(
        report.position_errors, 0,
        "{:?}",
        report.position_error_examples
    );
    assert!(served.is_running());
}

/// Whether grpcio and grpcio-tools can be imported.
fn python_has_grpc() -> bool {
    Command::new("python3")
        .args(["-c", "import grpc, grpc_tools"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_python_example_registers_moves_and_prints_its_delays() {
    if !python_has_grpc() {
        assert!(
            std::env::var_os("MCC_REQUIRE_PYTHON").is_none(),
            "MCC_REQUIRE_PYTHON is set but `python3 -c 'import grpc, grpc_tools'` fails"
        );
        eprintln!(
            "SKIPPED: python3 with grpcio and grpcio-tools is not installed \
             (python3 -m pip install grpcio grpcio-tools); set MCC_REQUIRE_PYTHON=1 to fail instead"
        );
        return;
    }
    let mut served = Served::start(&[SCENARIO, "--token", "py-token"]);
    let output = Command::new("python3")
        .arg(repo("examples/python_device.py"))
        .args([
            "--emulator",
            &served.addr,
            "--token",
            "py-token",
            "--steps",
            "4",
        ])
        // From under ap-city to under ap-ul (topologies/small-real-topology.toml).
        .args(["--from", "52.6610,-8.6285", "--to", "52.6725,-8.5715"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("scenario 'small-real': 4 cloudlets"),
        "{stdout}"
    );
    let delays: Vec<f64> = stdout
        .lines()
        .filter(|l| l.starts_with("request "))
        .map(|l| {
            let after = l.split("delay ").nth(1).unwrap();
            after.split(" ms").next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(delays.len(), 4, "{stdout}");
    assert!(
        delays.iter().all(|d| *d > 2.0),
        "each request costs 2 ms of CPU: {delays:?}"
    );
    assert!(stdout.contains("OUTCOME_OK"), "{stdout}");
    // The generated stubs went to a temporary folder, not into the repository.
    assert!(!repo("examples/mcc").exists() && !repo("proto/proto/mcc/v1/control_pb2.py").exists());
    // Without the token the example says what the emulator answered.
    let output = Command::new("python3")
        .arg(repo("examples/python_device.py"))
        .args(["--emulator", &served.addr])
        .env_remove("MCC_EMU_TOKEN")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("UNAUTHENTICATED"), "{stderr}");
    assert!(served.is_running());
}
