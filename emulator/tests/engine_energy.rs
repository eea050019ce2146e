//! Energy on the two-site world, end to end: the engine's records through
//! the output writer and its energy meter into requests.csv,
//! migrations.csv and summary.json.

mod common;
use common::run_settings;
use mcc_cloudlet::migration::Technique;
use mcc_emu::energy::{EnergyConfig, EnergyMeter};
use mcc_emu::engine::example::TwoSites;
use mcc_emu::engine::{Engine, RunSettings};
use mcc_emu::output::{RequestRows, RunFiles, Summary};
use mcc_emu::placement;

fn settings(technique: Technique) -> RunSettings {
    RunSettings {
        placement_on_handover: true,
        ..run_settings(600_000, 7, 256, 2_000.0, technique)
    }
}

/// Runs the walker under `nearest` with `technique` into `dir`.
fn run_into(dir: &std::path::Path, technique: Technique) -> Summary {
    let (world, classes) = TwoSites::default().world_and_link_classes();
    let meter = EnergyMeter::new(EnergyConfig::default(), &world, &classes);
    let (writer, files) = RunFiles::open(
        dir,
        world.output_names(true),
        RequestRows::Write,
        Some(meter),
    )
    .unwrap();
    let engine = Engine::new(
        &world,
        settings(technique),
        placement::by_name("nearest").unwrap(),
        writer,
    )
    .unwrap();
    let (mut summary, writer) = engine.run(|_| {});
    files.finish(writer, &mut summary).unwrap();
    summary
}

/// `file`'s rows as maps from column to field.
fn rows(dir: &std::path::Path, file: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn number(row: &std::collections::BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column}: {row:?}"))
}

#[test]
fn energy_is_in_every_output_and_adds_up() {
    let dir = tempfile::tempdir().unwrap();
    let summary = run_into(dir.path(), Technique::Soft);
    let energy = summary.energy_j.expect("summary.json has energy_j");
    let config = EnergyConfig::default();

    // Two 4-core cloudlets (half the 8-thread reference server each) for
    // 600 s: their idle power, and for 6,000 requests of 1 ms (under 10 %
    // utilisation in every window) the curve's first segment, 51 W per
    // unit of utilisation per server: 6 s of work on 4 cores is 1.5 s of
    // full utilisation.
    let idle = 2.0 * 0.5 * 41.6 * 600.0;
    let work = (46.7 - 41.6) / 0.1 * 0.5 * (6.0 / 4.0);
    assert!(
        (energy.cloudlets - (idle + work)).abs() < 1e-3,
        "{energy:?}"
    );

    // requests.csv: the devices' total is the column's sum, and the walker
    // sends every 0.1 s, far closer than the tail (11.6 s): one burst, so
    // exactly one row carries a tail.
    let requests = rows(dir.path(), "requests.csv");
    assert_eq!(requests.len(), 6_000);
    let device: Vec<f64> = requests
        .iter()
        .map(|r| number(r, "device_energy_j"))
        .collect();
    let sum: f64 = device.iter().sum();
    assert!(
        (sum - energy.devices).abs() < 6_000.0 * 5e-4,
        "{sum} vs {energy:?}"
    );
    let with_tail = device
        .iter()
        .filter(|&&j| j > config.device.tail_j())
        .count();
    assert_eq!(with_tail, 1, "one tail for one burst");
    assert!(device[0] > config.device.promotion_j() + config.device.tail_j());

    // migrations.csv: the walker's VM follows it once; its bytes cross the
    // two router links and both data centres.
    let migrations = rows(dir.path(), "migrations.csv");
    assert_eq!(migrations.len(), 1, "{migrations:?}");
    let m = &migrations[0];
    let bytes = number(m, "bytes_total");
    let per_bit = config.per_bit_nj;
    let nj = 2.0 * per_bit.metro_core + 2.0 * per_bit.data_centre;
    let network = number(m, "network_energy_j");
    assert!((network - bytes * 8.0 * nj * 1e-9).abs() < 1e-3, "{m:?}");
    let cpu = number(m, "cpu_energy_j");
    let mib = bytes / f64::from(1u32 << 20);
    assert!((cpu - (0.512 * mib + 20.165)).abs() < 1e-3, "{m:?}");
    // Soft-migration serves the handoff's requests on both hosts.
    let dual = number(m, "dual_served_requests");
    assert!(dual > 0.0, "{m:?}");
    let dual_cpu = number(m, "dual_cpu_energy_j");
    let expected = dual * 0.001 * (113.0 - 41.6) / 8.0;
    assert!(
        (dual_cpu - expected).abs() < 1e-3,
        "{dual_cpu} vs {expected}"
    );
    assert!(number(m, "dual_network_energy_j") > 0.0);
    let total: f64 = [
        "network_energy_j",
        "cpu_energy_j",
        "dual_cpu_energy_j",
        "dual_network_energy_j",
    ]
    .iter()
    .map(|c| number(m, c))
    .sum();
    assert!(
        (total - energy.migrations).abs() < 5e-3,
        "{total} vs {energy:?}"
    );
}

#[test]
fn the_same_seed_gives_byte_identical_energy() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sa = run_into(a.path(), Technique::PreCopy);
    let sb = run_into(b.path(), Technique::PreCopy);
    assert_eq!(sa.energy_j, sb.energy_j);
    for file in ["requests.csv", "migrations.csv"] {
        let read = |d: &tempfile::TempDir| std::fs::read(d.path().join(file)).unwrap();
        assert!(read(&a) == read(&b), "{file} differs");
    }
}
