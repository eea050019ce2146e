//! What the engine prepares for the placement policy: tables computed once
//! per run (cloudlet facts, bottleneck capacities, migration cost estimates)
//! and buffers reused by every decision, so building a
//! [`PlacementView`] allocates nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use mcc_cloudlet::migration::single_link::{self, SingleLink};
use mcc_mobile_client::LatLon;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::migrations::{MigrationSettings, NO_LINK_RATE_BPS};
use super::world::World;
use crate::placement::{ApLatencies, MigrationCost, PlacementView};

/// Latencies are rounded to this step before the migration model is run, so
/// that pairs with nearly the same path share one run (100 µs: far below what
/// a migration's cost depends on).
pub const ESTIMATE_LATENCY_STEP_NS: u64 = 100_000;

/// Default look-ahead of the placement view: where each device's trace says
/// it will be 30 s from now (about a cell crossed at walking speed, a few
/// at driving speed).
pub const DEFAULT_PLACEMENT_HORIZON_NS: u64 = 30_000_000_000;

/// Tables computed once per run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementTables {
    /// Memory of each cloudlet, in bytes.
    pub memory_bytes: Vec<u64>,
    /// Cores of each cloudlet.
    pub cpu_cores: Vec<u32>,
    /// Position of each cloudlet, if known.
    pub positions: Vec<Option<LatLon>>,
    /// Bottleneck capacity between cloudlets, by `from * cloudlets + to`.
    pub bandwidth_bps: Vec<f64>,
    /// Expected migration cost, by `from * cloudlets + to`.
    pub migration_cost: Vec<MigrationCost>,
    /// Cloudlets in order of propagation latency (ties by index), for each
    /// row of the path table (the same order for every access point of a
    /// row: [`ApLatencies`]).
    pub cloudlets_by_latency: Vec<Vec<u32>>,
    /// Requests per second of each VM (its device's profile).
    pub vm_request_rate_hz: Vec<f64>,
    /// Mean CPU time of a request of each VM, in nanoseconds.
    pub vm_request_cpu_ns: Vec<u64>,
}

impl PlacementTables {
    /// The tables of `world` for VMs that migrate as `migration` says. Each
    /// distinct (latency rounded to [`ESTIMATE_LATENCY_STEP_NS`], bottleneck)
    /// pair runs the migration model once.
    pub fn new(world: &World, migration: &MigrationSettings) -> Self {
        let n = world.cloudlets.len();
        let mut bandwidth_bps = Vec::with_capacity(n * n);
        let mut migration_cost = Vec::with_capacity(n * n);
        let mut cache: BTreeMap<(u64, u64), MigrationCost> = BTreeMap::new();
        for from in 0..n as u32 {
            for to in 0..n as u32 {
                let bandwidth = world
                    .paths
                    .between_bottleneck_bps(from, to, &world.links)
                    .unwrap_or(NO_LINK_RATE_BPS);
                bandwidth_bps.push(bandwidth);
                if from == to {
                    migration_cost.push(MigrationCost::default());
                    continue;
                }
                let step = ESTIMATE_LATENCY_STEP_NS;
                let latency_ns = world
                    .paths
                    .between_latency_ns(from, to)
                    .saturating_add(step / 2)
                    / step
                    * step;
                let cost = *cache
                    .entry((latency_ns, bandwidth.to_bits()))
                    .or_insert_with(|| estimate_migration(migration, latency_ns, bandwidth));
                migration_cost.push(cost);
            }
        }
        let row_ns = world.paths.row_latency_table_ns();
        let cloudlets_by_latency = (0..world.paths.rows())
            .map(|row| {
                let mut order: Vec<u32> = (0..n as u32).collect();
                order.sort_by_key(|&c| (row_ns.get(row * n + c as usize), c));
                order
            })
            .collect();
        let profiles = (0..world.devices.len()).map(|d| world.workload_of(d));
        let (vm_request_rate_hz, vm_request_cpu_ns) =
            profiles.map(|w| (w.rate_hz, w.mean_cpu_ns())).unzip();
        Self {
            vm_request_rate_hz,
            vm_request_cpu_ns,
            cloudlets_by_latency,
            memory_bytes: world.cloudlets.iter().map(|c| c.memory_bytes).collect(),
            cpu_cores: world.cloudlets.iter().map(|c| c.cpu_cores).collect(),
            positions: world.cloudlets.iter().map(|c| c.position).collect(),
            bandwidth_bps,
            migration_cost,
        }
    }
}

/// The access point closest to `position`, in range or not (ties: lowest index).
pub fn closest_ap(world: &World, position: LatLon) -> u32 {
    world
        .access_points
        .iter()
        .enumerate()
        .map(|(i, ap)| (ap.position.distance_m(position), i))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(0, |(_, i)| i as u32)
}

