//! Sleeping empty cloudlets on the two-site world: the walker's VM starts
//! at `cl-west`, so `cl-east` is empty from the start and falls asleep
//! after its idle time; when the walker hands over, `nearest` moves the VM
//! to the sleeping `cl-east`, whose wake-up delays the migration; then
//! `cl-west`, empty, falls asleep in turn.

mod common;
use common::run_settings;
use mcc_cloudlet::migration::Technique;
use mcc_emu::energy::sleep::OffCurve;
use mcc_emu::energy::{EnergyConfig, EnergyMeter, EnergySummary, SleepConfig};
use mcc_emu::engine::example::TwoSites;
use mcc_emu::engine::{Engine, RunSettings};
use mcc_emu::output::{MemorySink, RecordSink};
use mcc_emu::placement;

const S: u64 = 1_000_000_000;

fn settings() -> RunSettings {
    RunSettings {
        placement_on_handover: true,
        ..run_settings(600_000, 7, 256, 2_000.0, Technique::PreCopy)
    }
}

fn sleep() -> SleepConfig {
    SleepConfig {
        after_ns: 30 * S,
        sleep_w: 9.0,
        wake_ns: 10 * S,
        wake_w: 113.0,
    }
}

/// The walker's run under `nearest` into `sink`, cloudlets sleeping as
/// `config` says.
fn run<S: RecordSink>(sink: S, config: Option<SleepConfig>) -> S {
    let world = TwoSites::default().world();
    let engine = Engine::new(
        &world,
        settings(),
        placement::by_name("nearest").unwrap(),
        sink,
    )
    .unwrap()
    .with_cloudlet_sleep(config);
    engine.run(|_| {}).1
}

/// The run's energy, cloudlets sleeping as `config` says.
fn energy(config: Option<SleepConfig>) -> EnergySummary {
    let (world, classes) = TwoSites::default().world_and_link_classes();
    let energy = EnergyConfig {
        sleep: config,
        ..EnergyConfig::default()
    };
    let meter = run(EnergyMeter::new(energy, &world, &classes), config);
    meter.summary(settings().duration_ns)
}

#[test]
fn a_migration_onto_a_sleeping_cloudlet_waits_for_its_wake_up() {
    let awake = run(MemorySink::default(), None);
    let sleeping = run(MemorySink::default(), Some(sleep()));
    assert_eq!(awake.sleep, None, "off: no sleep log");
    assert_eq!(awake.migrations.len(), 1);
    assert_eq!(sleeping.migrations.len(), 1);
    let decided = awake.migrations[0].start_ns;
    let started = sleeping.migrations[0].start_ns;
    // The handover (and the decision) come at the same time; the copy
    // starts once cl-east has woken, 10 s later.
    assert_eq!(started, decided + 10 * S);
    // Meanwhile the walker's requests still go to cl-west.
    let served_west = |sink: &MemorySink| {
        sink.requests
            .iter()
            .filter(|r| r.host == 0 && r.sent_ns > decided)
            .count()
    };
    assert!(served_west(&sleeping) > served_west(&awake) + 50);

    let log = sleeping.sleep.expect("a sleep log");
    assert_eq!(log.wake_ups, 1);
    // cl-east: asleep from its idle time (30 s) until the decision, then
    // waking for 10 s, then awake to the end.
    assert_eq!(
        log.spans[1],
        vec![
            OffCurve {
                start_ns: 30 * S,
                end_ns: decided,
                watts: 9.0,
                waking: false,
            },
            OffCurve {
                start_ns: decided,
                end_ns: decided + 10 * S,
                watts: 113.0,
                waking: true,
            },
        ]
    );
    // cl-west: empty once the VM has switched, asleep 30 s later, to the
    // end; it never wakes.
    let west = &log.spans[0];
    assert_eq!(west.len(), 1, "{west:?}");
    assert!(!west[0].waking);
    assert!(west[0].start_ns > started + 30 * S, "{west:?}");
    assert!(west[0].start_ns < started + 40 * S, "{west:?}");
    assert_eq!(west[0].end_ns, settings().duration_ns);
}

#[test]
fn asleep_the_cloudlets_draw_the_sleep_power_and_the_wake_up_is_paid_once() {
    let off = energy(None);
    let on = energy(Some(sleep()));
    // The log the energy came from (same seed, same run).
    let log = run(MemorySink::default(), Some(sleep())).sleep.unwrap();
    let seconds = |waking: bool| -> f64 {
        log.spans
            .iter()
            .flatten()
            .filter(|s| s.waking == waking)
            .map(|s| (s.end_ns - s.start_ns) as f64 / 1e9)
            .sum()
    };
    let (asleep_s, waking_s) = (seconds(false), seconds(true));
    assert_eq!(waking_s, 10.0, "one wake-up of 10 s");
    // Each 4-core cloudlet is half the 8-thread reference server. The work
    // (1 % of a core) stays on the curve's first, linear segment, so it
    // costs the same wherever and whenever it ran: the difference is the
    // idle power (41.6 W) given up for 9 W asleep and 113 W waking.
    let saved = 0.5 * ((41.6 - 9.0) * asleep_s + (41.6 - 113.0) * waking_s);
    assert!(
        (off.cloudlets - on.cloudlets - saved).abs() < 2e-3,
        "off {off:?} on {on:?} saved {saved}"
    );
    assert!(saved > 0.0);
}
