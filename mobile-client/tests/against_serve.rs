//! The `mobile-client` binary against a real `EmulatorControl` service
//! (mcc-emu's, run in this test's process on a free loopback port): the CSV
//! it writes has one sorted row per request, measured delays and hosts.

use std::path::{Path, PathBuf};
use std::process::Command;

use mcc_emu::serve::{self, ControlService, ServeConfig};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Starts the service on `small-real.toml` in a background runtime; returns
/// its URL and a sender that stops it.
fn start_service(
    out: &Path,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let scenario = mcc_emu::scenario::load_file(&repo("topologies/small-real.toml")).unwrap();
    let config = ServeConfig {
        speed: 1.0,
        scenarios: Some(mcc_emu::serve::sandbox::Sandbox::new(&repo("topologies")).unwrap()),
        out: Some(out.to_path_buf()),
        ..ServeConfig::default()
    };
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let service = ControlService::start(scenario, config).await.unwrap();
            serve::serve(service.clone(), listener, None, async move {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
            service.shutdown().await.unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    (format!("http://{addr}"), stop_tx, thread)
}

/// `mobile-client --emulator URL --out CSV` with the bus trace: add the
/// fleet's flags and run it.
fn fleet(url: &str, csv: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mobile-client"));
    command
        .args(["--emulator", url, "--trace"])
        .arg(repo("topologies/traces/bus-304-limerick.gpx"))
        .arg("--out")
        .arg(csv);
    command
}

/// The rows of the CSV file `csv`, split at commas (no field here holds one).
fn rows_of(csv: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(csv).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn the_binary_writes_one_sorted_row_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let (url, stop, thread) = start_service(&dir.path().join("emu-out"));
    let csv = dir.path().join("rows.csv");
    let output = fleet(&url, &csv)
        .args(["--devices", "2", "--duration-s", "2", "--rate", "4"])
        .args(["--arrivals", "periodic", "--seed", "3", "--speed", "20"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "device,time_s,delay_ms,host,outcome,request_id,access_us,backbone_us,queueing_us,processing_us,migration_stall_us,emulator_total_us"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // Periodic, 4/s for 2 s: 8 per device (7 if the phase falls late).
    for device in ["device-0", "device-1"] {
        let mine: Vec<_> = rows.iter().filter(|r| r[0] == device).collect();
        assert!((7..=8).contains(&mine.len()), "{device}: {text}");
        for (n, row) in mine.iter().enumerate() {
            assert_eq!(row[5], n.to_string(), "sorted by request number: {text}");
            assert_eq!(row[4], "ok", "{text}");
            assert!(row[3].starts_with("cl-"), "{text}");
            let delay_ms: f64 = row[2].parse().unwrap();
            let processing_us: u64 = row[9].parse().unwrap();
            assert!(delay_ms >= 1.0 && processing_us >= 1_000, "{row:?}");
        }
    }
    assert_eq!(rows[0][0], "device-0", "device-0 first");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("requests ("), "{stderr}");
    assert!(!stderr.contains("unregister failed"), "{stderr}");
    // The devices left at the end: the same ids run again (they were
    // ALREADY_EXISTS before UnregisterDevice).
    let again = fleet(&url, &dir.path().join("again.csv"))
        .args(["--devices", "2", "--duration-s", "1"])
        .args(["--rate", "2", "--speed", "20"])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    stop.send(()).unwrap();
    thread.join().unwrap();
    assert!(dir.path().join("emu-out/requests.csv").is_file());
}

/// The fleet's bound on requests in flight: against an edge where every
/// request takes 1.5 s of CPU, a device due to send 20 requests in its one
/// second sends the first three (`--max-in-flight 3`; none of them can be
/// answered before the second is over) and writes the others as `not_sent`
/// rows, which the summary line counts.
#[test]
fn requests_beyond_the_in_flight_bound_are_not_sent_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (url, stop, thread) = start_service(&dir.path().join("emu-out"));
    let csv = dir.path().join("rows.csv");
    let output = fleet(&url, &csv)
        .args(["--devices", "1", "--duration-s", "1", "--rate", "20"])
        .args(["--arrivals", "periodic", "--cpu-us", "1500000"])
        .args(["--max-in-flight", "3", "--timeout-ms", "30000"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let rows = rows_of(&csv);
    // Periodic at 20/s for 1 s: 20 due (19 if the phase falls late).
    assert!((19..=20).contains(&rows.len()), "{rows:?}");
    let sent: Vec<&Vec<String>> = rows.iter().filter(|r| r[4] != "not_sent").collect();
    assert_eq!(sent.len(), 3, "{rows:?}");
    for (n, row) in sent.iter().enumerate() {
        // The first three, answered after their CPU time.
        assert_eq!(row[5], n.to_string(), "{row:?}");
        assert_eq!(row[4], "ok", "{row:?}");
        assert!(row[3].starts_with("cl-"), "{row:?}");
        let delay_ms: f64 = row[2].parse().unwrap();
        assert!(delay_ms >= 1_500.0, "{row:?}");
    }
    for row in rows.iter().filter(|r| r[4] == "not_sent") {
        assert_eq!((row[2].as_str(), row[3].as_str()), ("0.000", ""), "{row:?}");
        assert!(row[6..].iter().all(String::is_empty), "{row:?}");
    }
    let not_sent = rows.len() - 3;
    assert!(
        stderr.contains(&format!(
            "{} requests (3 ok, {not_sent} not sent",
            rows.len()
        )),
        "{stderr}"
    );
    // A bound of none is refused before anything is sent.
    let refused = fleet(&url, &dir.path().join("zero.csv"))
        .args(["--duration-s", "1", "--max-in-flight", "0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--max-in-flight 0 is out of range"),
        "{stderr}"
    );
    assert!(!dir.path().join("zero.csv").exists());
    stop.send(()).unwrap();
    thread.join().unwrap();
}
