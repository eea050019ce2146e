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
//! Post-copy and soft: at the switch the `ExecutionState` says which pages
//! the target lacks (post-copy: all; soft: as many working-set pages as the
//! model says were dirtied since the last round, named in `stale`, taken
//! from the working-set cursor where the next dirty round would start), and
//! the model's push and fault-pull transfers become page batches after the
//! state on the same stream, in address order. Requests that fault at the
//! target pull their pages themselves with `FetchPage` from the source
//! (the target learns the source's address from the header); those pulls
//! are real and extra to the model's own (which stand for the VM's own
//! writes and are pushed), so a page may cross twice.
//!
//! When the transfer is *delivered* depends on the path:
//! - with an [`EmulatedLink`] (direction A→B = source→target) or an
//!   [`EmulatedPath`] of several, the transfer reserves its slot on every
//!   hop by its real encoded size and is delivered when the path says it
//!   arrives (the precise timer waits for it); the next transfer is asked
//!   for when the busiest hop is free again, as in `single_link`;
//! - without one (unshaped loopback), a transfer is delivered when the
//!   stream has taken its last message (the stream's channel holds at most
//!   [`STREAM_BUFFER`] messages, so HTTP/2 flow control is what paces it).
//!
//! The source's VM follows the model's events: `Suspended` suspends it
//! (requests wait); at `Resumed` the driver waits until the target lists
//! the VM (its acknowledgement of the state), then the source forwards
//! requests to the target (or, for soft, keeps serving beside it); the
//! downtime is measured from the suspend to that acknowledgement.
//!
//! Hand-over: the driver prepares the target (over gRPC) and the source (in
//! process), streams, commits the target (which waits for its last page),
//! then the source. Any failure aborts both sides, and so does dropping the
//! driver's future (the source's side is undone on drop; the target drops
//! its side when the stream is cut). Before the switch the VM keeps running
//! at the source. After the switch of post-copy the VM's execution at the
//! target is lost with the target's side; the error
//! ([`MigrateError::LostAfterSwitch`]) says so and what had not been pushed,
//! and the source resumes its copy as of the switch. After the switch of
//! soft-migration the source never stopped, so the VM simply continues there.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcc_proto::v1::cloudlet_client::CloudletClient;
use mcc_proto::v1::vm_transfer::Kind;
use mcc_proto::v1::{
    AbortHandoverRequest, CommitHandoverRequest, CommitHandoverResponse, ExecutionState, PageBatch,
    PageRange, PrepareHandoverRequest, ReceiveVmSummary, StatusRequest, VmHeader, VmTransfer,
};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::CloudletNode;
use super::error::NodeError;
use super::pages::VmMemory;
use super::service::Inner;
use super::state::CommitFigures;
use crate::memory::VmProfile;
use crate::migration::{
    Migration, MigrationConfig, MigrationError, MigrationEvent, MigrationReport, PathEstimate,
    Technique, Transfer, TransferKind,
};
use crate::realtime::{Direction, EmulatedLink, EmulatedPath, Timer};

/// Most pages in one `PageBatch` message (1 MiB of 4 KiB pages).
pub const PAGES_PER_BATCH: u64 = 256;
/// Messages the transfer stream buffers before the driver waits.
pub const STREAM_BUFFER: usize = 2;
/// Longest a real migration may last before it is aborted.
pub const MAX_MIGRATION_TIME: Duration = Duration::from_secs(600);

/// Longest the driver waits for the target to acknowledge the state.
pub const MAX_ACK_WAIT: Duration = Duration::from_secs(10);

