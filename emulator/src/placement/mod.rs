//! Placement policies: which cloudlet should host each VM.
//!
//! A policy is asked at the times the scenario sets (every N seconds, when a
//! device changes access point) and answers with the VMs to move and where;
//! each move becomes a migration. Policies see the world through a
//! [`PlacementView`] and may keep state between decisions.
//!
//! The policies: [`Never`], [`Nearest`] (Follow-Me Cloud), [`Threshold`],
//! [`LeastLoaded`], [`Ga`] (a genetic algorithm after Islam et al., NSysS
//! 2016) and [`Optimal`] (exhaustive search on small instances). `ga` and
//! `optimal` minimise the same objective, [`cost::Objective`], so the GA's
//! optimality gap compares like with like. [`instance`] builds views from
//! owned tables (tests, benchmarks, random instances); [`judge`] costs
//! every policy's answers on that objective, decision by decision, in a
//! real run. `docs/placement.md`
//! describes every policy and the GA's encoding.

pub mod cost;
pub mod ga;
pub mod instance;
pub mod judge;
pub mod least_loaded;
pub mod nearest;
pub mod never;
pub mod optimal;
pub mod threshold;

use mcc_mobile_client::LatLon;
use serde::Deserialize;

pub use cost::{CostWeights, Objective};
pub use ga::{Ga, GaConfig};
pub use least_loaded::{LeastLoaded, LeastLoadedConfig};
pub use nearest::{Nearest, NearestConfig};
pub use never::{Never, NeverConfig};
pub use optimal::{Optimal, OptimalConfig};
pub use threshold::{Threshold, ThresholdConfig};

/// Why the policy is asked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The periodic timer fired: any VM may move.
    Periodic,
    /// A device changed access point (or entered coverage): its VM may move.
    Handover {
        /// The device (and VM) index.
        device: u32,
    },
}

impl Trigger {
    /// The word `migrations.csv` shows as the reason.
    pub fn reason(self) -> &'static str {
        match self {
            Trigger::Periodic => "periodic",
            Trigger::Handover { .. } => "handover",
        }
    }
}

/// One VM to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// VM index.
    pub vm: u32,
    /// Target cloudlet index.
    pub to: u32,
}

/// What moving one VM between two cloudlets is expected to cost, estimated
/// once per pair from the VM's profile and the migration technique over the
/// path's latency and bottleneck capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MigrationCost {
    /// Bytes the migration sends.
    pub bytes: u64,
    /// Longest time the VM answers nothing.
    pub downtime_ns: u64,
}

/// One-way propagation latencies from access points to cloudlets, kept per
/// row as the engine's path table keeps them ([`Paths`](crate::engine::Paths)):
/// an access point's latency to a cloudlet is its row's plus its own hop's.
/// Read them with [`PlacementView::ap_latency`] and
/// [`PlacementView::cloudlets_by_latency`].
#[derive(Debug, Clone, Copy)]
pub struct ApLatencies<'a> {
    /// Each access point's row.
    pub ap_rows: &'a [u32],
    /// Latency each access point adds to its row's (its own hop), in ns.
    pub ap_hop_ns: &'a [u64],
    /// Latency from each row to each cloudlet, by `row * cloudlets + cloudlet`.
    pub row_ns: &'a [u64],
    /// Cloudlets in order of latency (ties by index), for each row: the
    /// same order for every access point of the row, since their hop adds
    /// the same to every cloudlet.
    pub by_latency: &'a [Vec<u32>],
}

