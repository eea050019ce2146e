//! A virtual-clock driver: one migration over one serial link.
//!
//! The link moves one transfer at a time at a fixed bandwidth; a transfer of
//! b bytes handed over at t arrives at t + 8·b/bandwidth + latency. Requests
//! arrive from the device as a Poisson process; each reaches the VM one
//! latency after it was sent, is processed for `request_cpu` once its host
//! can serve it, and its answer takes one more latency back: an undisturbed
//! request takes 2 × latency + `request_cpu`. The device sees both hosts at
//! the same one-way latency as the link between them, and request bytes do
//! not take link capacity from the migration (the experiment engine shares
//! the path; this driver does not).

use std::collections::VecDeque;
use std::time::Duration;

use rand::{Rng, RngExt};

use super::{
    Migration, MigrationConfig, MigrationError, MigrationEvent, MigrationReport, PathEstimate,
    Ready, Transfer,
};
use crate::memory::VmProfile;

/// Most events one run may take before it gives up with [`DriverError::TooManyEvents`]
/// (a guard against inputs that would keep the CPU busy for hours, such as a
/// bandwidth of a few bits per second or millions of requests per second).
pub const MAX_EVENTS: u64 = 10_000_000;

/// Longest migration (memory over bandwidth, in seconds) a run accepts: about 31 years.
pub const MAX_DURATION_S: f64 = 1e9;

/// Most requests one run models; a run that would bring more is refused up front.
pub const MAX_REQUESTS: f64 = 2_000_000.0;

/// Default processing time of a request at the VM.
pub const DEFAULT_REQUEST_CPU: Duration = Duration::from_millis(5);

/// The link and the request workload of a single-link run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SingleLink {
    /// One-way latency of the link (and of the device to either host).
    pub one_way_latency: Duration,
    /// Bandwidth of the link in bits per second.
    pub bandwidth_bps: f64,
    /// Requests per second the device sends to the VM (0 for none).
    pub request_rate_per_s: f64,
    /// Processing time of one request at the VM.
    pub request_cpu: Duration,
}

impl SingleLink {
    /// A link with no request traffic.
    pub fn new(one_way_latency: Duration, bandwidth_bps: f64) -> Self {
        Self {
            one_way_latency,
            bandwidth_bps,
            request_rate_per_s: 0.0,
            request_cpu: DEFAULT_REQUEST_CPU,
        }
    }

    fn validate(&self) -> Result<(), MigrationError> {
        self.path().validate()?;
        if !(self.request_rate_per_s.is_finite() && self.request_rate_per_s >= 0.0) {
            return Err(MigrationError::Config {
                field: "request_rate_per_s",
                reason: format!(
                    "must be a finite number >= 0, got {}",
                    self.request_rate_per_s
                ),
            });
        }
        Ok(())
    }

    fn path(&self) -> PathEstimate {
        PathEstimate {
            one_way_latency: self.one_way_latency,
            bandwidth_bps: self.bandwidth_bps,
        }
    }

    fn serialisation(&self, bytes: u64) -> Duration {
        let s = bytes as f64 * 8.0 / self.bandwidth_bps;
        Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
    }
}

/// What went wrong in a single-link run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriverError {
    /// The inputs were refused.
    #[error(transparent)]
    Migration(#[from] MigrationError),
    /// The model had nothing to do and was not done (a bug, reported rather than hung on).
    #[error("the migration stalled at {0:?}: nothing in flight and nothing to send")]
    Stalled(Duration),
    /// The run needed more than [`MAX_EVENTS`] events.
    #[error(
        "the migration was not over after {MAX_EVENTS} events (virtual time {0:?}); \
         the bandwidth is too low or the request rate too high to model it"
    )]
    TooManyEvents(Duration),
    /// Even the memory alone would take longer than [`MAX_DURATION_S`] to send.
    #[error(
        "sending the memory alone at this bandwidth takes {min_duration_s:.3e} s, \
         more than the {MAX_DURATION_S:e} s a run accepts; raise the bandwidth"
    )]
    TooSlow {
        /// Memory over bandwidth.
        min_duration_s: f64,
    },
    /// The request rate times the shortest possible migration exceeds [`MAX_REQUESTS`].
    #[error(
        "{rate_per_s} requests/s over a migration that lasts at least {min_duration_s:.1} s \
         would bring more than {MAX_REQUESTS} requests; lower the request rate or raise the bandwidth"
    )]
    TooManyRequests {
        /// The request rate.
        rate_per_s: f64,
        /// Memory over bandwidth: no technique finishes sooner.
        min_duration_s: f64,
    },
}

