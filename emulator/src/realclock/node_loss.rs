//! A cloudlet node that dies during a run: found by the first call to it
//! that fails as unreachable (a request, a migration, hosting a VM), then
//! confirmed by a health check (its `Status` RPC, [`HEALTH_TIMEOUT`]), so a
//! single slow call does not kill a node. A node found dead is reported
//! once: on stderr, as an [`EdgeEvent::NodeLost`] and in `summary.json`
//! (`real_clock.nodes_lost`, `real_clock.vms_lost`, with what each VM was
//! doing); it is out of placement from then on (no VM is placed on it or
//! moved to it), and the requests of the VMs it took with it fail at once
//! as `UNAVAILABLE` without a line each on stderr.
//!
//! With `[placement] on_node_loss = "restart"` each VM lost is started
//! again from scratch (a new, empty VM: its memory is gone) on the cloudlet
//! registration would choose for its device now, the lost node excluded;
//! its requests wait for that (the wait shows in their `migration_stall_ms`
//! and total), and an [`EdgeEvent::VmRestarted`] says when it is over. A VM
//! that was migrating away when its node died is restarted if that
//! migration fails, and kept where it arrived if it completed. With
//! `"drop"` (the default) the VMs stay lost.
//!
//! A lost node is probed every [`RETURN_PROBE_PERIOD`]; once it answers
//! again (restarted at its address) it is back in placement, taken as
//! empty, and said once (stderr, `nodes_lost[].back_at_s`).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use std::time::Instant;

use super::edge::{EdgeState, Shared};
use super::events::EdgeEvent;
use crate::output::{NodeLost, VmLost};
use crate::scenario::schema::OnNodeLoss;

