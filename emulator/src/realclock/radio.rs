//! The radio access model ([`crate::radio`]) on the wall clock: the cells'
//! queues shared by every request of the edge.
//!
//! The model is the virtual clock's. Each device's link
//! ([`CachedLink`](crate::radio::CachedLink), in the edge's device state)
//! is worked out wherever the edge moves a device (the mobility tick, a
//! pushed position, a registration), never per request; a request reads
//! its device's link and books its transfer on its cell here. The cells'
//! timeline is wall time since the edge started (network delays are not
//! scaled by the scenario's speed), and the request waits until the
//! transfer is over with the edge's precise timer, as it waits for the
//! emulated links.
//!
//! The cells are one lock, held only to book one transfer (O(1), no await).
//!
//! **Transfers in the model's order.** A transfer is booked on its cell
//! when it is ready there (an uplink at its send, an answer when it
//! reaches the cell), and a timer wakes late by a little: two transfers
//! due close together could book in the wrong order, and the one that
//! should have waited would beat the model. So a transfer is announced on
//! its cell and direction as soon as its instant is known
//! ([`WallRadio::announce`]: a scenario device's request in the engine's
//! order, an answer when its node answers, before its way back), and books
//! only once every transfer announced there for an earlier instant has
//! booked ([`Announced::transfer`]): a late wake-up delays the transfers
//! behind it (never below the model), it does not reorder them. Requests
//! from outside (`serve`) book their uplink at once, at their send.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::locks::lock;
use crate::radio::{Cells, Direction, LinkQuality, RadioModel};

/// Every cell's two directions on the wall clock.
#[derive(Debug)]
pub struct WallRadio {
    /// Time 0 of the cells' timeline.
    epoch: Instant,
    cells: Mutex<Cells>,
    /// Transfers announced and not booked.
    announced: Arc<Announcements>,
}

/// Where a transfer goes and when: cell, direction (0 up, 1 down),
/// instant, the caller's order among equal instants (the device, as the
/// engine's), and a number that keeps the rest apart.
type Key = (u32, u8, Instant, u64, u64);

#[derive(Debug, Default)]
struct Announcements {
    due: Mutex<(BTreeSet<Key>, u64)>,
    /// Woken whenever an announced transfer books (or is withdrawn).
    booked: Notify,
}

/// A transfer announced on its cell ([`WallRadio::announce`]); dropping it
/// without booking withdraws it.
#[derive(Debug)]
pub struct Announced {
    announced: Arc<Announcements>,
    key: Key,
    direction: Direction,
}

impl Announced {
    /// The instant it was announced for.
    pub fn at(&self) -> Instant {
        self.key.2
    }

    /// Waits until every transfer announced on the cell and direction for
    /// an earlier instant has booked, then books this one on `radio`
    /// (`bytes`, ready at its instant) for the device's `link` then
    /// (`None`: it has none): when the transfer is over. `None` too for a
    /// cell the model does not have.
    pub async fn transfer(
        self,
        radio: &WallRadio,
        model: &RadioModel,
        link: impl FnOnce() -> Option<LinkQuality>,
        bytes: u64,
    ) -> Option<Instant> {
        loop {
            let booked = self.announced.booked.notified();
            tokio::pin!(booked);
            booked.as_mut().enable();
            if self.is_first() {
                break;
            }
            booked.await;
        }
        let (cell, _, at, ..) = self.key;
        let link = link()?;
        radio.transfer(model, cell, self.direction, &link, bytes, at)
        // Dropped here: withdrawn, and the next transfer of the cell wakes.
    }

    /// Whether no transfer announced on the cell and direction is due
    /// before this one.
    fn is_first(&self) -> bool {
        let (cell, direction, ..) = self.key;
        // Ordered by cell and direction first: the greatest key below this
        // one is of the same cell and direction exactly when an earlier
        // transfer there waits.
        lock(&self.announced.due)
            .0
            .range(..self.key)
            .next_back()
            .is_none_or(|&(c, d, ..)| (c, d) != (cell, direction))
    }
}

impl Drop for Announced {
    fn drop(&mut self) {
        lock(&self.announced.due).0.remove(&self.key);
        self.announced.booked.notify_waiters();
    }
}

impl WallRadio {
    /// Idle cells for `model`'s sites.
    pub fn new(model: &RadioModel) -> Self {
        Self {
            epoch: Instant::now(),
            cells: Mutex::new(Cells::new(model.sites())),
            announced: Arc::default(),
        }
    }

