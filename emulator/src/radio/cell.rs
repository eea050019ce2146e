//! Cells as shared resources: each direction of each cell serves its
//! transfers in the order they were booked, each at the rate of the device
//! it carries (its SINR at its last mobility step, raised by the
//! scheduler's gain among the devices active then). A transfer on the whole
//! band holds the cell for its duration; one on part of the band (a
//! power-limited uplink) holds it for its duration times its share of the
//! band, the rest of the band serving the next transfers meanwhile.
//!
//! "Active" in a direction of a cell: a device with a transfer booked there
//! that has not finished when the next one is booked (its data is waiting
//! in the base station's or its own buffer). Serving whole transfers in
//! turn is round robin with one transfer as the quantum, so a device's
//! throughput under load is its scheduled rate divided by the active
//! devices, and a crowded cell queues. Each transfer then pays the
//! direction's base access delay.
//!
//! Transfers are booked when a request is sent or answered (the engine
//! books every hop of a path at once, see `engine::links`), so a transfer
//! booked for a later time counts the transfers still unfinished at that
//! time, among those booked before it.

use std::collections::VecDeque;

use super::budget::{Direction, LinkQuality};
use super::config::RadioConfig;

#[derive(Debug, Clone, Default)]
struct CellDirection {
    /// When the cell's resources are free for the next transfer.
    busy_until_ns: u64,
    /// End times of the transfers booked and not yet known to be over, in
    /// booking order. Whole-band transfers end in that order; a partial-band
    /// one may end before one booked ahead of it, and is then counted until
    /// that one is over too (which keeps counting O(1) per transfer).
    ends_ns: VecDeque<u64>,
}

/// Every cell's two directions, idle at first.
#[derive(Debug, Clone)]
pub struct Cells {
    directions: Vec<CellDirection>,
}

/// A transfer across the radio hop: when its last bit reaches the far end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// When the transfer is over, access delay included, ns.
    pub done_ns: u64,
    /// Devices active in the cell's direction when it was booked, itself
    /// included.
    pub active: u32,
}

impl Cells {
    /// `cells` idle cells.
    pub fn new(cells: usize) -> Self {
        Self {
            directions: vec![CellDirection::default(); cells * 2],
        }
    }

    /// Books `bytes` for a device with link `quality` on cell `cell` in
    /// `direction`, ready to go at `at_ns`. `None` for a cell that does
    /// not exist.
    pub fn transfer(
        &mut self,
        config: &RadioConfig,
        cell: u32,
        direction: Direction,
        quality: &LinkQuality,
        bytes: u64,
        at_ns: u64,
    ) -> Option<Transfer> {
        let index = cell as usize * 2 + usize::from(direction == Direction::Down);
        let state = self.directions.get_mut(index)?;
        while state.ends_ns.front().is_some_and(|&end| end <= at_ns) {
            state.ends_ns.pop_front();
        }
        let active = state.ends_ns.len() as u32 + 1;
        let q = match direction {
            Direction::Up => &quality.uplink,
            Direction::Down => &quality.downlink,
        };
        let rate = config.scheduled_rate_bps(direction, q, active);
        let serial_ns = crate::engine::links::serialisation_ns(bytes, rate);
        let start = at_ns.max(state.busy_until_ns);
        let end = start.saturating_add(serial_ns);
        let held_ns = if q.band_share >= 1.0 {
            serial_ns
        } else {
            crate::engine::links::round_to_u64(serial_ns as f64 * q.band_share)
        };
        state.busy_until_ns = start.saturating_add(held_ns);
        state.ends_ns.push_back(end);
        Some(Transfer {
            done_ns: end.saturating_add(config.access_ns(direction)),
            active,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radio::config::Scheduler;

    fn quality(c: &RadioConfig, d: f64) -> LinkQuality {
        c.quality(c.path_loss.loss_db(d), []).expect("covered")
    }

    #[test]
    fn a_lone_transfer_pays_serialisation_at_its_rate_and_the_access_delay() {
        let c = RadioConfig::lte();
        let q = quality(&c, 400.0);
        let mut cells = Cells::new(2);
        let t = cells
            .transfer(&c, 1, Direction::Up, &q, 10_000, 1_000)
            .expect("cell 1");
        let serial = (10_000.0 * 8.0 * 1e9 / q.uplink.rate_bps).round() as u64;
        assert_eq!(t.done_ns, 1_000 + serial + c.uplink.access_ns);
        assert_eq!(t.active, 1);
        assert!(cells.transfer(&c, 2, Direction::Up, &q, 1, 0).is_none());
    }

    #[test]
    fn a_crowded_cell_queues_and_directions_do_not_share() {
        let mut c = RadioConfig::nr();
        c.scheduler = Scheduler::EqualShare;
        let q = quality(&c, 600.0);
        let mut cells = Cells::new(1);
        let lone = cells
            .transfer(&c, 0, Direction::Down, &q, 50_000, 0)
            .expect("cell");
        let mut last = lone;
        for k in 2..=5 {
            last = cells
                .transfer(&c, 0, Direction::Down, &q, 50_000, 0)
                .expect("cell");
            assert_eq!(last.active, k);
        }
        let serial = lone.done_ns - c.downlink.access_ns;
        assert_eq!(last.done_ns, 5 * serial + c.downlink.access_ns);
        let up = cells
            .transfer(&c, 0, Direction::Up, &q, 1, 0)
            .expect("cell");
        assert_eq!(up.active, 1, "the uplink is its own resource");
        // Once the queue has drained the cell is empty again.
        let later = cells
            .transfer(&c, 0, Direction::Down, &q, 50_000, last.done_ns)
            .expect("cell");
        assert_eq!(later.active, 1);
    }

    #[test]
    fn a_narrow_uplink_leaves_the_rest_of_the_band_to_others() {
        let c = RadioConfig::lte();
        let far = quality(&c, c.coverage_radius_m().expect("coverage") - 50.0);
        let near = quality(&c, 300.0);
        assert!(far.uplink.band_share < 0.5, "{}", far.uplink.band_share);
        assert_eq!(near.uplink.band_share, 1.0);
        let mut cells = Cells::new(1);
        let slow = cells
            .transfer(&c, 0, Direction::Up, &far, 1_000, 0)
            .expect("cell");
        let fast = cells
            .transfer(&c, 0, Direction::Up, &near, 1_000, 0)
            .expect("cell");
        assert_eq!(fast.active, 2);
        let slow_serial = slow.done_ns - c.uplink.access_ns;
        let fast_serial = (1_000.0 * 8.0 * 1e9 / near.uplink.rate_bps).round() as u64;
        let waited = fast.done_ns - c.uplink.access_ns - fast_serial;
        assert!(
            waited < slow_serial / 2,
            "waits for the narrow transfer's share of the band only: {waited} of {slow_serial} ns"
        );
        assert!(waited > 0, "but does wait for it");
    }
}