/// How long a health check waits for a node's answer: 1 s, the default
/// `timeoutSeconds` of a Kubernetes probe ("Configure Liveness, Readiness
/// and Startup Probes", probe settings: "Defaults to 1 second").
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// How often a lost node is probed for its return: 10 s, the default
/// `periodSeconds` of a Kubernetes probe (same page: "Defaults to 10
/// seconds").
pub const RETURN_PROBE_PERIOD: Duration = Duration::from_secs(10);

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
    fn declare_lost(self: &Arc<Self>, node: u32, why: &str) {
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
                sleep,
                ..
            } = &mut *state;
            let mut lost_vms = Vec::new();
            for (i, vm) in vms.iter_mut().enumerate() {
                if vm.host != node || vm.retired || vm.lost {
                    continue;
                }
                vm.lost = true;
                // Gone from the node (`sleep.rs`), migrating away or not.
                if let Some(sleep) = sleep.as_mut() {
                    sleep.leave(node, now_ns);
                }
                let doing = match vm.migrating_to {
                    Some(to) if vm.migrating => format!("migrating to {}", self.cloudlet_name(to)),
                    _ => "running".to_owned(),
                };
                losses.vms.push(VmLost {
                    vm: vm.id.clone(),
                    device: devices.get(i).map_or_else(String::new, |d| d.name.clone()),
                    node: name.clone(),
                    doing,
                    then: match self.scenario.on_node_loss {
                        OnNodeLoss::Drop => "dropped".to_owned(),
                        OnNodeLoss::Restart => "restarting".to_owned(),
                    },
                });
                lost_vms.push((i as u32, vm.id.clone(), vm.migrating));
            }
            losses.nodes.push(NodeLost {
                id: name.clone(),
                at_s: (now_ns as f64 / 1e6).round() / 1e3,
                reason: reason.clone(),
                back_at_s: None,
            });
            lost_vms
        };
        let restart = self.scenario.on_node_loss == OnNodeLoss::Restart;
        let names: Vec<String> = vms.iter().map(|(_, id, _)| id.clone()).collect();
        eprintln!(
            "mcc-emu: cloudlet {name} lost at {:.3} s ({reason}); {} VM(s) lost with it{}{}{}",
            now_ns as f64 / 1e9,
            names.len(),
            if names.is_empty() { "" } else { ": " },
            names.join(", "),
            match (restart, names.is_empty()) {
                (true, false) => "; restarting them elsewhere",
                _ => "",
            }
        );
        let found = Instant::now();
        self.emit(EdgeEvent::NodeLost {
            time_ns: now_ns,
            node: name,
            reason,
            vms: names,
        });
        self.watch_for_return(node);
        for (vm, _, migrating) in vms {
            // A VM leaving the node is restarted if its migration fails
            // (`placement.rs` calls `after_migration`).
            if restart && !migrating {
                self.restart_vm(vm, found);
            }
        }
    }

    /// Probes lost cloudlet `node` every [`RETURN_PROBE_PERIOD`] until it
    /// answers its health check again (a node restarted at its address) or
    /// the edge stops; then puts it back into placement.
    fn watch_for_return(self: &Arc<Self>, node: u32) {
        let shared = self.clone();
        self.runtime.spawn(async move {
            let mut stopping = shared.stopping.subscribe();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(RETURN_PROBE_PERIOD) => {}
                    _ = stopping.wait_for(|stop| *stop) => return,
                }
                let Some(n) = shared.nodes.get(node) else {
                    return;
                };
                let mut client = n.client.clone();
                let status = client.status(mcc_proto::v1::StatusRequest {});
                if shared.is_stopping() {
                    return;
                }
                if let Ok(Ok(_)) = tokio::time::timeout(HEALTH_TIMEOUT, status).await {
                    shared.node_back(node);
                    return;
                }
            }
        });
    }

    /// Lost cloudlet `node` answers again: it is back in placement, taken as
    /// empty (what it held was lost with it), and it is said once.
    fn node_back(&self, node: u32) {
        let now_ns = self.clock.now_ns();
        let name = self.cloudlet_name(node);
        let vm_bytes = self.scenario.settings.migration.vm_memory_bytes();
        {
            let mut state = self.lock();
            let EdgeState {
                vms,
                losses,
                memory_used_bytes,
                ..
            } = &mut *state;
            if let Some(lost) = losses.lost.get_mut(node as usize) {
                *lost = false;
            }
            let held = vms
                .iter()
                .filter(|v| v.host == node && !v.lost && !v.retired && v.restarting.is_none())
                .count() as u64
                + vms.iter().filter(|v| v.migrating_to == Some(node)).count() as u64;
            if let Some(used) = memory_used_bytes.get_mut(node as usize) {
                *used = held * vm_bytes;
            }
            if let Some(record) = losses.nodes.iter_mut().rev().find(|n| n.id == name) {
                record.back_at_s = Some((now_ns as f64 / 1e6).round() / 1e3);
            }
        }
        eprintln!(
            "mcc-emu: cloudlet {name} answers again at {:.3} s: back in placement, taken as empty",
            now_ns as f64 / 1e9
        );
    }

    /// Cloudlet `host` answered that it does not have VM `vm` although the
    /// edge placed it there and it is not migrating: the node restarted
    /// (fast enough to pass for alive) and forgot it. The VM is lost as
    /// with a node that dies: reported once (stderr, `vms_lost`), then
    /// dropped or restarted as `on_node_loss` says.
    pub(super) fn vm_vanished(self: &Arc<Self>, vm: u32, host: u32, why: &str) {
        let vm_bytes = self.scenario.settings.migration.vm_memory_bytes();
        let restart = self.scenario.on_node_loss == OnNodeLoss::Restart;
        {
            let mut state = self.lock();
            let EdgeState {
                vms,
                devices,
                losses,
                memory_used_bytes,
                sleep,
                ..
            } = &mut *state;
            let Some(v) = vms.get_mut(vm as usize) else {
                return;
            };
            if v.host != host || v.pinned() || v.lost {
                return;
            }
            v.lost = true;
            if let Some(used) = memory_used_bytes.get_mut(host as usize) {
                *used = used.saturating_sub(vm_bytes);
            }
            if let Some(sleep) = sleep.as_mut() {
                sleep.leave(host, self.clock.now_ns());
            }
            let node = self.cloudlet_name(host);
            eprintln!(
                "mcc-emu: {} is no longer on cloudlet {node} ({why}): its node restarted and \
                 forgot it; {}",
                v.id,
                if restart {
                    "restarting it"
                } else {
                    "it is lost"
                }
            );
            losses.vms.push(VmLost {
                vm: v.id.clone(),
                device: devices
                    .get(vm as usize)
                    .map_or_else(String::new, |d| d.name.clone()),
                node,
                doing: "running (its node forgot it)".to_owned(),
                then: if restart { "restarting" } else { "dropped" }.to_owned(),
            });
        }
        if restart {
            self.restart_vm(vm, Instant::now());
        }
    }

    /// A migration of a VM whose source was found lost meanwhile has ended
    /// (`arrived`: it completed): the VM is kept where it arrived, or
    /// restarted (`on_node_loss = "restart"`). Call without the lock.
    pub(super) fn after_migration_of_lost(self: &Arc<Self>, vm: u32, arrived: Option<u32>) {
        let restart = self.scenario.on_node_loss == OnNodeLoss::Restart;
        {
            let mut state = self.lock();
            let EdgeState { vms, losses, .. } = &mut *state;
            let Some(v) = vms.get_mut(vm as usize).filter(|v| v.lost) else {
                return;
            };
            if let Some(to) = arrived {
                v.lost = false;
                let fate = format!("arrived at {}", self.cloudlet_name(to));
                set_fate(losses, &v.id, fate);
                return;
            }
            if !restart {
                return;
            }
        }
        self.restart_vm(vm, Instant::now());
    }

    /// Starts VM `vm` again from scratch on the cloudlet registration would
    /// choose for its device now (lost nodes excluded); its requests wait
    /// for it. `found` is when its loss was found (the restart time counts
    /// from there).
    fn restart_vm(self: &Arc<Self>, vm: u32, found: Instant) {
        let vm_bytes = self.scenario.settings.migration.vm_memory_bytes();
        let now_ns = self.clock.now_ns();
        let (done, vm_id, from, host, ready_ns) = {
            let mut state = self.lock();
            let Some(device) = state.devices.get(vm as usize) else {
                return;
            };
            let position = device.movement.position_at(now_ns);
            let ap = device.attachment.ap;
            let room = room_view(&state.memory_used_bytes, &state.losses);
            let host =
                self.tables
                    .initial_host(&self.scenario.world, ap, position, &room, vm_bytes);
            let EdgeState {
                vms,
                losses,
                memory_used_bytes,
                sleep,
                ..
            } = &mut *state;
            let Some(v) = vms.get_mut(vm as usize) else {
                return;
            };
            let Some(host) = host else {
                let fate = format!(
                    "restart failed: no cloudlet has room for it ({} MiB)",
                    vm_bytes >> 20
                );
                eprintln!("mcc-emu: {}: {fate}", v.id);
                set_fate(losses, &v.id, fate);
                return;
            };
            if let Some(used) = memory_used_bytes.get_mut(host as usize) {
                *used += vm_bytes;
            }
            // A sleeping host wakes before the VM starts there (`sleep.rs`).
            let ready_ns = sleep.as_mut().map_or(now_ns, |s| s.arrive(host, now_ns));
            let (done, waiters) = tokio::sync::watch::channel(());
            v.restarting = Some(waiters);
            v.lost = false;
            (done, v.id.clone(), v.host, host, ready_ns)
        };
        let shared = self.clone();
        self.runtime.spawn(async move {
            let hosted = if ready_ns > now_ns && !shared.wait_until_awake(ready_ns).await {
                Err(super::RealClockError::unavailable(
                    "the edge stopped while its new host woke",
                ))
            } else {
                shared.host_vm_on(&vm_id, host).await
            };
            if hosted.is_ok() {
                // Started from scratch: it boots before it answers, and its
                // requests wait for that too (on the precise timer, as every
                // emulated delay).
                let boot_ns = shared.scenario.restart_boot_ns;
                let speed = shared.clock.speed();
                let boot = Duration::from_secs_f64(boot_ns as f64 / 1e9 / speed);
                shared.timer.sleep(boot).await;
            }
            let wall_ms = found.elapsed().as_secs_f64() * 1e3;
            let now_ns = shared.clock.now_ns();
            let mut state = shared.lock();
            let EdgeState {
                vms,
                losses,
                memory_used_bytes,
                sleep,
                ..
            } = &mut *state;
            let Some(v) = vms.get_mut(vm as usize) else {
                return;
            };
            v.restarting = None;
            let to = shared.cloudlet_name(host);
            match hosted {
                Ok(()) => {
                    v.host = host;
                    v.handoff = None;
                    set_fate(
                        losses,
                        &vm_id,
                        format!("restarted on {to} after {wall_ms:.0} ms"),
                    );
                    drop(state);
                    shared.emit(EdgeEvent::VmRestarted {
                        time_ns: now_ns,
                        vm: vm_id,
                        from: shared.cloudlet_name(from),
                        to,
                        wall_ms,
                    });
                }
                Err(error) => {
                    v.lost = true;
                    if let Some(used) = memory_used_bytes.get_mut(host as usize) {
                        *used = used.saturating_sub(vm_bytes);
                    }
                    if let Some(sleep) = sleep.as_mut() {
                        sleep.leave(host, now_ns);
                    }
                    let fate = format!("restart failed: {error}");
                    eprintln!("mcc-emu: {vm_id}: {fate}");
                    set_fate(losses, &vm_id, fate);
                }
            }
            // Wakes the requests that waited (also when the restart failed).
            drop(done);
        });
    }
}

/// Sets what became of lost VM `vm` (its last loss).
fn set_fate(losses: &mut Losses, vm: &str, fate: String) {
    if let Some(lost) = losses.vms.iter_mut().rev().find(|l| l.vm == vm) {
        lost.then = fate;
    }
}
