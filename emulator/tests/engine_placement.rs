//! Placement policies in the engine, on a row of four cell sites two
//! kilometres apart, each with a cloudlet, chained by 2 ms backbone links.
//! The driver dips into the second cell for half a minute and comes back,
//! then drives through it to the third cell and stays there.

mod common;
use common::{MS, run_settings};
use std::sync::{Arc, Mutex};

use mcc_cloudlet::migration::Technique;
use mcc_emu::engine::from_topology::network_from_topology;
use mcc_emu::engine::{Arrivals, Device, Engine, EngineError, RunSettings, Workload, World};
use mcc_emu::output::{MemorySink, Summary};
use mcc_emu::placement::{self, Move, PlacementPolicy, PlacementView, Trigger};
use mcc_emu::topology::{AccessPointSpec, CloudletSpec, Link, Node, NodeRole, Topology};
use mcc_mobile_client::{Edge, LatLon, Trace, TracePoint};

const SITES: usize = 4;
const LON_STEP: f64 = 0.03;

fn pos(lat: f64, lon: f64) -> LatLon {
    LatLon::new(lat, lon).unwrap()
}

fn site(i: usize) -> LatLon {
    pos(52.0, -8.0 + LON_STEP * i as f64)
}

fn trace() -> Trace {
    let points = [
        (0.0, -8.0),
        (80.0, -7.982),
        (84.0, -7.982),
        (164.0, -8.0),
        (200.0, -8.0),
        (500.0, -7.94),
        (1_200.0, -7.94),
    ];
    Trace::new(
        "driver",
        None,
        points
            .iter()
            .map(|&(t_s, lon)| TracePoint {
                t_s,
                pos: pos(52.0, lon),
            })
            .collect(),
    )
    .unwrap()
}

fn world(devices: usize) -> World {
    let mut t = Topology::new();
    let mut cloudlets = Vec::new();
    for i in 0..SITES {
        let ap = t
            .add_node(Node::new(
                format!("ap-{i}"),
                Some(site(i)),
                NodeRole::AccessPoint(AccessPointSpec {
                    coverage_radius_m: 1_200.0,
                    wireless_latency_ms: 5.0,
                    wireless_rate_bps: 50e6,
                }),
            ))
            .unwrap();
        let cloudlet = t
            .add_node(Node::new(
                format!("cl-{i}"),
                Some(site(i)),
                NodeRole::Cloudlet(CloudletSpec {
                    cpu_cores: 4,
                    memory_mib: 8_192,
                }),
            ))
            .unwrap();
        let link = |latency_ms, capacity_bps| Link {
            latency_ms,
            capacity_bps,
        };
        t.add_link(ap, cloudlet, link(1.0, 10e9)).unwrap();
        if let Some(&previous) = cloudlets.last() {
            t.add_link(previous, cloudlet, link(2.0, 1e9)).unwrap();
        }
        cloudlets.push(cloudlet);
    }
    let network = network_from_topology(&t).unwrap();
    World {
        access_points: network.access_points,
        cloudlets: network.cloudlets,
        links: network.links,
        paths: network.paths,
        devices: (0..devices)
            .map(|i| Device {
                name: format!("driver-{i}"),
                trace: trace(),
                edge: Edge::Hold,
                workload: 0,
            })
            .collect(),
        workloads: vec![Workload::fixed(10.0, Arrivals::Periodic, 1_000, 1_000, MS)],
        radio: None,
    }
}

fn settings() -> RunSettings {
    RunSettings {
        placement_on_handover: true,
        placement_horizon_ns: 60_000 * MS,
        ..run_settings(1_200_000, 3, 256, 2_000.0, Technique::PreCopy)
    }
}

fn run_with(
    policy: Box<dyn PlacementPolicy + Send>,
    settings: RunSettings,
) -> (Summary, MemorySink) {
    let world = world(1);
    Engine::new(&world, settings, policy, MemorySink::default())
        .unwrap()
        .run(|_| {})
}

fn run(policy: &str) -> (Summary, MemorySink) {
    run_with(placement::by_name(policy).unwrap(), settings())
}

#[test]
fn never_makes_no_migration() {
    let (summary, sink) = run("never");
    assert!(sink.handovers.len() >= 4, "{:?}", sink.handovers);
    assert_eq!(summary.migrations, 0);
    assert!(sink.migrations.is_empty());
}

#[test]
fn nearest_migrates_at_every_change_of_the_nearest_cloudlet() {
    let (summary, sink) = run("nearest");
    // Access point i stands at cloudlet i: the nearest cloudlet changes at
    // every handover between cells.
    let changes: Vec<(u64, u32)> = sink
        .handovers
        .iter()
        .filter_map(|h| Some((h.time_ns, h.to?)))
        .collect();
    let mut nearest = 0u32;
    let mut expected = Vec::new();
    for (time_ns, ap) in changes {
        if ap != nearest {
            expected.push((time_ns, nearest, ap));
            nearest = ap;
        }
    }
    assert_eq!(
        expected.len(),
        4,
        "in, back, in again, on: {:?}",
        sink.handovers
    );
    let made: Vec<(u64, u32, u32)> = sink
        .migrations
        .iter()
        .map(|m| (m.start_ns, m.from, m.to))
        .collect();
    assert_eq!(made, expected);
    assert_eq!(summary.migrations, 4);
}

