//! Attachment against real data: Melbourne CBD base stations and the
//! Limerick bus ride.

use std::path::{Path, PathBuf};

use mcc_mobile_client::attach::{AccessPoint, ApIndex, DEFAULT_HYSTERESIS_M, handovers_along};
use mcc_mobile_client::readers::{ReadOptions, read_trace_file};
use mcc_mobile_client::{Edge, LatLon, Trace};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// The 125 Optus sites of the EUA dataset, each with a coverage radius drawn
/// from 150-600 m (seeded).
fn melbourne_sites() -> Vec<AccessPoint> {
    let mut rng = ChaCha8Rng::seed_from_u64(125);
    let mut reader =
        csv::Reader::from_path(repo("topologies/sites/site-optus-melbCBD.csv")).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            AccessPoint {
                pos: LatLon::new(r[1].parse().unwrap(), r[2].parse().unwrap()).unwrap(),
                coverage_radius_m: rng.random_range(150.0..600.0),
            }
        })
        .collect()
}

/// The nearest access point in range by a scan of all of them (lowest index on ties).
fn scan(aps: &[AccessPoint], pos: LatLon) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, ap) in aps.iter().enumerate() {
        let d = ap.pos.distance_m(pos);
        if d <= ap.coverage_radius_m && best.is_none_or(|(_, bd)| d < bd) {
            best = Some((i, d));
        }
    }
    best.map(|(i, _)| i)
}

#[test]
fn grid_index_answers_like_a_scan_of_every_access_point() {
    check_against_scan(melbourne_sites(), (1_000, 19_000));
}

#[test]
fn grid_index_answers_like_a_scan_with_overlapping_and_mixed_radii() {
    // Every site reaching over the whole CBD...
    let wide: Vec<AccessPoint> = melbourne_sites()
        .into_iter()
        .map(|ap| AccessPoint {
            coverage_radius_m: 2_500.0,
            ..ap
        })
        .collect();
    check_against_scan(wide, (19_000, 20_001));
    // ...and small cells next to large ones.
    let mixed: Vec<AccessPoint> = melbourne_sites()
        .into_iter()
        .enumerate()
        .map(|(i, ap)| AccessPoint {
            coverage_radius_m: if i % 3 == 0 { 900.0 } else { 120.0 },
            ..ap
        })
        .collect();
    check_against_scan(mixed, (1_000, 19_000));
}

/// The index gives the scan's answer at 20,000 random positions over the
/// CBD and its outskirts; `covered` bounds how many positions are in range.
fn check_against_scan(aps: Vec<AccessPoint>, covered_range: (usize, usize)) {
    assert_eq!(aps.len(), 125);
    let index = ApIndex::new(aps.clone()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut covered = 0;
    for _ in 0..20_000 {
        // The sites span -37.821..-37.809, 144.952..144.975: the CBD and a 1 km margin.
        let pos = LatLon::new(
            rng.random_range(-37.830..-37.800),
            rng.random_range(144.940..144.987),
        )
        .unwrap();
        let expected = scan(&aps, pos);
        assert_eq!(
            index.nearest_in_range(pos).map(|(i, _)| i),
            expected,
            "at {pos:?}"
        );
        covered += usize::from(expected.is_some());
    }
    assert!(
        covered > covered_range.0 && covered < covered_range.1,
        "{covered}"
    );
}

/// Access points on a 1 km grid over the bus trace's bounding box, radius 750 m
/// (more than half the diagonal, so every point of the box is covered).
fn grid_over(trace: &Trace, spacing_m: f64, radius_m: f64) -> Vec<AccessPoint> {
    let [min_lon, min_lat, max_lon, max_lat] = trace.summary().bbox;
    let south_west = LatLon::new(min_lat, min_lon).unwrap();
    let rows = (south_west.distance_m(LatLon::new(max_lat, min_lon).unwrap()) / spacing_m).ceil()
        as usize
        + 1;
    let cols = (south_west.distance_m(LatLon::new(min_lat, max_lon).unwrap()) / spacing_m).ceil()
        as usize
        + 1;
    let mut aps = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let pos = south_west
                .destination(0.0, r as f64 * spacing_m)
                .destination(90.0, c as f64 * spacing_m);
            aps.push(AccessPoint {
                pos,
                coverage_radius_m: radius_m,
            });
        }
    }
    aps
}

