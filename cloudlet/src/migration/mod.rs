//! Live migration of a VM between two cloudlets, as a state machine.
//!
//! A [`Migration`] decides; a driver moves time and bytes. The driver asks
//! [`Migration::poll_transmit`] what to send next, tells
//! [`Migration::on_delivered`] when a transfer has arrived, wakes the model
//! at [`Migration::poll_timeout`] through [`Migration::handle_timeout`], asks
//! [`Migration::on_request`] which host(s) answer a request that arrives during
//! the migration, and reads [`Migration::poll_event`] for suspensions and
//! resumptions. It keeps the model's view of the path current with
//! [`Migration::set_path_estimate`]. When [`Migration::is_done`], the
//! [`MigrationReport`] is ready.
//!
//! The five techniques share one machine ([`Migration`]); each technique's file
//! is the plan that sets which stages it goes through. [`single_link`] is a
//! virtual-clock driver over one serial link, used by `mcc-emu migrate`, the
//! tests and the benchmark.

use std::time::Duration;

use serde::Serialize;

use crate::memory::VmProfile;

pub mod hybrid;
mod machine;
pub mod post_copy;
pub mod pre_copy;
pub mod report;
pub mod single_link;
pub mod soft;
pub mod stop_and_copy;

pub use machine::Migration;
pub use report::{DelaySummary, MigrationReport};

/// Default maximum number of live copy rounds (Xen's and early QEMU's 30).
pub const DEFAULT_MAX_ROUNDS: u32 = 30;
/// Default downtime target: QEMU's default `downtime-limit`, 300 ms.
pub const DEFAULT_DOWNTIME_TARGET: Duration = Duration::from_millis(300);
/// Default size of the CPU and device state sent at the switch (an assumed figure).
pub const DEFAULT_CPU_STATE_BYTES: u64 = 256 * 1024;
/// Default largest transfer the model asks for at once.
pub const DEFAULT_CHUNK_BYTES: u64 = 4 << 20;
/// Default number of distinct pages one request touches.
pub const DEFAULT_PAGES_PER_REQUEST: u32 = 8;
/// Default period at which the model accounts for the faults the VM's own
/// execution takes at the target.
pub const DEFAULT_EXECUTION_FAULT_TICK: Duration = Duration::from_millis(10);

/// Default bytes the source keeps queued on the migration stream after the
/// switch (the push's chunk): 4 MiB, Linux's default largest TCP send buffer
/// (`net.ipv4.tcp_wmem` max, set in `net/ipv4/tcp.c` `tcp_init` as
/// `min(4 MiB, ...)`), which the kernel autotunes a bulk sender up to.
pub const DEFAULT_QUEUE_BYTES: u64 = 4 << 20;
/// QEMU's rate-limit window (`BUFFER_DELAY` in `migration/migration.c`).
pub const QEMU_CAP_WINDOW: Duration = Duration::from_millis(100);

/// The longest rate-limit window accepted.
pub const MAX_CAP_WINDOW: Duration = Duration::from_secs(10);

/// A rate-limit window is longer than zero and at most [`MAX_CAP_WINDOW`].
pub fn cap_window_is_valid(window: Duration) -> bool {
    !window.is_zero() && window <= MAX_CAP_WINDOW
}

/// Default period of the guest heartbeat `stall_ms` is seen by: 10 ms, the
/// heartbeat of the guest in `data/qemu/` (README, "The guest").
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(10);

/// Largest `max_rounds` accepted.
pub const MAX_ROUNDS_LIMIT: u32 = 10_000;
/// Largest `page_header_bytes` accepted.
pub const MAX_PAGE_HEADER_BYTES: u64 = 4096;
/// Largest `exec_text_pages` or `exec_data_pages` accepted (4 GiB of 4 KiB pages).
pub const MAX_EXEC_PAGES: u64 = 1 << 20;
/// Largest `pages_per_request` accepted (256 MiB of 4 KiB pages).
pub const MAX_PAGES_PER_REQUEST: u32 = 65_536;

