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

#[test]
fn the_binary_writes_one_sorted_row_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let (url, stop, thread) = start_service(&dir.path().join("emu-out"));
    let csv = dir.path().join("rows.csv");
    let output = Command::new(env!("CARGO_BIN_EXE_mobile-client"))
        .args([
            "--emulator",
            &url,
            "--devices",
            "2",
            "--duration-s",
            "2",
            "--rate",
            "4",
        ])
        .args(["--arrivals", "periodic", "--seed", "3", "--speed", "20"])
        .arg("--trace")
        .arg(repo("topologies/traces/bus-304-limerick.gpx"))
        .arg("--out")
        .arg(&csv)
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
    let again = Command::new(env!("CARGO_BIN_EXE_mobile-client"))
        .args(["--emulator", &url, "--devices", "2", "--duration-s", "1"])
        .args(["--rate", "2", "--speed", "20", "--trace"])
        .arg(repo("topologies/traces/bus-304-limerick.gpx"))
        .arg("--out")
        .arg(dir.path().join("again.csv"))
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