/// What a policy can see of the world when it decides.
///
/// Tables indexed by two things are flat: `from * cloudlets + to`; use the
/// accessor methods.
#[derive(Debug, Clone, Copy)]
pub struct PlacementView<'a> {
    /// Emulated time, nanoseconds since the start.
    pub now_ns: u64,
    /// How far ahead `device_ap_ahead` and `device_position_ahead` look, in nanoseconds.
    pub horizon_ns: u64,
    /// Current host of each VM (VM `i` belongs to device `i`).
    pub vm_hosts: &'a [u32],
    /// Whether each VM is migrating right now (a policy should not move it again).
    pub vm_migrating: &'a [bool],
    /// Access point each device is attached to, `None` out of coverage.
    pub device_ap: &'a [Option<u32>],
    /// Access point each device will be attached to at `now + horizon`, as
    /// its trace says (same attachment rule, with hysteresis against the
    /// previous look-ahead). Empty unless [`PlacementPolicy::needs`] asks for
    /// the look-ahead.
    pub device_ap_ahead: &'a [Option<u32>],
    /// Where each device is now. Empty unless [`PlacementPolicy::needs`]
    /// asks for positions.
    pub device_position: &'a [LatLon],
    /// Where each device will be at `now + horizon`. Empty unless
    /// [`PlacementPolicy::needs`] asks for the look-ahead.
    pub device_position_ahead: &'a [LatLon],
    /// Memory each VM needs, in bytes.
    pub vm_memory_bytes: u64,
    /// Memory of each cloudlet, in bytes.
    pub cloudlet_memory_bytes: &'a [u64],
    /// Memory each cloudlet has promised to VMs (hosted or arriving), in bytes.
    pub cloudlet_memory_used_bytes: &'a [u64],
    /// Work already queued on each cloudlet's cores, in nanoseconds.
    pub cloudlet_backlog_ns: &'a [u64],
    /// VMs each cloudlet hosts now (those migrating away included).
    pub cloudlet_vms: &'a [u32],
    /// Cores of each cloudlet.
    pub cloudlet_cpu_cores: &'a [u32],
    /// Where each cloudlet stands, if known.
    pub cloudlet_position: &'a [Option<LatLon>],
    /// One-way propagation latency from access points to cloudlets, and
    /// cloudlets in that order.
    pub ap_latencies: ApLatencies<'a>,
    /// One-way propagation latency between cloudlets, by `from * cloudlets + to`.
    pub cloudlet_latency_ns: &'a [u64],
    /// Bottleneck capacity between cloudlets in bit/s, by `from * cloudlets + to`.
    pub cloudlet_bandwidth_bps: &'a [f64],
    /// Expected cost of a migration, by `from * cloudlets + to`.
    pub migration_cost: &'a [MigrationCost],
    /// Requests per second each VM's device sends (its application profile).
    pub request_rate_hz: &'a [f64],
    /// Mean CPU time of one request of each VM on one core, in nanoseconds.
    pub request_cpu_ns: &'a [u64],
}

impl<'a> PlacementView<'a> {
    /// Number of cloudlets.
    pub fn cloudlets(&self) -> usize {
        self.cloudlet_memory_bytes.len()
    }

    /// Number of VMs.
    pub fn vms(&self) -> usize {
        self.vm_hosts.len()
    }

    /// One-way propagation latency from access point `ap` to `cloudlet`
    /// (`u64::MAX` for indices out of range).
    pub fn ap_latency(&self, ap: u32, cloudlet: u32) -> u64 {
        let a = &self.ap_latencies;
        match (a.ap_rows.get(ap as usize), a.ap_hop_ns.get(ap as usize)) {
            (Some(&row), Some(&hop_ns)) => a
                .row_ns
                .get(row as usize * self.cloudlets() + cloudlet as usize)
                .map_or(u64::MAX, |&row_ns| row_ns + hop_ns),
            _ => u64::MAX,
        }
    }

