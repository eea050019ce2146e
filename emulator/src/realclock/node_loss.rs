//! A cloudlet node that dies during a run: found by the first call to it
//! that fails as unreachable (a request, a migration, hosting a VM), then
//! confirmed by a health check (its `Status` RPC, [`HEALTH_TIMEOUT`]), so a
//! single slow call does not kill a node. A node found dead is reported
//! once: on stderr, as an [`EdgeEvent::NodeLost`] and in `summary.json`
//! (`real_clock.nodes_lost`, `real_clock.vms_lost`, with what each VM was
//! doing); it is out of placement from then on (no VM is placed on it or
//! moved to it), and the requests of the VMs it took with it fail at once
//! as `UNAVAILABLE` without a line each on stderr.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::edge::{EdgeState, Shared};
use super::events::EdgeEvent;
use crate::output::{NodeLost, VmLost};

/// How long a health check waits for a node's answer: 1 s, the default
/// `timeoutSeconds` of a Kubernetes probe ("Configure Liveness, Readiness
/// and Startup Probes", probe settings: "Defaults to 1 second").
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// Which nodes are being checked now (one check at a time per node).
#[derive(Debug)]
pub(super) struct Checks(Box<[AtomicBool]>);

impl Checks {
    /// For `nodes` nodes, none being checked.
    pub fn new(nodes: usize) -> Self {
        Self((0..nodes).map(|_| AtomicBool::new(false)).collect())
    }
}

/// What the edge keeps about lost nodes (in [`EdgeState`]).
#[derive(Debug, Default)]
pub(super) struct Losses {
    /// By cloudlet: found dead.
    pub lost: Vec<bool>,
    /// The nodes found dead, in order.
    pub nodes: Vec<NodeLost>,
    /// The VMs lost with them.
    pub vms: Vec<VmLost>,
}

impl Losses {
    /// For `cloudlets` cloudlets, none lost.
    pub fn new(cloudlets: usize) -> Self {
        Self {
            lost: vec![false; cloudlets],
            ..Self::default()
        }
    }

    /// Whether cloudlet `node` was found dead.
    pub fn is_lost(&self, node: u32) -> bool {
        self.lost.get(node as usize).copied().unwrap_or(false)
    }
}

/// The memory in use per cloudlet as placement must see it: a lost node
/// looks full, so nothing is placed on it or moved to it.
pub(super) fn room_view<'a>(memory_used_bytes: &'a [u64], losses: &Losses) -> Cow<'a, [u64]> {
    if !losses.lost.contains(&true) {
        return Cow::Borrowed(memory_used_bytes);
    }
    Cow::Owned(
        memory_used_bytes
            .iter()
            .zip(&losses.lost)
            .map(|(&used, &lost)| if lost { u64::MAX / 2 } else { used })
            .collect(),
    )
}

impl Shared {
    /// A call to cloudlet `node` failed as unreachable (`why`): checks its
    /// health (unless a check runs already or it is known lost) and, if it
    /// does not answer, declares it lost.
    pub fn suspect(self: &Arc<Self>, node: u32, why: &str) {
        if self.is_stopping() || self.lock().losses.is_lost(node) {
            return;
        }
        let Some(checking) = self.node_checks.0.get(node as usize) else {
            return;
        };
        if checking.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = self.clone();
        let why = why.to_owned();
        self.runtime.spawn(async move {
            let alive = match shared.nodes.get(node) {
                Some(n) => {
                    let mut client = n.client.clone();
                    let status = client.status(mcc_proto::v1::StatusRequest {});
                    matches!(
                        tokio::time::timeout(HEALTH_TIMEOUT, status).await,
                        Ok(Ok(_))
                    )
                }
                None => true,
            };
            if shared.is_stopping() {
                // Nothing to report: the run is ending.
            } else if alive {
                eprintln!(
                    "mcc-emu: cloudlet {}: a call failed ({why}) but it answers its health \
                     check; calls that failed meanwhile are counted as failed requests",
                    shared.cloudlet_name(node)
                );
            } else {
                shared.declare_lost(node, &why);
            }
            shared.node_checks.0[node as usize].store(false, Ordering::Release);
        });
    }

    /// Whether cloudlet `node` is lost or being checked: its failures are
    /// then reported once, with the node, not one line each.
    pub fn node_in_doubt(&self, state: &EdgeState, node: u32) -> bool {
        state.losses.is_lost(node)
            || self
                .node_checks
                .0
                .get(node as usize)
                .is_some_and(|c| c.load(Ordering::Acquire))
    }

    /// Declares cloudlet `node` lost (once): its VMs are lost with it,
    /// and it is reported on stderr, the event stream and the summary.
    fn declare_lost(&self, node: u32, why: &str) {
        let now_ns = self.clock.now_ns();
        let name = self.cloudlet_name(node);
        let reason = format!("{why}; then no answer to a health check within {HEALTH_TIMEOUT:?}");
        let vms = {
            let mut state = self.lock();
            if state.losses.is_lost(node) {
                return;
            }
            if let Some(lost) = state.losses.lost.get_mut(node as usize) {
                *lost = true;
            }
            let EdgeState {
                vms,
                devices,
                losses,
                ..
            } = &mut *state;
            let mut lost_vms = Vec::new();
            for (i, vm) in vms.iter_mut().enumerate() {
                if vm.host != node || vm.retired || vm.lost {
                    continue;
                }
                vm.lost = true;
                let doing = match vm.migrating_to {
                    Some(to) if vm.migrating => format!("migrating to {}", self.cloudlet_name(to)),
                    _ => "running".to_owned(),
                };
                losses.vms.push(VmLost {
                    vm: vm.id.clone(),
                    device: devices.get(i).map_or_else(String::new, |d| d.name.clone()),
                    node: name.clone(),
                    doing,
                });
                lost_vms.push(vm.id.clone());
            }
            losses.nodes.push(NodeLost {
                id: name.clone(),
                at_s: (now_ns as f64 / 1e6).round() / 1e3,
                reason: reason.clone(),
            });
            lost_vms
        };
        eprintln!(
            "mcc-emu: cloudlet {name} lost at {:.3} s ({reason}); {} VM(s) lost with it{}{}",
            now_ns as f64 / 1e9,
            vms.len(),
            if vms.is_empty() { "" } else { ": " },
            vms.join(", ")
        );
        self.emit(EdgeEvent::NodeLost {
            time_ns: now_ns,
            node: name,
            reason,
            vms,
        });
    }
}
