//! Placement instances held in owned tables, for tests, benchmarks and tools
//! that ask a policy for a decision outside the engine.
//!
//! [`Instance::random`] makes a seeded synthetic city: cloudlets scattered
//! over a square of [`SIDE_M`] metres, one access point standing at each
//! cloudlet (so access point `i`'s nearest cloudlet is cloudlet `i`),
//! latency growing with distance, devices somewhere in the square heading
//! somewhere else, and cloudlets with few cores and little memory, so that
//! load and capacity matter to the answer.

use mcc_mobile_client::LatLon;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{ApLatencies, MigrationCost, PlacementView};

/// Side of the square the random instances stand in, in metres.
pub const SIDE_M: f64 = 10_000.0;
/// Memory of every VM of a random instance: 256 MiB.
pub const VM_MEMORY_BYTES: u64 = 256 << 20;

const ORIGIN_LAT: f64 = 52.0;
const ORIGIN_LON: f64 = -8.0;
const M_PER_DEG_LAT: f64 = 111_320.0;

/// Every table a [`PlacementView`] borrows, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// See [`PlacementView::now_ns`].
    pub now_ns: u64,
    /// See [`PlacementView::horizon_ns`].
    pub horizon_ns: u64,
    /// See [`PlacementView::vm_hosts`].
    pub vm_hosts: Vec<u32>,
    /// See [`PlacementView::vm_migrating`].
    pub vm_migrating: Vec<bool>,
    /// See [`PlacementView::device_ap`].
    pub device_ap: Vec<Option<u32>>,
    /// See [`PlacementView::device_ap_ahead`].
    pub device_ap_ahead: Vec<Option<u32>>,
    /// See [`PlacementView::device_position`].
    pub device_position: Vec<LatLon>,
    /// See [`PlacementView::device_position_ahead`].
    pub device_position_ahead: Vec<LatLon>,
    /// See [`PlacementView::vm_memory_bytes`].
    pub vm_memory_bytes: u64,
    /// See [`PlacementView::cloudlet_memory_bytes`].
    pub cloudlet_memory_bytes: Vec<u64>,
    /// See [`PlacementView::cloudlet_memory_used_bytes`].
    pub cloudlet_memory_used_bytes: Vec<u64>,
    /// See [`PlacementView::cloudlet_backlog_ns`].
    pub cloudlet_backlog_ns: Vec<u64>,
    /// See [`PlacementView::cloudlet_vms`].
    pub cloudlet_vms: Vec<u32>,
    /// See [`PlacementView::cloudlet_cpu_cores`].
    pub cloudlet_cpu_cores: Vec<u32>,
    /// See [`PlacementView::cloudlet_position`].
    pub cloudlet_position: Vec<Option<LatLon>>,
    /// Cloudlets in order of latency from each access point (one row per
    /// access point: see [`ApLatencies`]).
    pub cloudlets_by_latency: Vec<Vec<u32>>,
    /// Latency from each access point to each cloudlet, by `ap * cloudlets
    /// + cloudlet`.
    pub ap_latency_ns: Vec<u64>,
    /// Each access point's row: itself.
    pub ap_rows: Vec<u32>,
    /// Each access point's own hop: none.
    pub ap_hop_ns: Vec<u64>,
    /// See [`PlacementView::cloudlet_latency_ns`].
    pub cloudlet_latency_ns: Vec<u64>,
    /// See [`PlacementView::cloudlet_bandwidth_bps`].
    pub cloudlet_bandwidth_bps: Vec<f64>,
    /// See [`PlacementView::migration_cost`].
    pub migration_cost: Vec<MigrationCost>,
    /// See [`PlacementView::request_rate_hz`].
    pub request_rate_hz: Vec<f64>,
    /// See [`PlacementView::request_cpu_ns`].
    pub request_cpu_ns: Vec<u64>,
}

fn at(x_m: f64, y_m: f64) -> LatLon {
    let lat = ORIGIN_LAT + y_m / M_PER_DEG_LAT;
    let lon = ORIGIN_LON + x_m / (M_PER_DEG_LAT * ORIGIN_LAT.to_radians().cos());
    // In range by construction: a few kilometres from (52, -8).
    LatLon {
        lat_deg: lat,
        lon_deg: lon,
    }
}