impl PlacementTables {
    /// Where a VM starts: the lowest-latency cloudlet with room for
    /// `vm_bytes` from the device's access point `ap` (out of coverage: the
    /// access point closest to `position`). `None`: no cloudlet has room.
    pub fn initial_host(
        &self,
        world: &World,
        ap: Option<u32>,
        position: LatLon,
        memory_used_bytes: &[u64],
        vm_bytes: u64,
    ) -> Option<u32> {
        let anchor = ap.unwrap_or_else(|| closest_ap(world, position));
        let row = *world.paths.ap_rows().get(anchor as usize)?;
        self.cloudlets_by_latency
            .get(row as usize)?
            .iter()
            .copied()
            .find(|&c| {
                let used = memory_used_bytes
                    .get(c as usize)
                    .copied()
                    .unwrap_or(u64::MAX);
                self.memory_bytes
                    .get(c as usize)
                    .is_some_and(|&total| used.saturating_add(vm_bytes) <= total)
            })
    }

    /// The view a policy decides on: these tables, the world's latencies,
    /// the buffers `scratch` (filled for `now_ns`) and the memory each
    /// cloudlet has promised.
    #[allow(clippy::too_many_arguments)]
    pub fn view<'a>(
        &'a self,
        world: &'a World,
        scratch: &'a PlacementScratch,
        now_ns: u64,
        horizon_ns: u64,
        vm_memory_bytes: u64,
        cloudlet_memory_used_bytes: &'a [u64],
    ) -> PlacementView<'a> {
        PlacementView {
            now_ns,
            horizon_ns,
            vm_hosts: &scratch.vm_hosts,
            vm_migrating: &scratch.vm_migrating,
            device_ap: &scratch.device_ap,
            device_ap_ahead: &scratch.device_ap_ahead,
            device_position: &scratch.device_position,
            device_position_ahead: &scratch.device_position_ahead,
            vm_memory_bytes,
            cloudlet_memory_bytes: &self.memory_bytes,
            cloudlet_memory_used_bytes,
            cloudlet_backlog_ns: &scratch.backlog_ns,
            cloudlet_vms: &scratch.cloudlet_vms,
            cloudlet_cpu_cores: &self.cpu_cores,
            cloudlet_position: &self.positions,
            ap_latencies: ApLatencies {
                ap_rows: world.paths.ap_rows(),
                ap_hop_ns: world.paths.ap_hop_latency_ns(),
                row_ns: world.paths.row_latency_table_ns(),
                by_latency: &self.cloudlets_by_latency,
            },
            cloudlet_latency_ns: world.paths.between_latency_table_ns(),
            cloudlet_bandwidth_bps: &self.bandwidth_bps,
            migration_cost: &self.migration_cost,
            request_rate_hz: &self.vm_request_rate_hz,
            request_cpu_ns: &self.vm_request_cpu_ns,
        }
    }
}

/// What one migration with `settings` over an idle path of one-way latency
/// `latency_ns` and capacity `bandwidth_bps` costs, as the cloudlet crate's
/// model says when run alone on that path with no request traffic. If the
/// model cannot run it (a path too slow to model), the stop-and-copy closed
/// form: all memory sent, downtime = memory / bandwidth + a round trip.
pub fn estimate_migration(
    settings: &MigrationSettings,
    latency_ns: u64,
    bandwidth_bps: f64,
) -> MigrationCost {
    let link = SingleLink::new(Duration::from_nanos(latency_ns), bandwidth_bps);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    match single_link::run(
        settings.profile.clone(),
        settings.config.clone(),
        &link,
        &mut rng,
    ) {
        Ok(report) => MigrationCost {
            bytes: report.bytes_total,
            downtime_ns: (report.downtime_ms * 1e6).round() as u64,
        },
        Err(_) => {
            let bytes = settings.vm_memory_bytes();
            let copy_s = bytes as f64 * 8.0 / bandwidth_bps.max(1.0);
            MigrationCost {
                bytes,
                downtime_ns: (copy_s * 1e9).min(u64::MAX as f64 / 2.0) as u64
                    + latency_ns.saturating_mul(2),
            }
        }
    }
}

/// Buffers each decision refills, so that no decision allocates.
#[derive(Debug, Clone, Default)]
pub struct PlacementScratch {
    /// Host of each VM.
    pub vm_hosts: Vec<u32>,
    /// Whether each VM is migrating.
    pub vm_migrating: Vec<bool>,
    /// Access point of each device now.
    pub device_ap: Vec<Option<u32>>,
    /// Access point of each device at the horizon.
    pub device_ap_ahead: Vec<Option<u32>>,
    /// Position of each device now.
    pub device_position: Vec<LatLon>,
    /// Position of each device at the horizon.
    pub device_position_ahead: Vec<LatLon>,
    /// CPU backlog of each cloudlet.
    pub backlog_ns: Vec<u64>,
    /// VMs on each cloudlet.
    pub cloudlet_vms: Vec<u32>,
    /// The time the device entries were filled for.
    pub devices_at_ns: Option<u64>,
    /// Whether `vm_hosts`, `vm_migrating` and `cloudlet_vms` still match
    /// the VMs: set by [`fill_vms`](Self::fill_vms), cleared by
    /// [`vms_changed`](Self::vms_changed).
    vms_fresh: bool,
}

