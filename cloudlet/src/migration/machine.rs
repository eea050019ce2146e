//! The migration state machine all five techniques share.
//!
//! Stages: live copy rounds (pre-copy, soft, hybrid) → the switch (suspended,
//! or live for soft) → the target runs while the source pushes what it lacks
//! (post-copy, soft, and hybrid when its rounds missed the downtime target)
//! → done. A technique's [`Plan`] picks the stages. Memory is tracked as
//! per-region page counts ([`PageCounts`]), so no call walks the pages.
//!
//! Beside this file: `regions` builds the regions a migration sends (in the
//! order QEMU's pass meets them), and `pass_end` decides when a copy round
//! ends and measures the bandwidth that decision goes by.

use std::collections::VecDeque;
use std::time::Duration;

use rand::{Rng, RngExt};

use super::report::{DelaySummary, MigrationReport};
use super::{
    Answer, Answers, CapScope, FaultChannel, Host, MigrationConfig, MigrationError, MigrationEvent,
    PathEstimate, Phase, Plan, PushOrder, Ready, RequestOutcome, Switch, Transfer, TransferKind,
};
use crate::memory::{PageCounts, Region, RegionKind, VmProfile};

mod pass_end;
mod regions;

use pass_end::{RateWindow, merge_independent};
pub(crate) use regions::migrated_regions;

/// Slack when comparing the driver's time with the model's own deadlines
/// (a driver's clock has nanoseconds; the model computes in seconds).
const TIME_SLACK_S: f64 = 1e-6;

/// First throttle auto-converge applies (QEMU's `cpu-throttle-initial`).
const THROTTLE_INITIAL: f64 = 0.20;
/// Throttle step of auto-converge (QEMU's `cpu-throttle-increment`).
const THROTTLE_INCREMENT: f64 = 0.10;
/// Largest throttle (QEMU's `max-cpu-throttle`).
const THROTTLE_MAX: f64 = 0.99;

/// Where the migration stands.
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    /// Setting up (QEMU's setup phase) until `until_s`; nothing is sent yet.
    Setup { until_s: f64 },
    /// Live copy round `round`, started (dirty log synced) at `sync_s`.
    Rounds {
        round: u32,
        sync_s: f64,
        to_send: PageCounts,
    },
    /// The VM is suspended since `suspended_s`.
    Stop {
        suspended_s: f64,
        to_send: PageCounts,
        cpu_pending: bool,
    },
    /// Soft switch: the source runs, the CPU state is on its way.
    LiveSwitch { cpu_pending: bool },
    /// The VM runs at the target; `dual` while the source serves too.
    Target { dual: bool, last_exec_s: f64 },
    /// Over.
    Done { at_s: f64 },
}

/// One migration of one VM from a source to a target host.
#[derive(Debug, Clone)]
pub struct Migration {
    profile: VmProfile,
    regions: Vec<Region>,
    config: MigrationConfig,
    plan: Plan,
    path: PathEstimate,
    start_s: f64,
    stage: Stage,
    /// Pages the target lacks after the switch and the driver has not been asked to move.
    missing: PageCounts,
    exec_fault_carry: Vec<f64>,
    pending_pulls: u64,
    last_fault_region: Option<usize>,
    throttle: f64,
    rounds: u32,
    converged: bool,
    next_id: u64,
    in_flight: u64,
    bytes_precopy: u64,
    bytes_stop: u64,
    bytes_postcopy: u64,
    round_sent_bytes: u64,
    /// The region a round's scan begins at: where the last round's scan
    /// stood when it ended below the target (QEMU's scan goes on from the
    /// page it last sent after a sync), else the first.
    scan_from: usize,
    /// A stopped VM's copy has fallen below the downtime target: the cap
    /// no longer holds it (QEMU's completion).
    stop_cap_lifted: bool,
    /// Bandwidth measurement over the current window (one copy round).
    rate: RateWindow,
    /// The last bandwidth measured over a whole window, bytes/s.
    measured_bytes_per_s: Option<f64>,
    /// The last round's bytes per second of its whole length, up to its
    /// end (what [`PassEnd::BelowTarget`] falls back on; see
    /// `RateWindow::bytes_per_s_until`).
    last_round_bytes_per_s: Option<f64>,
    downtime_s: f64,
    page_faults: u64,
    fault_stall_s: f64,
    dual_served: u64,
    delays_ms: Vec<f64>,
    events: VecDeque<MigrationEvent>,
    /// Nothing is handed out before this time (setup, dirty-bitmap syncs).
    hold_until_s: f64,
    /// `poll_transmit` last declined until this time (hold or rate cap).
    declined_until_s: Option<f64>,
    /// When the migration stream, as the model sees it, has sent all it was handed.
    stream_free_s: f64,
    /// When the current rate-limit window began and the bytes handed out
    /// in it, when the cap is applied in windows.
    window_start_s: f64,
    window_bytes: f64,
    /// Expected pages of the guest's execution set the target lacks, per region.
    exec_missing: Vec<f64>,
    /// The vCPU is blocked until then (a faulted execution page, or the resume).
    exec_due_s: Option<f64>,
    /// The VM makes no progress since then (suspended, or blocked after the resume).
    frozen_since_s: Option<f64>,
    /// Longest interval without progress so far.
    longest_freeze_s: f64,
}

