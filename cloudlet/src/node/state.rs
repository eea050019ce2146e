//! What a node hosts and which hand-overs it takes part in, as plain code.
//!
//! Two-phase hand-over. The driver of a migration calls `PrepareHandover` on
//! both nodes with the same migration id. The node whose host id is the
//! request's `source_host_id` is the *source*: its VM turns `MIGRATING_OUT`
//! and keeps serving. The other is the *target*: it reserves room for the
//! VM, then accepts one `ReceiveVm` stream for it; when the execution state
//! arrives the VM is installed there as `MIGRATING_IN` and serves (post-copy
//! and soft: with the pages it lacks, pulled on fault or filled by the push
//! that follows the state on the stream). `CommitHandover` on the target
//! makes the VM `RUNNING` there once it holds every page; on the source it
//! gives the VM up and leaves a forwarding note (a later request is answered
//! `FAILED_PRECONDITION` naming the new host). The driver commits the target
//! first, so at every instant at least one node holds the VM.
//! `AbortHandover` on either side undoes that side: the target forgets the
//! VM, the source's VM turns `RUNNING` again. A transfer stream that fails
//! or ends early drops the target's side of the hand-over, so no partial VM
//! is left behind.
//!
//! On the source, the driver moves the VM through [`OutPhase`]s: serving,
//! suspended (stop phase of stop-and-copy and pre-copy, and the switch of
//! post-copy: requests wait), moved (the target runs it: requests are
//! forwarded there) or dual (soft-migration's handoff: both hosts serve).
//! The source measures the downtime: suspend to the target's acknowledgement.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mcc_proto::v1::{PrepareHandoverRequest, VmStatus};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::{NodeError, Peer};
use super::pages::{PageSet, VmMemory};
use super::transfer::{ReceivedVm, memory_from_profile};
use super::waits::SuspensionWaits;

/// Pages a request touches when the migration did not say (the model's default).
pub const DEFAULT_PAGES_PER_REQUEST: u32 = crate::migration::DEFAULT_PAGES_PER_REQUEST;

/// Where a VM migrating out stands on its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutPhase {
    /// Runs and serves here while its memory is copied.
    Serving,
    /// Suspended since this instant: requests wait.
    Suspended(Instant),
    /// Runs at the target: requests are forwarded there.
    Moved,
    /// Soft-migration handoff: runs here and at the target; both serve.
    Dual,
}

/// The state of a VM on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmState {
    /// Hosted and serving.
    Running,
    /// Migration `migration_id` moves it away.
    MigratingOut {
        /// The migration.
        migration_id: String,
        /// Where it stands.
        phase: OutPhase,
    },
    /// Received by migration `migration_id`; serving, awaiting commit.
    MigratingIn {
        /// The migration.
        migration_id: String,
        /// The source serves it too (soft-migration handoff).
        dual: bool,
    },
}

impl VmState {
    /// The name `Status` reports.
    pub fn name(&self) -> &'static str {
        match self {
            VmState::Running => "RUNNING",
            VmState::MigratingOut {
                phase: OutPhase::Suspended(_),
                ..
            } => "SUSPENDED",
            VmState::MigratingOut {
                phase: OutPhase::Moved,
                ..
            } => "MOVED",
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
    /// The pages this node holds; `None` when it holds them all.
    pub held: Option<PageSet>,
    /// Distinct pages one request touches (drawn when pages are missing).
    pub pages_per_request: u32,
    /// Pages of the writable working set (the first pages of memory);
    /// requests touch these (all of memory when 0).
    pub working_set_pages: u64,
}

impl HostedVm {
    /// Pages this node does not hold yet (post-copy and soft targets).
    pub fn pages_missing(&self) -> u64 {
        self.held.as_ref().map_or(0, PageSet::missing)
    }