/// A live-migration technique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Technique {
    /// Suspend, copy all memory, resume.
    StopAndCopy,
    /// Copy rounds while the VM runs, then suspend and copy the rest.
    PreCopy,
    /// Suspend, send the CPU state, resume at the target; pull pages on fault
    /// while the rest is pushed.
    PostCopy,
    /// Soft-migration: pre-copy rounds, then switch with no suspend; push the
    /// rest, pull faults; requests go to both hosts until the push ends.
    Soft,
    /// Pre-copy rounds, then (unless the remainder already fits the downtime
    /// target) a post-copy switch with the source stopped: QEMU's
    /// postcopy-after-precopy.
    Hybrid,
}

impl Technique {
    /// All techniques, in the order reports list them.
    pub const ALL: [Technique; 5] = [
        Technique::StopAndCopy,
        Technique::PreCopy,
        Technique::PostCopy,
        Technique::Soft,
        Technique::Hybrid,
    ];

    /// The technique's name (`stop-and-copy`, `pre-copy`, `post-copy`, `soft`, `hybrid`).
    pub fn name(self) -> &'static str {
        match self {
            Technique::StopAndCopy => "stop-and-copy",
            Technique::PreCopy => "pre-copy",
            Technique::PostCopy => "post-copy",
            Technique::Soft => "soft",
            Technique::Hybrid => "hybrid",
        }
    }

    /// The technique of that name.
    pub fn from_name(name: &str) -> Result<Self, MigrationError> {
        Technique::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| MigrationError::UnknownTechnique(name.to_owned()))
    }

    pub(crate) fn plan(self) -> Plan {
        match self {
            Technique::StopAndCopy => stop_and_copy::PLAN,
            Technique::PreCopy => pre_copy::PLAN,
            Technique::PostCopy => post_copy::PLAN,
            Technique::Soft => soft::PLAN,
            Technique::Hybrid => hybrid::PLAN,
        }
    }
}

/// How a technique hands the VM over to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// Suspend the VM at the source; send the stale pages too when
    /// `copy_memory`, then the CPU state; resume at the target.
    Suspend {
        /// Send the stale memory while suspended (else only the CPU state).
        copy_memory: bool,
    },
    /// Keep the source running; send the CPU state; the target starts on
    /// its arrival, and both hosts serve requests until the push ends.
    Live,
}

/// The stages a technique goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Copy memory in rounds while the VM runs before switching.
    pub live_rounds: bool,
    /// How the VM is handed over.
    pub switch: Switch,
    /// After the switch the target runs while the source pushes what the
    /// target lacks and serves its faults.
    pub push_after_switch: bool,
    /// When the rounds end without meeting the downtime target, switch as
    /// post-copy (suspend, CPU state only, push after) instead of `switch`.
    pub postcopy_fallback: bool,
}

/// How a page the target faults on travels to it after the switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultChannel {
    /// On the migration stream, behind the bytes queued ahead of it (QEMU
    /// without postcopy-preempt, its default).
    Shared,
    /// On a separate urgent channel that nothing is queued on (QEMU 8's
    /// `postcopy-preempt` capability).
    Preempt,
}

impl FaultChannel {
    /// The channel's name (`shared`, `preempt`).
    pub fn name(self) -> &'static str {
        match self {
            FaultChannel::Shared => "shared",
            FaultChannel::Preempt => "preempt",
        }
    }

    /// The channel of that name.
    pub fn from_name(name: &str) -> Result<Self, MigrationError> {
        match name {
            "shared" => Ok(FaultChannel::Shared),
            "preempt" => Ok(FaultChannel::Preempt),
            other => Err(MigrationError::Config {
                field: "fault_channel",
                reason: format!("must be shared or preempt, got {other:?}"),
            }),
        }
    }
}

/// Which transfers the bandwidth cap (`rate_cap_bps`) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapScope {
    /// Everything but the stop phase that ends live rounds: QEMU lifts its
    /// limit for the completion (`migration_completion` sets the rate limit
    /// to `INT64_MAX` before `qemu_savevm_state_complete_precopy`).
    /// Stop-and-copy's copy is capped: QEMU migrates a stopped VM by the
    /// same capped passes.
    ExceptCompletion,
    /// Every transfer.
    All,
}