fn secs(t: Duration) -> f64 {
    t.as_secs_f64()
}

fn duration(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX)
}

impl Migration {
    /// A migration of a VM with memory `profile`, starting at `start` (time
    /// since the start of the experiment), over a path the driver currently
    /// estimates as `path`.
    pub fn new(
        profile: VmProfile,
        config: MigrationConfig,
        path: PathEstimate,
        start: Duration,
    ) -> Result<Self, MigrationError> {
        config.validate()?;
        path.validate()?;
        let regions = migrated_regions(&profile, &config)?;
        let all = PageCounts(regions.iter().map(|r| r.pages).collect());
        let n = regions.len();
        let plan = config.technique.plan();
        let start_s = secs(start);
        let mut migration = Self {
            profile,
            regions,
            plan,
            path,
            start_s,
            stage: Stage::Done { at_s: start_s },
            missing: PageCounts::zero(n),
            exec_fault_carry: vec![0.0; n],
            pending_pulls: 0,
            last_fault_region: None,
            throttle: 0.0,
            rounds: 0,
            converged: true,
            next_id: 0,
            in_flight: 0,
            bytes_precopy: 0,
            bytes_stop: 0,
            bytes_postcopy: 0,
            round_sent_bytes: 0,
            scan_from: 0,
            stop_cap_lifted: false,
            rate: RateWindow::new(start_s, true),
            measured_bytes_per_s: None,
            last_round_bytes_per_s: None,
            downtime_s: 0.0,
            page_faults: 0,
            fault_stall_s: 0.0,
            dual_served: 0,
            delays_ms: Vec::new(),
            events: VecDeque::new(),
            hold_until_s: start_s,
            declined_until_s: None,
            stream_free_s: start_s,
            window_start_s: start_s,
            window_bytes: 0.0,
            exec_missing: vec![0.0; n],
            exec_due_s: None,
            frozen_since_s: None,
            longest_freeze_s: 0.0,
            config,
        };
        let setup_s = secs(migration.config.setup);
        let stopped_first =
            !plan.live_rounds && plan.switch == Switch::Suspend { copy_memory: true };
        if setup_s > 0.0 && !stopped_first {
            // The VM runs (and dirties pages) during the setup.
            migration.stage = Stage::Setup {
                until_s: start_s + setup_s,
            };
        } else {
            // Stop-and-copy stops the VM first, then sets up.
            migration.hold_until_s = start_s + setup_s;
            migration.begin(start_s, all);
        }
        Ok(migration)
    }

    /// Enters the first stage after the setup, at `now_s`.
    fn begin(&mut self, now_s: f64, all: PageCounts) {
        // The bandwidth is measured from the first byte, not over the setup.
        self.rate = RateWindow::new(now_s, true);
        if self.plan.live_rounds {
            self.stage = Stage::Rounds {
                round: 0,
                sync_s: self.start_s,
                to_send: all,
            };
        } else {
            self.switch(now_s, all);
        }
    }

    /// Leaves the setup stage once it is over at `now_s`.
    fn end_setup_if_due(&mut self, now_s: f64) {
        if let Stage::Setup { until_s } = self.stage
            && now_s + TIME_SLACK_S >= until_s
        {
            let all = PageCounts(self.regions.iter().map(|r| r.pages).collect());
            self.begin(now_s, all);
        }
    }

    /// The memory profile being migrated.
    pub fn profile(&self) -> &VmProfile {
        &self.profile
    }

    /// The configuration.
    pub fn config(&self) -> &MigrationConfig {
        &self.config
    }

    /// Updates the driver's view of the path (latency, bandwidth); faults
    /// are costed with it and it is the bandwidth used until deliveries give
    /// a measured one.
    pub fn set_path_estimate(&mut self, path: PathEstimate) -> Result<(), MigrationError> {
        path.validate()?;
        self.path = path;
        Ok(())
    }