impl PlacementScratch {
    /// Whether the VM entries still hold what the last
    /// [`fill_vms`](Self::fill_vms) put there. Hosts change only when a move
    /// starts or ends, so a driver that calls [`vms_changed`](Self::vms_changed)
    /// at those moments can skip the refill for most decisions (one per
    /// hand-over).
    pub fn vms_fresh(&self) -> bool {
        self.vms_fresh
    }

    /// Marks the VM entries stale: a VM started or ended a move.
    pub fn vms_changed(&mut self) {
        self.vms_fresh = false;
    }

    /// Refills the VM and cloudlet entries: each VM's (host, migrating) and
    /// the VMs on each cloudlet.
    pub fn fill_vms(&mut self, cloudlets: usize, vms: impl IntoIterator<Item = (u32, bool)>) {
        self.vms_fresh = true;
        self.vm_hosts.clear();
        self.vm_migrating.clear();
        self.cloudlet_vms.clear();
        self.cloudlet_vms.resize(cloudlets, 0);
        for (host, migrating) in vms {
            self.vm_hosts.push(host);
            self.vm_migrating.push(migrating);
            if let Some(n) = self.cloudlet_vms.get_mut(host as usize) {
                *n += 1;
            }
        }
    }

    /// Refills each cloudlet's CPU backlog.
    pub fn fill_backlog(&mut self, backlog_ns: impl IntoIterator<Item = u64>) {
        self.backlog_ns.clear();
        self.backlog_ns.extend(backlog_ns);
    }

    /// Starts refilling the device entries for `now_ns`; false when they
    /// were already filled for that instant (positions and look-aheads
    /// change only with time, so every decision at one instant shares them).
    pub fn begin_devices(&mut self, now_ns: u64) -> bool {
        if self.devices_at_ns == Some(now_ns) {
            return false;
        }
        self.devices_at_ns = Some(now_ns);
        self.device_ap.clear();
        self.device_ap_ahead.clear();
        self.device_position.clear();
        self.device_position_ahead.clear();
        true
    }

    /// Adds every device's access point, for a policy that reads neither
    /// positions nor look-aheads.
    pub fn push_device_aps(&mut self, aps: &[Option<u32>]) {
        self.device_ap.extend_from_slice(aps);
    }

    /// Adds the next device: its access point, its position now (when the
    /// policy reads positions) and its look-ahead (when it reads them).
    pub fn push_device(
        &mut self,
        ap: Option<u32>,
        position: Option<LatLon>,
        ahead: Option<(Option<u32>, LatLon)>,
    ) {
        self.device_ap.push(ap);
        if let Some(position) = position {
            self.device_position.push(position);
        }
        if let Some((ap, position)) = ahead {
            self.device_ap_ahead.push(ap);
            self.device_position_ahead.push(position);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcc_cloudlet::memory::{DirtyModel, VmProfile};
    use mcc_cloudlet::migration::{MigrationConfig, Technique};

    fn settings(technique: Technique) -> MigrationSettings {
        MigrationSettings {
            profile: VmProfile::new(256 << 20, 64 << 20, 2_000.0, 0.0, DirtyModel::Linear).unwrap(),
            config: MigrationConfig::new(technique),
        }
    }

    #[test]
    fn estimates_follow_the_technique_and_the_path() {
        let gbit = 1e9;
        let stop = estimate_migration(&settings(Technique::StopAndCopy), 5_000_000, gbit);
        // 256 MiB at 1 Gbit/s: about 2.1 s of downtime.
        assert!(stop.bytes >= 256 << 20);
        assert!(
            (2_100_000_000..2_300_000_000).contains(&stop.downtime_ns),
            "{stop:?}"
        );
        let pre = estimate_migration(&settings(Technique::PreCopy), 5_000_000, gbit);
        assert!(pre.bytes > stop.bytes, "pre-copy re-sends dirtied pages");
        assert!(pre.downtime_ns < stop.downtime_ns / 5, "{pre:?}");
        let soft = estimate_migration(&settings(Technique::Soft), 5_000_000, gbit);
        assert_eq!(soft.downtime_ns, 0);
        let faster = estimate_migration(&settings(Technique::StopAndCopy), 5_000_000, 10.0 * gbit);
        assert!(faster.downtime_ns < stop.downtime_ns / 5);
    }
}
