//! What a node hosts and which hand-overs it takes part in, as plain code.
//!
//! Two-phase hand-over. The driver of a migration calls `PrepareHandover` on
//! both nodes with the same migration id. The node whose host id is the
//! request's `source_host_id` is the *source*: its VM turns `MIGRATING_OUT`
//! and keeps serving. The other is the *target*: it reserves room for the
//! VM, then accepts one `ReceiveVm` stream for it; when the stream completes
//! the VM is there as `MIGRATING_IN` (it may already serve, as soft-migration
//! needs). `CommitHandover` on the target makes the VM `RUNNING` there; on
//! the source it gives the VM up. The driver commits the target first, so at
//! every instant at least one node holds the VM. `AbortHandover` on either
//! side undoes that side: the target forgets the VM, the source's VM turns
//! `RUNNING` again. A transfer stream that fails or ends early drops the
//! target's side of the hand-over, so no partial VM is left behind.

use std::collections::BTreeMap;
use std::time::Instant;

use mcc_proto::v1::{PrepareHandoverRequest, VmStatus};

use super::error::NodeError;
use super::pages::VmMemory;
use super::transfer::{ReceivedVm, memory_from_profile};

/// The state of a VM on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmState {
    /// Hosted and serving.
    Running,
    /// Serving here while migration `migration_id` moves it away.
    MigratingOut {
        /// The migration.
        migration_id: String,
    },
    /// Received by migration `migration_id`; serving, awaiting commit.
    MigratingIn {
        /// The migration.
        migration_id: String,
    },
}

impl VmState {
    /// The name `Status` reports.
    pub fn name(&self) -> &'static str {
        match self {
            VmState::Running => "RUNNING",
            VmState::MigratingOut { .. } => "MIGRATING_OUT",
            VmState::MigratingIn { .. } => "MIGRATING_IN",
        }
    }
}

/// A VM on a node.
#[derive(Debug, Clone, PartialEq)]
pub struct HostedVm {
    /// Its memory.
    pub memory: VmMemory,
    /// Its state.
    pub state: VmState,
    /// Requests it served on this node.
    pub requests_served: u64,
    /// Pages this node does not hold yet (post-copy and soft targets).
    pub pages_missing: u64,
}

#[derive(Debug)]
enum Role {
    Source,
    Target {
        memory: VmMemory,
        streaming: bool,
        received: Option<ReceivedVm>,
    },
}

#[derive(Debug)]
struct Handover {
    vm_id: String,
    role: Role,
    prepared_at: Instant,
}

/// Figures of a committed hand-over, as this node measured them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitFigures {
    /// Time from this node's prepare to the commit, in µs.
    pub total_us: u64,
    /// Longest time the VM could serve nothing on this node during the
    /// hand-over, in µs (a node never suspends a VM on its own, so 0 until
    /// a migration driver suspends it).
    pub downtime_us: u64,
    /// Bytes of VM transfer this node received for the migration (target);
    /// 0 on the source, which does not send through this service.
    pub bytes: u64,
}

/// Everything a node knows.
#[derive(Debug)]
pub struct NodeState {
    host_id: String,
    cores: u32,
    memory_bytes: u64,
    vms: BTreeMap<String, HostedVm>,
    handovers: BTreeMap<String, Handover>,
    requests_served: u64,
    migrations_in: u64,
    migrations_out: u64,
}

impl NodeState {
    /// An empty node.
    pub fn new(host_id: String, cores: u32, memory_bytes: u64) -> Self {
        Self {
            host_id,
            cores,
            memory_bytes,
            vms: BTreeMap::new(),
            handovers: BTreeMap::new(),
            requests_served: 0,
            migrations_in: 0,
            migrations_out: 0,
        }
    }

    /// The node's host id.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// Memory in use or reserved by incoming hand-overs.
    pub fn memory_committed_bytes(&self) -> u64 {
        let hosted: u64 = self.vms.values().map(|vm| vm.memory.memory_bytes).sum();
        let reserved: u64 = self
            .handovers
            .values()
            .filter_map(|h| match &h.role {
                Role::Target {
                    memory, received, ..
                } if received.is_none() => Some(memory.memory_bytes),
                _ => None,
            })
            .sum();
        hosted + reserved
    }

    /// Places a VM on this node directly (initial placement).
    pub fn host_vm(&mut self, vm_id: &str, memory: VmMemory) -> Result<(), NodeError> {
        if vm_id.is_empty() {
            return Err(NodeError::invalid("a VM id must not be empty"));
        }
        if self.vms.contains_key(vm_id) {
            return Err(NodeError::precondition(format!(
                "VM {vm_id:?} is already on host {:?}",
                self.host_id
            )));
        }
        self.check_room(memory.memory_bytes)?;
        self.vms.insert(
            vm_id.to_owned(),
            HostedVm {
                memory,
                state: VmState::Running,
                requests_served: 0,
                pages_missing: 0,
            },
        );
        Ok(())
    }

