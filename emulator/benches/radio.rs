//! The radio model's costs: a device's link at a mobility step (against its
//! cell and six interferers) and one transfer across a cell (what every
//! request pays twice). Prints each preset's coverage radius and rates by
//! distance first, so the figures the benchmark runs on are on record.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mcc_emu::radio::efficiency::to_db;
use mcc_emu::radio::{Cells, Direction, RadioConfig, RadioModel};
use mcc_mobile_client::LatLon;

/// A hexagon-ish cluster of sites 500 m apart around Limerick.
fn sites() -> Vec<LatLon> {
    let centre = LatLon::new(52.66, -8.63).expect("position");
    let mut sites = vec![centre];
    for ring in 1..=2 {
        for k in 0..6 * ring {
            let bearing = 360.0 * f64::from(k) / f64::from(6 * ring);
            sites.push(centre.destination(bearing, 500.0 * f64::from(ring)));
        }
    }
    sites
}

fn print_figures() {
    for config in [RadioConfig::lte(), RadioConfig::nr()] {
        println!(
            "{:?}: largest path loss {:.1} dB, coverage radius {:.0} m",
            config.preset,
            config.max_path_loss_db(),
            config.coverage_radius_m().unwrap_or(0.0)
        );
        for d in [100.0, 500.0, 1_000.0, 2_000.0, 3_000.0] {
            let loss = config.path_loss.loss_db(d);
            match config.quality(loss, []) {
                Some(q) => println!(
                    "  {d:>5} m, alone: path loss {loss:.1} dB, downlink {:.1} dB {:.1} Mbit/s, uplink {:.1} dB {:.2} Mbit/s on {:.0} % of the band",
                    to_db(q.downlink.sinr),
                    q.downlink.rate_bps / 1e6,
                    to_db(q.uplink.sinr),
                    q.uplink.rate_bps / 1e6,
                    100.0 * q.uplink.band_share
                ),
                None => println!("  {d:>5} m: out of coverage"),
            }
        }
    }
}

fn radio(c: &mut Criterion) {
    print_figures();
    let model = RadioModel::new(RadioConfig::lte(), sites());
    let devices: Vec<LatLon> = (0..1_000)
        .map(|i| {
            let centre = LatLon::new(52.66, -8.63).expect("position");
            centre.destination(f64::from(i) * 7.3 % 360.0, f64::from(i % 400))
        })
        .collect();
    let mut group = c.benchmark_group("radio");
    group.bench_function("link of 1,000 devices (cell + 6 interferers each)", |b| {
        b.iter(|| {
            devices
                .iter()
                .filter_map(|&p| model.quality(0, black_box(p)))
                .count()
        })
    });
    let links: Vec<_> = devices
        .iter()
        .filter_map(|&p| model.quality(0, p))
        .collect();
    let config = model.config().clone();
    group.bench_function("1,000 transfers on one cell (proportional fair)", |b| {
        let mut cells = Cells::new(1);
        let mut t = 0u64;
        b.iter(|| {
            for (i, link) in links.iter().enumerate() {
                let direction = if i % 2 == 0 {
                    Direction::Up
                } else {
                    Direction::Down
                };
                t += 1_000_000;
                black_box(cells.transfer(&config, 0, direction, link, 4_096, t));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, radio);
criterion_main!(benches);
