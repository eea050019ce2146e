//! Across crates: a migration run by the experiment engine over an idle path
//! of the topology costs what the migration model's own single-link driver
//! says for the same latency and bandwidth. The engine adds link sharing,
//! chunked transfers and request routing; none of that may change the
//! figures when nothing competes for the path.

use std::time::Duration;

use mcc_cloudlet::memory::{DirtyModel, VmProfile};
use mcc_cloudlet::migration::single_link::{self, SingleLink};
use mcc_cloudlet::migration::{MigrationConfig, Technique};
use mcc_emu::engine::example::TwoSites;
use mcc_emu::engine::{Engine, MigrationSettings, RunSettings, World};
use mcc_emu::output::MemorySink;
use mcc_emu::placement;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const MS: u64 = 1_000_000;

/// Two sites 2 km apart, a cloudlet at each, joined through a router by two
/// 1 Gbit/s links of 2.5 ms: the migration path has 5 ms and 1 Gbit/s. One
/// request a second keeps the path all but idle.
fn world() -> World {
    TwoSites {
        access_link_ms: 0.5,
        backbone_link_ms: 2.5,
        backbone_bps: 1e9,
        rate_hz: 1.0,
    }
    .world()
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
