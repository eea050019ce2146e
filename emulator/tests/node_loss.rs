//! Issue #15's reproductions 8 and 9 under `serve`: a node that dies is
//! found (the first failed call, then a health check), reported once (the
//! event stream, the summary's `nodes_lost` and `vms_lost`), and taken out
//! of placement: a new device near it is hosted elsewhere. With
//! `on_node_loss = "restart"` its VMs start again elsewhere instead.

mod common;

use std::time::{Duration, Instant};

use common::repo;
use mcc_emu::realclock::EdgeEvent;
use mcc_emu::serve::{ControlService, ServeConfig};
use mcc_proto::v1::{DeviceRequest, GeoPoint, RegisterDeviceRequest, register_device_request};
use tonic::Code;

/// Under ap-city, next to cloudlet cl-city.
const CITY: GeoPoint = GeoPoint {
    latitude_deg: 52.6610,
    longitude_deg: -8.6285,
};

fn register(id: &str) -> RegisterDeviceRequest {
    RegisterDeviceRequest {
        device_id: id.into(),
        movement: Some(register_device_request::Movement::Position(CITY)),
    }
}

fn request(id: &str, n: u64) -> DeviceRequest {
    DeviceRequest {
        device_id: id.into(),
        request_id: n,
        payload: vec![0; 256],
        cpu_cost_us: 500,
        response_bytes: 256,
    }
}

/// small-real.toml with `extra` under `[placement]`, from a copy in `dir`.
fn small_real(dir: &std::path::Path, extra: &str) -> mcc_emu::scenario::Scenario {
    small_real_with(dir, extra, "")
}

/// The same with `tail` appended to the file.
fn small_real_with(dir: &std::path::Path, extra: &str, tail: &str) -> mcc_emu::scenario::Scenario {
    let text = std::fs::read_to_string(repo("topologies/small-real.toml"))
        .unwrap()
        .replace(
            "\"small-real-topology.toml\"",
            &format!("{:?}", repo("topologies/small-real-topology.toml")),
        )
        .replace(
            "\"traces/bus-304-limerick.gpx\"",
            &format!("{:?}", repo("topologies/traces/bus-304-limerick.gpx")),
        )
        .replace("[placement]", &format!("[placement]\n{extra}"))
        + tail;
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    mcc_emu::scenario::load_file(&path).unwrap()
}

