//! A device's attachment as both clocks keep it: the access point it is
//! attached to, where that was decided, and how far the device may move
//! from there before the decision can change
//! ([`ApIndex::attach_with_slack`]). The virtual engine and the real-clock
//! driver update attachments through this one type, so they hand over at
//! the same positions.

use mcc_mobile_client::{ApIndex, LatLon, Slack};

/// One device's attachment (or one look-ahead of it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attachment {
    /// The access point, `None` out of coverage.
    pub ap: Option<u32>,
    /// Where the attachment was last decided, and how far the device may
    /// move from there before the decision can change.
    slack: Slack,
}

impl Attachment {
    /// The first attachment of a device at `position` (no previous access
    /// point, so no hysteresis applies).
    pub fn first(index: &ApIndex, position: LatLon, hysteresis_m: f64) -> Self {
        let (ap, slack_m) = index.attach_with_slack(position, None, hysteresis_m);
        Self {
            ap: ap.map(|a| a as u32),
            slack: Slack::new(position, slack_m),
        }
    }

    /// An attachment not decided yet: the first [`update`](Self::update)
    /// decides it.
    pub fn undecided(position: LatLon) -> Self {
        Self {
            ap: None,
            slack: Slack::new(position, 0.0),
        }
    }

    /// Re-decides the attachment at `position` with hysteresis against the
    /// current access point, unless the device is still within the slack
    /// of the last decision. Returns the previous access point when the
    /// attachment changed.
    pub fn update(
        &mut self,
        index: &ApIndex,
        position: LatLon,
        hysteresis_m: f64,
    ) -> Option<Option<u32>> {
        if self.slack.contains(position) {
            return None;
        }
        let current = self.ap.map(|a| a as usize);
        let (next, slack_m) = index.attach_with_slack(position, current, hysteresis_m);
        let next = next.map(|a| a as u32);
        self.slack = Slack::new(position, slack_m);
        if next == self.ap {
            return None;
        }
        Some(std::mem::replace(&mut self.ap, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcc_mobile_client::AccessPoint;

    fn index() -> ApIndex {
        let site = |lon| AccessPoint {
            pos: LatLon::new(52.66, lon).expect("position"),
            coverage_radius_m: 1_000.0,
        };
        ApIndex::new(vec![site(-8.63), site(-8.62)]).expect("index")
    }

    #[test]
    fn a_device_hands_over_only_past_the_hysteresis() {
        let index = index();
        let west = LatLon::new(52.66, -8.63).expect("position");
        let mut attachment = Attachment::first(&index, west, 100.0);
        assert_eq!(attachment.ap, Some(0));
        // Just past the midpoint (about 340 m apart): within the margin.
        let middle = LatLon::new(52.66, -8.6248).expect("position");
        assert_eq!(attachment.update(&index, middle, 100.0), None);
        let east = LatLon::new(52.66, -8.62).expect("position");
        assert_eq!(attachment.update(&index, east, 100.0), Some(Some(0)));
        assert_eq!(attachment.ap, Some(1));
        let far = LatLon::new(52.0, -8.0).expect("position");
        assert_eq!(attachment.update(&index, far, 100.0), Some(Some(1)));
        assert_eq!(attachment.ap, None);
    }

    #[test]
    fn an_undecided_attachment_is_decided_by_the_first_update() {
        let index = index();
        let west = LatLon::new(52.66, -8.63).expect("position");
        let mut attachment = Attachment::undecided(west);
        assert_eq!(attachment.update(&index, west, 100.0), Some(None));
        assert_eq!(attachment.ap, Some(0));
    }
}