#[test]
fn handovers_along_the_limerick_bus_ride() {
    let bus = read_trace_file(
        &repo("topologies/traces/bus-304-limerick.gpx"),
        &ReadOptions::default(),
    )
    .unwrap()
    .remove(0);
    let aps = grid_over(&bus, 1000.0, 750.0);
    let index = ApIndex::new(aps.clone()).unwrap();
    let handovers = handovers_along(&bus, &index, 1.0, DEFAULT_HYSTERESIS_M).unwrap();

    assert_eq!(handovers[0].t_s, 0.0);
    assert_eq!(handovers[0].from, None);
    let mut previous = handovers[0].to;
    for h in &handovers[1..] {
        assert_eq!(h.from, previous, "handovers chain");
        assert!(
            h.to.is_some(),
            "the grid covers the whole ride, yet detached at {}",
            h.t_s
        );
        previous = h.to;
    }
    assert!(handovers.windows(2).all(|w| w[0].t_s < w[1].t_s));
    // At each handover the new access point is in range and clearly closer than the old one.
    for h in &handovers[1..] {
        let pos = bus.position_at(h.t_s, Edge::Hold);
        let (to, from) = (aps[h.to.unwrap()], aps[h.from.unwrap()]);
        assert!(to.pos.distance_m(pos) <= to.coverage_radius_m);
        let from_d = from.pos.distance_m(pos);
        assert!(
            from_d > from.coverage_radius_m
                || to.pos.distance_m(pos) + DEFAULT_HYSTERESIS_M < from_d
        );
    }
    // 14 km across a 1 km grid: several cells, but no flapping every few seconds.
    assert!((8..120).contains(&handovers.len()), "{}", handovers.len());
    // Without a margin the device switches as soon as another access point is
    // closer: never fewer handovers, and each one no later.
    let eager = handovers_along(&bus, &index, 1.0, 0.0).unwrap();
    // On this ride the bus crosses each border cleanly: the same handovers
    // happen, and the margin only delays them.
    assert_eq!(eager.len(), handovers.len());
    for (e, h) in eager.iter().zip(&handovers) {
        assert_eq!((e.from, e.to), (h.from, h.to));
        assert!(e.t_s <= h.t_s);
    }
    assert!(eager.iter().zip(&handovers).any(|(e, h)| e.t_s < h.t_s));

    // Sparse coverage: access points of 300 m on the same grid leave gaps, so the bus detaches.
    let sparse = ApIndex::new(grid_over(&bus, 1000.0, 300.0)).unwrap();
    let gaps = handovers_along(&bus, &sparse, 1.0, DEFAULT_HYSTERESIS_M).unwrap();
    assert!(gaps.iter().any(|h| h.to.is_none()));
    assert!(handovers_along(&bus, &index, 0.0, 50.0).is_err());
}

/// A device that skips its query while it stays within the slack of its last
/// answer attaches exactly like one that asks at every step.
#[test]
fn skipping_queries_within_the_slack_changes_no_answer() {
    let sites = melbourne_sites();
    let layouts: Vec<(Vec<AccessPoint>, f64)> = vec![
        (sites.clone(), 50.0),
        (
            sites
                .iter()
                .map(|ap| AccessPoint {
                    coverage_radius_m: 2_500.0,
                    ..*ap
                })
                .collect(),
            50.0,
        ),
        (
            sites
                .iter()
                .enumerate()
                .map(|(i, ap)| AccessPoint {
                    coverage_radius_m: if i % 3 == 0 { 900.0 } else { 120.0 },
                    ..*ap
                })
                .collect(),
            0.0,
        ),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut skipped = 0usize;
    let mut steps = 0usize;
    for (aps, hysteresis_m) in layouts {
        let index = ApIndex::new(aps).unwrap();
        for _walk in 0..20 {
            let mut pos = LatLon::new(
                rng.random_range(-37.830..-37.800),
                rng.random_range(144.940..144.987),
            )
            .unwrap();
            let (mut asked, mut anchor, mut slack) = {
                let (a, s) = index.attach_with_slack(pos, None, hysteresis_m);
                (a, pos, s)
            };
            let mut always = asked;
            for _ in 0..1_000 {
                let bearing = rng.random_range(0.0..360.0);
                let step = rng.random_range(0.0..40.0);
                pos = pos.destination(bearing, step);
                always = index.attach(pos, always, hysteresis_m);
                steps += 1;
                if anchor.distance_m(pos) < slack {
                    skipped += 1;
                } else {
                    let (a, s) = index.attach_with_slack(pos, asked, hysteresis_m);
                    asked = a;
                    anchor = pos;
                    slack = s;
                }
                assert_eq!(asked, always, "at {pos:?}");
            }
        }
    }
    // The point of the slack: most steps need no query.
    assert!(skipped * 2 > steps, "{skipped} of {steps} skipped");
}