impl CapScope {
    /// The scope's name (`except-completion`, `all`).
    pub fn name(self) -> &'static str {
        match self {
            CapScope::ExceptCompletion => "except-completion",
            CapScope::All => "all",
        }
    }

    /// The scope of that name.
    pub fn from_name(name: &str) -> Result<Self, MigrationError> {
        match name {
            "except-completion" => Ok(CapScope::ExceptCompletion),
            "all" => Ok(CapScope::All),
            other => Err(MigrationError::Config {
                field: "cap_scope",
                reason: format!("must be except-completion or all, got {other:?}"),
            }),
        }
    }
}

/// When a live copy round ends: the source syncs the dirty bitmap and
/// decides whether to stop, switch or start the next round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PassEnd {
    /// When all of the round has been handed out; the next round sends the
    /// pages dirtied meanwhile (the model's previous behaviour).
    Drained,
    /// When what is left of the round, counted in whole pages, could be sent
    /// within the downtime target at the measured bandwidth: QEMU 7.2 syncs
    /// then (`ram_save_pending`: `remaining_size < max_size`, with
    /// `max_size` = bandwidth × `downtime-limit`) and decides to stop when the
    /// pages then dirty, counted the same way, are below that threshold. The
    /// pages left are carried into the next round, merged with the pages
    /// dirtied since the last sync; the model does not know which pages those
    /// are, so it merges them as independent draws over their region
    /// (L + D − L·D/N pages).
    BelowTarget,
}

impl PassEnd {
    /// The rule's name (`drained`, `below-target`).
    pub fn name(self) -> &'static str {
        match self {
            PassEnd::Drained => "drained",
            PassEnd::BelowTarget => "below-target",
        }
    }

    /// The rule of that name.
    pub fn from_name(name: &str) -> Result<Self, MigrationError> {
        match name {
            "drained" => Ok(PassEnd::Drained),
            "below-target" => Ok(PassEnd::BelowTarget),
            other => Err(MigrationError::Config {
                field: "pass_end",
                reason: format!("must be drained or below-target, got {other:?}"),
            }),
        }
    }
}

/// Which pages the source pushes first after the switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PushOrder {
    /// In address order; every region is spread evenly over the address
    /// space, so each region's missing pages shrink in proportion.
    Address,
    /// Around recent faults (Hines et al.'s pre-paging): once a fault has
    /// happened, the region it fell in is pushed first, then the rest of the
    /// working set, then everything else.
    AroundFaults,
}

impl PushOrder {
    /// The order's name (`address`, `around-faults`).
    pub fn name(self) -> &'static str {
        match self {
            PushOrder::Address => "address",
            PushOrder::AroundFaults => "around-faults",
        }
    }

    /// The order of that name.
    pub fn from_name(name: &str) -> Result<Self, MigrationError> {
        match name {
            "address" => Ok(PushOrder::Address),
            "around-faults" => Ok(PushOrder::AroundFaults),
            other => Err(MigrationError::UnknownPushOrder(other.to_owned())),
        }
    }
}