    /// The VM, when this node can run a request on it now.
    pub fn vm(&self, vm_id: &str) -> Result<&HostedVm, NodeError> {
        self.vms.get(vm_id).ok_or_else(|| {
            NodeError::not_found(format!(
                "no VM {vm_id:?} on host {:?} (it was never placed here, or it moved away)",
                self.host_id
            ))
        })
    }

    /// Counts a served request.
    pub fn record_served(&mut self, vm_id: &str) {
        self.requests_served += 1;
        if let Some(vm) = self.vms.get_mut(vm_id) {
            vm.requests_served += 1;
        }
    }

    /// `PrepareHandover`: Ok(None) when accepted, Ok(Some(reason)) when refused.
    pub fn prepare(
        &mut self,
        request: &PrepareHandoverRequest,
        now: Instant,
    ) -> Result<Option<String>, NodeError> {
        if request.migration_id.is_empty() {
            return Err(NodeError::invalid(
                "PrepareHandoverRequest.migration_id is empty",
            ));
        }
        if request.vm_id.is_empty() {
            return Err(NodeError::invalid("PrepareHandoverRequest.vm_id is empty"));
        }
        if self.handovers.contains_key(&request.migration_id) {
            return Ok(Some(format!(
                "migration {:?} is already prepared on host {:?}",
                request.migration_id, self.host_id
            )));
        }
        let role = if request.source_host_id == self.host_id {
            let Some(vm) = self.vms.get_mut(&request.vm_id) else {
                return Ok(Some(format!(
                    "host {:?} is named as the source but does not host VM {:?}",
                    self.host_id, request.vm_id
                )));
            };
            if vm.state != VmState::Running {
                return Ok(Some(format!(
                    "VM {:?} is {} on host {:?}; only a running VM can start a migration",
                    request.vm_id,
                    vm.state.name(),
                    self.host_id
                )));
            }
            vm.state = VmState::MigratingOut {
                migration_id: request.migration_id.clone(),
            };
            Role::Source
        } else {
            let Some(profile) = &request.profile else {
                return Err(NodeError::invalid(
                    "PrepareHandoverRequest.profile is missing",
                ));
            };
            let memory =
                memory_from_profile(&request.vm_id, profile, "PrepareHandoverRequest.profile")?;
            if self.vms.contains_key(&request.vm_id) {
                return Ok(Some(format!(
                    "VM {:?} is already on host {:?}",
                    request.vm_id, self.host_id
                )));
            }
            if let Err(error) = self.check_room(memory.memory_bytes) {
                return Ok(Some(error.message));
            }
            Role::Target {
                memory,
                streaming: false,
                received: None,
            }
        };
        self.handovers.insert(
            request.migration_id.clone(),
            Handover {
                vm_id: request.vm_id.clone(),
                role,
                prepared_at: now,
            },
        );
        Ok(None)
    }

    /// A `ReceiveVm` stream starts for `migration_id` with a header that
    /// describes `memory` for `vm_id`.
    pub fn begin_receive(
        &mut self,
        migration_id: &str,
        vm_id: &str,
        memory: &VmMemory,
    ) -> Result<(), NodeError> {
        let host_id = self.host_id.clone();
        let Some(handover) = self.handovers.get_mut(migration_id) else {
            return Err(NodeError::precondition(format!(
                "migration {migration_id:?} was not prepared on host {host_id:?}; \
                 call PrepareHandover before ReceiveVm"
            )));
        };
        if handover.vm_id != vm_id {
            return Err(NodeError::invalid(format!(
                "VmHeader.vm_id is {vm_id:?} but migration {migration_id:?} moves {:?}",
                handover.vm_id
            )));
        }
        match &mut handover.role {
            Role::Target {
                memory: prepared,
                streaming,
                received,
            } => {
                if prepared != memory {
                    return Err(NodeError::invalid(format!(
                        "VmHeader.profile does not match the profile prepared for migration {migration_id:?}"
                    )));
                }
                if *streaming || received.is_some() {
                    return Err(NodeError::precondition(format!(
                        "migration {migration_id:?} already has a transfer stream"
                    )));
                }
                *streaming = true;
                Ok(())
            }
            Role::Source => Err(NodeError::precondition(format!(
                "host {host_id:?} is the source of migration {migration_id:?}, not its target"
            ))),
        }
    }

    /// The stream of `migration_id` completed: the VM is here, `MIGRATING_IN`.
    pub fn complete_receive(
        &mut self,
        migration_id: &str,
        received: ReceivedVm,
    ) -> Result<(), NodeError> {
        let Some(handover) = self.handovers.get_mut(migration_id) else {
            return Err(NodeError::not_found(format!(
                "migration {migration_id:?} was aborted during its transfer"
            )));
        };
        let Role::Target {
            streaming,
            received: slot,
            ..
        } = &mut handover.role
        else {
            return Err(NodeError::precondition(format!(
                "host {:?} is not the target of migration {migration_id:?}",
                self.host_id
            )));
        };
        *streaming = false;
        self.vms.insert(
            handover.vm_id.clone(),
            HostedVm {
                memory: received.memory.clone(),
                state: VmState::MigratingIn {
                    migration_id: migration_id.to_owned(),
                },
                requests_served: 0,
                pages_missing: received.held.missing(),
            },
        );
        *slot = Some(received);
        Ok(())
    }

