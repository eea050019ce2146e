//! The JSON the page reads: the map (`/world.json`), the wire events of
//! `StreamEvents` as the page sees them, and frames (where every device
//! is, what its VM's host is, the requests that finished).
//!
//! Indices (`ap`, `host`) are positions in the map's `access_points` and
//! `cloudlets`; `null` where there is none.

use mcc_proto::v1::{self, event::Kind};
use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::world::World;

/// What the page needs to know about the run besides the world.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// The scenario's name.
    pub scenario: String,
    /// `serve`, `run --clock real`, `replay` or `run` (virtual, replayed).
    pub mode: String,
    /// The placement policy.
    pub policy: String,
    /// The migration technique's name.
    pub technique: String,
    /// Scenario seconds per wall second.
    pub speed: f64,
    /// The scenario's duration in seconds.
    pub duration_s: f64,
    /// A comparison's combinations (`<policy>-<technique>`), the one on
    /// the map first: one delay chart line each, the others' requests in
    /// each frame's `others`. Empty for one run.
    pub series: Vec<String>,
}

impl RunInfo {
    /// The run a live edge of `scenario` is (`serve`, `run --clock real`),
    /// at `speed`.
    pub fn live(scenario: &crate::scenario::Scenario, mode: &str, speed: f64) -> Self {
        Self {
            scenario: scenario.name.clone(),
            mode: mode.to_owned(),
            policy: scenario.policy.clone(),
            technique: scenario.settings.migration.config.technique.name().into(),
            speed,
            duration_s: scenario.settings.duration_ns as f64 / 1e9,
            series: Vec::new(),
        }
    }
}

/// The map: access points (name, lat, lon, coverage radius in m) and
/// cloudlets (name, lat, lon, cores); a cloudlet without a position is
/// put at the mean of the access points, spread on a small ring.
pub fn world_json(world: &World, info: &RunInfo) -> String {
    let aps: Vec<Value> = world
        .access_points
        .iter()
        .map(|ap| {
            json!([
                ap.name,
                round6(ap.position.lat_deg),
                round6(ap.position.lon_deg),
                ap.coverage_radius_m.round()
            ])
        })
        .collect();
    let n = world.access_points.len().max(1) as f64;
    let (mean_lat, mean_lon) = world.access_points.iter().fold((0.0, 0.0), |(a, b), ap| {
        (a + ap.position.lat_deg / n, b + ap.position.lon_deg / n)
    });
    let unplaced = world
        .cloudlets
        .iter()
        .filter(|c| c.position.is_none())
        .count();
    let mut ring = 0usize;
    let cloudlets: Vec<Value> = world
        .cloudlets
        .iter()
        .map(|c| {
            let (lat, lon) = match c.position {
                Some(p) => (p.lat_deg, p.lon_deg),
                None => {
                    let angle = std::f64::consts::TAU * ring as f64 / unplaced.max(1) as f64;
                    ring += 1;
                    (mean_lat + 0.01 * angle.sin(), mean_lon + 0.01 * angle.cos())
                }
            };
            json!([c.name, round6(lat), round6(lon), c.cpu_cores])
        })
        .collect();
    json!({
        "info": info,
        "access_points": aps,
        "cloudlets": cloudlets,
    })
    .to_string()
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The technique's name for a wire code (`""` for an unknown one).
pub fn technique_name(code: i32) -> &'static str {
    match v1::Technique::try_from(code) {
        Ok(v1::Technique::StopAndCopy) => "stop-and-copy",
        Ok(v1::Technique::PreCopy) => "pre-copy",
        Ok(v1::Technique::PostCopy) => "post-copy",
        Ok(v1::Technique::Soft) => "soft",
        Ok(v1::Technique::Hybrid) => "hybrid",
        _ => "",
    }
}

/// One `StreamEvents` event as the page reads it:
/// `{"type":"event","t":S,"kind":K,...}` with the event's fields.
pub fn event_json(event: &v1::Event) -> Option<String> {
    let t = event.emu_time_ns as f64 / 1e9;
    let body = match event.kind.as_ref()? {
        Kind::Handover(h) => json!({
            "kind": "handover", "device": h.device_id,
            "from": h.from_access_point_id, "to": h.to_access_point_id,
        }),
        Kind::Placement(p) => json!({
            "kind": "placement", "policy": p.policy,
            "moves": p.moves.iter().map(|m| json!({
                "vm": m.vm_id, "from": m.from_host_id, "to": m.to_host_id, "reason": m.reason,
            })).collect::<Vec<_>>(),
        }),
        Kind::MigrationPhase(m) => json!({
            "kind": "migration", "id": m.migration_id, "vm": m.vm_id,
            "technique": technique_name(m.technique), "phase": m.phase, "round": m.round,
            "bytes": m.bytes, "from": m.from_host_id, "to": m.to_host_id,
            "downtime_ms": m.downtime_ms, "error": m.error,
        }),
        Kind::Missed(m) => json!({ "kind": "missed", "events": m.events }),
        Kind::NodeLost(n) => json!({
            "kind": "node_lost", "host": n.host_id, "reason": n.reason, "vms": n.vm_ids,
        }),
        Kind::VmRestarted(r) => json!({
            "kind": "vm_restarted", "vm": r.vm_id, "from": r.from_host_id,
            "to": r.to_host_id, "restart_ms": r.restart_ms,
        }),
    };
    let mut body = body;
    body["type"] = json!("event");
    body["t"] = json!(t);
    Some(body.to_string())
}