    /// Cloudlets in order of propagation latency from access point `ap`
    /// (ties by index; empty for an index out of range).
    pub fn cloudlets_by_latency(&self, ap: u32) -> &'a [u32] {
        let a = &self.ap_latencies;
        a.ap_rows
            .get(ap as usize)
            .and_then(|&row| a.by_latency.get(row as usize))
            .map_or(&[], Vec::as_slice)
    }

    /// Expected cost of moving a VM from `from` to `to` (zero for `from == to`
    /// or indices out of range).
    pub fn migration(&self, from: u32, to: u32) -> MigrationCost {
        self.migration_cost
            .get(from as usize * self.cloudlets() + to as usize)
            .copied()
            .unwrap_or_default()
    }

    /// How many more VMs cloudlet `cloudlet` has memory for now.
    pub fn room_vms(&self, cloudlet: u32) -> u64 {
        let i = cloudlet as usize;
        match (
            self.cloudlet_memory_bytes.get(i),
            self.cloudlet_memory_used_bytes.get(i),
        ) {
            (Some(&total), Some(&used)) => total.saturating_sub(used) / self.vm_memory_bytes.max(1),
            _ => 0,
        }
    }

    /// Whether cloudlet `cloudlet` has room for one more VM.
    pub fn has_room(&self, cloudlet: u32) -> bool {
        self.room_vms(cloudlet) > 0
    }

    /// The lowest-latency cloudlet from access point `ap` that is `current` or
    /// has room for the VM.
    pub fn nearest_with_room(&self, ap: u32, current: u32) -> Option<u32> {
        self.cloudlets_by_latency(ap)
            .iter()
            .copied()
            .find(|&c| c == current || self.has_room(c))
    }

    /// Whether VM `vm` may be moved now (it exists and is not migrating).
    pub fn movable(&self, vm: u32) -> bool {
        self.vm_migrating.get(vm as usize) == Some(&false)
    }

    /// The VMs a decision on `trigger` concerns: every movable VM on the
    /// timer, the device's own VM (if movable) on a handover.
    pub fn concerned(&self, trigger: Trigger) -> Vec<u32> {
        match trigger {
            Trigger::Periodic => (0..self.vms() as u32)
                .filter(|&vm| self.movable(vm))
                .collect(),
            Trigger::Handover { device } => {
                if self.movable(device) {
                    vec![device]
                } else {
                    Vec::new()
                }
            }
        }
    }
}

/// The size of the decisions a run will ask a policy for, so a policy can
/// refuse a run it cannot serve before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceSize {
    /// VMs in the world.
    pub vms: usize,
    /// Cloudlets in the world.
    pub cloudlets: usize,
    /// Whether the policy runs on a timer (then a decision may concern every
    /// VM; on handovers only, one VM).
    pub periodic: bool,
}

impl InstanceSize {
    /// The most VMs one decision can concern.
    pub fn vms_per_decision(&self) -> usize {
        if self.periodic {
            self.vms
        } else {
            self.vms.min(1)
        }
    }
}

/// Which per-device parts of the [`PlacementView`] a policy reads; the
/// engine computes only those (they cost a trace query per device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewNeeds {
    /// `device_position`.
    pub positions: bool,
    /// `device_ap_ahead` and `device_position_ahead`.
    pub look_ahead: bool,
}

impl ViewNeeds {
    /// Everything.
    pub const ALL: ViewNeeds = ViewNeeds {
        positions: true,
        look_ahead: true,
    };
    /// Nothing per device beyond the access points of now.
    pub const NONE: ViewNeeds = ViewNeeds {
        positions: false,
        look_ahead: false,
    };
}

/// A placement policy.
pub trait PlacementPolicy {
    /// The policy's name, as scenario files and outputs spell it.
    fn name(&self) -> &'static str;

    /// The per-device parts of the view this policy reads (all by default).
    fn needs(&self) -> ViewNeeds {
        ViewNeeds::ALL
    }

    /// Whether the policy can serve a run of this size; the engine asks once,
    /// before the run, and refuses to start with the message returned.
    fn check(&self, _size: &InstanceSize) -> Result<(), String> {
        Ok(())
    }