    /// True when the migration is over and [`Migration::report`] is ready.
    pub fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done { .. })
    }

    /// Pages the target lacks after the switch that the model has not yet
    /// asked the driver to move (push or fault pull); 0 before the switch
    /// of post-copy and soft, and always for stop-and-copy and pre-copy.
    pub fn pages_missing(&self) -> u64 {
        self.missing.total() + self.pending_pulls
    }

    /// True while the VM is suspended (it can answer nothing).
    pub fn is_suspended(&self) -> bool {
        matches!(self.stage, Stage::Stop { .. })
    }

    /// The next transfer to move from source to target, if the model has one now.
    pub fn poll_transmit(&mut self, now: Duration) -> Option<Transfer> {
        let now_s = secs(now);
        self.advance(now_s);
        self.end_setup_if_due(now_s);
        self.declined_until_s = None;
        loop {
            if let Stage::Setup { until_s } = self.stage {
                self.declined_until_s = Some(until_s);
                return None;
            }
            if now_s + TIME_SLACK_S < self.hold_until_s {
                self.declined_until_s = Some(self.hold_until_s);
                return None;
            }
            let window_room = self.window_room(now_s);
            if let Some(room) = window_room {
                if room <= 0.0 {
                    self.declined_until_s = Some(self.window_end_s());
                    return None;
                }
            } else if self.cap_applies() && now_s + TIME_SLACK_S < self.stream_free_s {
                self.declined_until_s = Some(self.stream_free_s);
                return None;
            }
            // QEMU asks how much is pending between its sends: in rate-limit
            // windows once a window, at its start, before the burst.
            let may_check = window_room.is_none() || self.window_bytes == 0.0;
            if may_check && self.pass_below_target(now_s) {
                if matches!(self.stage, Stage::Rounds { .. }) {
                    self.end_round(now_s);
                } else {
                    self.stop_cap_lifted = true;
                }
                continue;
            }
            // In a rate-limit window, no more than the window still lets
            // through (QEMU checks the limit before each page).
            let chunk = window_room.map_or(self.config.chunk_bytes, |room| {
                self.config.chunk_bytes.min(room.ceil() as u64).max(1)
            });
            let chunk = chunk.min(self.pending_check_bytes());
            let queue = self.config.queue_bytes.min(chunk);
            let rounds = self.rounds;
            let next = match &mut self.stage {
                Stage::Setup { .. } => None,
                Stage::Rounds { round, to_send, .. } => {
                    if to_send.total() == 0 {
                        self.end_round(now_s);
                        continue;
                    }
                    let (pages, bytes) =
                        to_send.take_in_order_from(&self.regions, self.scan_from, chunk);
                    Some((bytes, pages, Phase::PreCopy, *round, TransferKind::Pages))
                }
                Stage::Stop {
                    to_send,
                    cpu_pending,
                    ..
                } => {
                    if to_send.total() > 0 {
                        let (pages, bytes) =
                            to_send.take_in_order_from(&self.regions, self.scan_from, chunk);
                        Some((bytes, pages, Phase::Stop, rounds, TransferKind::Pages))
                    } else if *cpu_pending {
                        *cpu_pending = false;
                        let bytes = self.config.cpu_state_bytes;
                        Some((bytes, 0, Phase::Stop, rounds, TransferKind::CpuState))
                    } else {
                        None
                    }
                }
                Stage::LiveSwitch { cpu_pending } => {
                    if *cpu_pending {
                        *cpu_pending = false;
                        let bytes = self.config.cpu_state_bytes;
                        Some((bytes, 0, Phase::PostCopy, rounds, TransferKind::CpuState))
                    } else {
                        None
                    }
                }
                Stage::Target { .. } => {
                    if self.pending_pulls > 0 {
                        let pages = std::mem::take(&mut self.pending_pulls);
                        let bytes = pages * self.page_wire_bytes();
                        Some((
                            bytes,
                            pages,
                            Phase::PostCopy,
                            rounds,
                            TransferKind::FaultPull,
                        ))
                    } else if self.missing.total() > 0 {
                        let (taken, bytes) = self.take_push_chunk(queue);
                        Some((
                            bytes,
                            taken.total(),
                            Phase::PostCopy,
                            rounds,
                            TransferKind::Push,
                        ))
                    } else {
                        None
                    }
                }
                Stage::Done { .. } => None,
            };
            return next.map(|(bytes, pages, phase, round, kind)| {
                self.emit(now_s, bytes, pages, phase, round, kind)
            });
        }
    }

    /// The driver delivered `transfer` to the target at `now`.
    pub fn on_delivered(&mut self, now: Duration, transfer: &Transfer) {
        let now_s = secs(now);
        self.advance(now_s);
        self.in_flight = self.in_flight.saturating_sub(1);
        self.rate.record(now_s, transfer.bytes);
        match &self.stage {
            Stage::Stop {
                suspended_s,
                to_send,
                cpu_pending,
            } if to_send.total() == 0 && !*cpu_pending && self.in_flight == 0 => {
                let suspended_s = *suspended_s;
                self.downtime_s = self.downtime_s.max(now_s - suspended_s);
                self.start_at_target(now_s, false);
            }
            Stage::LiveSwitch { cpu_pending: false } if transfer.kind == TransferKind::CpuState => {
                self.start_at_target(now_s, true);
            }
            _ => {}
        }
        if matches!(self.stage, Stage::Target { .. }) {
            self.finish_if_complete(now_s);
        }
    }

    /// When the model wants [`Migration::handle_timeout`] to be called.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let tick = match &self.stage {
            Stage::Target { last_exec_s, .. } if self.writes_can_fault() => {
                // No finer than the time one chunk takes on the path: pulls
                // queue behind the chunk in flight anyway.
                let chunk_s = self.config.chunk_bytes as f64 / self.path.bandwidth_bytes_per_s();
                let tick_s = secs(self.config.execution_fault_tick).max(chunk_s);
                Some(last_exec_s + tick_s)
            }
            Stage::Setup { until_s } => Some(*until_s),
            _ => None,
        };
        [tick, self.exec_due_s, self.declined_until_s]
            .into_iter()
            .flatten()
            .min_by(f64::total_cmp)
            .map(duration)
    }

    /// The model's timer fired: accounts for the faults the VM's own
    /// execution at the target took since the last call, ends the setup,
    /// and moves the blocked vCPU on when the page it waits for arrived.
    pub fn handle_timeout(&mut self, now: Duration) {
        let now_s = secs(now);
        self.advance(now_s);
        self.end_setup_if_due(now_s);
        if self
            .declined_until_s
            .is_some_and(|t| now_s + TIME_SLACK_S >= t)
        {
            self.declined_until_s = None;
        }
        if self.exec_due_s.is_some_and(|t| now_s + TIME_SLACK_S >= t) {
            self.step_exec_chain(now_s);
            if matches!(self.stage, Stage::Target { .. }) {
                self.finish_if_complete(now_s);
            }
        }
    }

    /// A request reached the VM at `now`: which host(s) serve it and from when.
    /// `rng` draws the pages it touches.
    pub fn on_request<R: Rng + ?Sized>(&mut self, now: Duration, rng: &mut R) -> RequestOutcome {
        let now_s = secs(now);
        self.advance(now_s);
        let single = |host, ready| RequestOutcome {
            answers: Answers::one(Answer { host, ready }),
            faults: 0,
            dual_served: false,
        };
        let blocked = self.exec_due_s.is_some();
        match self.stage {
            Stage::Setup { .. } | Stage::Rounds { .. } => single(Host::Source, Ready::At(now)),
            Stage::Stop { .. } => single(Host::Target, Ready::AtResume),
            Stage::Done { .. } => single(Host::Target, Ready::At(now)),
            Stage::LiveSwitch { .. } => {
                self.dual_served += 1;
                RequestOutcome {
                    answers: Answers::two(
                        Answer {
                            host: Host::Source,
                            ready: Ready::At(now),
                        },
                        Answer {
                            host: Host::Target,
                            ready: Ready::AtResume,
                        },
                    ),
                    faults: 0,
                    dual_served: true,
                }
            }
            Stage::Target { dual, .. } => {
                // While the vCPU is blocked on its own execution's pages the
                // target serves nothing; the request waits for the resume.
                let (faults, target) = if blocked {
                    (0, Ready::AtResume)
                } else {
                    let faults = self.touch_pages(rng);
                    let stall_s = self.request_fault_wait_s(now_s, faults);
                    self.fault_stall_s += stall_s;
                    if !dual {
                        // The vCPU serving it is blocked meanwhile.
                        self.longest_freeze_s = self.longest_freeze_s.max(stall_s);
                    }
                    (faults, Ready::At(duration(now_s + stall_s)))
                };
                let target = Answer {
                    host: Host::Target,
                    ready: target,
                };
                let answers = if dual {
                    self.dual_served += 1;
                    let source = Answer {
                        host: Host::Source,
                        ready: Ready::At(now),
                    };
                    Answers::two(source, target)
                } else {
                    Answers::one(target)
                };
                RequestOutcome {
                    answers,
                    faults,
                    dual_served: dual,
                }
            }
        }
    }

    /// The driver measured the delay of a request that arrived during the migration.
    pub fn record_request_delay(&mut self, delay: Duration) {
        self.delays_ms.push(secs(delay) * 1e3);
    }

    /// The next event for the driver, if any.
    pub fn poll_event(&mut self) -> Option<MigrationEvent> {
        self.events.pop_front()
    }

    /// The report, once the migration is done.
    pub fn report(&self) -> Option<MigrationReport> {
        let Stage::Done { at_s } = self.stage else {
            return None;
        };
        Some(MigrationReport {
            technique: self.config.technique,
            converged: self.converged,
            total_ms: (at_s - self.start_s) * 1e3,
            downtime_ms: self.downtime_s * 1e3,
            stall_ms: (self.longest_freeze_s + secs(self.config.heartbeat)) * 1e3,
            bytes_total: self.bytes_precopy + self.bytes_stop + self.bytes_postcopy,
            bytes_precopy: self.bytes_precopy,
            bytes_stop: self.bytes_stop,
            bytes_postcopy: self.bytes_postcopy,
            rounds: self.rounds,
            page_faults: self.page_faults,
            fault_stall_ms: self.fault_stall_s * 1e3,
            dual_served_requests: self.dual_served,
            request_delay_ms: DelaySummary::from_delays_ms(&self.delays_ms),
        })
    }

    /// Bandwidth in bytes/s the model goes by: measured from deliveries in
    /// the current copy round, else over the last round that had
    /// deliveries, else the driver's path estimate.
    pub fn measured_bandwidth_bytes_per_s(&self) -> f64 {
        self.known_bandwidth_bytes_per_s()
            .unwrap_or_else(|| self.path.bandwidth_bytes_per_s())
    }

    fn emit(
        &mut self,
        now_s: f64,
        bytes: u64,
        pages: u64,
        phase: Phase,
        round: u32,
        kind: TransferKind,
    ) -> Transfer {
        match phase {
            Phase::PreCopy => {
                self.bytes_precopy += bytes;
                self.round_sent_bytes += bytes;
            }
            Phase::Stop => self.bytes_stop += bytes,
            Phase::PostCopy => self.bytes_postcopy += bytes,
        }
        // Everything but a faulted page (booked on the stream when the fault
        // happened, or sent on the urgent channel) queues on the stream.
        if kind != TransferKind::FaultPull {
            let rate = self.stream_drain_bytes_per_s();
            self.stream_free_s = self.stream_free_s.max(now_s) + bytes as f64 / rate;
            if self.cap_window().is_some() {
                self.window_bytes += bytes as f64;
            }
        }
        self.in_flight += 1;
        let id = self.next_id;
        self.next_id += 1;
        Transfer {
            id,
            bytes,
            pages,
            phase,
            round,
            kind,
        }
    }

    /// All of the current round has been handed out at `now_s`: start the
    /// next round or switch.
    fn end_round(&mut self, now_s: f64) {
        let Stage::Rounds {
            round,
            sync_s,
            to_send: ref left,
        } = self.stage
        else {
            return;
        };
        let dirtied =
            self.profile
                .dirty_in_window(&self.regions, now_s - sync_s, 1.0 - self.throttle);
        // What the round left (none unless it ended below the target) stays
        // dirty, and the next scan begins where this one stood.
        self.scan_from = left.first_nonempty_from(self.scan_from).unwrap_or(0);
        let dirty = merge_independent(left, &dirtied, &self.regions);
        let remaining_bytes = dirty.wire_bytes(&self.regions);
        self.rounds = round + 1;
        let fits = self.fits_target(&dirty, now_s);
        // The dirty bitmap is synced before anything else is sent.
        self.hold_until_s = now_s + secs(self.config.sync_cost);
        if fits || self.rounds >= self.config.max_rounds {
            self.converged = fits;
            self.switch(now_s, dirty);
            return;
        }
        if self.config.auto_converge && remaining_bytes.saturating_mul(2) > self.round_sent_bytes {
            self.throttle = if self.throttle == 0.0 {
                THROTTLE_INITIAL
            } else {
                (self.throttle + THROTTLE_INCREMENT).min(THROTTLE_MAX)
            };
        }
        self.round_sent_bytes = 0;
        let latency_s = secs(self.path.one_way_latency);
        if let Some(rate) = self.rate.bytes_per_s(latency_s) {
            self.measured_bytes_per_s = Some(rate);
        }
        if let Some(rate) = self.rate.bytes_per_s_until(now_s, latency_s) {
            self.last_round_bytes_per_s = Some(rate);
        }
        self.rate = RateWindow::new(now_s, false);
        self.stage = Stage::Rounds {
            round: round + 1,
            sync_s: now_s,
            to_send: dirty,
        };
    }

    /// The bandwidth measured so far (this round's, else the last round's), if any.
    fn known_bandwidth_bytes_per_s(&self) -> Option<f64> {
        let latency_s = secs(self.path.one_way_latency);
        self.rate
            .bytes_per_s(latency_s)
            .or(self.measured_bytes_per_s)
    }

    /// Hands the VM over at `now_s`; `stale` are the pages the target lacks.
    fn switch(&mut self, now_s: f64, stale: PageCounts) {
        let n = self.regions.len();
        match self.plan.switch {
            Switch::Suspend { copy_memory } => {
                // Hybrid falls back to a post-copy switch when the rounds
                // did not meet the downtime target.
                let copy_memory = copy_memory && (self.converged || !self.plan.postcopy_fallback);
                self.events.push_back(MigrationEvent::Suspended {
                    at: duration(now_s),
                });
                self.frozen_since_s = Some(now_s);
                let to_send = if copy_memory {
                    stale
                } else {
                    self.missing = stale;
                    PageCounts::zero(n)
                };
                self.stage = Stage::Stop {
                    suspended_s: now_s,
                    to_send,
                    cpu_pending: true,
                };
            }
            Switch::Live => {
                self.missing = stale;
                self.stage = Stage::LiveSwitch { cpu_pending: true };
            }
        }
    }

    /// The target has what it needs to start at `now_s`: after the resume
    /// cost, the vCPU fetches the execution pages it lacks, one fault at a
    /// time, before it makes any progress.
    fn start_at_target(&mut self, now_s: f64, dual: bool) {
        self.stage = Stage::Target {
            dual,
            last_exec_s: now_s,
        };
        self.init_exec_missing();
        let resume_s = secs(self.config.resume_cost);
        if resume_s > 0.0 {
            self.exec_due_s = Some(now_s + resume_s);
        } else {
            self.step_exec_chain(now_s);
        }
        self.finish_if_complete(now_s);
    }

    /// The execution set's pages the target lacks: the text in the idle
    /// data, the data in the working set (or all of the kernel's data
    /// region), each in proportion to what its region lacks.
    fn init_exec_missing(&mut self) {
        let kernel_data = self.config.exec_data_write_rate_pps.is_some();
        let ws_pages: u64 = self
            .regions
            .iter()
            .filter(|r| is_working_set(r.kind))
            .map(|r| r.pages)
            .sum();
        for ((slot, region), &missing) in self
            .exec_missing
            .iter_mut()
            .zip(&self.regions)
            .zip(&self.missing.0)
        {
            *slot = 0.0;
            if region.pages == 0 || missing == 0 {
                continue;
            }
            let in_region = if is_working_set(region.kind) && ws_pages > 0 && !kernel_data {
                self.config.exec_data_pages as f64 * region.pages as f64 / ws_pages as f64
            } else if region.kind == RegionKind::KernelData {
                region.pages as f64
            } else if region.kind == RegionKind::IdleData {
                self.config.exec_text_pages as f64
            } else {
                0.0
            };
            let in_region = in_region.min(region.pages as f64);
            *slot = in_region * missing as f64 / region.pages as f64;
        }
    }

    /// The vCPU is free to run at `now_s` (its last page arrived, or the
    /// resume cost passed): it faults on the next execution page it lacks,
    /// or, lacking none, makes progress again.
    fn step_exec_chain(&mut self, now_s: f64) {
        loop {
            let next = self
                .exec_missing
                .iter()
                .enumerate()
                .filter(|(_, m)| **m > 0.0)
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i);
            let total: f64 = self.exec_missing.iter().sum();
            let Some(index) = next.filter(|_| total >= 0.5) else {
                break;
            };
            let (Some(missing), Some(exec)) = (
                self.missing.0.get_mut(index),
                self.exec_missing.get_mut(index),
            ) else {
                break;
            };
            if *missing == 0 {
                *exec = 0.0;
                continue;
            }
            *missing -= 1;
            *exec = (*exec - 1.0).max(0.0);
            self.pending_pulls += 1;
            self.page_faults += 1;
            self.last_fault_region = Some(index);
            let wait_s = self.fault_wait_s(now_s);
            self.exec_due_s = Some(now_s + wait_s);
            return;
        }
        self.exec_missing.iter_mut().for_each(|m| *m = 0.0);
        self.exec_due_s = None;
        if let Some(since) = self.frozen_since_s.take() {
            self.longest_freeze_s = self.longest_freeze_s.max(now_s - since);
        }
        self.events.push_back(MigrationEvent::Resumed {
            at: duration(now_s),
        });
    }

    fn finish_if_complete(&mut self, now_s: f64) {
        if self.missing.total() == 0
            && self.pending_pulls == 0
            && self.in_flight == 0
            && self.exec_due_s.is_none()
        {
            self.finish(now_s);
        }
    }

    fn finish(&mut self, now_s: f64) {
        self.stage = Stage::Done { at_s: now_s };
        self.events.push_back(MigrationEvent::Done {
            at: duration(now_s),
        });
    }

    /// Pages per second the push moves on the stream now.
    fn push_pages_per_s(&self) -> f64 {
        self.stream_rate_bytes_per_s() / self.page_wire_bytes().max(1) as f64
    }

    /// Wire bytes of one faulted page (data and header).
    fn page_wire_bytes(&self) -> u64 {
        self.profile.page_bytes + self.config.page_header_bytes
    }

    /// The bandwidth cap holds what the current stage sends.
    fn cap_applies(&self) -> bool {
        if self.config.rate_cap_bps.is_none() {
            return false;
        }
        match (self.config.cap_scope, &self.stage) {
            (CapScope::All, _) => true,
            // QEMU lifts the cap for the completion and the post-copy
            // switch; a VM stopped before the migration is copied by capped
            // passes, and under QEMU's rule for the end of a pass its
            // completion begins once what is left is below the target.
            (CapScope::ExceptCompletion, Stage::Stop { to_send, .. }) => {
                self.copies_stopped_vm() && to_send.total() > 0 && !self.stop_cap_lifted
            }
            (CapScope::ExceptCompletion, _) => true,
        }
    }

    /// Bytes/s the stream drains at now: the path, or the cap when it binds.
    fn stream_rate_bytes_per_s(&self) -> f64 {
        let path = self.path.bandwidth_bytes_per_s();
        match self.config.rate_cap_bps {
            Some(cap) if self.cap_applies() => path.min(cap / 8.0),
            _ => path,
        }
    }

    /// Bytes/s the stream drains what it was handed: in rate-limit windows
    /// the path's speed (the cap is the windows' budget), else the rate
    /// the stream is paced at.
    fn stream_drain_bytes_per_s(&self) -> f64 {
        if self.cap_window().is_some() {
            self.path.bandwidth_bytes_per_s()
        } else {
            self.stream_rate_bytes_per_s()
        }
    }

    /// The rate-limit window's length and budget in bytes, when the cap
    /// holds the current stage and is applied in windows.
    fn cap_window(&self) -> Option<(f64, f64)> {
        let window_s = secs(self.config.cap_window?);
        let cap_bps = self.config.rate_cap_bps?;
        self.cap_applies()
            .then_some((window_s, cap_bps / 8.0 * window_s))
    }

    /// Faulted pages share the stream with a cap applied in windows.
    fn windowed_shared_faults(&self) -> bool {
        self.cap_window().is_some() && self.config.fault_channel == FaultChannel::Shared
    }

    /// When the current rate-limit window ends.
    fn window_end_s(&self) -> f64 {
        let window_s = self.cap_window().map_or(0.0, |(window_s, _)| window_s);
        self.window_start_s + window_s
    }

    /// Bytes the rate-limit window holding `now_s` still lets through;
    /// `None` when the cap is not applied in windows now. A window that
    /// has run out is followed by a new one from `now_s`: QEMU's
    /// `migration_update_counters` resets the budget and the window's
    /// start to the time it finds the old window over, so time the source
    /// spends elsewhere (setup, a bitmap sync) shifts the windows.
    fn window_room(&mut self, now_s: f64) -> Option<f64> {
        let (window_s, budget) = self.cap_window()?;
        if now_s + TIME_SLACK_S >= self.window_start_s + window_s {
            self.window_start_s = now_s;
            self.window_bytes = 0.0;
        }
        Some(budget - self.window_bytes)
    }

    /// When a page requested at `t_s` reaching the source can leave it:
    /// behind what the stream was handed and, in rate-limit windows, not
    /// before the next window once this one's budget has gone out (QEMU
    /// 7.2's `qemu_savevm_state_iterate` returns before RAM's iterate while
    /// the limit is reached; the reset at the next window sends the request
    /// first).
    fn page_leaves_s(&self, t_s: f64) -> f64 {
        let start = t_s.max(self.stream_free_s);
        let Some((window_s, budget)) = self.cap_window() else {
            return start;
        };
        let window_over = t_s + TIME_SLACK_S >= self.window_start_s + window_s;
        let burst_sent = t_s + TIME_SLACK_S >= self.stream_free_s;
        if !window_over && self.window_bytes >= budget && burst_sent {
            // The window's burst is out and the source waits the window
            // out; the reset at its end sends the request first. (While the
            // burst is still going out, the request goes behind it.)
            start.max(self.window_end_s())
        } else {
            start
        }
    }

    /// When a page the target faults on at `now_s` arrives on the shared
    /// stream: the request takes one latency, the page leaves as
    /// [`Self::page_leaves_s`] says and crosses the path. (A faulted page
    /// does not count against a rate-limit window's budget: one page
    /// against megabytes.)
    fn shared_page_arrives_s(&self, now_s: f64) -> f64 {
        let latency_s = secs(self.path.one_way_latency);
        let page = self.page_wire_bytes() as f64;
        self.page_leaves_s(now_s + latency_s) + page / self.stream_drain_bytes_per_s() + latency_s
    }

    /// Seconds from `now_s` until a page the target faults on at `now_s`
    /// arrives. On the shared stream the request reaches the source one
    /// latency later and the page is sent after every byte queued ahead of
    /// it (it is booked there); on the urgent channel it waits for nothing.
    fn fault_wait_s(&mut self, now_s: f64) -> f64 {
        let latency_s = secs(self.path.one_way_latency);
        let page = self.page_wire_bytes() as f64;
        match self.config.fault_channel {
            FaultChannel::Preempt => 2.0 * latency_s + page / self.path.bandwidth_bytes_per_s(),
            FaultChannel::Shared => {
                let arrives_s = self.shared_page_arrives_s(now_s);
                self.stream_free_s = arrives_s - latency_s;
                arrives_s - now_s
            }
        }
    }

    /// A later fault of a chain on the shared stream: by then the source
    /// has queued another push chunk (while any is left) ahead of the page.
    fn refilled_fault_wait_s(&self) -> f64 {
        let latency_s = secs(self.path.one_way_latency);
        let page = self.page_wire_bytes() as f64;
        match self.config.fault_channel {
            FaultChannel::Preempt => 2.0 * latency_s + page / self.path.bandwidth_bytes_per_s(),
            FaultChannel::Shared => {
                let queued = self
                    .missing
                    .wire_bytes(&self.regions)
                    .min(self.config.queue_bytes.min(self.config.chunk_bytes))
                    as f64;
                2.0 * latency_s + (queued + page) / self.stream_rate_bytes_per_s()
            }
        }
    }

    /// How long a request at `now_s` that faulted `faults` times waits for
    /// its pages, one after the other.
    fn request_fault_wait_s(&mut self, now_s: f64, faults: u32) -> f64 {
        if faults == 0 {
            return 0.0;
        }
        if self.windowed_shared_faults() {
            // In rate-limit windows each page is requested when the one
            // before it arrived, and meets the windows as they fall.
            let mut at_s = now_s;
            for _ in 0..faults {
                at_s += self.fault_wait_s(at_s);
            }
            return at_s - now_s;
        }
        let first = self.fault_wait_s(now_s);
        first + f64::from(faults - 1) * self.refilled_fault_wait_s()
    }

    fn writes_can_fault(&self) -> bool {
        let push_pps = self.push_pages_per_s();
        self.regions
            .iter()
            .zip(&self.missing.0)
            .any(|(r, &m)| faulting_write_rate(r, push_pps) > 0.0 && m > 0)
    }

    /// Accounts for the faults the VM's own writes took at the target up
    /// to `now_s` (expected counts, carried over between calls).
    fn advance(&mut self, now_s: f64) {
        let push_pps = self.push_pages_per_s();
        let Stage::Target { last_exec_s, .. } = &mut self.stage else {
            return;
        };
        let dt = now_s - *last_exec_s;
        if dt <= 0.0 {
            return;
        }
        *last_exec_s = now_s;
        if self.exec_due_s.is_some() {
            // The vCPU is blocked on a page of its own execution: it writes nothing.
            for carry in &mut self.exec_fault_carry {
                *carry = 0.0;
            }
            return;
        }
        let mut write_faults = 0u64;
        for (index, region) in self.regions.iter().enumerate() {
            let (Some(missing), Some(carry)) = (
                self.missing.0.get_mut(index),
                self.exec_fault_carry.get_mut(index),
            ) else {
                continue;
            };
            if *missing == 0 || region.write_rate_pps <= 0.0 || region.pages == 0 {
                *carry = 0.0;
                continue;
            }
            *carry += faulting_write_rate(region, push_pps)
                * dt
                * (*missing as f64 / region.pages as f64);
            let faults = (carry.floor() as u64).min(*missing);
            *carry -= faults as f64;
            if faults > 0 {
                *missing -= faults;
                self.pending_pulls += faults;
                self.page_faults += faults;
                self.last_fault_region = Some(index);
                write_faults += faults;
            }
        }
        if write_faults > 0 {
            self.account_write_freeze(now_s);
        }
        // On the shared stream the faulted pages queue with the push.
        if write_faults > 0 && self.config.fault_channel == FaultChannel::Shared {
            let rate = self.stream_drain_bytes_per_s();
            let bytes = (write_faults * self.page_wire_bytes()) as f64;
            self.stream_free_s = self.stream_free_s.max(now_s) + bytes / rate;
        }
    }

    /// The VM's own write faulted: its vCPU is blocked for one fault's wait,
    /// behind the chunk the source keeps queued. The vCPU runs again when the
    /// page arrives (the faulting write completes, and the guest's other
    /// threads, its heartbeat among them, get the vCPU), so a heartbeat sees
    /// each wait apart, however often the writer faults again: back-to-back
    /// faults slow the guest down (QEMU's data: a 25,000 pages/s writer ran
    /// at 5,800 pages/s after the switch) but do not join into one freeze
    /// (the same rows' largest heartbeat gap at the target: 101 ms). Only
    /// while the target alone runs the VM (soft's source keeps it going).
    fn account_write_freeze(&mut self, now_s: f64) {
        if matches!(self.stage, Stage::Target { dual: true, .. }) {
            return;
        }
        let wait_s = if self.windowed_shared_faults() {
            // In rate-limit windows: behind what is queued, or until the
            // next window once this one's burst has gone out.
            self.shared_page_arrives_s(now_s) - now_s
        } else {
            self.refilled_fault_wait_s()
        };
        self.longest_freeze_s = self.longest_freeze_s.max(wait_s);
    }

    /// Draws the pages a request touches; returns how many were missing
    /// (each becomes a fault and a pull).
    fn touch_pages<R: Rng + ?Sized>(&mut self, rng: &mut R) -> u32 {
        let total_weight: f64 = self.regions.iter().map(|r| r.touch_weight).sum();
        if total_weight <= 0.0 {
            return 0;
        }
        let mut faults = 0u32;
        for _ in 0..self.config.pages_per_request {
            let mut pick = rng.random::<f64>() * total_weight;
            let mut chosen = None;
            for (index, region) in self.regions.iter().enumerate() {
                if region.touch_weight <= 0.0 || region.pages == 0 {
                    continue;
                }
                chosen = Some(index);
                if pick < region.touch_weight {
                    break;
                }
                pick -= region.touch_weight;
            }
            let Some(index) = chosen else {
                continue;
            };
            let (Some(region), Some(missing)) =
                (self.regions.get(index), self.missing.0.get_mut(index))
            else {
                continue;
            };
            if *missing > 0 && rng.random::<f64>() * (region.pages as f64) < *missing as f64 {
                *missing -= 1;
                self.pending_pulls += 1;
                self.page_faults += 1;
                self.last_fault_region = Some(index);
                faults += 1;
            }
        }
        faults
    }

    fn take_push_chunk(&mut self, chunk: u64) -> (PageCounts, u64) {
        let before = self.missing.clone();
        let (taken, bytes) = self.take_push_pages(chunk);
        for ((exec, &had), &took) in self.exec_missing.iter_mut().zip(&before.0).zip(&taken.0) {
            if had > 0 {
                *exec *= 1.0 - took as f64 / had as f64;
            }
        }
        (taken, bytes)
    }

    fn take_push_pages(&mut self, chunk: u64) -> (PageCounts, u64) {
        match (self.config.push_order, self.last_fault_region) {
            (PushOrder::AroundFaults, Some(first)) => {
                let mut order = vec![first];
                let mut rest: Vec<usize> =
                    (0..self.regions.len()).filter(|&i| i != first).collect();
                // The rest of the working set next (most touched first), then everything else.
                rest.sort_by(|&a, &b| {
                    let wa = self.regions.get(a).map_or(0.0, |r| r.touch_weight);
                    let wb = self.regions.get(b).map_or(0.0, |r| r.touch_weight);
                    wb.total_cmp(&wa)
                });
                order.extend(rest);
                self.missing.take_up_to(&self.regions, &order, chunk)
            }
            _ => self.missing.take_proportional(&self.regions, chunk),
        }
    }
}

/// The region is part of the writable working set.
fn is_working_set(kind: RegionKind) -> bool {
    matches!(kind, RegionKind::HotWorkingSet | RegionKind::ColdWorkingSet)
}

/// Writes per second of `region` that can hit a page the target lacks,
/// with the push moving `push_pps` pages a second. Under the linear law the
/// writes sweep the region in order (round-robin), and the source's push
/// goes on from the page a fault asked for (QEMU's `ram_find_and_save_block`
/// resumes its scan at the last page it sent, a requested one included): a
/// writer slower than the push faults once and then finds the push ahead of
/// it; only the part of its rate above the push's can fault. Under the
/// uniform law writes land anywhere: all of them can.
fn faulting_write_rate(region: &Region, push_pps: f64) -> f64 {
    if region.kind == RegionKind::KernelData {
        // The kernel's accesses to its own pages are the execution chain.
        return 0.0;
    }
    match region.law {
        crate::memory::DirtyLaw::Linear => (region.write_rate_pps - push_pps).max(0.0),
        crate::memory::DirtyLaw::Uniform => region.write_rate_pps,
    }
}