/// One device in a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameDevice {
    /// Its name.
    pub name: String,
    /// Latitude, longitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Its access point.
    pub ap: Option<u32>,
    /// Its VM's host.
    pub host: Option<u32>,
    /// Where its VM is migrating to.
    pub migrating_to: Option<u32>,
}

/// One finished request in a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRequest {
    /// The device's name.
    pub device: String,
    /// When it was sent, scenario seconds.
    pub sent_s: f64,
    /// Its delay, ms.
    pub delay_ms: f64,
    /// The host that answered.
    pub host: Option<u32>,
    /// `ok`, `timed_out`, `no_coverage`, `unanswered`.
    pub outcome: String,
}

/// Most requests one frame carries; the rest of that frame's are counted
/// in its `skipped` (and in the feed's drop counter), not sent: at four
/// frames a second, 16,000 requests a second, the default scenario's
/// average rate at 10× speed (5.19 M requests an hour: 14,400 a second)
/// and a tenth more.
pub const MAX_FRAME_REQUESTS: usize = 4000;

/// A frame: `{"type":"frame","t":S,"devices":[[name,lat,lon,ap,host,to]..],
/// "in_flight":[..]|null,"requests":[[device,sent_s,delay_ms,host,outcome]..],
/// "skipped":N}`.
pub fn frame_json(
    t_s: f64,
    devices: &[FrameDevice],
    in_flight: Option<&[u64]>,
    requests: &[FrameRequest],
    skipped: u64,
    others: &[Vec<[f64; 2]>],
) -> String {
    let devices: Vec<Value> = devices
        .iter()
        .map(|d| {
            json!([
                d.name,
                round6(d.lat),
                round6(d.lon),
                d.ap,
                d.host,
                d.migrating_to
            ])
        })
        .collect();
    let requests: Vec<Value> = requests
        .iter()
        .map(|r| {
            json!([
                r.device,
                (r.sent_s * 1e3).round() / 1e3,
                (r.delay_ms * 1e3).round() / 1e3,
                r.host,
                r.outcome
            ])
        })
        .collect();
    json!({
        "type": "frame",
        "t": (t_s * 1e3).round() / 1e3,
        "devices": devices,
        "in_flight": in_flight,
        "requests": requests,
        "skipped": skipped,
        "others": others.iter().map(|rows| rows.iter()
            .map(|[sent, delay]| json!([(sent * 1e3).round() / 1e3, (delay * 1e3).round() / 1e3]))
            .collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_migration_phase_keeps_its_fields_and_names_its_technique() {
        let text = event_json(&v1::Event {
            emu_time_ns: 2_500_000_000,
            kind: Some(Kind::MigrationPhase(v1::MigrationPhaseEvent {
                migration_id: "vm-a:c1->c2".into(),
                vm_id: "vm-a".into(),
                technique: v1::Technique::Soft as i32,
                phase: "start".into(),
                from_host_id: "c1".into(),
                to_host_id: "c2".into(),
                ..Default::default()
            })),
        })
        .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["kind"], "migration");
        assert_eq!(v["technique"], "soft");
        assert_eq!(v["t"], 2.5);
        assert_eq!(
            (v["from"].as_str(), v["to"].as_str()),
            (Some("c1"), Some("c2"))
        );
    }

    #[test]
    fn a_frame_lists_devices_and_requests_as_arrays() {
        let text = frame_json(
            1.0,
            &[FrameDevice {
                name: "d".into(),
                lat: 52.5,
                lon: -8.6,
                ap: Some(3),
                host: Some(1),
                migrating_to: None,
            }],
            Some(&[0, 2]),
            &[FrameRequest {
                device: "d".into(),
                sent_s: 0.5,
                delay_ms: 22.6,
                host: Some(1),
                outcome: "ok".into(),
            }],
            7,
            &[vec![[0.25, 3.5]]],
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["devices"][0], json!(["d", 52.5, -8.6, 3, 1, null]));
        assert_eq!(v["requests"][0], json!(["d", 0.5, 22.6, 1, "ok"]));
        assert_eq!(v["in_flight"], json!([0, 2]));
        assert_eq!(v["skipped"], 7);
        assert_eq!(v["others"], json!([[[0.25, 3.5]]]));
    }
}
