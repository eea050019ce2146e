//! The engine on a world small enough to check by hand: two cell sites two
//! kilometres apart, a cloudlet behind each, a router between them, and one
//! device walking from one site to the other.

mod common;
use common::{MS, run_settings};
use mcc_cloudlet::migration::{MigrationConfig, Technique};
use mcc_emu::engine::example::TwoSites;
use mcc_emu::engine::{Engine, RunSettings, World};
use mcc_emu::output::{MemorySink, Outcome, Summary};
use mcc_emu::placement;

fn world() -> World {
    TwoSites::default().world()
}

fn settings(technique: Technique) -> RunSettings {
    RunSettings {
        placement_on_handover: true,
        ..run_settings(600_000, 7, 256, 2_000.0, technique)
    }
}

fn run(policy: &str, technique: Technique) -> (Summary, MemorySink) {
    let world = world();
    let engine = Engine::new(
        &world,
        settings(technique),
        placement::by_name(policy).unwrap(),
        MemorySink::default(),
    )
    .unwrap();
    engine.run(|_| {})
}

#[test]
fn a_request_far_from_any_migration_costs_exactly_its_parts() {
    let (summary, sink) = run("never", Technique::PreCopy);
    assert_eq!(summary.requests, 6_000);
    assert_eq!(summary.migrations, 0);
    assert!(sink.migrations.is_empty());
    let first = sink.requests[0];
    assert_eq!(first.outcome, Outcome::Ok);
    assert_eq!(first.host, 0, "the VM starts on the west cloudlet");
    // Wireless: 5 ms + 1000 B at 50 Mbit/s (160 µs), each way.
    assert_eq!(first.access_ns, 2 * (5 * MS + 160_000));
    // Backbone: 1 ms + 1000 B at 10 Gbit/s (800 ns), each way.
    assert_eq!(first.backbone_ns, 2 * (MS + 800));
    assert_eq!(first.processing_ns, MS);
    assert_eq!(first.queueing_ns, 0);
    assert_eq!(first.migration_stall_ns, 0);
    assert_eq!(
        first.total_ns,
        first.access_ns + first.backbone_ns + first.processing_ns
    );
}

#[test]
fn never_leaves_the_vm_behind_and_the_path_grows() {
    let (_, sink) = run("never", Technique::PreCopy);
    assert_eq!(sink.handovers.len(), 1, "{:?}", sink.handovers);
    let last = sink.requests.last().unwrap();
    assert_eq!(last.host, 0, "still on the west cloudlet");
    // East site → east cloudlet → router → west cloudlet, and back.
    assert!(last.backbone_ns >= 2 * 11 * MS, "{last:?}");
}

#[test]
fn nearest_follows_the_device_once() {
    let (summary, sink) = run("nearest", Technique::PreCopy);
    assert_eq!(summary.migrations, 1);
    assert_eq!(sink.migrations.len(), 1);
    let migration = &sink.migrations[0];
    assert_eq!((migration.from, migration.to), (0, 1));
    assert_eq!(migration.reason, "handover");
    assert_eq!(migration.policy, "nearest");
    let handover = sink.handovers[0];
    assert_eq!(migration.start_ns, handover.time_ns);
    let last = sink.requests.last().unwrap();
    assert_eq!(last.host, 1, "the VM followed to the east cloudlet");
    assert_eq!(last.backbone_ns, 2 * (MS + 800));
    assert!(summary.bytes_migrated >= 256 << 20);
}

#[test]
fn stop_and_copy_stalls_requests_and_soft_does_not() {
    let (stop, stop_sink) = run("nearest", Technique::StopAndCopy);
    let stalled = stop_sink
        .requests
        .iter()
        .filter(|r| r.migration_stall_ns > 0)
        .count();
    assert!(stalled > 0, "requests during the stop wait for the VM");
    assert!(stop.downtime_ms_total > 1_000.0, "{stop:?}");

    let (soft, soft_sink) = run("nearest", Technique::Soft);
    assert_eq!(soft.downtime_ms_total, 0.0, "{soft:?}");
    let row = String::from_utf8(soft_sink.migrations[0].metrics.clone()).unwrap();
    assert!(row.starts_with("soft,"), "{row}");
    assert!(
        soft.delay_ms.max < stop.delay_ms.max,
        "soft {:?} vs stop-and-copy {:?}",
        soft.delay_ms,
        stop.delay_ms
    );
}

#[test]
fn the_same_seed_gives_the_same_records() {
    let (a, sink_a) = run("nearest", Technique::PostCopy);
    let (b, sink_b) = run("nearest", Technique::PostCopy);
    assert_eq!(a, b);
    assert_eq!(sink_a.requests, sink_b.requests);
    assert_eq!(sink_a.migrations, sink_b.migrations);
}

#[test]
fn a_rate_too_small_for_one_request_in_the_run_sends_none_and_the_walk_still_runs() {
    // One request every ~31,700 years: its first falls past the end (and
    // its gap past u64 nanoseconds), which must neither overflow nor send.
    let world = TwoSites {
        rate_hz: 1e-12,
        ..TwoSites::default()
    }
    .world();
    let engine = Engine::new(
        &world,
        settings(Technique::PreCopy),
        placement::by_name("nearest").unwrap(),
        MemorySink::default(),
    )
    .unwrap();
    let (summary, sink) = engine.run(|_| {});
    assert_eq!(summary.requests, 0);
    assert!(sink.requests.is_empty());
    assert_eq!(sink.handovers.len(), 1, "the device still moves");
}

