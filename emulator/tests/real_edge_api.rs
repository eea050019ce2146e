//! The real-clock edge as outside code (`mcc-emu serve`) drives it: a
//! device registers with a pushed position, sends requests through the
//! emulated network, moves and is handed over; bad ids get the right error
//! kind; a killed node fails requests to the VMs it hosts without stopping
//! the edge.

mod common;

use mcc_emu::realclock::{
    DeviceMovement, EdgeEvent, EdgeRequest, ErrorKind, NodeLaunch, RealEdge, RealOptions,
};
use mcc_mobile_client::LatLon;

fn request() -> EdgeRequest {
    EdgeRequest {
        payload: vec![7; 512],
        cpu_cost_us: 1_000,
        response_bytes: 256,
    }
}

#[test]
fn a_pushed_device_registers_moves_sends_and_survives_a_killed_node() {
    let scenario = mcc_emu::scenario::load_file(&common::repo("topologies/small-real.toml"))
        .expect("scenario");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let options = RealOptions {
            speed: 1.0,
            nodes: NodeLaunch::InProcess,
            scenario_devices: false,
            out: None,
        };
        let edge = RealEdge::start(scenario, options).await.expect("edge");
        let mut events = edge.subscribe();
        // Raheen, in the south of the city.
        let south = LatLon::new(52.6285, -8.6600).expect("position");
        let registration = edge
            .register_device("phone", DeviceMovement::Pushed(south))
            .await
            .expect("registered");
        assert_eq!(registration.vm_id, "vm-phone");
        assert_eq!(registration.access_point_id.as_deref(), Some("ap-raheen"));
        assert_eq!(registration.host_id, "cl-south");
        let again = edge
            .register_device("phone", DeviceMovement::Pushed(south))
            .await;
        assert_eq!(again.expect_err("twice").kind, ErrorKind::AlreadyExists);

        let answer = edge.send_request("phone", request()).await.expect("answer");
        assert_eq!(answer.host_id, "cl-south");
        assert_eq!(answer.payload.len(), 256);
        // At least the wireless hop both ways (the topology's default 10
        // ms each way) and the CPU cost.
        assert!(answer.delay.access >= std::time::Duration::from_millis(20));
        assert!(answer.delay.processing >= std::time::Duration::from_millis(1));
        assert!(answer.delay.total >= answer.delay.access + answer.delay.processing);
        let unknown = edge.send_request("nobody", request()).await;
        assert_eq!(unknown.expect_err("unknown").kind, ErrorKind::NotFound);

        // To the university: a hand-over, and the nearest policy moves the VM east.
        let east = LatLon::new(52.6725, -8.5715).expect("position");
        let update = edge.report_position("phone", east).expect("moved");
        assert!(update.handed_over);
        assert_eq!(update.access_point_id.as_deref(), Some("ap-ul"));
        let mut done = None;
        while done.is_none() {
            match tokio::time::timeout(std::time::Duration::from_secs(30), events.recv())
                .await
                .expect("an event within 30 s")
                .expect("the stream stays open")
            {
                EdgeEvent::MigrationDone { to, .. } => done = Some(to),
                EdgeEvent::MigrationFailed { error, .. } => panic!("migration failed: {error}"),
                _ => {}
            }
        }
        // cl-east and cl-ul hang off the same router at the same latency:
        // the tie goes to the first in the topology.
        assert_eq!(done.as_deref(), Some("cl-east"));
        let answer = edge.send_request("phone", request()).await.expect("answer");
        assert_eq!(answer.host_id, "cl-east");

        // The VM's host dies: its requests fail as unavailable, the edge stays.
        edge.kill_node("cl-east").expect("killed");
        assert_eq!(
            edge.kill_node("cl-east").expect_err("twice").kind,
            ErrorKind::FailedPrecondition
        );
        assert_eq!(
            edge.kill_node("cl-nowhere").expect_err("unknown").kind,
            ErrorKind::NotFound
        );
        let lost = edge.send_request("phone", request()).await;
        assert_eq!(lost.expect_err("host gone").kind, ErrorKind::Unavailable);
        edge.register_device("second", DeviceMovement::Pushed(south))
            .await
            .expect("the edge still takes devices");
        let answer = edge
            .send_request("second", request())
            .await
            .expect("answer");
        assert_eq!(answer.host_id, "cl-south");

        let summary = edge.shutdown().await.expect("shut down");
        assert_eq!(summary.devices, 2);
        assert_eq!(summary.migrations, 1);
        // Three answered, one lost with its host (the unknown device's
        // request never left).
        assert_eq!(summary.requests, 4);
        assert_eq!(summary.failed, 1);
    });
}

