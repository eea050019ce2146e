//! The migration state machine all four techniques share.
//!
//! Stages: live copy rounds (pre-copy, soft) → the switch (suspended, or live
//! for soft) → the target runs while the source pushes what it lacks
//! (post-copy, soft) → done. A technique's [`Plan`] picks the stages. Memory
//! is tracked as per-region page counts ([`PageCounts`]), so no call walks
//! the pages.

use std::collections::VecDeque;
use std::time::Duration;

use rand::{Rng, RngExt};

use super::report::{DelaySummary, MigrationReport};
use super::{
    Answer, Answers, Host, MigrationConfig, MigrationError, MigrationEvent, PathEstimate, Phase,
    Plan, PushOrder, Ready, RequestOutcome, Switch, Transfer, TransferKind,
};
use crate::memory::{PageCounts, Region, VmProfile};

/// First throttle auto-converge applies (QEMU's `cpu-throttle-initial`).
const THROTTLE_INITIAL: f64 = 0.20;
/// Throttle step of auto-converge (QEMU's `cpu-throttle-increment`).
const THROTTLE_INCREMENT: f64 = 0.10;
/// Largest throttle (QEMU's `max-cpu-throttle`).
const THROTTLE_MAX: f64 = 0.99;

/// Where the migration stands.
#[derive(Debug, Clone, PartialEq)]
enum Stage {
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

/// Bytes delivered since a window began, to measure the bandwidth.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RateWindow {
    start_s: f64,
    /// The window began with nothing in flight: its first byte also paid
    /// one latency, which is not bandwidth.
    from_idle: bool,
    bytes: u64,
    last_delivery_s: f64,
}

impl RateWindow {
    fn new(start_s: f64, from_idle: bool) -> Self {
        Self {
            start_s,
            from_idle,
            bytes: 0,
            last_delivery_s: start_s,
        }
    }

    fn record(&mut self, now_s: f64, bytes: u64) {
        if now_s >= self.start_s {
            self.bytes += bytes;
            self.last_delivery_s = self.last_delivery_s.max(now_s);
        }
    }