/// The knobs of a migration. [`MigrationConfig::new`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationConfig {
    /// Which technique.
    pub technique: Technique,
    /// Maximum number of live copy rounds, round 0 included (pre-copy and soft).
    pub max_rounds: u32,
    /// Stop the rounds when what remains can be sent in this long at the measured bandwidth.
    pub downtime_target: Duration,
    /// Throttle the dirty rate when it outpaces the link, as QEMU's auto-converge does.
    pub auto_converge: bool,
    /// When a live copy round ends.
    pub pass_end: PassEnd,
    /// Which pages the source pushes first after the switch.
    pub push_order: PushOrder,
    /// Bytes of CPU and device state sent at the switch.
    pub cpu_state_bytes: u64,
    /// Largest transfer asked for at once.
    pub chunk_bytes: u64,
    /// Distinct pages one request touches.
    pub pages_per_request: u32,
    /// Period at which faults of the VM's own execution at the target are
    /// accounted (never finer than one chunk's transfer time on the path).
    pub execution_fault_tick: Duration,
    /// Bytes the source keeps queued on the stream after the switch: the
    /// push's chunk, which a fault on the shared channel waits behind.
    pub queue_bytes: u64,
    /// How faulted pages travel.
    pub fault_channel: FaultChannel,
    /// The migration's bandwidth cap in bits/s (QEMU's `max-bandwidth`);
    /// `None`: only the path's capacity binds.
    pub rate_cap_bps: Option<f64>,
    /// Which transfers the cap holds.
    pub cap_scope: CapScope,
    /// How the cap is applied. `Some(w)`: as QEMU's rate limiter, in
    /// windows of `w` (`BUFFER_DELAY`, 100 ms) counted from the start: each
    /// window lets `cap × w` through at the path's speed, then the stream
    /// waits for the next window, and a faulted page requested after the
    /// window's budget is spent waits for the next window and goes out
    /// first. `None`: the cap paces every transfer evenly (the previous
    /// behaviour).
    pub cap_window: Option<Duration>,
    /// Time from the start before the first byte is sent (QEMU's
    /// `setup-time`: the first dirty-bitmap sync).
    pub setup: Duration,
    /// Time the source spends syncing the dirty bitmap at the end of each
    /// live round and at the switch, before it sends again.
    pub sync_cost: Duration,
    /// Header bytes each non-zero page costs on the wire besides its data
    /// (QEMU: 8, the page's address and flags).
    pub page_header_bytes: u64,
    /// Pages the guest's execution reads but never writes (kernel text)
    /// that it needs before it makes any progress; they lie in the idle data.
    pub exec_text_pages: u64,
    /// Pages the guest's execution writes (kernel data, stacks) that it
    /// needs before it makes any progress; they lie in the working set,
    /// unless `exec_data_write_rate_pps` is set.
    pub exec_data_pages: u64,
    /// When set, the execution data pages are the kernel's own, outside the
    /// working set, written uniformly at this many pages per second whatever
    /// the working set does: how many are stale at a switch follows from
    /// the last round's length, not from the working set's stale share.
    /// `None`: they lie in the working set (the previous behaviour).
    pub exec_data_write_rate_pps: Option<f64>,
    /// Bytes of the idle data that lie at the top of guest memory, after
    /// the zero pages in the order a pass sends them (whole pages, rounded
    /// up; at most the idle data). A pass then ends on data, which matters
    /// where QEMU lifts the cap: what is left when the pass falls below the
    /// downtime target goes at the link's speed. Linux puts its page array
    /// there (memory / 64). 0: all idle data comes before the zero pages
    /// (the previous behaviour).
    pub top_data_bytes: u64,
    /// Time the target takes, once the last byte it needs has arrived,
    /// before the guest runs (loading device state, restarting the vCPUs).
    pub resume_cost: Duration,
    /// Period of the guest heartbeat `stall_ms` is measured with.
    pub heartbeat: Duration,
}

impl MigrationConfig {
    /// The defaults for `technique`.
    pub fn new(technique: Technique) -> Self {
        Self {
            technique,
            max_rounds: DEFAULT_MAX_ROUNDS,
            downtime_target: DEFAULT_DOWNTIME_TARGET,
            auto_converge: false,
            pass_end: PassEnd::Drained,
            push_order: PushOrder::Address,
            cpu_state_bytes: DEFAULT_CPU_STATE_BYTES,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            pages_per_request: DEFAULT_PAGES_PER_REQUEST,
            execution_fault_tick: DEFAULT_EXECUTION_FAULT_TICK,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            fault_channel: FaultChannel::Shared,
            rate_cap_bps: None,
            cap_scope: CapScope::ExceptCompletion,
            cap_window: None,
            setup: Duration::ZERO,
            sync_cost: Duration::ZERO,
            page_header_bytes: 0,
            exec_text_pages: 0,
            exec_data_pages: 0,
            exec_data_write_rate_pps: None,
            top_data_bytes: 0,
            resume_cost: Duration::ZERO,
            heartbeat: DEFAULT_HEARTBEAT,
        }
    }

