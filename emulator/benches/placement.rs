//! Placement benchmarks: the GA's decision time on 1,000 VMs and 100
//! cloudlets (target: at most 100 ms per decision) and on one VM's handover
//! among 1,000 VMs and 130 cloudlets, the exhaustive optimum on
//! small instances, the per-pair migration cost estimate the engine makes
//! once per run, and the GA's optimality gap on small instances (printed:
//! mean and max over seeds, and how many reach the optimum or 2 % of it).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mcc_cloudlet::memory::{DirtyModel, VmProfile};
use mcc_cloudlet::migration::{MigrationConfig, Technique};
use std::path::Path;

use mcc_emu::engine::from_topology::network_from_topology;
use mcc_emu::engine::placement_tables::{PlacementTables, estimate_migration};
use mcc_emu::engine::{Arrivals, MigrationSettings, Workload, World};
use mcc_emu::placement::instance::Instance;
use mcc_emu::placement::{
    CostWeights, Ga, GaConfig, Objective, Optimal, OptimalConfig, PlacementPolicy, Trigger,
};
use mcc_emu::topology::LinkDefaults;
use mcc_emu::topology::combine::attach_sites;
use mcc_emu::topology::graphml::load_graphml;
use mcc_emu::topology::sites::load_sites;

fn all(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}

fn ga_decision(c: &mut Criterion) {
    let instance = Instance::random(1_000, 100, 42);
    let view = instance.view();
    let mut group = c.benchmark_group("ga");
    group.sample_size(20);
    let mut ga = Ga::new(GaConfig::default()).expect("defaults are valid");
    group.bench_function("decide 1000 VMs x 100 cloudlets", |b| {
        b.iter(|| ga.decide(black_box(&view), Trigger::Periodic))
    });
    let objective = Objective::new(&view, &CostWeights::default(), &all(1_000));
    group.bench_function("greedy seed 1000 x 100", |b| {
        b.iter(|| black_box(&objective).greedy())
    });
    // A handover: one VM's decision in a world of 1,000 VMs and 130
    // cloudlets (the Melbourne world's size), enumerated exactly.
    let melbourne = Instance::random(1_000, 130, 43);
    let melbourne_view = melbourne.view();
    let mut device = 0u32;
    group.bench_function("handover decision, 1000 VMs x 130 cloudlets", |b| {
        b.iter(|| {
            device = (device + 37) % 1_000;
            ga.decide(black_box(&melbourne_view), Trigger::Handover { device })
        })
    });
    group.finish();

    let current = objective.evaluate(&objective.current());
    let greedy = objective.evaluate(&objective.greedy());
    let (best, found) = Ga::new(GaConfig::default())
        .expect("valid")
        .solve(&objective);
    println!(
        "ga 1000x100: cost today {current:.0}, greedy {greedy:.0}, ga {found:.0} ({} moves)",
        objective.moves(&best).len()
    );
}

fn optimal_small(c: &mut Criterion) {
    let instance = Instance::random(6, 4, 7);
    let view = instance.view();
    let objective = Objective::new(&view, &CostWeights::default(), &all(6));
    let optimal = Optimal::new(OptimalConfig::default()).expect("valid");
    let mut group = c.benchmark_group("optimal");
    group.bench_function("solve 6 VMs x 4 cloudlets", |b| {
        b.iter(|| optimal.solve(black_box(&objective)).expect("small"))
    });
    let mut ga = Ga::new(GaConfig::default()).expect("valid");
    group.bench_function("ga solve 6 VMs x 4 cloudlets", |b| {
        b.iter(|| ga.solve(black_box(&objective)))
    });
    group.finish();
}

fn migration_settings(technique: Technique) -> MigrationSettings {
    MigrationSettings {
        profile: VmProfile::new(256 << 20, 64 << 20, 2_000.0, 0.0, DirtyModel::Linear)
            .expect("valid profile"),
        config: MigrationConfig::new(technique),
    }
}

/// Geant2012 with the 125 Melbourne CBD sites relocated to Amsterdam, as
/// the topology benchmark builds it; no devices.
fn geant_world() -> World {
    let shipped = |name: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../topologies")
            .join(name)
    };
    let defaults = LinkDefaults::default();
    let backbone = load_graphml(&shipped("Geant2012.graphml"), &defaults).expect("Geant2012 loads");
    let amsterdam = backbone
        .topology
        .node_by_id("NL")
        .and_then(|n| n.position)
        .expect("NL has coordinates");
    let sites = load_sites(&shipped("sites/site-optus-melbCBD.csv"))
        .expect("sites load")
        .relocated(amsterdam)
        .expect("relocation stays on the globe");
    let topology = attach_sites(backbone, &sites, None, &defaults)
        .expect("sites attach")
        .topology;
    let network = network_from_topology(&topology).expect("connected");
    World {
        access_points: network.access_points,
        cloudlets: network.cloudlets,
        links: network.links,
        paths: network.paths,
        devices: Vec::new(),
        workloads: vec![Workload::fixed(
            10.0,
            Arrivals::Periodic,
            1_000,
            1_000,
            1_000_000,
        )],
        radio: None,
    }
}

fn migration_estimate(c: &mut Criterion) {
    let mut group = c.benchmark_group("migration estimate");
    let world = geant_world();
    println!("placement tables: {} cloudlets", world.cloudlets.len());
    group.sample_size(10);
    group.bench_function("tables, Geant2012 + 125 sites, pre-copy 256 MiB", |b| {
        b.iter(|| PlacementTables::new(black_box(&world), &migration_settings(Technique::PreCopy)))
    });
    for technique in [Technique::PreCopy, Technique::Soft] {
        let settings = migration_settings(technique);
        group.bench_function(format!("{} 256 MiB, 1 Gbit/s", technique.name()), |b| {
            b.iter(|| estimate_migration(black_box(&settings), 5_000_000, 1e9))
        });
    }
    group.finish();
}

/// The GA's gap to the exhaustive optimum over `seeds` random instances.
fn gap(vms: usize, cloudlets: usize, seeds: u64) {
    let optimal = Optimal::new(OptimalConfig::default()).expect("valid");
    let mut gaps = Vec::new();
    for seed in 0..seeds {
        let instance = Instance::random(vms, cloudlets, 10_000 + seed);
        let view = instance.view();
        let objective = Objective::new(&view, &CostWeights::default(), &all(vms));
        let (_, best) = optimal.solve(&objective).expect("small");
        let config = GaConfig {
            seed,
            ..GaConfig::default()
        };
        let (_, found) = Ga::new(config).expect("valid").solve(&objective);
        gaps.push((found - best) / best);
    }
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    let max = gaps.iter().copied().fold(0.0, f64::max);
    let exact = gaps.iter().filter(|&&g| g <= 1e-12).count();
    let within = gaps.iter().filter(|&&g| g <= 0.02).count();
    println!(
        "optimality gap {vms} VMs x {cloudlets} cloudlets over {seeds} seeds: \
         mean {:.3} %, max {:.3} %, optimum reached {exact}/{seeds}, within 2 % {within}/{seeds}",
        mean * 100.0,
        max * 100.0
    );
}

fn optimality_gap(_: &mut Criterion) {
    gap(6, 4, 100);
    gap(8, 5, 30);
}

criterion_group!(
    benches,
    ga_decision,
    optimal_small,
    migration_estimate,
    optimality_gap
);
criterion_main!(benches);
