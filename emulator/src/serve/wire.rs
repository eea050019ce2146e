//! What the service says about the scenario and its figures, on the wire:
//! the area devices can be in, and the summary.

use mcc_proto::v1::{self, GeoPoint};

use crate::engine::World;
use crate::output::{Outcome, Summary};
use crate::realclock::DelayParts;

/// Discs are padded by this factor: the easternmost point of a disc lies a
/// hair north (or south) of due east, and the box must hold it.
const PAD: f64 = 1.001;

/// The bounding box of the access points' coverage discs; `None` without
/// access points. Clamped to the globe; a box that would cross the
/// antimeridian is clamped at ±180°.
pub fn coverage_area(world: &World) -> Option<v1::Area> {
    let mut south = f64::INFINITY;
    let mut north = f64::NEG_INFINITY;
    let mut west = f64::INFINITY;
    let mut east = f64::NEG_INFINITY;
    for ap in &world.access_points {
        let r = ap.coverage_radius_m * PAD;
        let p = ap.position;
        south = south.min(p.destination(180.0, r).lat_deg).min(p.lat_deg);
        north = north.max(p.destination(0.0, r).lat_deg).max(p.lat_deg);
        // A disc across the antimeridian wraps: clamp its side at ±180°.
        let w = p.destination(270.0, r).lon_deg;
        let e = p.destination(90.0, r).lon_deg;
        west = west.min(if w > p.lon_deg { -180.0 } else { w });
        east = east.max(if e < p.lon_deg { 180.0 } else { e });
    }
    if !(south.is_finite() && north.is_finite() && west.is_finite() && east.is_finite()) {
        return None;
    }
    Some(v1::Area {
        south_west: Some(GeoPoint {
            latitude_deg: south.max(-90.0),
            longitude_deg: west.max(-180.0),
        }),
        north_east: Some(GeoPoint {
            latitude_deg: north.min(90.0),
            longitude_deg: east.min(180.0),
        }),
    })
}

/// The summary on the wire, with the scenario's name and area.
pub fn summary(summary: &Summary, scenario: &str, area: Option<v1::Area>) -> v1::Summary {
    let d = &summary.delay_ms;
    v1::Summary {
        devices: u32::try_from(summary.devices).unwrap_or(u32::MAX),
        cloudlets: u32::try_from(summary.cloudlets).unwrap_or(u32::MAX),
        sim_duration_s: summary.sim_duration_s,
        requests: summary.requests,
        failed: summary.failed,
        delay_ms: Some(v1::DelayStats {
            mean: d.mean,
            p50: d.p50,
            p95: d.p95,
            p99: d.p99,
            max: d.max,
        }),
        migrations: summary.migrations,
        downtime_ms_total: summary.downtime_ms_total,
        bytes_migrated: summary.bytes_migrated,
        sla_violations: summary.sla_violations,
        area,
        scenario: scenario.to_owned(),
    }
}

/// A request's outcome on the wire.
pub fn outcome(outcome: Outcome) -> v1::Outcome {
    match outcome {
        Outcome::Ok => v1::Outcome::Ok,
        Outcome::NoCoverage => v1::Outcome::NoCoverage,
        Outcome::TimedOut => v1::Outcome::TimedOut,
        // Never answered: the caller gets an error instead; the nearest word.
        Outcome::Unanswered => v1::Outcome::NoVm,
    }
}

/// A request's measured delay parts on the wire, in microseconds.
pub fn delay(parts: &DelayParts) -> v1::DelayBreakdown {
    let us = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    v1::DelayBreakdown {
        access_us: us(parts.access),
        backbone_us: us(parts.backbone),
        queueing_us: us(parts.queueing),
        processing_us: us(parts.processing),
        migration_stall_us: us(parts.migration_stall),
        total_us: us(parts.total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_area_holds_every_coverage_disc() {
        let scenario = crate::scenario::default_scenario().unwrap();
        let area = coverage_area(&scenario.world).unwrap();
        let (sw, ne) = (area.south_west.unwrap(), area.north_east.unwrap());
        assert!(sw.latitude_deg < ne.latitude_deg && sw.longitude_deg < ne.longitude_deg);
        for ap in &scenario.world.access_points {
            let p = ap.position;
            // The disc's northern and southern edges lie inside the box.
            let north = p.destination(0.0, ap.coverage_radius_m * 0.999);
            let south = p.destination(180.0, ap.coverage_radius_m * 0.999);
            let east = p.destination(90.0, ap.coverage_radius_m * 0.999);
            for q in [north, south, east, p] {
                assert!(
                    (sw.latitude_deg..=ne.latitude_deg).contains(&q.lat_deg)
                        && (sw.longitude_deg..=ne.longitude_deg).contains(&q.lon_deg),
                    "{} {q:?} outside {sw:?}..{ne:?}",
                    ap.name
                );
            }
        }
        let mut empty = scenario.world.clone();
        empty.access_points.clear();
        assert_eq!(coverage_area(&empty), None);
    }
}