/// A request held until the VM resumes.
struct Held {
    sent: Duration,
    best_reply: Option<Duration>,
}

/// Runs one migration of `profile` with `config` over `link`, from time 0,
/// drawing request arrivals and touched pages from `rng`.
pub fn run<R: Rng + ?Sized>(
    profile: VmProfile,
    config: MigrationConfig,
    link: &SingleLink,
    rng: &mut R,
) -> Result<MigrationReport, DriverError> {
    link.validate()?;
    let min_duration_s = profile.nonzero_bytes() as f64 * 8.0 / link.bandwidth_bps;
    if min_duration_s.is_nan() || min_duration_s > MAX_DURATION_S {
        return Err(DriverError::TooSlow { min_duration_s });
    }
    if link.request_rate_per_s * min_duration_s > MAX_REQUESTS {
        return Err(DriverError::TooManyRequests {
            rate_per_s: link.request_rate_per_s,
            min_duration_s,
        });
    }
    let mut migration = Migration::new(profile, config, link.path(), Duration::ZERO)?;
    let latency = link.one_way_latency;
    let mut now = Duration::ZERO;
    let mut link_free = Duration::ZERO;
    let mut deliveries: VecDeque<(Duration, Transfer)> = VecDeque::new();
    let mut held: Vec<Held> = Vec::new();
    let mut next_arrival = next_arrival_after(now, link.request_rate_per_s, rng);
    let mut events = 0u64;
    loop {
        events += 1;
        if events > MAX_EVENTS {
            return Err(DriverError::TooManyEvents(now));
        }
        // Hand transfers to the link while it is free.
        while link_free <= now {
            let Some(transfer) = migration.poll_transmit(now) else {
                break;
            };
            link_free = now.saturating_add(link.serialisation(transfer.bytes));
            deliveries.push_back((link_free.saturating_add(latency), transfer));
        }
        while let Some(event) = migration.poll_event() {
            if let MigrationEvent::Resumed { at } = event {
                for request in held.drain(..) {
                    let reply = reply_time(at.max(request.sent.saturating_add(latency)), link);
                    let reply = request.best_reply.map_or(reply, |best| best.min(reply));
                    migration.record_request_delay(reply.saturating_sub(request.sent));
                }
            }
        }
        if migration.is_done() {
            break;
        }
        let candidates = [
            deliveries.front().map(|(at, _)| *at),
            next_arrival,
            migration.poll_timeout(),
            (link_free > now).then_some(link_free),
        ];
        let Some(next) = candidates.into_iter().flatten().min() else {
            return Err(DriverError::Stalled(now));
        };
        now = next.max(now);
        while let Some((at, transfer)) = deliveries.front().copied() {
            if at > now {
                break;
            }
            deliveries.pop_front();
            migration.on_delivered(now, &transfer);
        }
        if migration.poll_timeout().is_some_and(|t| t <= now) {
            migration.handle_timeout(now);
        }
        if next_arrival.is_some_and(|t| t <= now) {
            let sent = now;
            let at_vm = sent.saturating_add(latency);
            let outcome = migration.on_request(at_vm, rng);
            let mut best: Option<Duration> = None;
            let mut waits_for_resume = false;
            for answer in &outcome.answers {
                match answer.ready {
                    Ready::At(t) => {
                        let reply = reply_time(t.max(at_vm), link);
                        best = Some(best.map_or(reply, |b| b.min(reply)));
                    }
                    Ready::AtResume => waits_for_resume = true,
                }
            }
            match (waits_for_resume, best) {
                (false, Some(reply)) => migration.record_request_delay(reply.saturating_sub(sent)),
                _ => held.push(Held {
                    sent,
                    best_reply: best,
                }),
            }
            next_arrival = next_arrival_after(now, link.request_rate_per_s, rng);
        }
    }
    migration.report().ok_or(DriverError::Stalled(now))
}

/// When the answer to a request that a host starts serving at `start` reaches the device.
fn reply_time(start: Duration, link: &SingleLink) -> Duration {
    start
        .saturating_add(link.request_cpu)
        .saturating_add(link.one_way_latency)
}

/// The next Poisson arrival after `now` at `rate_per_s` (none at rate 0).
fn next_arrival_after<R: Rng + ?Sized>(
    now: Duration,
    rate_per_s: f64,
    rng: &mut R,
) -> Option<Duration> {
    if rate_per_s <= 0.0 {
        return None;
    }
    let u: f64 = rng.random();
    let gap_s = -(1.0 - u).ln() / rate_per_s;
    Duration::try_from_secs_f64(gap_s)
        .ok()
        .and_then(|gap| now.checked_add(gap))
}
