//! Keeps the tick loop and the scenario devices' request loops in the
//! engine's order when the wall clock does not.
//!
//! On the virtual clock, a request sent at scenario time `t` sees the
//! attachment of the last mobility step at or before `t` (ticks at an
//! instant run before the events at it; see [`crate::engine::ticks`]). On
//! the real clock the tick loop and the device loops wake on their own
//! timers, and on a busy machine either can be late: a request could read
//! an attachment one step old, or one step ahead. The gate forbids both:
//! - a device reads its attachment for a request at `t` only once every
//!   tick at or before `t` is applied ([`TickGate::ticks_through`]);
//! - the tick at `T` is applied only once every scenario device has read
//!   its attachment for each of its requests before `T`
//!   ([`TickGate::devices_before`]).
//!
//! Neither wait can close a cycle (a request at `t` waits for ticks at or
//! before `t`, which wait only for requests strictly before them), and on
//! an idle machine neither waits at all: both sides are due in that order
//! anyway. Devices that join a running edge (`serve`) are not gated: they
//! send at the wall clock's now and see the edge as it is.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Notify, watch};

/// The order between ticks and scenario devices' requests (module doc).
#[derive(Debug)]
pub(super) struct TickGate {
    /// Scenario time of the next tick not applied yet; `u64::MAX` when no
    /// tick is left.
    next_tick_ns: watch::Sender<u64>,
    /// For each scenario device, the send time of its next request whose
    /// attachment it has not read yet; `u64::MAX` when it sends no more.
    next_request_ns: Vec<AtomicU64>,
    /// Woken whenever a device moves on.
    device_moved_on: Notify,
}

impl TickGate {
    /// A gate for `devices` scenario devices, before any tick and request:
    /// requests wait until [`ticks_applied_before`](Self::ticks_applied_before)
    /// says where the first tick is.
    pub fn new(devices: usize) -> Self {
        Self {
            next_tick_ns: watch::channel(0).0,
            next_request_ns: (0..devices).map(|_| AtomicU64::new(0)).collect(),
            device_moved_on: Notify::new(),
        }
    }

    /// Says every tick before `next_tick_ns` is applied (`u64::MAX`: all).
    pub fn ticks_applied_before(&self, next_tick_ns: u64) {
        self.next_tick_ns.send_replace(next_tick_ns);
    }

    /// Waits until every tick at or before `t_ns` is applied.
    pub async fn ticks_through(&self, t_ns: u64) {
        let mut next_tick = self.next_tick_ns.subscribe();
        // The sender lives as long as `self`: this ends only by the
        // condition.
        let _ = next_tick.wait_for(|&next| next > t_ns).await;
    }

    /// Says scenario device `device` has read its attachment for every
    /// request before `next_request_ns` (`u64::MAX`: it sends no more).
    pub fn device_before(&self, device: u32, next_request_ns: u64) {
        if let Some(next) = self.next_request_ns.get(device as usize) {
            next.store(next_request_ns, Ordering::Release);
            self.device_moved_on.notify_waiters();
        }
    }

    /// Waits until every scenario device has read its attachment for each
    /// of its requests before `t_ns`.
    pub async fn devices_before(&self, t_ns: u64) {
        // Devices only move on, so those found ready stay ready.
        let mut ready = 0;
        loop {
            let moved_on = self.device_moved_on.notified();
            tokio::pin!(moved_on);
            // Registered before looking, so no move between the look and
            // the wait is missed.
            moved_on.as_mut().enable();
            while self
                .next_request_ns
                .get(ready)
                .is_some_and(|next| next.load(Ordering::Acquire) >= t_ns)
            {
                ready += 1;
            }
            if ready == self.next_request_ns.len() {
                return;
            }
            moved_on.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// Whether `future` is still waiting after the runtime had time to
    /// run everything else.
    async fn still_waiting(handle: &tokio::task::JoinHandle<()>) -> bool {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        !handle.is_finished()
    }

    #[tokio::test]
    async fn a_request_waits_for_the_ticks_at_or_before_its_time() {
        let gate = Arc::new(TickGate::new(1));
        gate.ticks_applied_before(1_000);
        let waiting = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.ticks_through(1_000).await })
        };
        assert!(
            still_waiting(&waiting).await,
            "the tick at 1,000 is not applied"
        );
        gate.ticks_applied_before(2_000);
        waiting.await.expect("request side");
        // A request before the next tick goes at once.
        gate.ticks_through(1_999).await;
    }

    #[tokio::test]
    async fn a_tick_waits_for_every_device_before_it() {
        let gate = Arc::new(TickGate::new(3));
        gate.device_before(0, 5_000);
        gate.device_before(2, 4_000);
        let waiting = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.devices_before(3_000).await })
        };
        assert!(still_waiting(&waiting).await, "device 1 has not moved on");
        gate.device_before(1, 2_500);
        assert!(
            still_waiting(&waiting).await,
            "device 1 is still before 3,000"
        );
        gate.device_before(1, 3_000);
        waiting.await.expect("tick side");
        // Devices that send no more never hold a tick back.
        for device in 0..3 {
            gate.device_before(device, u64::MAX);
        }
        gate.devices_before(u64::MAX).await;
        // Out-of-range devices are ignored, not a panic.
        gate.device_before(7, 1);
    }
}