    /// The pages request `request_id` touches, drawn from a ChaCha8 stream
    /// seeded by the VM's seed and the request id (so a request touches the
    /// same pages whichever host serves it), sorted, each once.
    pub fn touched_pages(&self, request_id: u64) -> Vec<u64> {
        let pages = self.memory.pages();
        let span = if self.working_set_pages == 0 {
            pages
        } else {
            self.working_set_pages.min(pages)
        };
        if span == 0 {
            return Vec::new();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.memory.seed ^ request_id.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mut touched: Vec<u64> = (0..self.pages_per_request)
            .map(|_| rng.random_range(0..span))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        touched
    }
}

/// How a node takes a request for a VM now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Serve it here, after pulling `missing` (the touched pages this node
    /// lacks) from the source.
    Serve {
        /// Pages to pull first, in order.
        missing: Vec<u64>,
        /// The migration that brings them, and the source's address
        /// (empty: wait for the push).
        pull: Option<(String, String)>,
        /// The other host serving the VM (soft-migration handoff).
        handoff: Option<Peer>,
    },
    /// The VM is suspended by this migration: wait for a change, then ask again.
    Wait(String),
    /// The VM runs at the target (this peer) since this migration's switch:
    /// forward the request there.
    Forward(Peer, String),
}

#[derive(Debug)]
enum Role {
    Source {
        target: Peer,
        suspended_at: Option<Instant>,
        downtime: Duration,
        fetched: u64,
        fetch_bytes: u64,
        /// Waits of requests for the suspended VM that ended.
        stall: Duration,
        /// Waits still open during the suspension.
        waits: SuspensionWaits,
    },
    Target {
        memory: VmMemory,
        streaming: bool,
        received: Option<ReceivedVm>,
        source: Peer,
        fetched: u64,
        fetch_bytes: u64,
        stall: Duration,
    },
}

#[derive(Debug)]
struct Handover {
    vm_id: String,
    role: Role,
    prepared_at: Instant,
}

/// Figures of a committed hand-over, as this node measured them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitFigures {
    /// Time from this node's prepare to the commit, in µs.
    pub total_us: u64,
    /// Longest time the VM could serve nothing, in µs: measured on the
    /// source from its suspend to the target's acknowledgement of the
    /// execution state; 0 on the target and for soft-migration.
    pub downtime_us: u64,
    /// Bytes of VM transfer this node received for the migration (target);
    /// 0 on the source, which does not send through this service.
    pub bytes: u64,
    /// Pages pulled with `FetchPage` (target) or served (source).
    pub pages_fetched: u64,
    /// Encoded bytes of those `FetchPage` answers.
    pub fetch_bytes: u64,
    /// Summed time requests waited: for pulled pages (target) or for the
    /// VM to resume (source: each from when it met the suspended VM to the
    /// end of the suspension, counted by the source itself), in µs.
    pub stall_us: u64,
}

