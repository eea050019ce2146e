//! A multi-hop emulated path: a message crosses several [`EmulatedLink`]
//! directions one after the other.
//!
//! A message *books* every hop when it is sent: hop `i` is offered the
//! message at the moment it arrives from hop `i − 1` (so it waits there for
//! what was booked on that hop before it), and the message arrives when the
//! last hop delivers it. This is the booking rule of the virtual-clock
//! engine (`mcc_emu::engine::links`), so both clocks queue a message alike;
//! it errs only in the order of messages that reach one hop within one
//! serialisation time of each other. Booking everything at once costs one
//! timer wait per path instead of one per hop.
//!
//! A path may have a *real part* ([`EmulatedPath::with_real_part`]): the
//! one-way delay of a real network its messages also cross (the edge and a
//! cloudlet node on different hosts). The path then delivers that much
//! earlier than its hops say, so that emulated plus real delay is the
//! emulated delay alone; the hops' schedules are unchanged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::delay::Timer;
use super::link::{Delivery, Direction, EmulatedLink};

/// When a message offered to an [`EmulatedPath`] leaves and arrives, hop by hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathDelivery {
    /// When it was offered to the first hop.
    pub offered: Instant,
    /// When it arrives at the end of the path, less the path's real part
    /// (never before `offered`).
    pub arrive: Instant,
    /// Each hop's schedule, in path order (times since that link's epoch).
    pub hops: Vec<Delivery>,
}

impl PathDelivery {
    /// The whole one-way delay.
    pub fn delay(&self) -> Duration {
        self.arrive.saturating_duration_since(self.offered)
    }

    /// The delay spent on the hops `range` (queueing, serialisation and
    /// latency of each of them).
    pub fn delay_of(&self, range: std::ops::Range<usize>) -> Duration {
        self.hops
            .get(range)
            .unwrap_or(&[])
            .iter()
            .map(Delivery::delay)
            .sum()
    }

    /// The longest any hop was taken by this message (its wait behind
    /// earlier messages plus its serialisation): when a sender that paces
    /// itself by the path may offer the next message.
    pub fn busy(&self) -> Duration {
        self.hops
            .iter()
            .map(|d| d.sent_at - d.offered_at)
            .max()
            .unwrap_or(Duration::ZERO)
    }
}

/// A path of link directions crossed in order, waited out with one [`Timer`].
/// Cheap to clone (the links are shared).
#[derive(Debug, Clone)]
pub struct EmulatedPath {
    hops: Vec<(Arc<EmulatedLink>, Direction)>,
    timer: Timer,
    /// The real network's one-way delay on the way, delivered early.
    real: Duration,
}

impl EmulatedPath {
    /// A path over `hops` (each link and the direction it is crossed in).
    /// An empty path delivers at once.
    pub fn new(hops: Vec<(Arc<EmulatedLink>, Direction)>, timer: Timer) -> Self {
        Self {
            hops,
            timer,
            real: Duration::ZERO,
        }
    }

    /// The path of one link crossed in `direction`.
    pub fn single(link: Arc<EmulatedLink>, direction: Direction) -> Self {
        let timer = link.timer().clone();
        Self {
            hops: vec![(link, direction)],
            timer,
            real: Duration::ZERO,
        }
    }

    /// The way back: the same links in the reverse order and direction.
    pub fn reversed(&self) -> Self {
        Self {
            hops: self
                .hops
                .iter()
                .rev()
                .map(|(link, direction)| (link.clone(), direction.reverse()))
                .collect(),
            timer: self.timer.clone(),
            real: self.real,
        }
    }

    /// This path followed by `next`.
    pub fn then(&self, next: &EmulatedPath) -> Self {
        let mut hops = self.hops.clone();
        hops.extend(next.hops.iter().cloned());
        Self {
            hops,
            timer: self.timer.clone(),
            real: self.real + next.real,
        }
    }

    /// This path with `real` of its delay provided by a real network its
    /// messages cross besides it: it delivers `real` earlier than its hops
    /// say. The caller checks that `real` is at most the path's
    /// [`latency`](Self::latency), or the emulated delay cannot be kept.
    pub fn with_real_part(mut self, real: Duration) -> Self {
        self.real = real;
        self
    }

    /// The real network's part of the path's delay (zero unless set).
    pub fn real_part(&self) -> Duration {
        self.real
    }

    /// Hops on the path.
    pub fn len(&self) -> usize {
        self.hops.len()
    }

