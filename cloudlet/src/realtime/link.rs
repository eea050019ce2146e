//! An emulated network link on the wall clock.
//!
//! Each direction of a link is a FIFO serial line: a message of `b` bytes
//! offered at `t` starts leaving when everything offered before it has left
//! (`start = max(t, busy_until)`), takes `b·8 / bandwidth` to leave
//! (serialisation), and arrives one propagation latency after its last bit
//! left. Request bytes and migration bytes offered to the same direction
//! therefore queue behind one another, as on a real link.
//!
//! [`FifoSchedule`] is that arithmetic as plain code (time is a `Duration`
//! since an epoch the caller picks; no clock, no sleeping). [`EmulatedLink`]
//! applies it on the wall clock: [`EmulatedLink::transmit`] reserves the
//! message's slot and waits with a precise [`Timer`] until it arrives.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::delay::Timer;

/// What is wrong with a link's description.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkError {
    /// The bandwidth is zero, negative or not a number.
    #[error("link bandwidth must be a finite number of bit/s > 0, got {0}")]
    BadBandwidth(f64),
}

/// One direction of a link: propagation latency and capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkSpec {
    /// One-way propagation latency.
    pub latency: Duration,
    /// Capacity in bit/s; `None` for an unshaped link (no serialisation, no queueing).
    pub bandwidth_bps: Option<f64>,
}

impl LinkSpec {
    /// A shaped link; fails when `bandwidth_bps` is not finite and positive.
    pub fn new(latency: Duration, bandwidth_bps: f64) -> Result<Self, LinkError> {
        if !(bandwidth_bps.is_finite() && bandwidth_bps > 0.0) {
            return Err(LinkError::BadBandwidth(bandwidth_bps));
        }
        Ok(Self {
            latency,
            bandwidth_bps: Some(bandwidth_bps),
        })
    }

    /// A link with latency only: messages never queue.
    pub fn latency_only(latency: Duration) -> Self {
        Self {
            latency,
            bandwidth_bps: None,
        }
    }

    /// Time `bytes` take to leave at this link's bandwidth.
    pub fn serialisation(&self, bytes: u64) -> Duration {
        match self.bandwidth_bps {
            Some(bps) => Duration::from_secs_f64(bytes as f64 * 8.0 / bps),
            None => Duration::ZERO,
        }
    }
}

/// When a message offered to a [`FifoSchedule`] leaves and arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// When it was offered.
    pub offered_at: Duration,
    /// When its first bit left (after the messages ahead of it).
    pub start_at: Duration,
    /// When its last bit left.
    pub sent_at: Duration,
    /// When it arrives at the far end.
    pub arrive_at: Duration,
}

impl Delivery {
    /// Time spent waiting behind earlier messages.
    pub fn queueing(&self) -> Duration {
        self.start_at - self.offered_at
    }

    /// Total one-way delay: queueing + serialisation + latency.
    pub fn delay(&self) -> Duration {
        self.arrive_at - self.offered_at
    }
}

/// The FIFO arithmetic of one link direction.
#[derive(Debug, Clone, PartialEq)]
pub struct FifoSchedule {
    spec: LinkSpec,
    busy_until: Duration,
    booked_bytes: u64,
}

impl FifoSchedule {
    /// An idle direction.
    pub fn new(spec: LinkSpec) -> Self {
        Self {
            spec,
            busy_until: Duration::ZERO,
            booked_bytes: 0,
        }
    }

    /// The direction's description.
    pub fn spec(&self) -> LinkSpec {
        self.spec
    }

    /// Offers `bytes` at `now` and returns when they leave and arrive.
    /// Offers must come in non-decreasing `now` (an earlier `now` is taken
    /// as the latest one seen: a message cannot overtake the queue).
    pub fn offer(&mut self, now: Duration, bytes: u64) -> Delivery {
        let start_at = now.max(self.busy_until);
        let sent_at = start_at + self.spec.serialisation(bytes);
        self.busy_until = sent_at;
        self.booked_bytes = self.booked_bytes.saturating_add(bytes);
        Delivery {
            offered_at: now.min(start_at),
            start_at,
            sent_at,
            arrive_at: sent_at + self.spec.latency,
        }
    }

    /// Bytes of every message offered so far.
    pub fn booked_bytes(&self) -> u64 {
        self.booked_bytes
    }

    /// How long a message offered at `now` would wait before its first bit leaves.
    pub fn backlog(&self, now: Duration) -> Duration {
        self.busy_until.saturating_sub(now)
    }
}

/// Which way a message crosses an [`EmulatedLink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From end A to end B.
    AToB,
    /// From end B to end A.
    BToA,
}

impl Direction {
    /// The other way.
    pub fn reverse(self) -> Self {
        match self {
            Direction::AToB => Direction::BToA,
            Direction::BToA => Direction::AToB,
        }
    }
}

/// A two-way link on the wall clock: one [`FifoSchedule`] per direction
/// and a [`Timer`] that waits out each message's delay.
#[derive(Debug)]
pub struct EmulatedLink {
    epoch: Instant,
    a_to_b: Mutex<FifoSchedule>,
    b_to_a: Mutex<FifoSchedule>,
    timer: Timer,
}

impl EmulatedLink {
    /// A symmetric link (the same spec both ways).
    pub fn symmetric(spec: LinkSpec, timer: Timer) -> Self {
        Self::new(spec, spec, timer)
    }

    /// A link with its own spec per direction.
    pub fn new(a_to_b: LinkSpec, b_to_a: LinkSpec, timer: Timer) -> Self {
        Self {
            epoch: Instant::now(),
            a_to_b: Mutex::new(FifoSchedule::new(a_to_b)),
            b_to_a: Mutex::new(FifoSchedule::new(b_to_a)),
            timer,
        }
    }