#[test]
fn hybrid_runs_in_the_engine_and_every_row_reports_its_stall() {
    let stall_column = mcc_cloudlet::migration::MigrationReport::FLAT_FIELDS
        .iter()
        .position(|f| *f == "stall_ms")
        .unwrap();
    let stall_of = |row: &[u8]| -> f64 {
        let row = String::from_utf8(row.to_vec()).unwrap();
        row.split(',').nth(stall_column).unwrap().parse().unwrap()
    };
    let (hybrid, sink) = run("nearest", Technique::Hybrid);
    assert_eq!(hybrid.migrations, 1);
    let row = &sink.migrations[0].metrics;
    assert!(row.starts_with(b"hybrid,"));
    // Its rounds converge at 2,000 pages/s: a pre-copy stop, a short stall.
    let stall = stall_of(row);
    assert!((10.0..1_000.0).contains(&stall), "{stall}");
    assert!((hybrid.stall_ms_max - stall).abs() < 1e-3, "{hybrid:?}");
    // Post-copy: the VM's writes fault behind the push; the stall a
    // heartbeat sees is far longer than QEMU's downtime.
    let (post, sink) = run("nearest", Technique::PostCopy);
    let stall = stall_of(&sink.migrations[0].metrics);
    assert!(stall > 10.0 * post.downtime_ms_total, "{stall} vs {post:?}");
}

/// Runs the two-site world under `nearest` with `config` into a fresh
/// folder as `mcc-emu run` does, and returns requests.csv's
/// `migration_stall_ms` column with the migration's row of migrations.csv.
fn request_stalls(config: MigrationConfig) -> (Vec<f64>, String) {
    let world = world();
    let mut settings = settings(config.technique);
    settings.migration.config = config;
    let dir = tempfile::tempdir().unwrap();
    let (writer, files) = mcc_emu::output::RunFiles::open(
        dir.path(),
        world.output_names(true),
        mcc_emu::output::RequestRows::Write,
        None,
    )
    .unwrap();
    let engine = Engine::new(
        &world,
        settings,
        placement::by_name("nearest").unwrap(),
        writer,
    )
    .unwrap();
    let (mut summary, writer) = engine.run(|_| {});
    files.finish(writer, &mut summary).unwrap();
    let requests = std::fs::read_to_string(dir.path().join("requests.csv")).unwrap();
    let mut lines = requests.lines();
    let column = lines
        .next()
        .unwrap()
        .split(',')
        .position(|c| c == "migration_stall_ms")
        .unwrap();
    let stalls = lines
        .map(|l| l.split(',').nth(column).unwrap().parse().unwrap())
        .collect();
    let migrations = std::fs::read_to_string(dir.path().join("migrations.csv")).unwrap();
    (stalls, migrations.lines().nth(1).unwrap().to_owned())
}

#[test]
fn post_copy_s_queued_fault_stall_shows_in_requests_csv_and_soft_s_does_not() {
    use mcc_cloudlet::migration::FaultChannel;
    // The push keeps 4 MiB queued on the 1 Gbit/s backbone: 33.55 ms.
    let drain_ms = (4u64 << 20) as f64 * 8.0 / 1e9 * 1e3;
    let max = |stalls: &[f64]| stalls.iter().copied().fold(0.0, f64::max);
    let mut config = MigrationConfig::new(Technique::PostCopy);
    let (shared, row) = request_stalls(config.clone());
    assert!(row.contains(",post-copy,"), "{row}");
    config.fault_channel = FaultChannel::Preempt;
    let (preempt, _) = request_stalls(config);
    // Requests at the target fault on pages it lacks. On the urgent channel
    // each fault costs a round trip and the page; on the shared stream each
    // waits behind the chunk queued ahead of it as well.
    let stalled = |s: &[f64]| s.iter().filter(|&&x| x > 0.0).count();
    assert!(stalled(&shared) > 10, "{shared:?}");
    assert_eq!(stalled(&shared), stalled(&preempt));
    assert!(
        max(&shared) > max(&preempt) + 3.0 * drain_ms,
        "shared {:?} vs preempt {:?}",
        max(&shared),
        max(&preempt)
    );
    let mean = |s: &[f64]| s.iter().sum::<f64>() / stalled(s) as f64;
    assert!(
        mean(&shared) > mean(&preempt) + drain_ms,
        "{shared:?} vs {preempt:?}"
    );
    // Soft: the source answers every request during the handoff; a request
    // shows a wait only where the target, waiting, still answered sooner.
    let (soft, row) = request_stalls(MigrationConfig::new(Technique::Soft));
    assert!(row.contains(",soft,"), "{row}");
    assert!(max(&soft) < drain_ms, "{soft:?}");
    assert!(max(&shared) > 10.0 * max(&soft), "{shared:?} vs {soft:?}");
}
