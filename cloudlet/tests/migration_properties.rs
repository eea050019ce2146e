//! Properties every technique must keep, on random inputs.

use std::time::Duration;

use mcc_cloudlet::memory::{DirtyModel, VmProfile};
use mcc_cloudlet::migration::single_link::{self, SingleLink};
use mcc_cloudlet::migration::{MigrationConfig, MigrationReport, Technique};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const MIB: u64 = 1 << 20;

#[derive(Debug, Clone)]
struct Case {
    memory_mib: u64,
    working_set_mib: u64,
    dirty_rate_pps: f64,
    zero_fraction: f64,
    model: DirtyModel,
    bandwidth_mbps: f64,
    latency_ms: u64,
    request_rate: f64,
    max_rounds: u32,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        16u64..512,
        0.0f64..1.0,
        0.0f64..60_000.0,
        0.0f64..1.0,
        0usize..3,
        10.0f64..10_000.0,
        1u64..50,
        0.0f64..100.0,
        1u32..12,
        any::<u64>(),
    )
        .prop_map(|(memory_mib, ws, d, z, m, bw, lat, rate, rounds, seed)| {
            let working_set_mib = ((memory_mib as f64 * ws) as u64).max(1);
            let outside = (memory_mib - working_set_mib) as f64 / memory_mib as f64;
            let model = DirtyModel::from_name(DirtyModel::NAMES[m]).unwrap();
            Case {
                memory_mib,
                working_set_mib,
                dirty_rate_pps: d,
                zero_fraction: z * outside * 0.99,
                model,
                bandwidth_mbps: bw,
                latency_ms: lat,
                request_rate: rate,
                max_rounds: rounds,
                seed,
            }
        })
}

fn profile(c: &Case) -> VmProfile {
    VmProfile::new(
        c.memory_mib * MIB,
        c.working_set_mib * MIB,
        c.dirty_rate_pps,
        c.zero_fraction,
        c.model,
    )
    .unwrap()
}

fn run(c: &Case, technique: Technique, bandwidth_mbps: f64) -> MigrationReport {
    let mut config = MigrationConfig::new(technique);
    config.max_rounds = c.max_rounds;
    let mut link = SingleLink::new(Duration::from_millis(c.latency_ms), bandwidth_mbps * 1e6);
    link.request_rate_per_s = c.request_rate;
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    single_link::run(profile(c), config, &link, &mut rng).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_technique_sends_at_least_the_non_zero_memory(c in case()) {
        let nonzero = profile(&c).nonzero_bytes();
        for technique in Technique::ALL {
            let r = run(&c, technique, c.bandwidth_mbps);
            prop_assert!(r.bytes_total >= nonzero, "{technique:?}: {r:?}");
            prop_assert_eq!(r.bytes_total, r.bytes_precopy + r.bytes_stop + r.bytes_postcopy);
            prop_assert!(r.downtime_ms >= 0.0);
            prop_assert!(r.total_ms >= r.downtime_ms);
        }
    }

    #[test]
    fn soft_downtime_is_below_pre_copy_downtime(c in case()) {
        let soft = run(&c, Technique::Soft, c.bandwidth_mbps);
        let pre = run(&c, Technique::PreCopy, c.bandwidth_mbps);
        prop_assert!(soft.downtime_ms < pre.downtime_ms, "soft {soft:?} pre {pre:?}");
    }

    #[test]
    fn more_bandwidth_never_makes_a_migration_slower(c in case(), factor in 1.0f64..8.0) {
        for technique in Technique::ALL {
            let slow = run(&c, technique, c.bandwidth_mbps);
            let fast = run(&c, technique, c.bandwidth_mbps * factor);
            prop_assert!(
                fast.total_ms <= slow.total_ms + 1e-6,
                "{technique:?} x{factor}: slow {slow:?} fast {fast:?}"
            );
        }
    }
}
