//! Node-to-node migration on the real clock: the source node drives the
//! [`Migration`] state machine and moves real page bytes to the target over
//! a `ReceiveVm` stream.
//!
//! The driver mirrors [`crate::migration::single_link`] with the wall clock
//! in place of the virtual one. Time is measured from the migration's start
//! with `Instant`. Each transfer the model asks for becomes real pages
//! (generated from the VM's seed, [`super::pages`]) in `PageBatch` messages:
//! round 0 sends every page in address order; a later round or the stop
//! phase re-sends as many pages as the model says were dirtied, taken in
//! turn from the writable working set (the first pages of memory). The CPU
//! state is the `ExecutionState` (its `cpu_state` has the configured size).
//!
//! When the transfer is *delivered* depends on the path:
//! - with an [`EmulatedLink`] (direction A→B = source→target), the transfer
//!   reserves its slot on the link by its real encoded size and is delivered
//!   when the link says it arrives (the precise timer waits for it); the
//!   next transfer is asked for when the link is free again, as in
//!   `single_link`;
//! - without one (unshaped loopback), a transfer is delivered when the
//!   stream has taken its last message (the stream's channel holds at most
//!   [`STREAM_BUFFER`] messages, so HTTP/2 flow control is what paces it).
//!
//! Techniques: stop-and-copy and pre-copy, whose every page crosses before
//! the execution state, as the `ReceiveVm` contract orders it. Post-copy and
//! soft need pages after the execution state (the background push) and
//! target-side faults; they are refused with [`MigrateError::Unsupported`]
//! until the contract and the target support them.
//!
//! Hand-over: the driver prepares the target (over gRPC) and the source (in
//! process), streams, commits the target, then the source. Any failure
//! aborts both sides, so the VM stays where it ran.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcc_proto::v1::cloudlet_client::CloudletClient;
use mcc_proto::v1::vm_transfer::Kind;
use mcc_proto::v1::{
    AbortHandoverRequest, CommitHandoverRequest, ExecutionState, PageBatch, PrepareHandoverRequest,
    ReceiveVmSummary, VmHeader, VmTransfer,
};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::CloudletNode;
use super::error::NodeError;
use super::pages::VmMemory;
use crate::memory::VmProfile;
use crate::migration::{
    Migration, MigrationConfig, MigrationError, MigrationReport, PathEstimate, Technique, Transfer,
    TransferKind,
};
use crate::realtime::{Direction, EmulatedLink, Timer};

/// Most pages in one `PageBatch` message (1 MiB of 4 KiB pages).
pub const PAGES_PER_BATCH: u64 = 256;
/// Messages the transfer stream buffers before the driver waits.
pub const STREAM_BUFFER: usize = 2;
/// Longest a real migration may last before it is aborted.
pub const MAX_MIGRATION_TIME: Duration = Duration::from_secs(600);

