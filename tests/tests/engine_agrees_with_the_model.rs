//! Across crates: a migration run by the experiment engine over an idle path
//! of the topology costs what the migration model's own single-link driver
//! says for the same latency and bandwidth. The engine adds link sharing,
//! chunked transfers and request routing; none of that may change the
//! figures when nothing competes for the path.

use std::time::Duration;

use mcc_cloudlet::memory::{DirtyModel, VmProfile};
use mcc_cloudlet::migration::single_link::{self, SingleLink};
use mcc_cloudlet::migration::{MigrationConfig, Technique};
use mcc_emu::engine::from_topology::network_from_topology;
use mcc_emu::engine::{Arrivals, Device, Engine, MigrationSettings, RunSettings, Workload, World};
use mcc_emu::output::MemorySink;
use mcc_emu::placement;
use mcc_emu::topology::{AccessPointSpec, CloudletSpec, Link, Node, NodeRole, Topology};
use mcc_mobile_client::{Edge, LatLon, Trace, TracePoint};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const MS: u64 = 1_000_000;

fn pos(lat: f64, lon: f64) -> LatLon {
    LatLon::new(lat, lon).unwrap()
}

/// Two sites 2 km apart, a cloudlet at each, joined through a router by two
/// 1 Gbit/s links of 2.5 ms: the migration path has 5 ms and 1 Gbit/s.
fn world() -> World {
    let mut t = Topology::new();
    let ap = |id: &str, p| {
        Node::new(
            id,
            Some(p),
            NodeRole::AccessPoint(AccessPointSpec {
                coverage_radius_m: 1_200.0,
                wireless_latency_ms: 5.0,
                wireless_rate_bps: 50e6,
            }),
        )
    };
    let cloudlet = |id: &str, p| {
        Node::new(
            id,
            Some(p),
            NodeRole::Cloudlet(CloudletSpec {
                cpu_cores: 4,
                memory_mib: 4_096,
            }),
        )
    };
    let (west, east) = (pos(52.0, -8.0), pos(52.0, -7.97));
    let ap_w = t.add_node(ap("ap-west", west)).unwrap();
    let ap_e = t.add_node(ap("ap-east", east)).unwrap();
    let cl_w = t.add_node(cloudlet("cl-west", west)).unwrap();
    let cl_e = t.add_node(cloudlet("cl-east", east)).unwrap();
    let router = t
        .add_node(Node::new(
            "router",
            Some(pos(52.01, -7.985)),
            NodeRole::Router,
        ))
        .unwrap();
    let link = |latency_ms, capacity_bps| Link {
        latency_ms,
        capacity_bps,
    };
    t.add_link(ap_w, cl_w, link(0.5, 10e9)).unwrap();
    t.add_link(ap_e, cl_e, link(0.5, 10e9)).unwrap();
    t.add_link(cl_w, router, link(2.5, 1e9)).unwrap();
    t.add_link(cl_e, router, link(2.5, 1e9)).unwrap();
    let network = network_from_topology(&t).unwrap();
    let walk = Trace::new(
        "walk",
        None,
        vec![
            TracePoint {
                t_s: 0.0,
                pos: pos(52.0, -8.01),
            },
            TracePoint {
                t_s: 600.0,
                pos: pos(52.0, -7.96),
            },
        ],
    )
    .unwrap();
    World {
        access_points: network.access_points,
        cloudlets: network.cloudlets,
        links: network.links,
        paths: network.paths,
        devices: vec![Device {
            name: "walker".into(),
            trace: walk,
            edge: Edge::Hold,
        }],
        workload: Workload {
            rate_hz: 1.0,
            arrivals: Arrivals::Periodic,
            request_bytes: 1_000,
            response_bytes: 1_000,
            cpu_ns: MS,
        },
    }
}

fn migration(technique: Technique) -> MigrationSettings {
    MigrationSettings {
        profile: VmProfile::new(256 << 20, 64 << 20, 2_000.0, 0.1, DirtyModel::Linear).unwrap(),
        config: MigrationConfig::new(technique),
    }
}

/// (total_ms, downtime_ms, bytes_total, rounds) of the engine's one migration.
fn engine_figures(technique: Technique) -> (f64, f64, f64, f64) {
    let world = world();
    let settings = RunSettings {
        duration_ns: 600_000 * MS,
        seed: 3,
        sla_ns: 50 * MS,
        timeout_ns: 10_000 * MS,
        mobility_step_ns: 1_000 * MS,
        hysteresis_m: 50.0,
        placement_interval_ns: None,
        placement_on_handover: true,
        placement_horizon_ns: mcc_emu::engine::DEFAULT_PLACEMENT_HORIZON_NS,
        migration: migration(technique),
    };
    let engine = Engine::new(
        &world,
        settings,
        placement::by_name("nearest").unwrap(),
        MemorySink::default(),
    )
    .unwrap();
    let (_, sink) = engine.run(|_| {});
    assert_eq!(sink.migrations.len(), 1);
    let row = String::from_utf8(sink.migrations[0].metrics.clone()).unwrap();
    let fields: Vec<&str> = row.split(',').collect();
    let number = |i: usize| fields[i].parse::<f64>().unwrap();
    assert_eq!(fields[0], technique.name());
    (number(2), number(3), number(4), number(8))
}

fn model_figures(technique: Technique) -> (f64, f64, f64, f64) {
    let settings = migration(technique);
    let link = SingleLink::new(Duration::from_millis(5), 1e9);
    let report = single_link::run(
        settings.profile,
        settings.config,
        &link,
        &mut ChaCha8Rng::seed_from_u64(3),
    )
    .unwrap();
    (
        report.total_ms,
        report.downtime_ms,
        report.bytes_total as f64,
        f64::from(report.rounds),
    )
}

fn assert_close(what: &str, engine: f64, model: f64, relative: f64) {
    assert!(
        (engine - model).abs() <= relative * model.abs() + 1e-9,
        "{what}: engine {engine}, model {model}"
    );
}

#[test]
fn an_idle_path_costs_what_the_model_says() {
    for technique in [Technique::StopAndCopy, Technique::PreCopy] {
        let engine = engine_figures(technique);
        let model = model_figures(technique);
        let name = technique.name();
        assert_eq!(engine.3, model.3, "{name}: rounds");
        assert_close(&format!("{name} bytes"), engine.2, model.2, 0.001);
        assert_close(&format!("{name} total_ms"), engine.0, model.0, 0.002);
        assert_close(&format!("{name} downtime_ms"), engine.1, model.1, 0.01);
    }
}