/// What went wrong in a real migration (both sides were aborted).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A post-copy migration failed after the switch: the VM had run at
    /// the target, and that execution is lost.
    #[error(
        "the migration failed after the switch ({cause}); the VM ran at the target from \
         {switched_after:?} after the start and that execution is lost; the source resumed its \
         copy as of the switch; {pages_not_pushed} of {pages} pages had not been pushed to the target"
    )]
    LostAfterSwitch {
        /// What failed.
        cause: Box<MigrateError>,
        /// When the VM switched to the target, since the start.
        switched_after: Duration,
        /// Pages the source had not pushed yet (the target may have pulled some).
        pages_not_pushed: u64,
        /// Pages of the VM.
        pages: u64,
    },
    /// The target did not list the VM after its execution state.
    #[error("the target did not acknowledge the execution state within {0:?}")]
    NoAck(Duration),
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
    /// The target's host id (the source names it when it redirects).
    pub target_host_id: String,
    /// The target's gRPC address (`http://host:port`): the source forwards
    /// requests there after the switch; empty: it redirects them instead.
    pub target_address: String,
    /// This (the source) node's gRPC address: the target pulls faulted
    /// pages from it; empty: faults wait for the push.
    pub source_address: String,
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
    /// The target's commit figures (its fault pulls and their stall).
    pub target_commit: CommitHandoverResponse,
    /// The source's commit figures: its measured downtime, the faults it
    /// served and the time requests waited for the suspended VM.
    pub source_commit: CommitFigures,
    /// From the start to the source's commit.
    pub elapsed: Duration,
}

/// Turns the model's transfers into real messages.
struct Materialiser {
    memory: VmMemory,
    working_set_pages: u64,
    first_round_next: u64,
    dirty_next: u64,
    /// After the switch: the pages the target lacks, in push order.
    push_queue: VecDeque<std::ops::Range<u64>>,
    scratch: Vec<mcc_proto::v1::Page>,
}

impl Materialiser {
    fn span(&self) -> u64 {
        self.working_set_pages.max(1).min(self.memory.pages())
    }

    /// The execution state at the switch; `model_missing` is what the model
    /// says the target lacks. Fills the push queue.
    fn state(&mut self, cpu_state_bytes: u64, model_missing: u64) -> ExecutionState {
        let pages = self.memory.pages();
        let unsent = pages - self.first_round_next.min(pages);
        if unsent > 0 {
            self.push_queue.push_back(self.first_round_next..pages);
        }
        let span = self.span();
        let stale_count = model_missing.saturating_sub(unsent).min(span);
        let mut stale = Vec::new();
        if stale_count > 0 {
            let start = self.dirty_next % span;
            let first = stale_count.min(span - start);
            stale.push(PageRange {
                first: start,
                count: first,
            });
            if stale_count > first {
                stale.push(PageRange {
                    first: 0,
                    count: stale_count - first,
                });
            }
            let mut ranges: Vec<_> = stale.iter().map(|r| r.first..r.first + r.count).collect();
            ranges.sort_by_key(|r| r.start);
            self.push_queue.extend(ranges);
        }
        ExecutionState {
            cpu_state: vec![0; usize::try_from(cpu_state_bytes).unwrap_or(0)],
            pages_missing: unsent + stale_count,
            stale,
        }
    }

    fn next_push(&mut self) -> Option<u64> {
        loop {
            let range = self.push_queue.front_mut()?;
            if let Some(index) = range.next() {
                return Some(index);
            }
            self.push_queue.pop_front();
        }
    }

    /// Pages the target still waits for from the push.
    fn unpushed(&self) -> u64 {
        self.push_queue.iter().map(|r| r.end - r.start).sum()
    }