/// What went wrong in a real migration (both sides were aborted).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The technique needs what the driver does not do yet.
    #[error(
        "technique {0} is not supported by the real-clock driver yet (stop-and-copy and pre-copy are)"
    )]
    Unsupported(&'static str),
    /// The model refused its inputs.
    #[error(transparent)]
    Model(#[from] MigrationError),
    /// A node refused a step.
    #[error("{0}")]
    Node(#[from] NodeError),
    /// The target refused the hand-over.
    #[error("the target refused the hand-over: {0}")]
    Refused(String),
    /// A gRPC call to the target failed.
    #[error("the target failed: {0}")]
    Rpc(#[from] tonic::Status),
    /// The target closed the transfer stream early.
    #[error("the target closed the transfer stream early")]
    StreamClosed,
    /// The model had nothing to do and was not done.
    #[error("the migration stalled after {0:?}")]
    Stalled(Duration),
    /// The migration ran longer than [`MAX_MIGRATION_TIME`].
    #[error("the migration was not over after {0:?}")]
    TooLong(Duration),
}

/// One real migration to run.
#[derive(Debug, Clone)]
pub struct RealMigration {
    /// Migration id (unique on both nodes).
    pub migration_id: String,
    /// The VM to move; the source must host it, with the profile's size.
    pub vm_id: String,
    /// The VM's memory as the model sees it.
    pub profile: VmProfile,
    /// The model's knobs (technique included).
    pub config: MigrationConfig,
    /// The model's first view of the path (measured bandwidth takes over).
    pub path: PathEstimate,
}

/// What a real migration did, measured on the wall clock.
#[derive(Debug, Clone)]
pub struct RealMigrationReport {
    /// The model's report (its times are wall-clock times of this run).
    pub model: MigrationReport,
    /// Encoded bytes of every message streamed to the target.
    pub wire_bytes: u64,
    /// Page messages streamed.
    pub pages_sent: u64,
    /// What the target counted.
    pub target_summary: ReceiveVmSummary,
    /// From the start to the source's commit.
    pub elapsed: Duration,
}

/// Turns the model's transfers into real messages.
struct Materialiser {
    memory: VmMemory,
    working_set_pages: u64,
    first_round_next: u64,
    dirty_next: u64,
    scratch: Vec<mcc_proto::v1::Page>,
}

impl Materialiser {
    /// The page indices of `transfer`, as messages.
    fn messages(&mut self, transfer: &Transfer, cpu_state_bytes: u64) -> Vec<VmTransfer> {
        if transfer.kind == TransferKind::CpuState {
            return vec![VmTransfer {
                kind: Some(Kind::State(ExecutionState {
                    cpu_state: vec![0; usize::try_from(cpu_state_bytes).unwrap_or(0)],
                    pages_missing: 0,
                    stale: Vec::new(),
                })),
            }];
        }
        let pages = self.memory.pages();
        let mut indices = Vec::with_capacity(transfer.pages as usize);
        for _ in 0..transfer.pages {
            if self.first_round_next < pages {
                indices.push(self.first_round_next);
                self.first_round_next += 1;
            } else {
                let span = self.working_set_pages.max(1).min(pages);
                indices.push(self.dirty_next % span);
                self.dirty_next = (self.dirty_next + 1) % span;
            }
        }
        indices
            .chunks(PAGES_PER_BATCH as usize)
            .map(|chunk| {
                self.scratch.clear();
                self.scratch
                    .extend(chunk.iter().map(|&i| self.memory.page(i)));
                VmTransfer {
                    kind: Some(Kind::Pages(PageBatch {
                        round: transfer.round,
                        pages: std::mem::take(&mut self.scratch),
                    })),
                }
            })
            .collect()
    }
}

impl CloudletNode {
    /// Moves `plan.vm_id` from this node to the node behind `target`,
    /// optionally through `link` (A→B carries the VM), on the real clock.
    pub async fn migrate_to(
        &self,
        target: &mut CloudletClient<Channel>,
        plan: RealMigration,
        link: Option<Arc<EmulatedLink>>,
    ) -> Result<RealMigrationReport, MigrateError> {
        match plan.config.technique {
            Technique::StopAndCopy | Technique::PreCopy => {}
            other => return Err(MigrateError::Unsupported(other.name())),
        }
        let memory = {
            let state = self.inner.lock();
            state.vm(&plan.vm_id)?.memory.clone()
        };
        let model_bytes = plan.profile.memory_pages * plan.profile.page_bytes;
        if memory.memory_bytes != model_bytes
            || u64::from(memory.page_bytes) != plan.profile.page_bytes
        {
            return Err(NodeError::invalid(format!(
                "VM {:?} has {} bytes in pages of {} here but the profile says {model_bytes} in pages of {}",
                plan.vm_id, memory.memory_bytes, memory.page_bytes, plan.profile.page_bytes
            ))
            .into());
        }
        let proto_profile = mcc_proto::v1::VmProfile {
            memory_bytes: memory.memory_bytes,
            working_set_bytes: plan.profile.working_set_pages * plan.profile.page_bytes,
            dirty_rate_pps: plan.profile.dirty_rate_pps,
            zero_page_fraction: memory.zero_fraction,
            page_size_bytes: memory.page_bytes,
        };
        let prepare = PrepareHandoverRequest {
            migration_id: plan.migration_id.clone(),
            vm_id: plan.vm_id.clone(),
            source_host_id: self.host_id().to_owned(),
            technique: technique_code(plan.config.technique),
            profile: Some(proto_profile),
            ..Default::default()
        };
        let answer = target.prepare_handover(prepare.clone()).await?.into_inner();
        if !answer.accepted {
            return Err(MigrateError::Refused(answer.reason));
        }
        let refusal = self.inner.lock().prepare(&prepare, Instant::now());
        match refusal {
            Ok(None) => {}
            Ok(Some(reason)) => {
                abort_target(target, &plan.migration_id).await;
                return Err(MigrateError::Refused(reason));
            }
            Err(error) => {
                abort_target(target, &plan.migration_id).await;
                return Err(error.into());
            }
        }
        let result = self
            .run_transfer(target, &plan, memory, proto_profile, link)
            .await;
        match result {
            Ok(report) => Ok(report),
            Err(error) => {
                abort_target(target, &plan.migration_id).await;
                self.inner.lock().abort(&plan.migration_id);
                Err(error)
            }
        }
    }

    async fn run_transfer(
        &self,
        target: &mut CloudletClient<Channel>,
        plan: &RealMigration,
        memory: VmMemory,
        proto_profile: mcc_proto::v1::VmProfile,
        link: Option<Arc<EmulatedLink>>,
    ) -> Result<RealMigrationReport, MigrateError> {
        let timer: Timer = self.inner.timer.clone();
        let (sender, receiver) = mpsc::channel::<VmTransfer>(STREAM_BUFFER);
        let mut call_client = target.clone();
        let call = tokio::spawn(async move {
            call_client
                .receive_vm(ReceiverStream::new(receiver))
                .await
                .map(tonic::Response::into_inner)
        });
        let header = VmTransfer {
            kind: Some(Kind::Header(VmHeader {
                migration_id: plan.migration_id.clone(),
                vm_id: plan.vm_id.clone(),
                source_host_id: self.host_id().to_owned(),
                technique: technique_code(plan.config.technique),
                profile: Some(proto_profile),
                ..Default::default()
            })),
        };
        let mut wire_bytes = header.encoded_len() as u64;
        if sender.send(header).await.is_err() {
            return Err(stream_failure(call).await);
        }

        let epoch = Instant::now();
        let mut model = Migration::new(
            plan.profile.clone(),
            plan.config.clone(),
            plan.path,
            Duration::ZERO,
        )?;
        let mut materialiser = Materialiser {
            working_set_pages: plan.profile.working_set_pages,
            memory,
            first_round_next: 0,
            dirty_next: 0,
            scratch: Vec::new(),
        };
        let mut pages_sent = 0u64;
        let mut link_free = Duration::ZERO;
        let mut in_flight: VecDeque<(Duration, Transfer)> = VecDeque::new();
        loop {
            let now = epoch.elapsed();
            if now > MAX_MIGRATION_TIME {
                return Err(MigrateError::TooLong(now));
            }
            while link_free <= now {
                let Some(transfer) = model.poll_transmit(now) else {
                    break;
                };
                let messages = materialiser.messages(&transfer, plan.config.cpu_state_bytes);
                let bytes: u64 = messages.iter().map(|m| m.encoded_len() as u64).sum();
                pages_sent += messages
                    .iter()
                    .map(|m| match &m.kind {
                        Some(Kind::Pages(batch)) => batch.pages.len() as u64,
                        _ => 0,
                    })
                    .sum::<u64>();
                wire_bytes += bytes;
                let arrive = match &link {
                    Some(link) => {
                        let (_, delivery) = link.reserve(Direction::AToB, bytes);
                        // The link's epoch is its own; keep only the spans.
                        link_free = now + (delivery.sent_at - delivery.offered_at);
                        now + delivery.delay()
                    }
                    None => Duration::ZERO,
                };
                for message in messages {
                    if sender.send(message).await.is_err() {
                        return Err(stream_failure(call).await);
                    }
                }
                let arrive = if link.is_some() {
                    arrive
                } else {
                    epoch.elapsed()
                };
                in_flight.push_back((arrive, transfer));
            }
            while model.poll_event().is_some() {}
            if model.is_done() {
                break;
            }
            let candidates = [
                in_flight.front().map(|(at, _)| *at),
                model.poll_timeout(),
                (link_free > now).then_some(link_free),
            ];
            let Some(next) = candidates.into_iter().flatten().min() else {
                return Err(MigrateError::Stalled(now));
            };
            timer.sleep_until(epoch + next).await;
            let now = epoch.elapsed();
            while let Some((at, transfer)) = in_flight.front().copied() {
                if at > now {
                    break;
                }
                in_flight.pop_front();
                model.on_delivered(now, &transfer);
            }
            if model.poll_timeout().is_some_and(|t| t <= now) {
                model.handle_timeout(now);
            }
        }
        drop(sender);
        let target_summary = call.await.map_err(|_| MigrateError::StreamClosed)??;
        let commit = CommitHandoverRequest {
            migration_id: plan.migration_id.clone(),
        };
        target.commit_handover(commit).await?;
        self.inner
            .lock()
            .commit(&plan.migration_id, Instant::now())?;
        let model = model
            .report()
            .ok_or(MigrateError::Stalled(epoch.elapsed()))?;
        Ok(RealMigrationReport {
            model,
            wire_bytes,
            pages_sent,
            target_summary,
            elapsed: epoch.elapsed(),
        })
    }
}

/// Why the target stopped taking the stream: its status when it answered one.
async fn stream_failure(
    call: tokio::task::JoinHandle<Result<ReceiveVmSummary, tonic::Status>>,
) -> MigrateError {
    match call.await {
        Ok(Err(status)) => MigrateError::Rpc(status),
        _ => MigrateError::StreamClosed,
    }
}

async fn abort_target(target: &mut CloudletClient<Channel>, migration_id: &str) {
    // Best effort: the target drops its side by itself when the stream fails.
    let _ = target
        .abort_handover(AbortHandoverRequest {
            migration_id: migration_id.to_owned(),
            reason: "the source aborted the migration".to_owned(),
        })
        .await;
}

fn technique_code(technique: Technique) -> i32 {
    use mcc_proto::v1::Technique as Wire;
    let wire = match technique {
        Technique::StopAndCopy => Wire::StopAndCopy,
        Technique::PreCopy => Wire::PreCopy,
        Technique::PostCopy => Wire::PostCopy,
        Technique::Soft => Wire::Soft,
    };
    wire as i32
}