/// One-way latency over `distance_m` of metro network: 0.2 ms to enter it,
/// then 10 µs per kilometre (fibre plus switching).
fn latency_ns(distance_m: f64) -> u64 {
    200_000 + (distance_m * 10.0).round() as u64
}

impl Instance {
    /// A seeded random instance of `vms` VMs on `cloudlets` cloudlets (at
    /// least one of each): every device attached to its nearest access point
    /// and heading to a random point, every VM on a random cloudlet with
    /// room; 20 requests/s of 10 ms CPU each per device, 1 to
    /// max(1, 2·vms/cloudlets) cores per cloudlet, memory for 1.5 times the
    /// fair share of VMs, migrations priced from the distance.
    pub fn random(vms: usize, cloudlets: usize, seed: u64) -> Self {
        let cloudlets = cloudlets.max(1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let point =
            |rng: &mut ChaCha8Rng| (rng.random_range(0.0..SIDE_M), rng.random_range(0.0..SIDE_M));
        let sites: Vec<(f64, f64)> = (0..cloudlets).map(|_| point(&mut rng)).collect();
        let distance = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).hypot(a.1 - b.1);
        let nearest_site = |p: (f64, f64)| {
            (0..cloudlets)
                .min_by(|&a, &b| distance(p, sites[a]).total_cmp(&distance(p, sites[b])))
                .unwrap_or(0) as u32
        };
        let mut ap_latency_ns = Vec::with_capacity(cloudlets * cloudlets);
        let mut cloudlet_latency_ns = Vec::with_capacity(cloudlets * cloudlets);
        let mut cloudlet_bandwidth_bps = Vec::with_capacity(cloudlets * cloudlets);
        let mut migration_cost = Vec::with_capacity(cloudlets * cloudlets);
        for &a in &sites {
            for &b in &sites {
                let d = distance(a, b);
                ap_latency_ns.push(latency_ns(d));
                let one_way = latency_ns(d);
                cloudlet_latency_ns.push(one_way);
                let bandwidth_bps = if d < 3_000.0 { 10e9 } else { 1e9 };
                cloudlet_bandwidth_bps.push(bandwidth_bps);
                // Pre-copy-like: the memory once plus a tenth re-sent, and a
                // stop of a last 16 MiB plus a round trip.
                let bytes = VM_MEMORY_BYTES + VM_MEMORY_BYTES / 10;
                let stop_ns = ((16u64 << 20) as f64 * 8.0 / bandwidth_bps * 1e9) as u64;
                migration_cost.push(MigrationCost {
                    bytes,
                    downtime_ns: stop_ns + 2 * one_way,
                });
            }
        }
        let cloudlets_by_latency = (0..cloudlets)
            .map(|ap| {
                let mut order: Vec<u32> = (0..cloudlets as u32).collect();
                order.sort_by_key(|&c| (ap_latency_ns[ap * cloudlets + c as usize], c));
                order
            })
            .collect();
        let max_cores = (2 * vms / cloudlets).max(1) as u32;
        let cloudlet_cpu_cores = (0..cloudlets)
            .map(|_| rng.random_range(1..=max_cores))
            .collect();
        let slots = (3 * vms).div_ceil(2 * cloudlets).max(1) as u64;
        let cloudlet_memory_bytes = vec![slots * VM_MEMORY_BYTES; cloudlets];
        let cloudlet_backlog_ns = (0..cloudlets)
            .map(|_| rng.random_range(0..20_000_000))
            .collect();
        let mut device_position = Vec::with_capacity(vms);
        let mut device_position_ahead = Vec::with_capacity(vms);
        let mut device_ap = Vec::with_capacity(vms);
        let mut device_ap_ahead = Vec::with_capacity(vms);
        let mut vm_hosts = Vec::with_capacity(vms);
        let mut hosted = vec![0u64; cloudlets];
        for _ in 0..vms {
            let now = point(&mut rng);
            let ahead = point(&mut rng);
            device_position.push(at(now.0, now.1));
            device_position_ahead.push(at(ahead.0, ahead.1));
            device_ap.push(Some(nearest_site(now)));
            device_ap_ahead.push(Some(nearest_site(ahead)));
            let mut host = rng.random_range(0..cloudlets);
            while hosted[host] >= slots {
                host = (host + 1) % cloudlets;
            }
            hosted[host] += 1;
            vm_hosts.push(host as u32);
        }
        let mut instance = Self {
            now_ns: 0,
            horizon_ns: 30_000_000_000,
            vm_migrating: vec![false; vms],
            vm_hosts,
            device_ap,
            device_ap_ahead,
            device_position,
            device_position_ahead,
            vm_memory_bytes: VM_MEMORY_BYTES,
            cloudlet_memory_bytes,
            cloudlet_memory_used_bytes: Vec::new(),
            cloudlet_backlog_ns,
            cloudlet_vms: Vec::new(),
            cloudlet_cpu_cores,
            cloudlet_position: sites.iter().map(|&(x, y)| Some(at(x, y))).collect(),
            cloudlets_by_latency,
            ap_latency_ns,
            ap_rows: (0..cloudlets as u32).collect(),
            ap_hop_ns: vec![0; cloudlets],
            cloudlet_latency_ns,
            cloudlet_bandwidth_bps,
            migration_cost,
            request_rate_hz: vec![20.0; vms],
            request_cpu_ns: vec![10_000_000; vms],
        };
        instance.refresh_counts();
        instance
    }