    /// Checks the knobs that depend on the VM's memory, which
    /// [`validate`](Self::validate) cannot: the data at the top of memory
    /// must lie in `profile`'s idle data.
    pub fn validate_memory(&self, profile: &VmProfile) -> Result<(), MigrationError> {
        machine::migrated_regions(profile, self).map(|_| ())
    }

    /// Checks that the knobs make sense.
    pub fn validate(&self) -> Result<(), MigrationError> {
        if self.max_rounds == 0 {
            return Err(MigrationError::Config {
                field: "max_rounds",
                reason: "must be at least 1 (round 0 copies all memory)".into(),
            });
        }
        if self.max_rounds > MAX_ROUNDS_LIMIT {
            return Err(MigrationError::Config {
                field: "max_rounds",
                reason: format!(
                    "must be at most {MAX_ROUNDS_LIMIT}, got {}",
                    self.max_rounds
                ),
            });
        }
        if self.pages_per_request > MAX_PAGES_PER_REQUEST {
            return Err(MigrationError::Config {
                field: "pages_per_request",
                reason: format!(
                    "must be at most {MAX_PAGES_PER_REQUEST}, got {}",
                    self.pages_per_request
                ),
            });
        }
        if self.chunk_bytes == 0 {
            return Err(MigrationError::Config {
                field: "chunk_bytes",
                reason: "must be at least 1 byte".into(),
            });
        }
        if self.queue_bytes == 0 {
            return Err(MigrationError::Config {
                field: "queue_bytes",
                reason: "must be at least 1 byte".into(),
            });
        }
        if let Some(cap) = self.rate_cap_bps
            && !(cap.is_finite() && cap > 0.0)
        {
            return Err(MigrationError::Config {
                field: "rate_cap_bps",
                reason: format!("must be a positive number of bits/s, got {cap}"),
            });
        }
        if self.page_header_bytes > MAX_PAGE_HEADER_BYTES {
            return Err(MigrationError::Config {
                field: "page_header_bytes",
                reason: format!(
                    "must be at most {MAX_PAGE_HEADER_BYTES}, got {}",
                    self.page_header_bytes
                ),
            });
        }
        for (field, pages) in [
            ("exec_text_pages", self.exec_text_pages),
            ("exec_data_pages", self.exec_data_pages),
        ] {
            if pages > MAX_EXEC_PAGES {
                return Err(MigrationError::Config {
                    field,
                    reason: format!("must be at most {MAX_EXEC_PAGES}, got {pages}"),
                });
            }
        }
        if let Some(rate) = self.exec_data_write_rate_pps
            && !(rate.is_finite() && rate >= 0.0)
        {
            return Err(MigrationError::Config {
                field: "exec_data_write_rate_pps",
                reason: format!("must be a finite number of pages/s >= 0, got {rate}"),
            });
        }
        if let Some(window) = self.cap_window
            && !cap_window_is_valid(window)
        {
            return Err(MigrationError::Config {
                field: "cap_window",
                reason: format!(
                    "must lie in (0, {} ms], got {} ms",
                    MAX_CAP_WINDOW.as_millis(),
                    window.as_secs_f64() * 1e3
                ),
            });
        }
        if self.heartbeat.is_zero() {
            return Err(MigrationError::Config {
                field: "heartbeat",
                reason: "must be longer than zero".into(),
            });
        }
        if self.execution_fault_tick.is_zero() {
            return Err(MigrationError::Config {
                field: "execution_fault_tick",
                reason: "must be longer than zero".into(),
            });
        }
        Ok(())
    }
}

/// The driver's current view of the path from source to target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathEstimate {
    /// One-way latency.
    pub one_way_latency: Duration,
    /// Bandwidth available to the migration, in bits per second.
    pub bandwidth_bps: f64,
}

impl PathEstimate {
    /// Checks that the bandwidth is a positive finite number.
    pub fn validate(&self) -> Result<(), MigrationError> {
        if self.bandwidth_bps.is_finite() && self.bandwidth_bps > 0.0 {
            Ok(())
        } else {
            Err(MigrationError::BadBandwidth(self.bandwidth_bps))
        }
    }

