//! Migrations modelled per second: a 4 GiB VM with a busy working set
//! (1 GiB written at 20,000 pages/s, hot/cold), over 1 Gbit/s and 5 ms, with
//! 100 requests/s arriving during the migration. One iteration runs one
//! complete migration on the virtual clock with the single-link driver.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mcc_cloudlet::memory::{DirtyModel, VmProfile};
use mcc_cloudlet::migration::single_link::{self, SingleLink};
use mcc_cloudlet::migration::{MigrationConfig, Technique};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const GIB: u64 = 1 << 30;

fn busy_4gib(model: DirtyModel) -> VmProfile {
    VmProfile::new(4 * GIB, GIB, 20_000.0, 0.1, model).expect("valid profile")
}

fn migrations(c: &mut Criterion) {
    let mut link = SingleLink::new(Duration::from_millis(5), 1e9);
    link.request_rate_per_s = 100.0;
    let hot_cold = DirtyModel::from_name("hot-cold").expect("known model");
    let mut group = c.benchmark_group("migrate_4gib_busy");
    for technique in Technique::ALL {
        let profile = busy_4gib(hot_cold);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let report = single_link::run(
            profile.clone(),
            MigrationConfig::new(technique),
            &link,
            &mut rng,
        )
        .expect("runs");
        println!(
            "{}: {} rounds, {:.0} ms virtual, {} bytes, {} faults",
            technique.name(),
            report.rounds,
            report.total_ms,
            report.bytes_total,
            report.page_faults
        );
        group.bench_function(technique.name(), |b| {
            b.iter(|| {
                let mut rng = ChaCha8Rng::seed_from_u64(1);
                let config = MigrationConfig::new(technique);
                black_box(single_link::run(profile.clone(), config, &link, &mut rng))
            })
        });
    }
    // Pre-copy that never converges: 30 rounds of the whole working set
    // (linear model, d·page above the link), to see the cost of one round.
    let stubborn = VmProfile::new(4 * GIB, GIB, 40_000.0, 0.0, DirtyModel::Linear).expect("valid");
    let no_requests = SingleLink::new(Duration::from_millis(5), 1e9);
    group.bench_function("pre-copy-30-rounds-no-requests", |b| {
        b.iter(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let config = MigrationConfig::new(Technique::PreCopy);
            black_box(single_link::run(
                stubborn.clone(),
                config,
                &no_requests,
                &mut rng,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, migrations);
criterion_main!(benches);
