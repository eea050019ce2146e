//! Placement policies: which cloudlet should host each VM.
//!
//! A policy is asked at the times the scenario sets (every N seconds, when a
//! device changes access point) and answers with the VMs to move and where;
//! each move becomes a migration. Policies see the world through a
//! [`PlacementView`] and may keep state between decisions.

mod nearest;
mod never;

pub use nearest::Nearest;
pub use never::Never;

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

/// What a policy can see of the world when it decides.
#[derive(Debug, Clone, Copy)]
pub struct PlacementView<'a> {
    /// Emulated time, nanoseconds since the start.
    pub now_ns: u64,
    /// Current host of each VM (VM `i` belongs to device `i`).
    pub vm_hosts: &'a [u32],
    /// Whether each VM is migrating right now (a policy should not move it again).
    pub vm_migrating: &'a [bool],
    /// Access point each device is attached to, `None` out of coverage.
    pub device_ap: &'a [Option<u32>],
    /// Memory each VM needs, in bytes.
    pub vm_memory_bytes: u64,
    /// Memory of each cloudlet, in bytes.
    pub cloudlet_memory_bytes: &'a [u64],
    /// Memory each cloudlet has promised to VMs (hosted or arriving), in bytes.
    pub cloudlet_memory_used_bytes: &'a [u64],
    /// Work already queued on each cloudlet's cores, in nanoseconds.
    pub cloudlet_backlog_ns: &'a [u64],
    /// Cloudlets in order of propagation latency, for each access point.
    pub cloudlets_by_latency: &'a [Vec<u32>],
}

impl PlacementView<'_> {
    /// Whether cloudlet `cloudlet` has room for one more VM.
    pub fn has_room(&self, cloudlet: u32) -> bool {
        let i = cloudlet as usize;
        match (
            self.cloudlet_memory_bytes.get(i),
            self.cloudlet_memory_used_bytes.get(i),
        ) {
            (Some(&total), Some(&used)) => used.saturating_add(self.vm_memory_bytes) <= total,
            _ => false,
        }
    }

    /// The lowest-latency cloudlet from access point `ap` that is `current` or
    /// has room for the VM.
    pub fn nearest_with_room(&self, ap: u32, current: u32) -> Option<u32> {
        self.cloudlets_by_latency
            .get(ap as usize)?
            .iter()
            .copied()
            .find(|&c| c == current || self.has_room(c))
    }
}

/// A placement policy.
pub trait PlacementPolicy {
    /// The policy's name, as scenario files and outputs spell it.
    fn name(&self) -> &'static str;

    /// The VMs to move now. Moves of migrating VMs, to the VM's own host, or
    /// to a cloudlet without room are dropped by the engine.
    fn decide(&mut self, view: &PlacementView<'_>, trigger: Trigger) -> Vec<Move>;
}

/// The policy called `name`, or an error listing the names there are.
pub fn by_name(name: &str) -> Result<Box<dyn PlacementPolicy + Send>, String> {
    match name {
        "never" => Ok(Box::new(Never)),
        "nearest" => Ok(Box::new(Nearest)),
        other => Err(format!(
            "unknown placement policy `{other}` (expected one of: {})",
            NAMES.join(", ")
        )),
    }
}

/// The names [`by_name`] knows.
pub const NAMES: &[&str] = &["never", "nearest"];