    /// The stream of `migration_id` failed or ended early: this node drops
    /// its side of the hand-over, leaving no partial VM behind.
    pub fn abandon_receive(&mut self, migration_id: &str) {
        let complete = matches!(
            self.handovers.get(migration_id),
            Some(Handover {
                role: Role::Target {
                    received: Some(_),
                    ..
                },
                ..
            })
        );
        if !complete
            && matches!(
                self.handovers.get(migration_id),
                Some(Handover {
                    role: Role::Target { .. },
                    ..
                })
            )
        {
            self.handovers.remove(migration_id);
        }
    }

    /// `CommitHandover`.
    pub fn commit(&mut self, migration_id: &str, now: Instant) -> Result<CommitFigures, NodeError> {
        let Some(handover) = self.handovers.get(migration_id) else {
            return Err(NodeError::not_found(format!(
                "no migration {migration_id:?} on host {:?}",
                self.host_id
            )));
        };
        let total_us = micros(now.saturating_duration_since(handover.prepared_at));
        let bytes = match &handover.role {
            Role::Target { received: None, .. } => {
                return Err(NodeError::precondition(format!(
                    "migration {migration_id:?} cannot commit on its target {:?}: the VM has not fully arrived",
                    self.host_id
                )));
            }
            Role::Target {
                received: Some(r), ..
            } => r.bytes_received,
            Role::Source => 0,
        };
        let vm_id = handover.vm_id.clone();
        let is_source = matches!(handover.role, Role::Source);
        self.handovers.remove(migration_id);
        if is_source {
            self.vms.remove(&vm_id);
            self.migrations_out += 1;
        } else {
            if let Some(vm) = self.vms.get_mut(&vm_id) {
                vm.state = VmState::Running;
            }
            self.migrations_in += 1;
        }
        Ok(CommitFigures {
            total_us,
            downtime_us: 0,
            bytes,
        })
    }

    /// `AbortHandover`: undoes this node's side; unknown ids are a no-op
    /// (the side may already have dropped it, e.g. after a failed stream).
    pub fn abort(&mut self, migration_id: &str) {
        let Some(handover) = self.handovers.remove(migration_id) else {
            return;
        };
        match handover.role {
            Role::Source => {
                if let Some(vm) = self.vms.get_mut(&handover.vm_id) {
                    vm.state = VmState::Running;
                }
            }
            Role::Target { received, .. } => {
                if received.is_some() {
                    self.vms.remove(&handover.vm_id);
                }
            }
        }
    }

    /// `FetchPage`: the source answers a page fault of `migration_id`.
    pub fn fetch_page(
        &self,
        migration_id: &str,
        vm_id: &str,
        page_index: u64,
    ) -> Result<mcc_proto::v1::Page, NodeError> {
        let vm = self.vm(vm_id)?;
        match &vm.state {
            VmState::MigratingOut { migration_id: id } if id == migration_id => {}
            state => {
                return Err(NodeError::precondition(format!(
                    "VM {vm_id:?} is {} on host {:?}, not migrating out by migration {migration_id:?}",
                    state.name(),
                    self.host_id
                )));
            }
        }
        if page_index >= vm.memory.pages() {
            return Err(NodeError::invalid(format!(
                "page {page_index} lies outside VM {vm_id:?} ({} pages)",
                vm.memory.pages()
            )));
        }
        Ok(vm.memory.page(page_index))
    }

    /// `Status`: the VMs in id order.
    pub fn status(&self) -> mcc_proto::v1::StatusResponse {
        mcc_proto::v1::StatusResponse {
            host_id: self.host_id.clone(),
            cpu_cores: self.cores,
            memory_bytes: self.memory_bytes,
            vms: self
                .vms
                .iter()
                .map(|(id, vm)| VmStatus {
                    vm_id: id.clone(),
                    state: vm.state.name().to_owned(),
                    memory_bytes: vm.memory.memory_bytes,
                    requests_served: vm.requests_served,
                    ..Default::default()
                })
                .collect(),
            requests_served: self.requests_served,
            migrations_in: self.migrations_in,
            migrations_out: self.migrations_out,
        }
    }

    fn check_room(&self, memory_bytes: u64) -> Result<(), NodeError> {
        let committed = self.memory_committed_bytes();
        if committed.saturating_add(memory_bytes) > self.memory_bytes {
            return Err(NodeError::precondition(format!(
                "host {:?} has {} of {} bytes committed; a VM of {memory_bytes} bytes does not fit",
                self.host_id, committed, self.memory_bytes
            )));
        }
        Ok(())
    }
}

fn micros(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