    /// The schedule of one direction, locked.
    fn schedule(&self, direction: Direction) -> std::sync::MutexGuard<'_, FifoSchedule> {
        match direction {
            Direction::AToB => &self.a_to_b,
            Direction::BToA => &self.b_to_a,
        }
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves the slot of a `bytes`-long message offered now and returns
    /// when it arrives (wall clock) with its schedule.
    pub fn reserve(&self, direction: Direction, bytes: u64) -> (Instant, Delivery) {
        let mut schedule = self.schedule(direction);
        // Read the clock under the lock so that offers are in time order.
        let now = self.epoch.elapsed();
        let delivery = schedule.offer(now, bytes);
        (self.epoch + delivery.arrive_at, delivery)
    }

    /// Reserves the slot of a `bytes`-long message offered at `at` (which
    /// may lie in the future: the message is booked now for when it will
    /// reach this link; an `at` before the latest offer is taken as that
    /// offer, so nothing overtakes the queue).
    pub fn reserve_at(&self, direction: Direction, at: Instant, bytes: u64) -> (Instant, Delivery) {
        let mut schedule = self.schedule(direction);
        let delivery = schedule.offer(at.saturating_duration_since(self.epoch), bytes);
        (self.epoch + delivery.arrive_at, delivery)
    }

    /// The spec of one direction.
    pub fn spec(&self, direction: Direction) -> LinkSpec {
        self.schedule(direction).spec()
    }

    /// Bytes of every message booked on one direction so far (requests,
    /// answers, migration chunks alike: they share its FIFO).
    pub fn booked_bytes(&self, direction: Direction) -> u64 {
        self.schedule(direction).booked_bytes()
    }

    /// The timer the link waits with.
    pub fn timer(&self) -> &Timer {
        &self.timer
    }

    /// Sends a `bytes`-long message now: completes when it arrives at the
    /// far end, and returns its schedule.
    pub async fn transmit(&self, direction: Direction, bytes: u64) -> Delivery {
        let (arrive, delivery) = self.reserve(direction, bytes);
        self.timer.sleep_until(arrive).await;
        delivery
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn megabit_link() -> FifoSchedule {
        // 1 Mbit/s: 125 bytes per ms.
        FifoSchedule::new(LinkSpec::new(5 * MS, 1e6).expect("valid spec"))
    }

    #[test]
    fn an_idle_link_costs_serialisation_plus_latency() {
        let mut link = megabit_link();
        let d = link.offer(10 * MS, 1250);
        assert_eq!(d.start_at, 10 * MS);
        assert_eq!(d.sent_at, 20 * MS);
        assert_eq!(d.arrive_at, 25 * MS);
        assert_eq!(d.queueing(), Duration::ZERO);
        assert_eq!(d.delay(), 15 * MS);
    }

    #[test]
    fn a_message_waits_behind_the_earlier_ones() {
        let mut link = megabit_link();
        // A 1 MB migration chunk takes 8 s to leave ...
        let chunk = link.offer(Duration::ZERO, 1_000_000);
        assert_eq!(chunk.sent_at, 8000 * MS);
        // ... and a 125-byte request offered 1 s later waits 7 s behind it.
        let request = link.offer(1000 * MS, 125);
        assert_eq!(request.queueing(), 7000 * MS);
        assert_eq!(request.sent_at, 8001 * MS);
        assert_eq!(request.arrive_at, 8006 * MS);
        assert_eq!(link.backlog(8000 * MS), MS);
        assert_eq!(link.backlog(9000 * MS), Duration::ZERO);
        assert_eq!(link.booked_bytes(), 1_000_125);
    }

    #[test]
    fn a_link_that_went_idle_does_not_queue() {
        let mut link = megabit_link();
        link.offer(Duration::ZERO, 125);
        let later = link.offer(100 * MS, 125);
        assert_eq!(later.start_at, 100 * MS);
        assert_eq!(later.arrive_at, 106 * MS);
    }

    #[test]
    fn back_to_back_messages_leave_at_the_link_rate() {
        let mut link = megabit_link();
        let arrivals: Vec<Duration> = (0..4)
            .map(|_| link.offer(Duration::ZERO, 250).arrive_at)
            .collect();
        assert_eq!(arrivals, vec![7 * MS, 9 * MS, 11 * MS, 13 * MS]);
    }

    #[test]
    fn an_unshaped_link_only_adds_latency() {
        let mut link = FifoSchedule::new(LinkSpec::latency_only(3 * MS));
        for _ in 0..3 {
            let d = link.offer(MS, 1 << 30);
            assert_eq!(d.arrive_at, 4 * MS);
        }
    }

    #[test]
    fn an_offer_from_the_past_cannot_overtake_the_queue() {
        let mut link = megabit_link();
        link.offer(10 * MS, 125);
        let d = link.offer(2 * MS, 125);
        assert!(d.start_at >= 11 * MS);
        assert!(d.offered_at <= d.start_at);
    }

    #[test]
    fn bad_bandwidths_are_refused() {
        for bps in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(LinkSpec::new(MS, bps).is_err(), "{bps} accepted");
        }
    }

    #[test]
    fn the_directions_queue_independently() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let timer = Timer::precise().expect("timer");
        let link = EmulatedLink::symmetric(LinkSpec::new(MS, 8e6).expect("spec"), timer);
        rt.block_on(async {
            // 1 MB at 8 Mbit/s keeps A→B busy for 1 s.
            let (_, big) = link.reserve(Direction::AToB, 1_000_000);
            let back = link.transmit(Direction::BToA, 100).await;
            assert_eq!(back.queueing(), Duration::ZERO);
            let (_, behind) = link.reserve(Direction::AToB, 100);
            assert!(behind.start_at >= big.sent_at);
        });
    }
}