    /// Announces a transfer in `direction` that will be ready on cell
    /// `cell` at `at`: those announced there for a later instant, or for
    /// the same with a larger `order`, book after it.
    pub fn announce(&self, cell: u32, direction: Direction, at: Instant, order: u64) -> Announced {
        let mut due = lock(&self.announced.due);
        let key = (
            cell,
            u8::from(direction == Direction::Down),
            at,
            order,
            due.1,
        );
        due.1 += 1;
        due.0.insert(key);
        Announced {
            announced: self.announced.clone(),
            key,
            direction,
        }
    }

    /// Books `bytes` for a device with link `link` on cell `cell` in
    /// `direction`, ready at `at` (now or later): when the transfer is over,
    /// the base access delay included. `None` for a cell the model does
    /// not have.
    pub fn transfer(
        &self,
        model: &RadioModel,
        cell: u32,
        direction: Direction,
        link: &LinkQuality,
        bytes: u64,
        at: Instant,
    ) -> Option<Instant> {
        let at_ns = nanos(at.saturating_duration_since(self.epoch));
        let transfer =
            lock(&self.cells).transfer(model.config(), cell, direction, link, bytes, at_ns)?;
        Some(self.epoch + Duration::from_nanos(transfer.done_ns))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcc_mobile_client::LatLon;

    #[tokio::test]
    async fn a_transfer_announced_for_later_books_after_the_earlier_one() {
        let site = LatLon::new(52.66, -8.63).expect("site");
        let model = RadioModel::new(crate::radio::RadioConfig::lte(), vec![site]);
        let link = model
            .quality(0, site.destination(90.0, 500.0))
            .expect("link");
        let radio = std::sync::Arc::new(WallRadio::new(&model));
        let t = Instant::now() + Duration::from_secs(1);
        let later = radio.announce(0, Direction::Down, t + Duration::from_micros(10), 0);
        let earlier = radio.announce(0, Direction::Down, t, 1);
        let withdrawn = radio.announce(0, Direction::Down, t - Duration::from_micros(10), 2);
        // The other direction does not wait.
        let up = radio.announce(0, Direction::Up, t + Duration::from_millis(1), 0);
        assert!(
            up.transfer(&radio, &model, || Some(link), 1_000)
                .await
                .is_some()
        );
        // The later one tries first: it waits for the earlier ones.
        let later = tokio::spawn({
            let (radio, model) = (radio.clone(), model.clone());
            async move { later.transfer(&radio, &model, || Some(link), 20_000).await }
        });
        tokio::task::yield_now().await;
        assert!(!later.is_finished(), "booked before earlier transfers");
        drop(withdrawn); // gone without booking: no longer waited for
        tokio::task::yield_now().await;
        assert!(!later.is_finished(), "booked before the earlier transfer");
        let first = earlier
            .transfer(&radio, &model, || Some(link), 20_000)
            .await
            .expect("booked");
        let second = later.await.expect("task").expect("booked");
        assert!(
            second > first,
            "the later one queued behind: {second:?} vs {first:?}"
        );
    }

    #[test]
    fn a_far_device_waits_longer_and_a_busy_cell_queues() {
        let site = LatLon::new(52.66, -8.63).expect("site");
        let model = RadioModel::new(crate::radio::RadioConfig::lte(), vec![site]);
        let near = model
            .quality(0, site.destination(90.0, 200.0))
            .expect("near");
        let far = model
            .quality(0, site.destination(90.0, 3_000.0))
            .expect("far");
        let radio = WallRadio::new(&model);
        let at = Instant::now() + Duration::from_secs(1);
        let up = |link: &LinkQuality, at| {
            radio
                .transfer(&model, 0, Direction::Up, link, 20_000, at)
                .expect("cell 0")
                .duration_since(at)
        };
        let alone_near = up(&near, at);
        let later = at + Duration::from_secs(10);
        let alone_far = up(&far, later);
        assert!(alone_far > alone_near, "{alone_far:?} vs {alone_near:?}");
        // Two at once: the second waits behind the first.
        let much_later = later + Duration::from_secs(10);
        let first = up(&near, much_later);
        let second = up(&near, much_later);
        assert!(second > first, "{second:?} vs {first:?}");
        assert!(
            radio
                .transfer(&model, 1, Direction::Up, &near, 1, at)
                .is_none()
        );
    }
}