#[test]
fn ga_skips_the_short_visit_and_follows_the_long_stay() {
    let (nearest, _) = run("nearest");
    let (never, _) = run("never");
    let (ga, sink) = run("ga");
    assert!(
        ga.migrations < nearest.migrations,
        "ga {ga:?}\nnearest {nearest:?}"
    );
    assert!(ga.migrations >= 1, "the GA follows the long stay: {ga:?}");
    // The visit to the second cell lasts from about 70 s to 100 s.
    assert!(
        sink.migrations.iter().all(|m| m.start_ns > 200_000 * MS),
        "{:?}",
        sink.migrations
    );
    let last = sink.migrations.last().unwrap();
    assert_eq!(last.to, 2, "the VM ends next to the driver");
    assert!(
        ga.delay_ms.p95 <= never.delay_ms.p95,
        "ga p95 {} vs never {}",
        ga.delay_ms.p95,
        never.delay_ms.p95
    );
}

#[test]
fn every_policy_runs_and_threshold_and_least_loaded_behave() {
    let mut periodic = settings();
    periodic.placement_interval_ns = Some(10_000 * MS);
    periodic.placement_on_handover = false;
    for name in placement::NAMES {
        let (summary, sink) = run(name);
        assert_eq!(summary.requests, 12_000, "{name}");
        assert!(sink.migrations.iter().all(|m| m.policy == *name));
        let (summary, sink) = run_with(placement::by_name(name).unwrap(), periodic.clone());
        assert_eq!(summary.requests, 12_000, "{name}");
        assert!(
            sink.migrations.iter().all(|m| m.reason == "periodic"),
            "{name}"
        );
        if ["nearest", "ga", "optimal"].contains(name) {
            assert!(
                summary.migrations >= 1,
                "{name} follows the long stay on the timer"
            );
        }
    }
    // A margin larger than any possible saving: no move.
    let configs: placement::PolicyConfigs =
        toml::from_str("[threshold]\nmargin_ms = 100.0\n").unwrap();
    let policy = placement::build("threshold", &configs).unwrap();
    let (summary, _) = run_with(policy, settings());
    assert_eq!(summary.migrations, 0);
    // One VM, four idle cloudlets of equal cores: nothing to balance.
    let (summary, _) = run("least-loaded");
    assert_eq!(summary.migrations, 0);
}

#[test]
fn optimal_refuses_a_world_too_large_to_enumerate() {
    let world = world(20);
    let mut settings = settings();
    settings.placement_interval_ns = Some(10_000 * MS);
    let err = Engine::new(
        &world,
        settings.clone(),
        placement::by_name("optimal").unwrap(),
        MemorySink::default(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, EngineError::Placement(_)), "{err:?}");
    assert!(err.to_string().contains("4 cloudlets ^ 20 VMs"), "{err}");
    // On handovers only, one VM per decision: it runs.
    settings.placement_interval_ns = None;
    assert!(
        Engine::new(
            &world,
            settings,
            placement::by_name("optimal").unwrap(),
            MemorySink::default()
        )
        .is_ok()
    );
}

/// What the view showed at one decision.
#[derive(Debug, Clone)]
struct Seen {
    now_ns: u64,
    ap: Option<u32>,
    ap_ahead: Option<u32>,
    vms_hosted: u32,
    cost_0_to_1: (u64, u64),
    latency_ap1: (u64, u64),
    bandwidth_0_to_1: f64,
}

struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl PlacementPolicy for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn decide(&mut self, view: &PlacementView<'_>, _trigger: Trigger) -> Vec<Move> {
        let cost = view.migration(0, 1);
        self.0.lock().unwrap().push(Seen {
            now_ns: view.now_ns,
            ap: view.device_ap[0],
            ap_ahead: view.device_ap_ahead[0],
            vms_hosted: view.cloudlet_vms.iter().sum(),
            cost_0_to_1: (cost.bytes, cost.downtime_ns),
            latency_ap1: (view.ap_latency(1, 0), view.ap_latency(1, 1)),
            bandwidth_0_to_1: view.cloudlet_bandwidth_bps[1],
        });
        Vec::new()
    }
}

#[test]
fn the_view_looks_ahead_along_the_trace() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    run_with(Box::new(Recorder(seen.clone())), settings());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4, "{seen:?}");
    // Into the second cell for half a minute: a minute later it is back.
    let first = &seen[0];
    assert_eq!((first.ap, first.ap_ahead), (Some(1), Some(0)), "{first:?}");
    // Driving on through the second cell: a minute later it still is there.
    let third = &seen[2];
    assert_eq!((third.ap, third.ap_ahead), (Some(1), Some(1)), "{third:?}");
    for s in seen.iter() {
        assert_eq!(s.vms_hosted, 1);
        assert!(
            s.cost_0_to_1.0 >= 256 << 20,
            "pre-copy sends all memory at least"
        );
        assert!(s.cost_0_to_1.1 > 0 && s.cost_0_to_1.1 < 1_000 * MS, "{s:?}");
        // Access link 1 ms; one backbone hop of 2 ms more to the next cloudlet.
        assert_eq!(s.latency_ap1, (3 * MS, MS));
        assert_eq!(s.bandwidth_0_to_1, 1e9);
        assert!(s.now_ns > 0);
    }
}
