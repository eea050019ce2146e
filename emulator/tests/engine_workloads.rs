//! Application profiles in the engine: per-request sizes and CPU from each
//! device's profile, and a cloudlet that queues when heavy profiles share
//! few cores.

mod common;
use common::{MS, run_settings};
use mcc_cloudlet::migration::Technique;
use mcc_emu::engine::example::TwoSites;
use mcc_emu::engine::profiles::builtin;
use mcc_emu::engine::{Arrivals, Engine, RunSettings, Workload, World};
use mcc_emu::output::{MemorySink, Outcome, RequestRecord};
use mcc_emu::placement;

/// TwoSites with `devices` walkers, the first `light` on a 1 ms profile and
/// the rest on face recognition, and `cores` cores per cloudlet.
fn world(devices: usize, light: usize, cores: u32) -> World {
    let mut world = TwoSites::default().world();
    let walker = world.devices[0].clone();
    world.devices = (0..devices)
        .map(|i| {
            let mut d = walker.clone();
            d.name = format!("walker-{i}");
            d.workload = u32::from(i >= light);
            d
        })
        .collect();
    world.workloads = vec![
        Workload::fixed(10.0, Arrivals::Periodic, 1_000, 1_000, MS),
        builtin("face-recognition").unwrap(),
    ];
    for c in &mut world.cloudlets {
        c.cpu_cores = cores;
    }
    world
}

fn run(world: &World) -> Vec<RequestRecord> {
    let settings = RunSettings {
        timeout_ns: 3_600_000 * MS,
        ..run_settings(20_000, 5, 16, 100.0, Technique::PreCopy)
    };
    let engine = Engine::new(
        world,
        settings,
        placement::by_name("never").unwrap(),
        MemorySink::default(),
    )
    .unwrap();
    engine.run(|_| {}).1.requests
}

fn mean(xs: impl Iterator<Item = u64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0u64), |(s, n), x| (s + x as f64, n + 1));
    sum / n.max(1) as f64
}

#[test]
fn each_group_gets_the_sizes_and_cpu_of_its_profile() {
    let requests = run(&world(4, 2, 64));
    let answered = |light: bool| {
        requests
            .iter()
            .filter(move |r| r.outcome == Outcome::Ok && (r.device < 2) == light)
    };
    // The light profile: every request exactly 1 ms of CPU.
    assert!(answered(true).all(|r| r.processing_ns == MS));
    // Face recognition: 58.9 ms ± 15.36 ms, drawn per request.
    let heavy: Vec<u64> = answered(false).map(|r| r.processing_ns).collect();
    assert!(heavy.len() > 500, "{}", heavy.len());
    let m = mean(heavy.iter().copied()) / 1e6;
    assert!((m - 58.9).abs() < 3.0, "{m}");
    assert!(heavy.iter().any(|&p| p != heavy[0]));
    // Its 27,648-byte frames take longer over the 50 Mbit/s wireless hop
    // than the light profile's 1,000 bytes (both with 5 ms each way).
    let light_access = mean(answered(true).map(|r| r.access_ns));
    let heavy_access = mean(answered(false).map(|r| r.access_ns));
    assert!(
        heavy_access > light_access + 3.0 * 1e6,
        "{heavy_access} {light_access}"
    );
}

#[test]
fn a_loaded_cloudlet_queues() {
    // 2 face-recognition devices on 64 cores: hardly any wait.
    let spare = run(&world(2, 0, 64));
    // 24 of them on 2 cores: 24 × 17/s × 58.9 ms = 24 cores of work.
    let loaded = run(&world(24, 0, 2));
    let queueing = |rs: &[RequestRecord]| mean(rs.iter().map(|r| r.queueing_ns)) / 1e6;
    let (q_spare, q_loaded) = (queueing(&spare), queueing(&loaded));
    assert!(q_spare < 1.0, "{q_spare} ms");
    assert!(q_loaded > 1_000.0, "{q_loaded} ms");
    // And the backlog keeps growing: later requests wait longer.
    let half = loaded.len() / 2;
    assert!(queueing(&loaded[half..]) > queueing(&loaded[..half]));
}
