//! The radio model in the engine: where a device stands and how crowded its
//! cell is both show in its access delay (`access_ns`).

mod common;
use common::run_settings;
use mcc_cloudlet::migration::Technique;
use mcc_emu::engine::example::TwoSites;
use mcc_emu::engine::world::Dist;
use mcc_emu::engine::{Arrivals, Device, Engine, RunSettings, World};
use mcc_emu::output::{MemorySink, Outcome, RequestRecord};
use mcc_emu::placement;
use mcc_emu::radio::{RadioConfig, RadioModel};
use mcc_mobile_client::{Edge, LatLon, Trace, TracePoint};

fn settings() -> RunSettings {
    run_settings(120_000, 11, 64, 100.0, Technique::PreCopy)
}

/// A device standing still `metres_west` metres west of the western site
/// (52° N, 8° W), so it stays in that cell.
fn standing(name: &str, metres_west: f64) -> Device {
    let site = LatLon::new(52.0, -8.0).unwrap();
    let at = site.destination(270.0, metres_west);
    let point = |t_s| TracePoint { t_s, pos: at };
    Device {
        name: name.into(),
        trace: Trace::new(name, None, vec![point(0.0), point(1_000.0)]).unwrap(),
        edge: Edge::Hold,
        workload: 0,
    }
}

/// The two-site world with the LTE preset, cells reaching 3 km, and
/// `devices` in it.
fn radio_world(devices: Vec<Device>, bytes: u64, rate_hz: f64) -> World {
    let mut world = TwoSites {
        rate_hz,
        ..TwoSites::default()
    }
    .world();
    for ap in &mut world.access_points {
        ap.coverage_radius_m = 3_000.0;
    }
    world.devices = devices;
    world.workloads[0].sizes.request_bytes = Dist::Fixed(bytes as f64);
    world.workloads[0].sizes.response_bytes = Dist::Fixed(bytes as f64);
    let sites = world.access_points.iter().map(|ap| ap.position).collect();
    world.radio = Some(RadioModel::new(RadioConfig::lte(), sites));
    world
}

fn run(world: &World) -> Vec<RequestRecord> {
    let engine = Engine::new(
        world,
        settings(),
        placement::by_name("never").unwrap(),
        MemorySink::default(),
    )
    .unwrap();
    engine.run(|_| {}).1.requests
}

fn mean_access_ms(records: &[RequestRecord], device: u32) -> f64 {
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.device == device && r.outcome == Outcome::Ok)
        .collect();
    assert!(mine.len() > 50, "device {device}: {} answered", mine.len());
    mine.iter().map(|r| r.access_ns as f64 / 1e6).sum::<f64>() / mine.len() as f64
}

#[test]
fn a_device_far_from_its_site_waits_longer_for_the_radio() {
    let world = radio_world(
        vec![standing("near", 100.0), standing("far", 1_500.0)],
        20_000,
        1.0,
    );
    let records = run(&world);
    let (near, far) = (mean_access_ms(&records, 0), mean_access_ms(&records, 1));
    // Both pay the 2 × 5 ms base access delay; the far one sends slower.
    assert!(near > 10.0, "{near}");
    assert!(far > near * 1.5, "near {near} ms, far {far} ms");
}

#[test]
fn a_crowded_cell_is_slower_than_an_empty_one() {
    let alone = radio_world(vec![standing("me", 600.0)], 20_000, 2.0);
    // The others come first in device order, so they are ahead of "me"
    // when they send at the same instant.
    let mut crowd: Vec<_> = (0..15)
        .map(|i| standing(&format!("other-{i}"), 300.0 + 40.0 * f64::from(i)))
        .collect();
    crowd.push(standing("me", 600.0));
    let mut crowded = radio_world(crowd, 20_000, 2.0);
    // Periodic sends of devices spread evenly over the period would never
    // overlap at this load; Poisson ones do, as real traffic does.
    let mut alone = alone;
    alone.workloads[0].arrivals = Arrivals::Poisson;
    crowded.workloads[0].arrivals = Arrivals::Poisson;
    let (a, c) = (
        mean_access_ms(&run(&alone), 0),
        mean_access_ms(&run(&crowded), 15),
    );
    assert!(c > a * 1.3, "alone {a} ms, crowded {c} ms");
}

#[test]
fn a_device_beyond_the_link_budget_gets_no_coverage() {
    // In the cell's (scenario-given) radius, but past where the link budget
    // decodes: every request fails as out of coverage.
    let mut world = radio_world(vec![standing("edge", 2_900.0)], 1_000, 1.0);
    let mut config = RadioConfig::lte();
    config.ue_power_dbm = 0.0;
    let sites = world.access_points.iter().map(|ap| ap.position).collect();
    world.radio = Some(RadioModel::new(config, sites));
    let records = run(&world);
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r.outcome == Outcome::NoCoverage));
}

#[test]
fn the_same_world_and_seed_give_the_same_records() {
    let world = radio_world(
        (0..6)
            .map(|i| standing(&format!("d{i}"), 200.0 * f64::from(i + 1)))
            .collect(),
        8_000,
        3.0,
    );
    let (a, b) = (run(&world), run(&world));
    assert!(a.len() > 1_000);
    assert_eq!(a, b);
}