    /// Bandwidth in bytes per second.
    pub fn bandwidth_bytes_per_s(&self) -> f64 {
        self.bandwidth_bps / 8.0
    }
}

/// Which part of the migration a transfer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Sent while the VM runs at the source, before the switch.
    PreCopy,
    /// Sent while the VM is suspended.
    Stop,
    /// Sent after the VM runs at the target (or, for soft, after the switch began).
    PostCopy,
}

/// What a transfer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransferKind {
    /// Memory pages of a copy round or of the stop phase.
    Pages,
    /// The CPU and device state.
    CpuState,
    /// Pages pushed in the background after the switch.
    Push,
    /// Pages the target asked for on a fault.
    FaultPull,
}

/// One transfer the migration asks the driver to move from source to target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// Sequence number, unique within the migration.
    pub id: u64,
    /// Bytes on the wire.
    pub bytes: u64,
    /// Pages carried.
    pub pages: u64,
    /// Phase the bytes count in.
    pub phase: Phase,
    /// Live copy round (0-based) the pages belong to; the last round after it.
    pub round: u32,
    /// What the transfer carries.
    pub kind: TransferKind,
}

/// A host of the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Host {
    /// Where the VM was.
    Source,
    /// Where the VM goes.
    Target,
}

/// When a host can start serving a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// At this time.
    At(Duration),
    /// When the VM resumes (see [`MigrationEvent::Resumed`]); the time is
    /// not known yet.
    AtResume,
}

/// One host's answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Which host answers.
    pub host: Host,
    /// When it can start serving.
    pub ready: Ready,
}

/// The one or two hosts that answer a request, in order (a list that needs
/// no allocation: every request to a migrating VM gets one). Reads as a
/// slice of [`Answer`]s.
#[derive(Debug, Clone, Copy)]
pub struct Answers {
    list: [Answer; 2],
    len: u8,
}

impl Answers {
    /// One host answers.
    #[inline]
    pub fn one(answer: Answer) -> Self {
        Self {
            list: [answer; 2],
            len: 1,
        }
    }

    /// Both hosts answer; `first` is listed first.
    #[inline]
    pub fn two(first: Answer, second: Answer) -> Self {
        Self {
            list: [first, second],
            len: 2,
        }
    }
}

impl std::ops::Deref for Answers {
    type Target = [Answer];

    #[inline]
    fn deref(&self) -> &[Answer] {
        &self.list[..usize::from(self.len)]
    }
}

impl<'a> IntoIterator for &'a Answers {
    type Item = &'a Answer;
    type IntoIter = std::slice::Iter<'a, Answer>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq for Answers {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Answers {}

/// What happens to a request that arrives at the VM during the migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOutcome {
    /// The host(s) that serve it; when two do, the first answer counts.
    pub answers: Answers,
    /// Page faults it caused at the target.
    pub faults: u32,
    /// Both hosts served it.
    pub dual_served: bool,
}

/// Something the driver should know about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationEvent {
    /// The VM was suspended at the source.
    Suspended {
        /// When.
        at: Duration,
    },
    /// The VM runs at the target and makes progress again (after the resume
    /// cost and the execution pages it lacked); requests held for the resume
    /// can be served.
    Resumed {
        /// When.
        at: Duration,
    },
    /// The migration is over: the source holds nothing of the VM any more.
    Done {
        /// When.
        at: Duration,
    },
}

/// What is wrong with a migration's inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MigrationError {
    /// The technique's name is not known.
    #[error(
        "unknown technique {0:?}; expected one of stop-and-copy, pre-copy, post-copy, soft, hybrid"
    )]
    UnknownTechnique(String),
    /// The push order's name is not known.
    #[error("unknown push order {0:?}; expected address or around-faults")]
    UnknownPushOrder(String),
    /// The bandwidth is not a positive number.
    #[error("bandwidth must be a positive number of bits/s, got {0}")]
    BadBandwidth(f64),
    /// A configuration knob is out of range.
    #[error("{field} {reason}")]
    Config {
        /// The knob.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}