/// Everything a node knows.
#[derive(Debug)]
pub struct NodeState {
    host_id: String,
    cores: u32,
    memory_bytes: u64,
    vms: BTreeMap<String, HostedVm>,
    handovers: BTreeMap<String, Handover>,
    /// VMs that left this node, and where they went.
    moved: BTreeMap<String, Peer>,
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
            moved: BTreeMap::new(),
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
        self.moved.remove(vm_id);
        self.vms.insert(
            vm_id.to_owned(),
            HostedVm {
                memory,
                state: VmState::Running,
                requests_served: 0,
                held: None,
                pages_per_request: DEFAULT_PAGES_PER_REQUEST,
                working_set_pages: 0,
            },
        );
        Ok(())
    }

    /// Takes VM `vm_id` off this node: NOT_FOUND if it is not here,
    /// FAILED_PRECONDITION while it is migrating (retry when it is done).
    pub fn release_vm(&mut self, vm_id: &str) -> Result<(), NodeError> {
        let vm = self.vms.get(vm_id).ok_or_else(|| {
            NodeError::not_found(format!("VM {vm_id:?} is not on host {:?}", self.host_id))
        })?;
        if !matches!(vm.state, VmState::Running) {
            return Err(NodeError::precondition(format!(
                "VM {vm_id:?} is {} on host {:?}; release it once that is over",
                vm.state.name(),
                self.host_id
            )));
        }
        self.vms.remove(vm_id);
        Ok(())
    }

    /// The VM, when this node hosts it; a VM that left is refused with
    /// [`NodeError::moved`] naming its new host.
    pub fn vm(&self, vm_id: &str) -> Result<&HostedVm, NodeError> {
        if let Some(vm) = self.vms.get(vm_id) {
            return Ok(vm);
        }
        if let Some(peer) = self.moved.get(vm_id) {
            return Err(NodeError::moved(
                format!(
                    "VM {vm_id:?} moved from host {:?} to host {:?}; send its requests there",
                    self.host_id, peer.host_id
                ),
                peer.clone(),
            ));
        }
        Err(NodeError::not_found(format!(
            "no VM {vm_id:?} on host {:?} (it was never placed here, or it moved away)",
            self.host_id
        )))
    }

    /// The host `vm_id` went to when it left this node by a committed
    /// migration, while this node does not host it again.
    pub fn moved_to(&self, vm_id: &str) -> Option<&Peer> {
        if self.vms.contains_key(vm_id) {
            return None;
        }
        self.moved.get(vm_id)
    }

    /// How a request `request_id` for `vm_id` is taken now.
    pub fn admit(&self, vm_id: &str, request_id: u64) -> Result<Admission, NodeError> {
        let vm = self.vm(vm_id)?;
        let serve = |handoff| Admission::Serve {
            missing: Vec::new(),
            pull: None,
            handoff,
        };
        match &vm.state {
            VmState::Running => Ok(serve(None)),
            VmState::MigratingOut {
                migration_id,
                phase,
            } => {
                let target = match self.handovers.get(migration_id).map(|h| &h.role) {
                    Some(Role::Source { target, .. }) => target.clone(),
                    _ => Peer::default(),
                };
                match phase {
                    OutPhase::Serving => Ok(serve(None)),
                    OutPhase::Suspended(_) => Ok(Admission::Wait(migration_id.clone())),
                    OutPhase::Moved => Ok(Admission::Forward(target, migration_id.clone())),
                    OutPhase::Dual => Ok(serve(Some(target))),
                }
            }
            VmState::MigratingIn { migration_id, dual } => {
                let source = match self.handovers.get(migration_id).map(|h| &h.role) {
                    Some(Role::Target { source, .. }) => source.clone(),
                    _ => Peer::default(),
                };
                let missing: Vec<u64> = match &vm.held {
                    Some(held) => vm
                        .touched_pages(request_id)
                        .into_iter()
                        .filter(|&i| !held.contains(i))
                        .collect(),
                    None => Vec::new(),
                };
                Ok(Admission::Serve {
                    pull: Some((migration_id.clone(), source.address.clone())),
                    missing,
                    handoff: dual.then_some(source),
                })
            }
        }
    }

    /// Whether this node holds page `index` of `vm_id` (false when it does
    /// not host the VM).
    pub fn holds(&self, vm_id: &str, index: u64) -> bool {
        self.vms.get(vm_id).is_some_and(|vm| match &vm.held {
            Some(held) => held.contains(index),
            None => index < vm.memory.pages(),
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
                phase: OutPhase::Serving,
            };
            Role::Source {
                target: Peer {
                    host_id: request.target_host_id.clone(),
                    address: request.target_address.clone(),
                },
                suspended_at: None,
                downtime: Duration::ZERO,
                fetched: 0,
                fetch_bytes: 0,
                stall: Duration::ZERO,
                waits: SuspensionWaits::default(),
            }
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
                source: Peer {
                    host_id: request.source_host_id.clone(),
                    address: request.source_address.clone(),
                },
                fetched: 0,
                fetch_bytes: 0,
                stall: Duration::ZERO,
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
    /// describes `memory` for `vm_id`; a non-empty `source_address` is where
    /// faults are pulled from.
    pub fn begin_receive(
        &mut self,
        migration_id: &str,
        vm_id: &str,
        memory: &VmMemory,
        source_address: &str,
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
                source,
                ..
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
                if !source_address.is_empty() {
                    source_address.clone_into(&mut source.address);
                }
                Ok(())
            }
            Role::Source { .. } => Err(NodeError::precondition(format!(
                "host {host_id:?} is the source of migration {migration_id:?}, not its target"
            ))),
        }
    }

    /// The execution state of `migration_id` arrived: the VM is installed
    /// here, `MIGRATING_IN`, and serves (with the pages it lacks missing).
    pub fn install(
        &mut self,
        migration_id: &str,
        received: ReceivedVm,
        pages_per_request: u32,
        working_set_pages: u64,
        dual: bool,
    ) -> Result<(), NodeError> {
        let Some(handover) = self.handovers.get_mut(migration_id) else {
            return Err(NodeError::not_found(format!(
                "migration {migration_id:?} was aborted during its transfer"
            )));
        };
        let Role::Target { received: slot, .. } = &mut handover.role else {
            return Err(NodeError::precondition(format!(
                "host {:?} is not the target of migration {migration_id:?}",
                self.host_id
            )));
        };
        let held = (received.held.missing() > 0).then(|| received.held.clone());
        self.vms.insert(
            handover.vm_id.clone(),
            HostedVm {
                memory: received.memory.clone(),
                state: VmState::MigratingIn {
                    migration_id: migration_id.to_owned(),
                    dual,
                },
                requests_served: 0,
                held,
                pages_per_request: if pages_per_request == 0 {
                    DEFAULT_PAGES_PER_REQUEST
                } else {
                    pages_per_request
                },
                working_set_pages,
            },
        );
        self.moved.remove(&handover.vm_id);
        *slot = Some(received);
        Ok(())
    }

    /// Whether hand-over `migration_id` is still open on this node.
    pub fn has_handover(&self, migration_id: &str) -> bool {
        self.handovers.contains_key(migration_id)
    }

    /// Pages `indices` of `vm_id` arrived (push or pull).
    pub fn fill(&mut self, vm_id: &str, indices: impl IntoIterator<Item = u64>) {
        let Some(vm) = self.vms.get_mut(vm_id) else {
            return;
        };
        let Some(held) = &mut vm.held else {
            return;
        };
        for index in indices {
            held.insert(index);
        }
        if held.missing() == 0 {
            vm.held = None;
        }
    }

    /// The stream of `migration_id` ended after its state, with
    /// `pages_received` page messages and `bytes_received` bytes in all.
    pub fn end_receive(&mut self, migration_id: &str, pages_received: u64, bytes_received: u64) {
        if let Some(Handover {
            role:
                Role::Target {
                    streaming,
                    received,
                    ..
                },
            ..
        }) = self.handovers.get_mut(migration_id)
        {
            *streaming = false;
            if let Some(received) = received {
                received.pages_received = pages_received;
                received.bytes_received = bytes_received;
            }
        }
    }

    /// The stream of `migration_id` failed or ended early: this node drops
    /// its side of the hand-over, and the VM if the state had installed it
    /// (it cannot run without the pages it lacks), leaving nothing behind.
    pub fn abandon_receive(&mut self, migration_id: &str) {
        if matches!(
            self.handovers.get(migration_id),
            Some(Handover {
                role: Role::Target { .. },
                ..
            })
        ) {
            self.abort(migration_id);
        }
    }

    /// A request at the target waited `stall` for `pages` pulled pages of
    /// `fetch_bytes` encoded bytes.
    pub fn record_pull(
        &mut self,
        migration_id: &str,
        pages: u64,
        fetch_bytes: u64,
        stall: Duration,
    ) {
        if let Some(Handover {
            role:
                Role::Target {
                    fetched,
                    fetch_bytes: bytes,
                    stall: total,
                    ..
                },
            ..
        }) = self.handovers.get_mut(migration_id)
        {
            *fetched += pages;
            *bytes += fetch_bytes;
            *total += stall;
        }
    }

    /// A request begins waiting at `now` for the VM that `migration_id`
    /// suspended on this source. Returns the suspend instant, which names
    /// the suspension for [`Self::end_source_wait`]; `None` when the VM is
    /// not suspended by it. The wait counts in the commit's `stall_us`
    /// until the suspension ends (switch or commit), unless the request
    /// leaves first.
    pub fn begin_source_wait(&mut self, migration_id: &str, now: Instant) -> Option<Instant> {
        let Some(Handover {
            role:
                Role::Source {
                    suspended_at: Some(since),
                    waits,
                    ..
                },
            ..
        }) = self.handovers.get_mut(migration_id)
        else {
            return None;
        };
        waits.begin(now.saturating_duration_since(*since));
        Some(*since)
    }

    /// A request that began waiting at `began` for the suspension of
    /// `migration_id` that began at `suspended_at` leaves at `now` (it was
    /// cancelled or gave up) while that suspension lasts: its wait counts
    /// until now. Nothing to do once the suspension ended: its end ended
    /// the wait.
    pub fn end_source_wait(
        &mut self,
        migration_id: &str,
        suspended_at: Instant,
        began: Instant,
        now: Instant,
    ) {
        if let Some(Handover {
            role:
                Role::Source {
                    suspended_at: Some(since),
                    waits,
                    stall,
                    ..
                },
            ..
        }) = self.handovers.get_mut(migration_id)
            && *since == suspended_at
        {
            *stall += waits.end_one(
                began.saturating_duration_since(*since),
                now.saturating_duration_since(*since),
            );
        }
    }

    /// The source suspends the VM of `migration_id` at `now`.
    pub fn suspend(&mut self, migration_id: &str, now: Instant) -> Result<(), NodeError> {
        self.set_out_phase(migration_id, OutPhase::Suspended(now))?;
        if let Some(Handover {
            role: Role::Source { suspended_at, .. },
            ..
        }) = self.handovers.get_mut(migration_id)
        {
            *suspended_at = Some(now);
        }
        Ok(())
    }

    /// The target acknowledged the execution state of `migration_id` at
    /// `now`: the VM runs there. With `dual` (soft) the source keeps serving
    /// too; else it forwards. Ends a suspension and records its length and
    /// the waits of the requests it held.
    pub fn switched(
        &mut self,
        migration_id: &str,
        now: Instant,
        dual: bool,
    ) -> Result<(), NodeError> {
        self.set_out_phase(
            migration_id,
            if dual {
                OutPhase::Dual
            } else {
                OutPhase::Moved
            },
        )?;
        if let Some(Handover {
            role:
                Role::Source {
                    suspended_at,
                    downtime,
                    stall,
                    waits,
                    ..
                },
            ..
        }) = self.handovers.get_mut(migration_id)
            && let Some(since) = suspended_at.take()
        {
            let lasted = now.saturating_duration_since(since);
            *downtime = (*downtime).max(lasted);
            *stall += waits.end_all(lasted);
        }
        Ok(())
    }

    /// Whether the target of `migration_id` holds every page of the VM.
    pub fn target_complete(&self, migration_id: &str) -> bool {
        match self.handovers.get(migration_id) {
            Some(Handover {
                role: Role::Target {
                    received: Some(_), ..
                },
                vm_id,
                ..
            }) => self.vms.get(vm_id).is_some_and(|vm| vm.held.is_none()),
            _ => false,
        }
    }

    /// Whether `migration_id` is a target hand-over whose state arrived
    /// but which still lacks pages (commit waits for them).
    pub fn target_filling(&self, migration_id: &str) -> bool {
        matches!(
            self.handovers.get(migration_id),
            Some(Handover {
                role: Role::Target {
                    received: Some(_),
                    ..
                },
                ..
            })
        ) && !self.target_complete(migration_id)
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
        let figures = match &handover.role {
            Role::Target { received: None, .. } => {
                return Err(NodeError::precondition(format!(
                    "migration {migration_id:?} cannot commit on its target {:?}: the VM has not fully arrived",
                    self.host_id
                )));
            }
            Role::Target { .. } if !self.target_complete(migration_id) => {
                return Err(NodeError::precondition(format!(
                    "migration {migration_id:?} cannot commit on its target {:?}: pages are still missing",
                    self.host_id
                )));
            }
            Role::Target {
                received: Some(r),
                fetched,
                fetch_bytes,
                stall,
                ..
            } => CommitFigures {
                total_us,
                downtime_us: 0,
                bytes: r.bytes_received,
                pages_fetched: *fetched,
                fetch_bytes: *fetch_bytes,
                stall_us: micros(*stall),
            },
            Role::Source {
                suspended_at,
                downtime,
                fetched,
                fetch_bytes,
                stall,
                waits,
                ..
            } => {
                // Committed while suspended: the suspension, and the waits
                // it held, lasted until now.
                let (downtime, stall) = match suspended_at {
                    Some(since) => {
                        let lasted = now.saturating_duration_since(*since);
                        ((*downtime).max(lasted), *stall + waits.total_at(lasted))
                    }
                    None => (*downtime, *stall),
                };
                CommitFigures {
                    total_us,
                    downtime_us: micros(downtime),
                    bytes: 0,
                    pages_fetched: *fetched,
                    fetch_bytes: *fetch_bytes,
                    stall_us: micros(stall),
                }
            }
        };
        let Some(handover) = self.handovers.remove(migration_id) else {
            return Err(NodeError::not_found(format!(
                "no migration {migration_id:?}"
            )));
        };
        match handover.role {
            Role::Source { target, .. } => {
                self.vms.remove(&handover.vm_id);
                if !target.host_id.is_empty() {
                    self.moved.insert(handover.vm_id, target);
                }
                self.migrations_out += 1;
            }
            Role::Target { .. } => {
                if let Some(vm) = self.vms.get_mut(&handover.vm_id) {
                    vm.state = VmState::Running;
                }
                self.migrations_in += 1;
            }
        }
        Ok(figures)
    }

    /// `AbortHandover`: undoes this node's side; unknown ids are a no-op
    /// (the side may already have dropped it, e.g. after a failed stream).
    pub fn abort(&mut self, migration_id: &str) {
        let Some(handover) = self.handovers.remove(migration_id) else {
            return;
        };
        match handover.role {
            Role::Source { .. } => {
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

    /// `FetchPage`: the source answers a page fault of `migration_id` and
    /// counts it (`answer_bytes`: the encoded answer).
    pub fn fetch_page(
        &mut self,
        migration_id: &str,
        vm_id: &str,
        page_index: u64,
    ) -> Result<mcc_proto::v1::Page, NodeError> {
        let vm = self.vm(vm_id)?;
        match &vm.state {
            VmState::MigratingOut {
                migration_id: id, ..
            } if id == migration_id => {}
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

    /// Counts a `FetchPage` answer of `bytes` the source sent.
    pub fn record_fetch_served(&mut self, migration_id: &str, bytes: u64) {
        if let Some(Handover {
            role:
                Role::Source {
                    fetched,
                    fetch_bytes,
                    ..
                },
            ..
        }) = self.handovers.get_mut(migration_id)
        {
            *fetched += 1;
            *fetch_bytes += bytes;
        }
    }

    /// Pages served to faults and their bytes, on the source of `migration_id`.
    pub fn fetches_served(&self, migration_id: &str) -> (u64, u64) {
        match self.handovers.get(migration_id) {
            Some(Handover {
                role:
                    Role::Source {
                        fetched,
                        fetch_bytes,
                        ..
                    },
                ..
            }) => (*fetched, *fetch_bytes),
            _ => (0, 0),
        }
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
                .map(|(id, vm)| {
                    let (peer, dual) = self.peer_of(vm);
                    VmStatus {
                        vm_id: id.clone(),
                        state: vm.state.name().to_owned(),
                        memory_bytes: vm.memory.memory_bytes,
                        requests_served: vm.requests_served,
                        pages_missing: vm.pages_missing(),
                        peer_host_id: peer,
                        dual_serving: dual,
                    }
                })
                .collect(),
            requests_served: self.requests_served,
            migrations_in: self.migrations_in,
            migrations_out: self.migrations_out,
        }
    }

    fn peer_of(&self, vm: &HostedVm) -> (String, bool) {
        let (migration_id, dual) = match &vm.state {
            VmState::Running => return (String::new(), false),
            VmState::MigratingOut {
                migration_id,
                phase,
            } => (migration_id, *phase == OutPhase::Dual),
            VmState::MigratingIn { migration_id, dual } => (migration_id, *dual),
        };
        let peer = match self.handovers.get(migration_id).map(|h| &h.role) {
            Some(Role::Source { target, .. }) => target.host_id.clone(),
            Some(Role::Target { source, .. }) => source.host_id.clone(),
            None => String::new(),
        };
        (peer, dual)
    }

    fn set_out_phase(&mut self, migration_id: &str, next: OutPhase) -> Result<(), NodeError> {
        let vm_id = match self.handovers.get(migration_id) {
            Some(Handover {
                role: Role::Source { .. },
                vm_id,
                ..
            }) => vm_id.clone(),
            _ => {
                return Err(NodeError::precondition(format!(
                    "host {:?} is not the source of migration {migration_id:?}",
                    self.host_id
                )));
            }
        };
        match self.vms.get_mut(&vm_id) {
            Some(HostedVm {
                state: VmState::MigratingOut { phase, .. },
                ..
            }) => {
                *phase = next;
                Ok(())
            }
            _ => Err(NodeError::precondition(format!(
                "VM {vm_id:?} is not migrating out of host {:?}",
                self.host_id
            ))),
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