    /// The VMs to move now. Moves of migrating VMs, to the VM's own host, or
    /// to a cloudlet without room are dropped by the engine.
    fn decide(&mut self, view: &PlacementView<'_>, trigger: Trigger) -> Vec<Move>;
}

/// Every policy's settings, as the `[placement.<name>]` tables of a scenario
/// file carry them; a table left out takes the policy's defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfigs {
    /// `[placement.never]`.
    #[serde(default)]
    pub never: NeverConfig,
    /// `[placement.nearest]`.
    #[serde(default)]
    pub nearest: NearestConfig,
    /// `[placement.threshold]`.
    #[serde(default)]
    pub threshold: ThresholdConfig,
    /// `[placement.least-loaded]`.
    #[serde(default, rename = "least-loaded")]
    pub least_loaded: LeastLoadedConfig,
    /// `[placement.ga]`.
    #[serde(default)]
    pub ga: GaConfig,
    /// `[placement.optimal]`.
    #[serde(default)]
    pub optimal: OptimalConfig,
}

/// The policy called `name` with its settings from `configs`, or an error
/// naming what is wrong (an unknown name, with the names there are, or a
/// setting out of range, with the field).
pub fn build(
    name: &str,
    configs: &PolicyConfigs,
) -> Result<Box<dyn PlacementPolicy + Send>, String> {
    let in_table = |e: String| format!("[placement.{name}]: {e}");
    match name {
        "never" => Ok(Box::new(Never)),
        "nearest" => Ok(Box::new(Nearest)),
        "threshold" => Ok(Box::new(
            Threshold::new(configs.threshold.clone()).map_err(in_table)?,
        )),
        "least-loaded" => Ok(Box::new(
            LeastLoaded::new(configs.least_loaded.clone()).map_err(in_table)?,
        )),
        "ga" => Ok(Box::new(Ga::new(configs.ga.clone()).map_err(in_table)?)),
        "optimal" => Ok(Box::new(
            Optimal::new(configs.optimal.clone()).map_err(in_table)?,
        )),
        other => Err(format!(
            "unknown placement policy `{other}` (expected one of: {})",
            NAMES.join(", ")
        )),
    }
}

/// The policy called `name` with its default settings, or an error listing
/// the names there are.
pub fn by_name(name: &str) -> Result<Box<dyn PlacementPolicy + Send>, String> {
    build(name, &PolicyConfigs::default())
}

/// The names [`by_name`] knows.
pub const NAMES: &[&str] = &[
    "never",
    "nearest",
    "threshold",
    "least-loaded",
    "ga",
    "optimal",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds_and_reports_its_name() {
        for name in NAMES {
            let policy = by_name(name).unwrap();
            assert_eq!(policy.name(), *name);
        }
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let err = by_name("random").err().unwrap();
        assert!(err.contains("`random`"), "{err}");
        assert!(err.contains("least-loaded, ga, optimal"), "{err}");
    }

    #[test]
    fn configs_read_from_toml_and_refuse_unknown_fields() {
        let configs: PolicyConfigs = toml::from_str(
            "[ga]\npopulation = 12\nseed = 5\n[threshold]\nmargin_ms = 3.0\n[least-loaded]\n",
        )
        .unwrap();
        assert_eq!(configs.ga.population, 12);
        assert_eq!(configs.ga.seed, 5);
        assert_eq!(configs.threshold.margin_ms, Some(3.0));
        let err = toml::from_str::<PolicyConfigs>("[ga]\npopulaton = 12\n").unwrap_err();
        assert!(err.to_string().contains("populaton"), "{err}");
        let err = toml::from_str::<PolicyConfigs>("[nearest]\nmargin_ms = 1.0\n").unwrap_err();
        assert!(err.to_string().contains("margin_ms"), "{err}");
    }

    #[test]
    fn a_bad_setting_names_the_table_and_field() {
        let configs: PolicyConfigs = toml::from_str("[ga]\npopulation = 1\n").unwrap();
        let err = build("ga", &configs).err().unwrap();
        assert!(err.starts_with("[placement.ga]: population"), "{err}");
    }
}