    /// Whether the path has no hop (both ends on one node).
    pub fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }

    /// The sum of the hops' propagation latencies.
    pub fn latency(&self) -> Duration {
        self.hops
            .iter()
            .map(|(link, direction)| link.spec(*direction).latency)
            .sum()
    }

    /// Each hop's spec, in path order.
    pub fn specs(&self) -> Vec<super::link::LinkSpec> {
        self.hops
            .iter()
            .map(|(link, direction)| link.spec(*direction))
            .collect()
    }

    /// The lowest bandwidth along the path, in bit/s (`None`: no shaped hop).
    pub fn bottleneck_bps(&self) -> Option<f64> {
        self.hops
            .iter()
            .filter_map(|(link, direction)| link.spec(*direction).bandwidth_bps)
            .reduce(f64::min)
    }

    /// Books a `bytes`-long message offered now on every hop and returns
    /// its schedule.
    pub fn reserve(&self, bytes: u64) -> PathDelivery {
        self.reserve_at(Instant::now(), bytes)
    }

    /// Books a `bytes`-long message offered to the first hop at `offered`
    /// (which may lie in the future: a message booked now for when it
    /// will reach this path, e.g. after a hop emulated elsewhere) and
    /// returns its schedule.
    pub fn reserve_at(&self, offered: Instant, bytes: u64) -> PathDelivery {
        let mut at = offered;
        let mut hops = Vec::with_capacity(self.hops.len());
        for (link, direction) in &self.hops {
            let (arrive, delivery) = link.reserve_at(*direction, at, bytes);
            hops.push(delivery);
            at = arrive;
        }
        PathDelivery {
            offered,
            arrive: at.checked_sub(self.real).unwrap_or(at).max(offered),
            hops,
        }
    }

    /// Sends a `bytes`-long message now: completes when it arrives at the
    /// end of the path, and returns its schedule.
    pub async fn transmit(&self, bytes: u64) -> PathDelivery {
        let delivery = self.reserve(bytes);
        self.timer.sleep_until(delivery.arrive).await;
        delivery
    }

    /// Sends a `bytes`-long message offered to the first hop at `offered`
    /// ([`reserve_at`](Self::reserve_at)): completes when it arrives at
    /// the end of the path, and returns its schedule.
    pub async fn transmit_at(&self, offered: Instant, bytes: u64) -> PathDelivery {
        let delivery = self.reserve_at(offered, bytes);
        self.timer.sleep_until(delivery.arrive).await;
        delivery
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::LinkSpec;

    const MS: Duration = Duration::from_millis(1);

    fn link(latency: Duration, bps: f64, timer: &Timer) -> Arc<EmulatedLink> {
        Arc::new(EmulatedLink::symmetric(
            LinkSpec::new(latency, bps).expect("spec"),
            timer.clone(),
        ))
    }

    #[test]
    fn a_message_pays_every_hop_and_queues_where_the_hop_is_busy() {
        let timer = Timer::new(crate::realtime::TimerKind::Tokio).expect("timer");
        // 8 Mbit/s: 1 byte per µs.
        let first = link(MS, 8e6, &timer);
        let second = link(2 * MS, 8e6, &timer);
        let path = EmulatedPath::new(
            vec![
                (first.clone(), Direction::AToB),
                (second.clone(), Direction::BToA),
            ],
            timer,
        );
        assert_eq!(path.latency(), 3 * MS);
        assert_eq!(path.bottleneck_bps(), Some(8e6));
        let lone = path.reserve(1_000);
        // 1 ms serialisation + 1 ms, then 1 ms + 2 ms.
        let delay = lone.delay();
        assert!(delay >= 5 * MS && delay < 5 * MS + MS / 2, "{delay:?}");
        assert_eq!(lone.delay_of(0..1), 2 * MS);
        assert_eq!(lone.busy(), MS);
        // Something else keeps the second hop busy for 10 ms: the next
        // message waits there, not on the first hop.
        second.reserve(Direction::BToA, 10_000);
        let behind = path.reserve(1_000);
        assert!(behind.hops[0].queueing() < MS, "{:?}", behind.hops[0]);
        assert!(behind.hops[1].queueing() > 5 * MS, "{:?}", behind.hops[1]);
        assert_eq!(behind.busy(), behind.hops[1].queueing() + MS);
        // The way back crosses the other directions: idle.
        let back = path.reversed().reserve(1_000);
        assert!(back.delay() < 5 * MS + MS / 2, "{:?}", back.delay());
    }

    #[test]
    fn a_real_part_delivers_that_much_earlier_and_keeps_the_hops_schedule() {
        let timer = Timer::new(crate::realtime::TimerKind::Tokio).expect("timer");
        let emulated = EmulatedPath::single(link(5 * MS, 8e6, &timer), Direction::AToB);
        let offered = Instant::now();
        let plain = emulated.reserve_at(offered, 1_000);
        let real = emulated.clone().with_real_part(2 * MS);
        assert_eq!(real.real_part(), 2 * MS);
        assert_eq!(real.reversed().real_part(), 2 * MS);
        // The link is idle again for the second message one second later.
        let later = offered + Duration::from_secs(1);
        let early = real.reserve_at(later, 1_000);
        assert_eq!(plain.delay(), 6 * MS);
        assert_eq!(early.delay(), 4 * MS, "6 ms emulated, 2 of them real");
        assert_eq!(early.hops[0].delay(), 6 * MS, "the hop's own schedule");
        // More real delay than the path has: delivered at once, never before.
        let all = emulated.with_real_part(Duration::from_secs(1));
        let d = all.reserve_at(later + Duration::from_secs(1), 1_000);
        assert_eq!(d.arrive, d.offered);
    }

    #[test]
    fn an_empty_path_delivers_at_once() {
        let timer = Timer::new(crate::realtime::TimerKind::Tokio).expect("timer");
        let path = EmulatedPath::new(Vec::new(), timer);
        let d = path.reserve(1 << 20);
        assert_eq!(d.delay(), Duration::ZERO);
        assert_eq!(d.busy(), Duration::ZERO);
        assert!(path.is_empty());
    }
}
