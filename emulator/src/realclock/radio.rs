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

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::locks::lock;
use crate::radio::{Cells, Direction, LinkQuality, RadioModel};

/// Every cell's two directions on the wall clock.
#[derive(Debug)]
pub struct WallRadio {
    /// Time 0 of the cells' timeline.
    epoch: Instant,
    cells: Mutex<Cells>,
}

impl WallRadio {
    /// Idle cells for `model`'s sites.
    pub fn new(model: &RadioModel) -> Self {
        Self {
            epoch: Instant::now(),
            cells: Mutex::new(Cells::new(model.sites())),
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