/// A target killed mid-migration: the migration fails and the VM keeps
/// running at its source. The 32 MiB VM of small-real needs at least 268 ms
/// of serialisation on the 1 Gbit/s backbone, and the node is killed as soon
/// as the start is announced (before the migration's task even runs).
#[test]
fn a_target_killed_mid_migration_leaves_the_vm_at_its_source() {
    let scenario = mcc_emu::scenario::load_file(&common::repo("topologies/small-real.toml"))
        .expect("scenario");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let options = RealOptions {
            scenario_devices: false,
            ..RealOptions::default()
        };
        let edge = RealEdge::start(scenario, options).await.expect("edge");
        let mut events = edge.subscribe();
        let south = LatLon::new(52.6285, -8.6600).expect("position");
        edge.register_device("phone", DeviceMovement::Pushed(south))
            .await
            .expect("registered");
        let east = LatLon::new(52.6725, -8.5715).expect("position");
        assert!(
            edge.report_position("phone", east)
                .expect("moved")
                .handed_over
        );
        let mut killed = false;
        let failure = loop {
            match tokio::time::timeout(std::time::Duration::from_secs(30), events.recv())
                .await
                .expect("an event within 30 s")
                .expect("the stream stays open")
            {
                EdgeEvent::MigrationStarted { to, .. } => {
                    edge.kill_node(&to).expect("killed");
                    killed = true;
                }
                EdgeEvent::MigrationFailed { from, error, .. } => break (from, error),
                EdgeEvent::MigrationDone { .. } => panic!("the migration outran the kill"),
                EdgeEvent::Handover { .. }
                | EdgeEvent::MigrationPhase { .. }
                | EdgeEvent::NodeLost { .. }
                | EdgeEvent::VmRestarted { .. } => {}
            }
        };
        assert!(killed);
        assert_eq!(failure.0, "cl-south");
        assert!(!failure.1.is_empty());
        let answer = edge.send_request("phone", request()).await.expect("answer");
        assert_eq!(
            answer.host_id, "cl-south",
            "the VM still runs at its source"
        );
        let summary = edge.shutdown().await.expect("shut down");
        let real = summary.real_clock.expect("real-clock figures");
        assert_eq!(real.migrations_failed, 1);
    });
}

#[test]
fn the_real_clock_runs_the_radio_model_near_far_and_out_of_reach() {
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = mcc_emu::scenario::load_file(&common::small_real_with_radio(dir.path()))
        .expect("scenario loads");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let out = dir.path().join("out");
    runtime.block_on(async {
        let options = RealOptions {
            speed: 1.0,
            nodes: NodeLaunch::InProcess,
            scenario_devices: false,
            out: Some(out.clone()),
        };
        let edge = RealEdge::start(scenario, options).await.expect("edge");
        let [near, far, beyond] = common::radio_spots();
        for (name, at) in [("near", near), ("far", far), ("beyond", beyond)] {
            let registration = edge
                .register_device(name, DeviceMovement::Pushed(at))
                .await
                .expect("registered");
            assert_eq!(
                registration.access_point_id.as_deref(),
                Some("ap-raheen"),
                "{name}"
            );
        }
        // 20 kB up and down: at the far device's rate this takes tens of
        // milliseconds, near the site a few.
        let big = || EdgeRequest {
            payload: vec![1; 20_000],
            cpu_cost_us: 1_000,
            response_bytes: 20_000,
        };
        let mut access = std::collections::BTreeMap::new();
        for name in ["near", "far"] {
            for _ in 0..2 {
                let answer = edge.send_request(name, big()).await.expect("answer");
                assert_eq!(answer.outcome, mcc_emu::output::Outcome::Ok, "{name}");
                // LTE's base access delay, 5 ms each way, at least.
                assert!(
                    answer.delay.access >= std::time::Duration::from_millis(10),
                    "{name}: {:?}",
                    answer.delay
                );
                access
                    .entry(name)
                    .or_insert_with(Vec::new)
                    .push(answer.delay.access);
            }
        }
        let (near_access, far_access) = (access["near"][1], access["far"][1]);
        assert!(
            far_access > near_access + std::time::Duration::from_millis(10),
            "far {far_access:?} vs near {near_access:?}"
        );
        // In range but not decoding: no coverage, as on the virtual clock.
        let lost = edge.send_request("beyond", big()).await.expect("answer");
        assert_eq!(lost.outcome, mcc_emu::output::Outcome::NoCoverage);
        // The link follows a pushed position without a hand-over: near
        // moves to where far stands and sees its access delay.
        let moved = edge.report_position("near", far).expect("moved");
        assert!(!moved.handed_over);
        let answer = edge.send_request("near", big()).await.expect("answer");
        assert!(
            answer.delay.access > near_access + std::time::Duration::from_millis(10),
            "moved: {:?} vs near {near_access:?}",
            answer.delay.access
        );
        edge.shutdown().await.expect("shut down");
    });
    // requests.csv carries the radio hop in access_ms.
    let rows = common::rows(&out, "requests.csv");
    let access_ms = |device: &str| -> Vec<f64> {
        rows.iter()
            .filter(|r| r["device"] == device && r["outcome"] == "ok")
            .map(|r| r["access_ms"].parse().expect("access_ms"))
            .collect()
    };
    let (near, far) = (access_ms("near"), access_ms("far"));
    assert_eq!((near.len(), far.len()), (3, 2), "{rows:?}");
    assert!(far[1] > near[1] + 10.0, "far {far:?} vs near {near:?}");
    assert!(
        rows.iter()
            .any(|r| r["device"] == "beyond" && r["outcome"] == "no_coverage"),
        "{rows:?}"
    );
}