    /// The messages of `transfer`.
    fn messages(
        &mut self,
        transfer: &Transfer,
        cpu_state_bytes: u64,
        model_missing: u64,
    ) -> Vec<VmTransfer> {
        if transfer.kind == TransferKind::CpuState {
            return vec![VmTransfer {
                kind: Some(Kind::State(self.state(cpu_state_bytes, model_missing))),
            }];
        }
        let pages = self.memory.pages();
        let mut indices = Vec::with_capacity(transfer.pages as usize);
        for _ in 0..transfer.pages {
            if matches!(transfer.kind, TransferKind::Push | TransferKind::FaultPull) {
                if let Some(index) = self.next_push() {
                    indices.push(index);
                }
            } else if self.first_round_next < pages {
                indices.push(self.first_round_next);
                self.first_round_next += 1;
            } else {
                let span = self.span();
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

/// Undoes the source's side of a hand-over when the driver stops without
/// finishing (an error, or its future dropped: a killed task).
struct SourceGuard {
    inner: Arc<Inner>,
    migration_id: String,
    armed: bool,
}

impl Drop for SourceGuard {
    fn drop(&mut self) {
        if self.armed {
            self.inner.change(|state| state.abort(&self.migration_id));
        }
    }
}

/// A phase a real migration reached, as its source drives it: what a
/// watcher of [`CloudletNode::migrate_watched`] is told, in this order
/// (those the technique has): pre-copy rounds, stop, switch, post-copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A live copy round began; 1 is the full copy.
    PreCopy {
        /// The round, from 1.
        round: u32,
    },
    /// The VM was suspended at the source.
    Stop,
    /// The target acknowledged the execution state: the VM runs there.
    Switch,
    /// The background push began (soft-migration: the handoff, both hosts
    /// serving).
    PostCopy,
}

impl Step {
    /// The phase's name on the wire (`MigrationStep.phase`, and the phase
    /// of `mcc-emu`'s `MigrationPhaseEvent`).
    pub fn name(self) -> &'static str {
        match self {
            Self::PreCopy { .. } => "precopy",
            Self::Stop => "stop",
            Self::Switch => "switch",
            Self::PostCopy => "postcopy",
        }
    }

    /// The pre-copy round (from 1); 0 for the other phases.
    pub fn round(self) -> u32 {
        match self {
            Self::PreCopy { round } => round,
            _ => 0,
        }
    }

    /// The step named `name` (with `round` for pre-copy), as the wire
    /// carries it; `None` for a name this version does not know.
    pub fn from_wire(name: &str, round: u32) -> Option<Self> {
        Some(match name {
            "precopy" => Self::PreCopy { round },
            "stop" => Self::Stop,
            "switch" => Self::Switch,
            "postcopy" => Self::PostCopy,
            _ => return None,
        })
    }
}

/// Who is told of a migration's steps: called on the driver's task as each
/// one happens, with the time since the start; it must return at once.
pub type StepWatcher<'a> = &'a (dyn Fn(Step, Duration) + Send + Sync);

/// How far a migration got, for the failure report and the watcher.
struct Progress<'a> {
    switched_after: Option<Duration>,
    pages_not_pushed: u64,
    watch: StepWatcher<'a>,
    /// The last pre-copy round reported (0-based, as the model counts).
    round: Option<u32>,
    /// Whether the push began, and whether it was reported (only after
    /// the switch: a push may leave before the target acknowledged).
    push_began: bool,
    push_reported: bool,
}

impl Progress<'_> {
    /// Reports the step a transfer about to leave begins, if it begins one.
    fn on_transfer(&mut self, transfer: &Transfer, epoch: Instant) {
        use crate::migration::Phase;
        match (transfer.phase, transfer.kind) {
            (Phase::PreCopy, TransferKind::Pages) if self.round < Some(transfer.round) => {
                self.round = Some(transfer.round);
                (self.watch)(
                    Step::PreCopy {
                        round: transfer.round + 1,
                    },
                    epoch.elapsed(),
                );
            }
            (_, TransferKind::Push | TransferKind::FaultPull) => {
                self.push_began = true;
                self.report_push(epoch);
            }
            _ => {}
        }
    }

    /// The switch was acknowledged (and `switched_after` set).
    fn on_switch(&mut self, epoch: Instant) {
        (self.watch)(Step::Switch, epoch.elapsed());
        self.report_push(epoch);
    }

    /// Reports the push once it began and the switch is behind.
    fn report_push(&mut self, epoch: Instant) {
        if self.push_began && self.switched_after.is_some() && !self.push_reported {
            self.push_reported = true;
            (self.watch)(Step::PostCopy, epoch.elapsed());
        }
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
        let path = link.map(|link| EmulatedPath::single(link, Direction::AToB));
        self.migrate_over(target, plan, path).await
    }

    /// [`migrate_to`](Self::migrate_to) over a multi-hop `path` from this
    /// node to the target (each transfer books every hop; the next one is
    /// asked for when the busiest hop has taken the last).
    pub async fn migrate_over(
        &self,
        target: &mut CloudletClient<Channel>,
        plan: RealMigration,
        link: Option<EmulatedPath>,
    ) -> Result<RealMigrationReport, MigrateError> {
        self.migrate_watched(target, plan, link, &|_, _| {}).await
    }

