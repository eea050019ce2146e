//! Throughput of the trace readers, of position queries and of attachment.
//!
//! Run: `cargo bench -p mcc-mobile-client --bench parse -- --warm-up-time 1 --measurement-time 3`.
//! Figures are elements (points, queries) per second.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcc_mobile_client::attach::{AccessPoint, ApIndex};
use mcc_mobile_client::readers::{
    ReadOptions, csv::parse_csv, gpx::parse_gpx, plt::parse_plt, read_text,
};
use mcc_mobile_client::trace::Trace;
use mcc_mobile_client::{Edge, LatLon};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

type Parser = fn(&Path, &str, &ReadOptions) -> Result<Vec<Trace>, mcc_mobile_client::TraceError>;

fn parsing(c: &mut Criterion) {
    let options = ReadOptions::default();
    let files: [(&str, &str, Parser); 3] = [
        (
            "gpx_bus_304",
            "topologies/traces/bus-304-limerick.gpx",
            parse_gpx,
        ),
        (
            "plt_geolife_000",
            "topologies/traces/geolife-000-20081024020959.plt",
            parse_plt,
        ),
        (
            "csv_geolife_demo",
            "topologies/traces/geolife-demo.csv",
            parse_csv,
        ),
    ];
    let mut group = c.benchmark_group("parse");
    for (name, file, parse) in files {
        let path = repo(file);
        let text = read_text(&path).expect("shipped trace reads");
        let points: usize = parse(&path, &text, &options)
            .expect("shipped trace parses")
            .iter()
            .map(|t| t.points().len())
            .sum();
        group.throughput(Throughput::Elements(points as u64));
        group.bench_function(name, |b| {
            b.iter(|| parse(&path, black_box(&text), &options))
        });
    }
    group.finish();
}

fn bus() -> Trace {
    let path = repo("topologies/traces/bus-304-limerick.gpx");
    let text = read_text(&path).expect("bus trace reads");
    parse_gpx(&path, &text, &ReadOptions::default())
        .expect("bus trace parses")
        .remove(0)
}

fn interpolation(c: &mut Criterion) {
    let trace = bus();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let random_times: Vec<f64> = (0..1000)
        .map(|_| rng.random_range(0.0..trace.duration_s()))
        .collect();
    let steps: Vec<f64> = (0..=trace.duration_s() as u64).map(|s| s as f64).collect();
    let mut group = c.benchmark_group("position");
    group.throughput(Throughput::Elements(random_times.len() as u64));
    group.bench_function("binary_search_random_times", |b| {
        b.iter(|| {
            for &t in &random_times {
                black_box(trace.position_at(t, Edge::Hold));
            }
        })
    });
    group.throughput(Throughput::Elements(steps.len() as u64));
    group.bench_function("binary_search_every_second", |b| {
        b.iter(|| {
            for &t in &steps {
                black_box(trace.position_at(t, Edge::Hold));
            }
        })
    });
    group.bench_function("cursor_every_second", |b| {
        b.iter(|| {
            let mut cursor = trace.cursor(Edge::Hold);
            for &t in &steps {
                black_box(cursor.position_at(t));
            }
        })
    });
    // Fixes a minute apart (every 60th point of the bus ride, hundreds of
    // metres apart): every sample falls on a great-circle segment. The
    // binary search pays the segment's trigonometry per sample; the cursor
    // keeps the segment's Leg and pays it once per segment.
    let sparse = Trace::new(
        "bus, one fix a minute",
        None,
        trace.points().iter().step_by(60).copied().collect(),
    )
    .expect("every 60th point of a trace is a trace");
    let sparse_steps: Vec<f64> = (0..=sparse.duration_s() as u64)
        .map(|s| s as f64 + 0.5)
        .collect();
    group.throughput(Throughput::Elements(sparse_steps.len() as u64));
    group.bench_function("binary_search_every_second_sparse_fixes", |b| {
        b.iter(|| {
            for &t in &sparse_steps {
                black_box(sparse.position_at(t, Edge::Hold));
            }
        })
    });
    group.bench_function("cursor_every_second_sparse_fixes", |b| {
        b.iter(|| {
            let mut cursor = sparse.cursor(Edge::Hold);
            for &t in &sparse_steps {
                black_box(cursor.position_at(t));
            }
        })
    });
    group.finish();
}

/// The 125 Optus sites of Melbourne CBD with radii of 150-600 m (seeded).
fn melbourne_sites() -> Vec<AccessPoint> {
    let text = std::fs::read_to_string(repo("topologies/sites/site-optus-melbCBD.csv"))
        .expect("sites read");
    let mut rng = ChaCha8Rng::seed_from_u64(125);
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split(',').skip(1);
            let lat = fields.next()?.parse().ok()?;
            let lon = fields.next()?.parse().ok()?;
            Some(AccessPoint {
                pos: LatLon::new(lat, lon).ok()?,
                coverage_radius_m: rng.random_range(150.0..600.0),
            })
        })
        .collect()
}

fn attachment(c: &mut Criterion) {
    let aps = melbourne_sites();
    assert_eq!(aps.len(), 125);
    let index = ApIndex::new(aps.clone()).expect("valid radii");
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let positions: Vec<LatLon> = (0..1000)
        .filter_map(|_| {
            LatLon::new(
                rng.random_range(-37.830..-37.800),
                rng.random_range(144.940..144.987),
            )
            .ok()
        })
        .collect();
    let mut group = c.benchmark_group("attach_125_aps");
    group.throughput(Throughput::Elements(positions.len() as u64));
    group.bench_function("grid_nearest_in_range", |b| {
        b.iter(|| {
            for &p in &positions {
                black_box(index.nearest_in_range(p));
            }
        })
    });
    group.bench_function("scan_nearest_in_range", |b| {
        b.iter(|| {
            for &p in &positions {
                let mut best: Option<(usize, f64)> = None;
                for (i, ap) in aps.iter().enumerate() {
                    let d = ap.pos.distance_m(p);
                    if d <= ap.coverage_radius_m && best.is_none_or(|(_, bd)| d < bd) {
                        best = Some((i, d));
                    }
                }
                black_box(best);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parsing, interpolation, attachment);
criterion_main!(benches);