#[test]
fn on_node_loss_takes_restart_or_drop_and_names_them_when_wrong() {
    use mcc_emu::scenario::schema::OnNodeLoss;
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(small_real(dir.path(), "").on_node_loss, OnNodeLoss::Drop);
    let restart = small_real(dir.path(), "on_node_loss = \"restart\"");
    assert_eq!(restart.on_node_loss, OnNodeLoss::Restart);
    std::fs::write(
        dir.path().join("bad.toml"),
        std::fs::read_to_string(dir.path().join("scenario.toml"))
            .unwrap()
            .replace("\"restart\"", "\"reboot\""),
    )
    .unwrap();
    let error = mcc_emu::scenario::load_file(&dir.path().join("bad.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("on_node_loss") && error.contains("restart") && error.contains("drop"),
        "{error}"
    );
    // A restarted VM boots for Firecracker's 125 ms unless told; a boot
    // out of range is refused with the key and its bounds.
    assert_eq!(restart.restart_boot_ns, 125_000_000);
    for bad in ["-1", "1e9", "nan"] {
        let path = dir.path().join("bad-boot.toml");
        std::fs::write(
            &path,
            std::fs::read_to_string(dir.path().join("scenario.toml"))
                .unwrap()
                .replace(
                    "[placement]",
                    &format!("[placement]\nrestart_boot_ms = {bad}"),
                ),
        )
        .unwrap();
        let error = mcc_emu::scenario::load_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("placement.restart_boot_ms"),
            "{bad}: {error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_reported_once_and_new_devices_go_elsewhere() {
    let out = tempfile::tempdir().unwrap();
    let scenario = mcc_emu::scenario::load_file(&repo("topologies/small-real.toml")).unwrap();
    let service = ControlService::start(
        scenario,
        ServeConfig {
            out: Some(out.path().to_path_buf()),
            ..ServeConfig::default()
        },
    )
    .await
    .unwrap();
    let (mut client, stop) = common::serve::serve_in_process(&service).await;
    let edge = service.running_edge().await.unwrap();
    let mut events = edge.subscribe();

    let first = client
        .register_device(register("a"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.host_id, "cl-city");
    client.send_request(request("a", 0)).await.unwrap();
    edge.kill_node("cl-city").unwrap();
    let status = client.send_request(request("a", 1)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    // Found dead within the health check's second (and some slack).
    let deadline = Instant::now() + Duration::from_secs(10);
    let summary = loop {
        let summary = edge.summary();
        if !summary.real_clock.as_ref().unwrap().nodes_lost.is_empty() {
            break summary;
        }
        assert!(Instant::now() < deadline, "the dead node was never found");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let real = summary.real_clock.unwrap();
    assert_eq!(real.nodes_lost.len(), 1);
    assert_eq!(real.nodes_lost[0].id, "cl-city");
    assert!(
        real.nodes_lost[0].reason.contains("health check"),
        "{:?}",
        real.nodes_lost
    );
    assert_eq!(real.vms_lost.len(), 1);
    assert_eq!(real.vms_lost[0].vm, first.vm_id);
    assert_eq!(real.vms_lost[0].device, "a");
    assert_eq!(real.vms_lost[0].doing, "running");
    assert_eq!(real.vms_lost[0].then, "dropped");

    // Its VM's requests fail at once now, and the node is reported once.
    for n in 2..6 {
        let status = client.send_request(request("a", n)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.message().contains("lost with"), "{status:?}");
    }
    // A new device at the same spot is hosted on a node that runs.
    let second = client
        .register_device(register("b"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(second.host_id, "cl-city");
    client.send_request(request("b", 0)).await.unwrap();

    let mut lost_events = 0;
    while let Ok(event) = events.try_recv() {
        if let EdgeEvent::NodeLost { node, vms, .. } = event {
            assert_eq!((node.as_str(), vms.len()), ("cl-city", 1));
            lost_events += 1;
        }
    }
    assert_eq!(lost_events, 1, "reported once");
    let summary = edge.summary();
    assert_eq!(summary.real_clock.unwrap().nodes_lost.len(), 1);
    service.shutdown().await.unwrap();
    let _ = stop.send(());
    // Every request is a row, the five that got no answer too: sent to the
    // dead node, outcome `unanswered`, no delay.
    let requests = std::fs::read_to_string(out.path().join("requests.csv")).unwrap();
    let rows: Vec<Vec<&str>> = requests
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let of_a: Vec<&Vec<&str>> = rows.iter().filter(|r| r[1] == "a").collect();
    let outcomes: Vec<&str> = of_a.iter().map(|r| *r.last().unwrap()).collect();
    assert_eq!(
        outcomes,
        [
            "ok",
            "unanswered",
            "unanswered",
            "unanswered",
            "unanswered",
            "unanswered"
        ],
        "{requests}"
    );
    for row in &of_a[1..] {
        assert_eq!((row[3], row[9]), ("cl-city", "0.000"), "{requests}");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["requests"].as_u64(), Some(rows.len() as u64));
    assert_eq!(summary["failed"].as_u64(), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_restart_a_lost_vm_starts_again_elsewhere_and_its_device_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    // A boot long enough to tell from the host call (milliseconds here).
    let scenario = small_real(
        dir.path(),
        "on_node_loss = \"restart\"\nrestart_boot_ms = 400",
    );
    assert_eq!(scenario.restart_boot_ns, 400_000_000);
    let service = ControlService::start(
        scenario,
        ServeConfig {
            out: Some(dir.path().join("out")),
            ..ServeConfig::default()
        },
    )
    .await
    .unwrap();
    let edge = service.running_edge().await.unwrap();
    let mut events = edge.subscribe();
    let (mut client, stop) = common::serve::serve_in_process(&service).await;
    let first = client
        .register_device(register("a"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.host_id, "cl-city");
    edge.kill_node("cl-city").unwrap();
    // The request that finds the node dead fails; the VM is then restarted.
    let status = client.send_request(request("a", 0)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let restarted = loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("restarted within 10 s")
            .unwrap();
        if let EdgeEvent::VmRestarted { vm, from, to, .. } = event {
            break (vm, from, to);
        }
    };
    assert_eq!(restarted.0, first.vm_id);
    assert_eq!(restarted.1, "cl-city");
    assert_ne!(restarted.2, "cl-city");
    let answer = client
        .send_request(request("a", 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.host_id, restarted.2, "answered by the new host");
    let real = edge.summary().real_clock.unwrap();
    assert_eq!(real.vms_lost.len(), 1);
    assert!(
        real.vms_lost[0]
            .then
            .starts_with(&format!("restarted on {} after ", restarted.2)),
        "{:?}",
        real.vms_lost
    );
    // The restart took the boot (speed 1: 400 ms of wall time) at least.
    let wall_ms: f64 = real.vms_lost[0]
        .then
        .rsplit("after ")
        .next()
        .and_then(|rest| rest.strip_suffix(" ms"))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("{:?}", real.vms_lost));
    assert!(wall_ms >= 400.0, "{:?}", real.vms_lost);
    service.shutdown().await.unwrap();
    let _ = stop.send(());
}

/// A cloudlet node served by the test at `address` (port 0: any), as a
/// remote node; abort the handle to kill it.
async fn remote_node(name: &str, address: &str) -> (String, tokio::task::JoinHandle<()>) {
    use mcc_cloudlet::node::{self, CloudletNode, NodeConfig};
    let node = CloudletNode::new(NodeConfig {
        host_id: name.to_owned(),
        cores: 4,
        memory_bytes: 1 << 30,
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let bound = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = node::serve(node, listener, std::future::pending()).await;
    });
    (bound, server)
}

/// An edge over four remote nodes served by the test (small-real's
/// cloudlets, `extra` under `[placement]`), their addresses and servers.
async fn remote_edge(
    dir: &std::path::Path,
    extra: &str,
) -> (
    mcc_emu::realclock::RealEdge,
    Vec<String>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    use mcc_emu::realclock::{NodeLaunch, RealEdge, RealOptions};
    let mut addresses = Vec::new();
    let mut servers = Vec::new();
    let mut table = Vec::new();
    for name in ["cl-south", "cl-city", "cl-east", "cl-ul"] {
        let (address, server) = remote_node(name, "127.0.0.1:0").await;
        table.push(format!("{name} = {address:?}"));
        addresses.push(address.trim_start_matches("http://").to_owned());
        servers.push(server);
    }
    let scenario = small_real_with(
        dir,
        extra,
        &format!("\n[cloudlets]\naddresses = {{ {} }}\n", table.join(", ")),
    );
    let edge = RealEdge::start(
        scenario,
        RealOptions {
            nodes: NodeLaunch::Remote,
            scenario_devices: false,
            ..RealOptions::default()
        },
    )
    .await
    .unwrap();
    (edge, addresses, servers)
}

fn edge_request() -> mcc_emu::realclock::EdgeRequest {
    mcc_emu::realclock::EdgeRequest {
        payload: vec![0; 256],
        cpu_cost_us: 500,
        response_bytes: 256,
    }
}

fn city() -> mcc_mobile_client::LatLon {
    mcc_mobile_client::LatLon::new(CITY.latitude_deg, CITY.longitude_deg).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_before_it_was_found_dead_has_its_vms_restarted() {
    use mcc_emu::realclock::DeviceMovement;
    let dir = tempfile::tempdir().unwrap();
    let (edge, addresses, servers) = remote_edge(dir.path(), "on_node_loss = \"restart\"").await;
    let first = edge
        .register_device("a", DeviceMovement::Pushed(city()))
        .await
        .unwrap();
    assert_eq!(first.host_id, "cl-city");
    // Killed and back, empty, before any call found it dead.
    servers[1].abort();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, _restarted) = remote_node("cl-city", &addresses[1]).await;
    let error = edge.send_request("a", edge_request()).await.unwrap_err();
    assert_eq!(
        error.kind,
        mcc_emu::realclock::ErrorKind::NotFound,
        "{error}"
    );
    // The VM it forgot is reported and hosted anew; the device is answered.
    let by = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        if let Ok(answer) = edge.send_request("a", edge_request()).await {
            break answer;
        }
        assert!(Instant::now() < by, "never answered again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(answer.host_id, "cl-city", "restarted on the nearest node");
    let real = edge.summary().real_clock.unwrap();
    assert!(real.nodes_lost.is_empty(), "{:?}", real.nodes_lost);
    assert_eq!(real.vms_lost.len(), 1);
    assert_eq!(real.vms_lost[0].doing, "running (its node forgot it)");
    assert!(
        real.vms_lost[0].then.starts_with("restarted on cl-city"),
        "{:?}",
        real.vms_lost
    );
    edge.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_at_its_address_is_back_in_placement() {
    use mcc_emu::realclock::DeviceMovement;
    let dir = tempfile::tempdir().unwrap();
    let (edge, addresses, servers) = remote_edge(dir.path(), "").await;
    let city = city();
    let request = edge_request;
    let first = edge
        .register_device("a", DeviceMovement::Pushed(city))
        .await
        .unwrap();
    assert_eq!(first.host_id, "cl-city");
    servers[1].abort();
    assert!(edge.send_request("a", request()).await.is_err());
    let lost_by = Instant::now() + Duration::from_secs(10);
    while edge.summary().real_clock.unwrap().nodes_lost.is_empty() {
        assert!(Instant::now() < lost_by, "the dead node was never found");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Restarted, empty, at the same address: within a probe period (10 s)
    // it is back, and a device next to it is hosted there again.
    let (_, _restarted) = remote_node("cl-city", &addresses[1]).await;
    let back_by = Instant::now() + Duration::from_secs(15);
    loop {
        let nodes = edge.summary().real_clock.unwrap().nodes_lost;
        if nodes[0].back_at_s.is_some() {
            assert!(nodes[0].back_at_s.unwrap() > nodes[0].at_s, "{nodes:?}");
            break;
        }
        assert!(Instant::now() < back_by, "the node never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = edge
        .register_device("b", DeviceMovement::Pushed(city))
        .await
        .unwrap();
    assert_eq!(second.host_id, "cl-city", "back in placement");
    let answer = edge.send_request("b", request()).await.unwrap();
    assert_eq!(answer.host_id, "cl-city");
    edge.shutdown().await.unwrap();
}