    /// Recomputes each cloudlet's VM count and used memory from `vm_hosts`
    /// (after a test edits the hosts).
    pub fn refresh_counts(&mut self) {
        let cloudlets = self.cloudlet_memory_bytes.len();
        self.cloudlet_vms = vec![0; cloudlets];
        for &host in &self.vm_hosts {
            if let Some(n) = self.cloudlet_vms.get_mut(host as usize) {
                *n += 1;
            }
        }
        self.cloudlet_memory_used_bytes = self
            .cloudlet_vms
            .iter()
            .map(|&n| u64::from(n) * self.vm_memory_bytes)
            .collect();
    }

    /// The view a policy decides on.
    pub fn view(&self) -> PlacementView<'_> {
        PlacementView {
            now_ns: self.now_ns,
            horizon_ns: self.horizon_ns,
            vm_hosts: &self.vm_hosts,
            vm_migrating: &self.vm_migrating,
            device_ap: &self.device_ap,
            device_ap_ahead: &self.device_ap_ahead,
            device_position: &self.device_position,
            device_position_ahead: &self.device_position_ahead,
            vm_memory_bytes: self.vm_memory_bytes,
            cloudlet_memory_bytes: &self.cloudlet_memory_bytes,
            cloudlet_memory_used_bytes: &self.cloudlet_memory_used_bytes,
            cloudlet_backlog_ns: &self.cloudlet_backlog_ns,
            cloudlet_vms: &self.cloudlet_vms,
            cloudlet_cpu_cores: &self.cloudlet_cpu_cores,
            cloudlet_position: &self.cloudlet_position,
            ap_latencies: ApLatencies {
                ap_rows: &self.ap_rows,
                ap_hop_ns: &self.ap_hop_ns,
                row_ns: &self.ap_latency_ns,
                by_latency: &self.cloudlets_by_latency,
            },
            cloudlet_latency_ns: &self.cloudlet_latency_ns,
            cloudlet_bandwidth_bps: &self.cloudlet_bandwidth_bps,
            migration_cost: &self.migration_cost,
            request_rate_hz: &self.request_rate_hz,
            request_cpu_ns: &self.request_cpu_ns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_instances_are_seeded_and_consistent() {
        let a = Instance::random(40, 6, 11);
        assert_eq!(a, Instance::random(40, 6, 11));
        assert_ne!(a, Instance::random(40, 6, 12));
        let view = a.view();
        assert_eq!((view.vms(), view.cloudlets()), (40, 6));
        for ap in 0..6u32 {
            assert_eq!(view.cloudlets_by_latency(ap)[0], ap);
        }
        for c in 0..6u32 {
            assert!(
                view.cloudlet_memory_used_bytes[c as usize]
                    <= view.cloudlet_memory_bytes[c as usize]
            );
        }
        assert_eq!(view.cloudlet_vms.iter().sum::<u32>(), 40);
    }
}
