//! The radio hop as a run sees it: every device's link as of the last
//! mobility step, and the cells its transfers queue on. The virtual engine
//! holds a [`RadioAccess`]; the real clock, whose devices come and go, keeps
//! a [`CachedLink`] per device and the [`Cells`] behind a lock
//! (`realclock::radio`). The links come from
//! [`RadioModel::quality`](super::RadioModel::quality), computed where
//! positions are (the engine's mobility thread), never per request.

use mcc_mobile_client::LatLon;

use super::budget::{Direction, LinkQuality};
use super::cell::Cells;
use super::model::RadioModel;

/// One device's link as of its last position, worked out again only when
/// the device moved or changed cell (a device standing still costs
/// nothing). The virtual engine's mobility thread keeps one per device, and
/// so does the real clock wherever it moves a device.
#[derive(Debug, Clone, Copy, Default)]
pub struct CachedLink {
    /// Where and on which cell the last link was worked out, and that link.
    last: Option<(LatLon, u32, Option<LinkQuality>)>,
    /// The link now (`None`: out of coverage, or not decoding).
    current: Option<LinkQuality>,
}

impl CachedLink {
    /// The link of a device at `position` attached to `ap` (`None`: out of
    /// coverage), from now on; reuses the last one when neither changed.
    pub fn update(
        &mut self,
        model: &RadioModel,
        position: LatLon,
        ap: Option<u32>,
    ) -> Option<LinkQuality> {
        self.current = ap.and_then(|ap| match self.last {
            Some((at, on, link)) if at == position && on == ap => link,
            _ => {
                let link = model.quality(ap, position);
                self.last = Some((position, ap, link));
                link
            }
        });
        self.current
    }

    /// The link as of the last [`update`](Self::update).
    pub fn current(&self) -> Option<LinkQuality> {
        self.current
    }
}

/// Every device's link and every cell's queues.
#[derive(Debug, Clone)]
pub struct RadioAccess {
    cells: Cells,
    links: Vec<Option<LinkQuality>>,
}

impl RadioAccess {
    /// Idle cells for `model`'s sites; `devices` devices, none in coverage
    /// until [`set_link`](Self::set_link) or [`replace_links`](Self::replace_links).
    pub fn new(model: &RadioModel, devices: usize) -> Self {
        Self {
            cells: Cells::new(model.sites()),
            links: vec![None; devices],
        }
    }

    /// Device `device`'s link from now on (`None`: out of coverage).
    pub fn set_link(&mut self, device: u32, link: Option<LinkQuality>) {
        if let Some(slot) = self.links.get_mut(device as usize) {
            *slot = link;
        }
    }

    /// Every device's link from now on, in device order (as a mobility
    /// step computes them); a list of the wrong length is ignored.
    pub fn replace_links(&mut self, links: &mut Vec<Option<LinkQuality>>) {
        if links.len() == self.links.len() {
            std::mem::swap(&mut self.links, links);
        }
    }

    /// Device `device`'s link, if it is in coverage.
    pub fn link(&self, device: u32) -> Option<&LinkQuality> {
        self.links.get(device as usize)?.as_ref()
    }

    /// Sends `bytes` between device `device` and cell `cell` in
    /// `direction`, ready at `at_ns`: when they arrive (access delay
    /// included), or `None` when the device has no link now.
    pub fn transfer(
        &mut self,
        model: &RadioModel,
        device: u32,
        cell: u32,
        direction: Direction,
        bytes: u64,
        at_ns: u64,
    ) -> Option<u64> {
        let link = self.links.get(device as usize)?.as_ref()?;
        self.cells
            .transfer(model.config(), cell, direction, link, bytes, at_ns)
            .map(|t| t.done_ns)
    }
}
