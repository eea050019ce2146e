//! One request from a device to its VM over the emulated network: the
//! wireless hop and the backbone to the host, `Execute` on the host's node
//! over gRPC, and the way back; redirects after a migration are followed,
//! and during a soft handoff the request goes to both hosts (the first
//! answer counts).
//!
//! With a `[radio]` section the wireless hop is the radio model's cell
//! ([`super::radio`]): the uplink transfer is booked from the send (each
//! attempt's), the backbone from when it is over; the downlink when the
//! answer leaves the backbone, with the device's link then (a device
//! that lost its link meanwhile never gets the answer: `timed_out`, as on
//! the virtual clock). A device in range whose link does not decode fails
//! as `no_coverage`.
//!
//! The delay is measured on the wall clock from the send to the answer's
//! arrival. Its parts: `access` and the path part of `backbone` are what
//! the link deliveries (or the radio cells) said; `queueing`, `processing` and
//! `migration_stall` are what the node measured (`queue_us`,
//! `service_us`, `migration_stall_us`) plus, for the stall, the time lost
//! on attempts that were redirected; `backbone` also holds what is left
//! (the loopback gRPC hop and the timer's lateness), so the parts add up
//! to the total.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mcc_cloudlet::node::error::MOVED_TO_HOST_KEY;
use mcc_proto::v1::{ExecuteRequest, ExecuteResponse};
use tonic::Code;

use super::admission::{DeviceSlot, GlobalSlot};
use super::edge::{PendingGuard, RealEdge, Shared, VmState};
use super::error::{ErrorKind, RealClockError};
use crate::output::{Outcome, RequestRecord};
use crate::radio::{Direction, LinkQuality};

/// Most redirects one request follows.
pub const MAX_REDIRECTS: u32 = 4;

/// What a device asks of its VM.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EdgeRequest {
    /// The application payload (its size is what crosses the links).
    pub payload: Vec<u8>,
    /// CPU time the request costs on one core of the host, in µs.
    pub cpu_cost_us: u64,
    /// Size of the answer, in bytes.
    pub response_bytes: u64,
}

/// Where a request's delay went, measured on the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DelayParts {
    /// The whole delay the device saw.
    pub total: Duration,
    /// The wireless hop, both ways.
    pub access: Duration,
    /// The backbone, both ways, with the gRPC hop and timer lateness.
    pub backbone: Duration,
    /// Waiting for a core on the host.
    pub queueing: Duration,
    /// Executing.
    pub processing: Duration,
    /// Waiting for a migrating VM (suspended, pages pulled, redirects).
    pub migration_stall: Duration,
}

/// The answer a device gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeAnswer {
    /// The device's request number (from 0, per device).
    pub request_id: u64,
    /// The cloudlet that answered (empty without an answer).
    pub host_id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The answer's payload.
    pub payload: Vec<u8>,
    /// Where the delay went.
    pub delay: DelayParts,
    /// When it was sent, in scenario time.
    pub sent_at: Duration,
    /// Whether it was sent to both hosts of a soft handoff.
    pub dual: bool,
    /// How many times a host the VM had left redirected it.
    pub redirects: u32,
}

/// One attempt's answer and the wireless hop's part of its way there and
/// back.
struct Exchange {
    host: u32,
    response: ExecuteResponse,
    /// The wireless hop, both ways (up to the answer's loss, if lost).
    access: Duration,
    /// The device lost its radio link before the answer reached its cell.
    lost: bool,
    /// When the answer is back at the device in the emulated world (the
    /// last wait's deadline): what the wall clock adds after it is the
    /// emulator's own delay.
    due: Instant,
}

/// When and how a request left its device: what its answer's radio hop
/// needs to read the device's link as the model has it then.
#[derive(Debug, Clone, Copy)]
struct Sent {
    at: Instant,
    ns: u64,
    link: Option<LinkQuality>,
}

/// How an attempt's request crosses the wireless hop.
#[derive(Debug, Clone, Copy)]
enum Uplink {
    /// As the first hop of the network's path.
    Fixed,
    /// On the radio model's cell: over at `done`, after `access`.
    Radio { done: Instant, access: Duration },
}