    fn bytes_per_s(&self, latency_s: f64) -> Option<f64> {
        let idle_s = if self.from_idle { latency_s } else { 0.0 };
        let span = self.last_delivery_s - self.start_s - idle_s;
        (self.bytes > 0 && span > 0.0).then(|| self.bytes as f64 / span)
    }
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
    /// Bandwidth measurement over the current window (one copy round).
    rate: RateWindow,
    /// The last bandwidth measured over a whole window, bytes/s.
    measured_bytes_per_s: Option<f64>,
    downtime_s: f64,
    page_faults: u64,
    fault_stall_s: f64,
    dual_served: u64,
    delays_ms: Vec<f64>,
    events: VecDeque<MigrationEvent>,
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
        let regions = profile.regions();
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
            rate: RateWindow::new(start_s, true),
            measured_bytes_per_s: None,
            downtime_s: 0.0,
            page_faults: 0,
            fault_stall_s: 0.0,
            dual_served: 0,
            delays_ms: Vec::new(),
            events: VecDeque::new(),
            config,
        };
        if plan.live_rounds {
            migration.stage = Stage::Rounds {
                round: 0,
                sync_s: start_s,
                to_send: all,
            };
        } else {
            migration.switch(start_s, all);
        }
        Ok(migration)
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
        loop {
            let chunk = self.config.chunk_bytes;
            let rounds = self.rounds;
            let next = match &mut self.stage {
                Stage::Rounds { round, to_send, .. } => {
                    if to_send.total() == 0 {
                        self.end_round(now_s);
                        continue;
                    }
                    let (pages, bytes) = to_send.take_in_order_up_to(&self.regions, chunk);
                    Some((bytes, pages, Phase::PreCopy, *round, TransferKind::Pages))
                }
                Stage::Stop {
                    to_send,
                    cpu_pending,
                    ..
                } => {
                    if to_send.total() > 0 {
                        let (pages, bytes) = to_send.take_in_order_up_to(&self.regions, chunk);
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
                        let bytes = pages * self.profile.page_bytes;
                        Some((
                            bytes,
                            pages,
                            Phase::PostCopy,
                            rounds,
                            TransferKind::FaultPull,
                        ))
                    } else if self.missing.total() > 0 {
                        let (taken, bytes) = self.take_push_chunk(chunk);
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
                self.emit(bytes, pages, phase, round, kind)
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
                self.events.push_back(MigrationEvent::Resumed { at: now });
                self.start_at_target(now_s, false);
            }
            Stage::LiveSwitch { cpu_pending: false } if transfer.kind == TransferKind::CpuState => {
                self.events.push_back(MigrationEvent::Resumed { at: now });
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
        match &self.stage {
            Stage::Target { last_exec_s, .. } if self.writes_can_fault() => {
                // No finer than the time one chunk takes on the path: pulls
                // queue behind the chunk in flight anyway.
                let chunk_s = self.config.chunk_bytes as f64 / self.path.bandwidth_bytes_per_s();
                let tick_s = secs(self.config.execution_fault_tick).max(chunk_s);
                Some(duration(last_exec_s + tick_s))
            }
            _ => None,
        }
    }

    /// The model's timer fired: accounts for the faults the VM's own
    /// execution at the target took since the last call.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.advance(secs(now));
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
        match self.stage {
            Stage::Rounds { .. } => single(Host::Source, Ready::At(now)),
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
                let faults = self.touch_pages(rng);
                let stall_s = f64::from(faults) * self.fault_cost_s();
                self.fault_stall_s += stall_s;
                let target = Answer {
                    host: Host::Target,
                    ready: Ready::At(duration(now_s + stall_s)),
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
        let latency_s = secs(self.path.one_way_latency);
        self.rate
            .bytes_per_s(latency_s)
            .or(self.measured_bytes_per_s)
            .unwrap_or_else(|| self.path.bandwidth_bytes_per_s())
    }

    fn emit(
        &mut self,
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
        let Stage::Rounds { round, sync_s, .. } = self.stage else {
            return;
        };
        let dirty =
            self.profile
                .dirty_in_window(&self.regions, now_s - sync_s, 1.0 - self.throttle);
        let remaining_bytes = dirty.wire_bytes(&self.regions);
        self.rounds = round + 1;
        let remaining_s = remaining_bytes as f64 / self.measured_bandwidth_bytes_per_s();
        let fits = remaining_s <= secs(self.config.downtime_target);
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
        self.rate = RateWindow::new(now_s, false);
        self.stage = Stage::Rounds {
            round: round + 1,
            sync_s: now_s,
            to_send: dirty,
        };
    }

    /// Hands the VM over at `now_s`; `stale` are the pages the target lacks.
    fn switch(&mut self, now_s: f64, stale: PageCounts) {
        let n = self.regions.len();
        match self.plan.switch {
            Switch::Suspend { copy_memory } => {
                self.events.push_back(MigrationEvent::Suspended {
                    at: duration(now_s),
                });
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

    fn start_at_target(&mut self, now_s: f64, dual: bool) {
        if self.plan.push_after_switch {
            self.stage = Stage::Target {
                dual,
                last_exec_s: now_s,
            };
            self.finish_if_complete(now_s);
        } else {
            self.finish(now_s);
        }
    }

    fn finish_if_complete(&mut self, now_s: f64) {
        if self.missing.total() == 0 && self.pending_pulls == 0 && self.in_flight == 0 {
            self.finish(now_s);
        }
    }

    fn finish(&mut self, now_s: f64) {
        self.stage = Stage::Done { at_s: now_s };
        self.events.push_back(MigrationEvent::Done {
            at: duration(now_s),
        });
    }

    /// One fault: a round trip plus one page at the path's bandwidth.
    fn fault_cost_s(&self) -> f64 {
        2.0 * secs(self.path.one_way_latency)
            + self.profile.page_bytes as f64 / self.path.bandwidth_bytes_per_s()
    }

    fn writes_can_fault(&self) -> bool {
        self.regions
            .iter()
            .zip(&self.missing.0)
            .any(|(r, &m)| r.write_rate_pps > 0.0 && m > 0)
    }

    /// Accounts for the faults the VM's own writes took at the target up
    /// to `now_s` (expected counts, carried over between calls).
    fn advance(&mut self, now_s: f64) {
        let Stage::Target { last_exec_s, .. } = &mut self.stage else {
            return;
        };
        let dt = now_s - *last_exec_s;
        if dt <= 0.0 {
            return;
        }
        *last_exec_s = now_s;
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
            *carry += region.write_rate_pps * dt * (*missing as f64 / region.pages as f64);
            let faults = (carry.floor() as u64).min(*missing);
            *carry -= faults as f64;
            if faults > 0 {
                *missing -= faults;
                self.pending_pulls += faults;
                self.page_faults += faults;
                self.last_fault_region = Some(index);
            }
        }
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