    /// [`migrate_over`](Self::migrate_over), telling `watch` each [`Step`]
    /// as the driver reaches it.
    pub async fn migrate_watched(
        &self,
        target: &mut CloudletClient<Channel>,
        plan: RealMigration,
        link: Option<EmulatedPath>,
        watch: StepWatcher<'_>,
    ) -> Result<RealMigrationReport, MigrateError> {
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
            target_host_id: plan.target_host_id.clone(),
            target_address: plan.target_address.clone(),
            source_address: plan.source_address.clone(),
        };
        let answer = target.prepare_handover(prepare.clone()).await?.into_inner();
        if !answer.accepted {
            return Err(MigrateError::Refused(answer.reason));
        }
        let refusal = self
            .inner
            .change(|state| state.prepare(&prepare, Instant::now()));
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
        let mut guard = SourceGuard {
            inner: self.inner.clone(),
            migration_id: plan.migration_id.clone(),
            armed: true,
        };
        let pages = memory.pages();
        let mut progress = Progress {
            switched_after: None,
            pages_not_pushed: 0,
            watch,
            round: None,
            push_began: false,
            push_reported: false,
        };
        let result = self
            .run_transfer(target, &plan, memory, proto_profile, link, &mut progress)
            .await;
        match result {
            Ok(report) => {
                guard.armed = false;
                Ok(report)
            }
            Err(error) => {
                abort_target(target, &plan.migration_id).await;
                drop(guard); // the source's VM runs again
                match progress.switched_after {
                    Some(switched_after)
                        if matches!(
                            plan.config.technique,
                            Technique::PostCopy | Technique::Hybrid
                        ) =>
                    {
                        Err(MigrateError::LostAfterSwitch {
                            cause: Box::new(error),
                            switched_after,
                            pages_not_pushed: progress.pages_not_pushed,
                            pages,
                        })
                    }
                    _ => Err(error),
                }
            }
        }
    }

    async fn run_transfer(
        &self,
        target: &mut CloudletClient<Channel>,
        plan: &RealMigration,
        memory: VmMemory,
        proto_profile: mcc_proto::v1::VmProfile,
        link: Option<EmulatedPath>,
        progress: &mut Progress<'_>,
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
        // The stream call dies with the driver (a killed driver cuts the stream).
        let call = AbortOnDrop(Some(call));
        let header = VmTransfer {
            kind: Some(Kind::Header(VmHeader {
                migration_id: plan.migration_id.clone(),
                vm_id: plan.vm_id.clone(),
                source_host_id: self.host_id().to_owned(),
                technique: technique_code(plan.config.technique),
                profile: Some(proto_profile),
                source_address: plan.source_address.clone(),
                pages_per_request: plan.config.pages_per_request,
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
            push_queue: VecDeque::new(),
            scratch: Vec::new(),
        };
        let mut pages_sent = 0u64;
        let mut link_free = Duration::ZERO;
        let mut in_flight: VecDeque<(Duration, Transfer)> = VecDeque::new();
        loop {
            // Events first: a suspend at the start precedes the first byte.
            self.on_events(&mut model, target, &timer, plan, epoch, progress)
                .await?;
            let now = epoch.elapsed();
            if now > MAX_MIGRATION_TIME {
                return Err(MigrateError::TooLong(now));
            }
            while link_free <= now {
                let Some(transfer) = model.poll_transmit(now) else {
                    break;
                };
                // A suspend decided by this poll applies before its bytes leave.
                self.on_events(&mut model, target, &timer, plan, epoch, progress)
                    .await?;
                progress.on_transfer(&transfer, epoch);
                let messages = materialiser.messages(
                    &transfer,
                    plan.config.cpu_state_bytes,
                    model.pages_missing(),
                );
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
                    Some(path) => {
                        let delivery = path.reserve(bytes);
                        // The links' epochs are their own; keep only the spans.
                        link_free = now + delivery.busy();
                        now + delivery.delay()
                    }
                    None => Duration::ZERO,
                };
                for message in messages {
                    if sender.send(message).await.is_err() {
                        return Err(stream_failure(call).await);
                    }
                }
                progress.pages_not_pushed = materialiser.unpushed();
                let arrive = if link.is_some() {
                    arrive
                } else {
                    epoch.elapsed()
                };
                in_flight.push_back((arrive, transfer));
            }
            self.on_events(&mut model, target, &timer, plan, epoch, progress)
                .await?;
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
        let target_summary = call.join().await?;
        let commit = CommitHandoverRequest {
            migration_id: plan.migration_id.clone(),
        };
        let target_commit = target.commit_handover(commit).await?.into_inner();
        let source_commit = self
            .inner
            .change(|state| state.commit(&plan.migration_id, Instant::now()))?;
        let model = model
            .report()
            .ok_or(MigrateError::Stalled(epoch.elapsed()))?;
        Ok(RealMigrationReport {
            model,
            wire_bytes,
            pages_sent,
            target_summary,
            target_commit,
            source_commit,
            elapsed: epoch.elapsed(),
        })
    }
}

impl CloudletNode {
    /// Applies the model's events to the source's VM: `Suspended` suspends
    /// it; `Resumed` waits for the target's acknowledgement, then lets the
    /// source forward (or, for soft, serve beside the target).
    async fn on_events(
        &self,
        model: &mut Migration,
        target: &mut CloudletClient<Channel>,
        timer: &Timer,
        plan: &RealMigration,
        epoch: Instant,
        progress: &mut Progress<'_>,
    ) -> Result<(), MigrateError> {
        let dual = plan.config.technique == Technique::Soft;
        while let Some(event) = model.poll_event() {
            match event {
                MigrationEvent::Suspended { .. } => {
                    self.inner
                        .change(|state| state.suspend(&plan.migration_id, Instant::now()))?;
                    (progress.watch)(Step::Stop, epoch.elapsed());
                }
                MigrationEvent::Resumed { .. } => {
                    wait_for_ack(target, timer, &plan.vm_id).await?;
                    progress.switched_after = Some(epoch.elapsed());
                    self.inner
                        .change(|state| state.switched(&plan.migration_id, Instant::now(), dual))?;
                    progress.on_switch(epoch);
                }
                MigrationEvent::Done { .. } => {}
            }
        }
        Ok(())
    }
}

/// Waits until the target lists `vm_id` (it installs the VM when the
/// execution state arrives): the acknowledgement that it runs there.
async fn wait_for_ack(
    target: &mut CloudletClient<Channel>,
    timer: &Timer,
    vm_id: &str,
) -> Result<(), MigrateError> {
    let from = Instant::now();
    loop {
        let status = target.status(StatusRequest {}).await?.into_inner();
        if status.vms.iter().any(|vm| vm.vm_id == vm_id) {
            return Ok(());
        }
        if from.elapsed() > MAX_ACK_WAIT {
            return Err(MigrateError::NoAck(MAX_ACK_WAIT));
        }
        timer.sleep(Duration::from_micros(100)).await;
    }
}

type StreamCall = tokio::task::JoinHandle<Result<ReceiveVmSummary, tonic::Status>>;

/// The stream call's task, aborted when the driver stops early.
struct AbortOnDrop(Option<StreamCall>);

impl AbortOnDrop {
    async fn join(mut self) -> Result<ReceiveVmSummary, MigrateError> {
        match self.0.take() {
            Some(call) => call
                .await
                .map_err(|_| MigrateError::StreamClosed)?
                .map_err(Into::into),
            None => Err(MigrateError::StreamClosed),
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(call) = &self.0 {
            call.abort();
        }
    }
}

/// Why the target stopped taking the stream: its status when it answered one.
async fn stream_failure(call: AbortOnDrop) -> MigrateError {
    match call.join().await {
        Err(error) => error,
        Ok(_) => MigrateError::StreamClosed,
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
        Technique::Hybrid => Wire::Hybrid,
    };
    wire as i32
}