/// Why one attempt gave no answer.
enum Failure {
    /// The host has given the VM up: try the named host.
    Moved(String),
    Error(RealClockError),
}

/// A request from outside admitted by the in-flight limits
/// ([`RealEdge::admit_request`]): its slots are given back when it is
/// dropped, sent or not.
pub struct Admitted {
    shared: Arc<Shared>,
    device: u32,
    _global: GlobalSlot,
    _device: DeviceSlot,
}

impl Admitted {
    /// Sends the request (see [`RealEdge::send_request`]).
    pub async fn send(self, request: EdgeRequest) -> Result<EdgeAnswer, RealClockError> {
        let now_ns = self.shared.clock.now_ns();
        self.shared.request(self.device, now_ns, request).await
    }
}

impl RealEdge {
    /// Admits one request of `device_id` under the in-flight limits
    /// ([`super::admission`]): NOT_FOUND for an unknown device,
    /// RESOURCE_EXHAUSTED (with a retry hint) over a limit. Nothing is
    /// allocated for a refused request.
    pub fn admit_request(&self, device_id: &str) -> Result<Admitted, RealClockError> {
        let refused = |e: RealClockError| {
            self.shared.metrics.refused();
            e
        };
        let global = self.shared.in_flight.admit_global().map_err(refused)?;
        let (device, counter) = {
            let state = self.shared.lock();
            let device = *state
                .by_name
                .get(device_id)
                .ok_or_else(|| RealClockError::not_found(format!("no device {device_id:?}")))?;
            let counter = state
                .devices
                .get(device as usize)
                .map(|d| d.in_flight.clone())
                .ok_or_else(|| RealClockError::internal(format!("no device {device}")))?;
            (device, counter)
        };
        let device_slot = self
            .shared
            .in_flight
            .admit_device(device_id, &counter)
            .map_err(refused)?;
        Ok(Admitted {
            shared: self.shared.clone(),
            device,
            _global: global,
            _device: device_slot,
        })
    }

