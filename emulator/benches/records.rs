//! Formatting `requests.csv` rows, as the writer thread does for every
//! request of a run: the table-driven [`CsvLine`] against the standard
//! library's `write!` formatting of the same columns (the baseline), on
//! 100,000 rows of a realistic mix of delays. Both write the same bytes.

use std::hint::black_box;
use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcc_emu::output::{CsvLine, Names, Outcome, RequestRecord};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ROWS: usize = 100_000;

fn names() -> Names {
    Names {
        devices: (0..1_000).map(|i| format!("bus-304#{i}")).collect(),
        vms: (0..1_000).map(|i| format!("vm-bus-304#{i}")).collect(),
        hosts: (0..125).map(|i| format!("cl-{i}")).collect(),
        access_points: Vec::new(),
    }
}

/// Rows like bench-1k's: delays of tens of milliseconds, now and then a
/// stall of seconds.
fn records() -> Vec<RequestRecord> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    (0..ROWS as u64)
        .map(|i| {
            let access_ns = rng.random_range(2_000_000..12_000_000);
            let backbone_ns = rng.random_range(500_000..30_000_000);
            let queueing_ns = rng.random_range(0..3_000_000);
            let processing_ns = 2_000_000;
            let migration_stall_ns = if rng.random_range(0..20) == 0 {
                rng.random_range(0..9_000_000_000)
            } else {
                0
            };
            RequestRecord {
                sent_ns: i * 36_000_000,
                device: (i % 1_000) as u32,
                vm: (i % 1_000) as u32,
                host: rng.random_range(0..125),
                access_ns,
                backbone_ns,
                queueing_ns,
                processing_ns,
                migration_stall_ns,
                total_ns: access_ns
                    + backbone_ns
                    + queueing_ns
                    + processing_ns
                    + migration_stall_ns,
                outcome: Outcome::Ok,
                ap: (i % 1_223) as u32,
                request_bytes: 20_000,
                response_bytes: 1_000,
                dual_host: None,
                device_energy_uj: rng.random_range(0..20_000_000),
            }
        })
        .collect()
}

fn with_csv_line(records: &[RequestRecord], names: &Names, line: &mut CsvLine) {
    line.clear();
    for record in records {
        record.write_csv(names, line);
    }
}

/// The baseline: the same columns through `write!`, rounding as the writer
/// does (nanoseconds to microseconds, half up).
fn with_std_fmt(records: &[RequestRecord], names: &Names, out: &mut Vec<u8>) {
    let fixed3 = |thousandths: u64| (thousandths / 1_000, thousandths % 1_000);
    out.clear();
    for r in records {
        let (s, s_frac) = fixed3((r.sent_ns + 500_000) / 1_000_000);
        let _ = write!(
            out,
            "{s}.{s_frac:03},{},{},{}",
            names.device(r.device),
            names.vm(r.vm),
            names.host(r.host)
        );
        for part in [
            r.access_ns,
            r.backbone_ns,
            r.queueing_ns,
            r.processing_ns,
            r.migration_stall_ns,
            r.total_ns,
        ] {
            let (ms, ms_frac) = fixed3((part + 500) / 1_000);
            let _ = write!(out, ",{ms}.{ms_frac:03}");
        }
        let _ = writeln!(out, ",{}", r.outcome.as_str());
    }
}

fn rows(c: &mut Criterion) {
    let records = records();
    let names = names();
    let mut line = CsvLine::new();
    let mut baseline = Vec::new();
    with_csv_line(&records, &names, &mut line);
    with_std_fmt(&records, &names, &mut baseline);
    assert!(line.as_bytes() == baseline, "both write the same bytes");
    let mut group = c.benchmark_group("requests.csv, 100k rows");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    group.bench_function("CsvLine (table-driven)", |b| {
        b.iter(|| with_csv_line(black_box(&records), &names, &mut line))
    });
    group.bench_function("write! (baseline)", |b| {
        b.iter(|| with_std_fmt(black_box(&records), &names, &mut baseline))
    });
    group.finish();
}

criterion_group!(benches, rows);
criterion_main!(benches);