    /// One request from `device_id` to its VM through the emulated network
    /// (see the module doc), recorded in the outputs; admitted first
    /// ([`admit_request`](Self::admit_request)).
    pub async fn send_request(
        &self,
        device_id: &str,
        request: EdgeRequest,
    ) -> Result<EdgeAnswer, RealClockError> {
        self.admit_request(device_id)?.send(request).await
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A request about to leave: what its device and VM looked like at its
/// send time.
pub(super) struct PreparedRequest {
    device: u32,
    sent_ns: u64,
    /// The device's access point (`None`: out of coverage).
    ap: Option<u32>,
    /// Its radio link (with a `[radio]` section; `None` there: no coverage).
    link: Option<LinkQuality>,
    request_id: u64,
    device_name: String,
    vm: VmState,
    /// A scenario device's uplink, announced on its cell in the engine's
    /// order (with a `[radio]` section; `radio.rs`): the request counts
    /// from its due instant and books its uplink in turn.
    turn: Option<super::radio::Announced>,
}

impl PreparedRequest {
    /// Announces the uplink of a scenario device's request due at `due`
    /// on its cell (with a `[radio]` section and coverage; else nothing).
    pub(super) fn announce_uplink(&mut self, shared: &Shared, due: Instant) {
        if let (Some(radio), Some(ap)) = (&shared.radio, self.ap) {
            self.turn = Some(radio.announce(ap, Direction::Up, due, u64::from(self.device)));
        }
    }
}

impl Shared {
    /// Sends `request` for device `device`, stamped with scenario time
    /// `sent_ns`, and records it.
    pub async fn request(
        self: &Arc<Self>,
        device: u32,
        sent_ns: u64,
        request: EdgeRequest,
    ) -> Result<EdgeAnswer, RealClockError> {
        let prepared = self.prepare_request(device, sent_ns)?;
        self.send_prepared(prepared, request).await
    }

    /// Reads, at scenario time `sent_ns`, the attachment and the VM a
    /// request of `device` goes out with, and numbers the request.
    pub(super) fn prepare_request(
        &self,
        device: u32,
        sent_ns: u64,
    ) -> Result<PreparedRequest, RealClockError> {
        let mut state = self.lock();
        let vm = state
            .vms
            .get(device as usize)
            .cloned()
            .ok_or_else(|| RealClockError::not_found(format!("no device {device}")))?;
        if vm.lost {
            // Its node died: failed at once, a row, nothing sent.
            drop(state);
            self.finish_unanswered(sent_ns, device, vm.host);
            return Err(RealClockError::unavailable(format!(
                "{} was lost with its cloudlet {}",
                vm.id,
                self.cloudlet_name(vm.host)
            )));
        }
        let d = state
            .devices
            .get_mut(device as usize)
            .ok_or_else(|| RealClockError::not_found(format!("no device {device}")))?;
        let request_id = d.next_request_id;
        d.next_request_id += 1;
        Ok(PreparedRequest {
            device,
            sent_ns,
            ap: d.attachment.ap,
            link: d.link.current(),
            request_id,
            device_name: d.name.clone(),
            vm,
            turn: None,
        })
    }

    /// Sends a prepared request and records it.
    pub(super) async fn send_prepared(
        self: &Arc<Self>,
        prepared: PreparedRequest,
        request: EdgeRequest,
    ) -> Result<EdgeAnswer, RealClockError> {
        if self.is_stopping() {
            return Err(RealClockError::precondition("the edge is shutting down"));
        }
        let _pending = PendingGuard::new(self);
        let _in_flight = self.metrics.in_flight();
        let PreparedRequest {
            device,
            sent_ns,
            ap,
            link,
            request_id,
            device_name,
            vm,
            turn,
        } = prepared;
        let sent_at = Duration::from_nanos(sent_ns);
        let bytes = request.payload.len() as u64;
        // A request with an announced uplink was due at its instant.
        let started = turn
            .as_ref()
            .map_or_else(Instant::now, super::radio::Announced::at);
        // A VM being restarted after its node died: the request waits.
        let (vm, restart_wait) = match vm.restarting.clone() {
            None => (vm, Duration::ZERO),
            Some(done) => {
                self.wait_for_restart(sent_ns, device, vm.host, done)
                    .await?
            }
        };
        let sent = started + restart_wait;
        // In range of the site but too weak a signal to decode: no coverage.
        let uplink = match (ap, turn) {
            // Waited for a restart: the turn is long past, booked now.
            (Some(_), Some(turn)) if restart_wait.is_zero() => {
                self.uplink_in_turn(turn, link.as_ref(), bytes).await
            }
            (Some(ap), _) => self.uplink(ap, link.as_ref(), bytes, sent),
            (None, _) => None,
        };
        let (Some(ap), Some(mut uplink)) = (ap, uplink) else {
            let record = RequestRecord::no_coverage(sent_ns, device);
            self.finish(record, false, false, None);
            return Ok(EdgeAnswer {
                request_id,
                host_id: String::new(),
                outcome: Outcome::NoCoverage,
                payload: Vec::new(),
                delay: DelayParts::default(),
                sent_at,
                dual: false,
                redirects: 0,
            });
        };
        let message = ExecuteRequest {
            vm_id: vm.id.clone(),
            device_id: device_name,
            request_id,
            payload: request.payload,
            cpu_cost_us: request.cpu_cost_us,
            response_bytes: request.response_bytes,
            sent_unix_time_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
        };
        let sent_info = Sent {
            at: sent,
            ns: sent_ns,
            link,
        };
        let mut host = vm.host;
        let mut handoff = vm.handoff.filter(|&h| h != host);
        let mut redirects = 0;
        let mut lost = restart_wait;
        let (exchange, dual) = loop {
            let attempt = Instant::now();
            let dual = handoff.is_some();
            if redirects > 0 {
                // Sent again: the wireless hop again, with the same link.
                let Some(again) = self.uplink(ap, link.as_ref(), bytes, attempt) else {
                    self.finish_unanswered(sent_ns, device, host);
                    return Err(RealClockError::internal(format!(
                        "no radio cell for access point {ap}"
                    )));
                };
                uplink = again;
            }
            let result = match handoff {
                None => {
                    self.exchange(ap, device, host, &message, uplink, &sent_info)
                        .await
                }
                Some(other) => {
                    self.dual_exchange(ap, device, [host, other], &message, uplink, &sent_info)
                        .await
                }
            };
            match result {
                Ok(exchange) => break (exchange, dual),
                Err(Failure::Moved(name)) if redirects < MAX_REDIRECTS => {
                    redirects += 1;
                    lost += attempt.elapsed();
                    let Some(next) = self.nodes.index_of(&name) else {
                        self.finish_unanswered(sent_ns, device, host);
                        return Err(RealClockError::unavailable(format!(
                            "{} was redirected to {name:?}, which is not a cloudlet of the scenario",
                            vm.id
                        )));
                    };
                    host = next;
                    handoff = None;
                }
                Err(Failure::Moved(name)) => {
                    self.finish_unanswered(sent_ns, device, host);
                    return Err(RealClockError::unavailable(format!(
                        "{} was redirected {redirects} times, last to {name:?}",
                        vm.id
                    )));
                }
                Err(Failure::Error(error)) => {
                    self.finish_unanswered(sent_ns, device, host);
                    match error.kind {
                        ErrorKind::Unavailable | ErrorKind::Internal => {
                            self.suspect(host, &error.message);
                        }
                        // The node does not know the VM: it restarted.
                        ErrorKind::NotFound if redirects == 0 => {
                            self.vm_vanished(device, host, &error.message);
                        }
                        _ => {}
                    }
                    return Err(error);
                }
            }
        };
        // An answer lost on the radio hop counts as arriving a timeout
        // after it reached the cell (as on the virtual clock); nobody waits
        // that out.
        let never = if exchange.lost {
            Duration::from_nanos(self.scenario.settings.timeout_ns)
        } else {
            Duration::ZERO
        };
        let total = started.elapsed() + never;
        // What the wall clock added after the answer was due back.
        let added = Instant::now().saturating_duration_since(exchange.due);
        let response = &exchange.response;
        let access = exchange.access + never;
        let queueing = Duration::from_micros(response.queue_us);
        let processing = Duration::from_micros(response.service_us);
        let migration_stall = Duration::from_micros(response.migration_stall_us) + lost;
        let backbone = total
            .saturating_sub(access)
            .saturating_sub(queueing)
            .saturating_sub(processing)
            .saturating_sub(migration_stall);
        let delay = DelayParts {
            total,
            access,
            backbone,
            queueing,
            processing,
            migration_stall,
        };
        let answered_by = self
            .nodes
            .index_of(&response.host_id)
            .unwrap_or(exchange.host);
        // The answer says whether the VM is in a soft handoff now.
        let peer = (!response.handoff_host_id.is_empty())
            .then(|| self.nodes.index_of(&response.handoff_host_id))
            .flatten();
        {
            let mut state = self.lock();
            if let Some(vm) = state.vms.get_mut(device as usize) {
                vm.handoff = peer;
                if redirects > 0 && !vm.migrating {
                    vm.host = answered_by;
                }
            }
        }
        let timeout_ns = self.scenario.settings.timeout_ns;
        let outcome = if nanos(total) > timeout_ns {
            Outcome::TimedOut
        } else {
            Outcome::Ok
        };
        let record = RequestRecord {
            sent_ns,
            device,
            vm: device,
            host: answered_by,
            access_ns: nanos(access),
            backbone_ns: nanos(backbone),
            queueing_ns: nanos(queueing),
            processing_ns: nanos(processing),
            migration_stall_ns: nanos(migration_stall),
            total_ns: nanos(total),
            outcome,
            ap,
            request_bytes: bytes,
            response_bytes: response.payload.len() as u64,
            // Sent to both hosts: the one that did not answer first ran it too.
            dual_host: handoff
                .filter(|_| dual)
                .map(|other| if answered_by == other { host } else { other }),
            device_energy_uj: 0,
        };
        let answer = (outcome == Outcome::Ok && !exchange.lost).then_some((total, added));
        self.finish(
            record,
            dual && answered_by != vm.host,
            redirects > 0,
            answer,
        );
        Ok(EdgeAnswer {
            request_id,
            host_id: self.cloudlet_name(answered_by),
            outcome,
            payload: exchange.response.payload,
            delay,
            sent_at,
            dual,
            redirects,
        })
    }

    /// Counts and records a request of `device` sent at `sent_ns` to
    /// `host` that got no answer at all (its VM lost, a node gone, too many
    /// redirects): failed, a row of requests.csv with outcome `unanswered`.
    fn finish_unanswered(&self, sent_ns: u64, device: u32, host: u32) {
        self.finish(
            RequestRecord::unanswered(sent_ns, device, host),
            false,
            false,
            None,
        );
    }

    /// Waits until device `device`'s VM is restarted (`done` changes or
    /// closes, see `node_loss.rs`): its VM then, and how long that took; or
    /// UNAVAILABLE, a row `unanswered`, if the restart failed.
    async fn wait_for_restart(
        &self,
        sent_ns: u64,
        device: u32,
        host: u32,
        mut done: tokio::sync::watch::Receiver<()>,
    ) -> Result<(VmState, Duration), RealClockError> {
        let waiting = Instant::now();
        // An error only says the restart is over too.
        let _ = done.changed().await;
        let vm = self.lock().vms.get(device as usize).cloned();
        match vm {
            Some(vm) if !vm.lost => Ok((vm, waiting.elapsed())),
            _ => {
                self.finish_unanswered(sent_ns, device, host);
                Err(RealClockError::unavailable(format!(
                    "the VM of device {device} was lost with its cloudlet and could not be \
                     restarted"
                )))
            }
        }
    }

    /// Counts and records one finished request: the counts under the
    /// edge's lock, the record (and its energy, worked out by the sink)
    /// under the sink's alone, so requests finishing do not hold up the
    /// edge while the meter runs; the metrics (`answer`: its delay and what
    /// the emulator added, for an answer) lock-free.
    fn finish(
        &self,
        record: RequestRecord,
        by_peer: bool,
        redirected: bool,
        answer: Option<(Duration, Duration)>,
    ) {
        self.metrics.ended(record.outcome, answer);
        let sla_ns = self.scenario.settings.sla_ns;
        {
            let mut state = self.lock();
            let totals = &mut state.totals;
            totals.answered_by_handoff_peer += u64::from(by_peer);
            totals.redirected += u64::from(redirected);
            if let Some((_, added)) = answer {
                totals.added.record_ns(nanos(added));
            }
            totals.run.requests += 1;
            totals
                .run
                .count_outcome(record.outcome, record.total_ns, sla_ns);
        }
        self.record(|sink| sink.request(record));
        self.tap_request(record);
    }

    /// Sends `message` to both `host` and `other` (a soft handoff); the
    /// first answer counts, the other attempt is dropped.
    async fn dual_exchange(
        self: &Arc<Self>,
        ap: u32,
        device: u32,
        [host, other]: [u32; 2],
        message: &ExecuteRequest,
        uplink: Uplink,
        sent: &Sent,
    ) -> Result<Exchange, Failure> {
        let first = self.exchange(ap, device, host, message, uplink, sent);
        let second = self.exchange(ap, device, other, message, uplink, sent);
        tokio::pin!(first, second);
        tokio::select! {
            result = &mut first => match result {
                Ok(exchange) => Ok(exchange),
                Err(_) => second.await,
            },
            result = &mut second => match result {
                Ok(exchange) => Ok(exchange),
                Err(_) => first.await,
            },
        }
    }

    /// The wireless hop of a `bytes`-long request of a device at `ap`
    /// with radio link `link`, sent at `at`: on the network's path without
    /// a radio model, else booked on the cell now. `None`: the device's
    /// link does not decode.
    fn uplink(
        &self,
        ap: u32,
        link: Option<&LinkQuality>,
        bytes: u64,
        at: Instant,
    ) -> Option<Uplink> {
        let Some((model, radio)) = self.radio() else {
            return Some(Uplink::Fixed);
        };
        let done = radio.transfer(model, ap, Direction::Up, link?, bytes, at)?;
        Some(Uplink::Radio {
            done,
            access: done.saturating_duration_since(at),
        })
    }

    /// The wireless hop of a `bytes`-long request whose uplink was
    /// announced (`turn`), booked after those announced before it.
    async fn uplink_in_turn(
        &self,
        turn: super::radio::Announced,
        link: Option<&LinkQuality>,
        bytes: u64,
    ) -> Option<Uplink> {
        let (model, radio) = self.radio()?;
        let at = turn.at();
        let done = turn.transfer(radio, model, || link.cloned(), bytes).await?;
        Some(Uplink::Radio {
            done,
            access: done.saturating_duration_since(at),
        })
    }

    /// When a `bytes`-long answer to device `device`, `announced` on its
    /// cell for `back`, the instant it leaves the backbone, is over the
    /// radio hop (booked in the model's order, see `radio.rs`); `None`: the
    /// device has no link (the answer is lost).
    ///
    /// The link is the one the model has at that instant: network delays
    /// are not scaled by the speed, so the answer reaches the cell
    /// `back - sent.at` of scenario time after the send, and the device's
    /// link changes only at mobility steps. With no step in between it is
    /// the link the request left with (at `--speed 20` a 13 ms answer took
    /// 260 ms of scenario time on the wall clock: reading the link then
    /// read the next step's, and a request beat the model by a transfer);
    /// across a step, the link the edge has now.
    async fn downlink(
        &self,
        announced: Option<super::radio::Announced>,
        device: u32,
        bytes: u64,
        sent: &Sent,
        back: Instant,
    ) -> Option<Instant> {
        let (model, radio) = self.radio()?;
        let step_ns = self.scenario.settings.mobility_step_ns.max(1);
        let back_ns = sent
            .ns
            .saturating_add(nanos(back.saturating_duration_since(sent.at)));
        let link = || {
            if back_ns / step_ns == sent.ns / step_ns {
                return sent.link;
            }
            self.lock()
                .devices
                .get(device as usize)
                .and_then(|d| d.link.current())
        };
        announced?.transfer(radio, model, link, bytes).await
    }

    /// One attempt: to `host` over the wireless hop (`uplink`) and the
    /// emulated path, `Execute`, and back.
    async fn exchange(
        self: &Arc<Self>,
        ap: u32,
        device: u32,
        host: u32,
        message: &ExecuteRequest,
        uplink: Uplink,
        sent: &Sent,
    ) -> Result<Exchange, Failure> {
        let no_route = || {
            Failure::Error(RealClockError::internal(format!(
                "no node or path for cloudlet {host} from access point {ap}"
            )))
        };
        let node = self.nodes.get(host).ok_or_else(no_route)?;
        let (Some(up_path), Some(down_path)) =
            (self.network.up(ap, host), self.network.down(ap, host))
        else {
            return Err(no_route());
        };
        let request_bytes = message.payload.len() as u64;
        let (up_access, arrived) = match uplink {
            Uplink::Fixed => {
                let up = up_path.transmit(request_bytes).await;
                (up.delay_of(0..1), up.arrive)
            }
            Uplink::Radio { done, access } => {
                let up = up_path.transmit_at(done, request_bytes).await;
                (access, up.arrive)
            }
        };
        let _load = LoadGuard::new(self, host);
        let answer = execute(node, message.clone(), arrived).await;
        drop(_load);
        match answer {
            Ok((response, left)) => {
                let bytes = response.payload.len() as u64;
                let (down_access, lost, due) = if self.radio.is_none() {
                    let down = down_path.transmit_at(left, bytes).await;
                    let hops = down.hops.len();
                    (
                        down.delay_of(hops.saturating_sub(1)..hops),
                        false,
                        down.arrive,
                    )
                } else {
                    let back = down_path.reserve_at(left, bytes).arrive;
                    // The cell is booked when the answer reaches it, so that
                    // it sees answers in the model's order: booked at once,
                    // an answer with a long way back (or a long CPU time
                    // still to run) would take the cell before one that
                    // reaches it earlier, and that one would beat the model.
                    // Announced now, it books after every answer due at the
                    // cell before it, however late their timers wake
                    // (`radio.rs`).
                    let announced = self
                        .radio
                        .as_ref()
                        .map(|r| r.announce(ap, Direction::Down, back, u64::from(device)));
                    self.timer.sleep_until(back).await;
                    match self.downlink(announced, device, bytes, sent, back).await {
                        Some(done) => {
                            self.timer.sleep_until(done).await;
                            (done.saturating_duration_since(back), false, done)
                        }
                        None => (Duration::ZERO, true, back),
                    }
                };
                if killed_before(node, left) {
                    return Err(failure(node, killed(node)));
                }
                Ok(Exchange {
                    host,
                    response,
                    access: up_access + down_access,
                    lost,
                    due,
                })
            }
            Err(status) => Err(failure(node, status)),
        }
    }
}

/// What an attempt whose call to `node` failed with `status` tells.
fn failure(node: &super::nodes::Node, status: tonic::Status) -> Failure {
    if status.code() == Code::FailedPrecondition
        && let Some(name) = status
            .metadata()
            .get(MOVED_TO_HOST_KEY)
            .and_then(|v| v.to_str().ok())
    {
        return Failure::Moved(name.to_owned());
    }
    let kind = match status.code() {
        Code::NotFound => ErrorKind::NotFound,
        Code::InvalidArgument | Code::OutOfRange => ErrorKind::InvalidArgument,
        Code::FailedPrecondition => ErrorKind::FailedPrecondition,
        // tonic's transport errors are UNKNOWN; a killed node in this
        // process is UNAVAILABLE.
        Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded | Code::Unknown => {
            ErrorKind::Unavailable
        }
        _ => ErrorKind::Internal,
    };
    Failure::Error(RealClockError::new(
        kind,
        format!("cloudlet {}: {}", node.name, status.message()),
    ))
}

/// Runs `message` on `node`, which it reached at `arrived` in the
/// emulated world. A node in this process is called directly
/// ([`mcc_cloudlet::node::CloudletNode::execute_at`]): the loopback gRPC hop
/// is no part of the emulated world, and it cost more CPU than the rest of
/// the request; the node books its core from `arrived` (the lateness of the
/// wake-up for the arrival is not added to the request) and answers at
/// once, the caller waiting out the CPU time with the way back. A node
/// elsewhere gets the `Execute` RPC. Returns the answer and the instant it
/// leaves the host in the emulated world (for a node elsewhere, when its
/// answer came back).
///
/// With a radio model too: the cells book answers in the model's order
/// whatever the timers' lateness (`radio.rs`), which the loopback gRPC
/// hop's fixed cost used to stand in for (without either, a request beat
/// the model by one cell transfer, 0.6-0.9 ms, in `real_clock_agrees`'s
/// radio case).
async fn execute(
    node: &super::nodes::Node,
    message: ExecuteRequest,
    arrived: Instant,
) -> Result<(ExecuteResponse, Instant), tonic::Status> {
    let local = match &node.local {
        Some(local) => local,
        _ => {
            let answer = node.client.clone().execute(message).await?;
            return Ok((answer.into_inner(), Instant::now()));
        }
    };
    if node.killed.borrow().is_some() {
        return Err(killed(node));
    }
    local.execute_at(message, arrived).await
}

/// Whether `node` was killed before `left`, when an answer it gave would
/// have left it: then it never did.
fn killed_before(node: &super::nodes::Node, left: Instant) -> bool {
    node.killed.borrow().is_some_and(|at| at <= left)
}

/// The error of a call to a killed node in this process.
fn killed(node: &super::nodes::Node) -> tonic::Status {
    tonic::Status::unavailable(format!("the node of {} was killed", node.name))
}

/// Counts a request as outstanding at a cloudlet while it lives (the
/// placement view's CPU backlog).
struct LoadGuard<'a> {
    shared: &'a Shared,
    host: u32,
}

impl<'a> LoadGuard<'a> {
    fn new(shared: &'a Shared, host: u32) -> Self {
        if let Some(n) = shared.host_load.get(host as usize) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        Self { shared, host }
    }
}

impl Drop for LoadGuard<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.shared.host_load.get(self.host as usize) {
            n.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
