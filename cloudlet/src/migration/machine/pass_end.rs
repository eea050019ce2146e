//! When a copy round ends, and the bandwidth that decides it: the drained
//! rule and QEMU 7.2's (`ram_save_pending`: a sync once what is left of
//! the pass, in whole pages, is below bandwidth × downtime-limit, checked as
//! often as QEMU checks it), the completion of a VM stopped before the
//! migration, and how a round's rest joins the pages dirtied meanwhile.

use super::{Migration, Stage, secs};
use crate::memory::{PageCounts, Region};
use crate::migration::{PassEnd, Switch};

/// Shortest span of deliveries a bandwidth measured in the current round
/// must cover before [`PassEnd::BelowTarget`] goes by it: QEMU measures its
/// bandwidth over windows of 100 ms (`BUFFER_DELAY` in `migration.c`).
const SYNC_BANDWIDTH_SPAN_S: f64 = 0.1;

/// Bytes delivered since a window began, to measure the bandwidth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RateWindow {
    start_s: f64,
    /// The window began with nothing in flight: its first byte also paid
    /// one latency, which is not bandwidth.
    from_idle: bool,
    bytes: u64,
    last_delivery_s: f64,
}

impl RateWindow {
    pub(super) fn new(start_s: f64, from_idle: bool) -> Self {
        Self {
            start_s,
            from_idle,
            bytes: 0,
            last_delivery_s: start_s,
        }
    }

    pub(super) fn record(&mut self, now_s: f64, bytes: u64) {
        if now_s >= self.start_s {
            self.bytes += bytes;
            self.last_delivery_s = self.last_delivery_s.max(now_s);
        }
    }

    pub(super) fn bytes_per_s(&self, latency_s: f64) -> Option<f64> {
        self.bytes_per_s_until(self.last_delivery_s, latency_s)
    }

    /// The bytes delivered per second of the time from the window's start
    /// to `now_s` (or its latest delivery, if later): what QEMU divides by
    /// (`time_spent`), so that a stream paced in chunks does not look
    /// faster than its pace between one chunk's delivery and the next.
    pub(super) fn bytes_per_s_until(&self, now_s: f64, latency_s: f64) -> Option<f64> {
        let idle_s = if self.from_idle { latency_s } else { 0.0 };
        let span = now_s.max(self.last_delivery_s) - self.start_s - idle_s;
        (self.bytes > 0 && span > 0.0).then(|| self.bytes as f64 / span)
    }
}

impl Migration {
    /// The bandwidth [`PassEnd::BelowTarget`] goes by: this round's bytes
    /// per second of its length so far once that spans QEMU's 100 ms
    /// measuring window (`BUFFER_DELAY`), else the last round's.
    pub(super) fn sync_bandwidth_bytes_per_s(&self, now_s: f64) -> Option<f64> {
        let latency_s = secs(self.path.one_way_latency);
        self.rate
            .bytes_per_s_until(now_s, latency_s)
            .filter(|_| now_s - self.rate.start_s >= SYNC_BANDWIDTH_SPAN_S)
            .or(self.last_round_bytes_per_s)
    }

    /// `pages` may be sent while the VM is stopped: within the downtime
    /// target at the measured bandwidth, counted by their wire bytes
    /// ([`PassEnd::Drained`]) or, as QEMU counts them, in whole pages, at the
    /// bandwidth the round's end went by ([`PassEnd::BelowTarget`]).
    pub(super) fn fits_target(&self, pages: &PageCounts, now_s: f64) -> bool {
        let target_s = secs(self.config.downtime_target);
        match self.config.pass_end {
            PassEnd::Drained => {
                pages.wire_bytes(&self.regions) as f64 / self.measured_bandwidth_bytes_per_s()
                    <= target_s
            }
            PassEnd::BelowTarget => {
                let bandwidth = self
                    .sync_bandwidth_bytes_per_s(now_s)
                    .unwrap_or_else(|| self.measured_bandwidth_bytes_per_s());
                ((pages.total() * self.profile.page_bytes) as f64) < bandwidth * target_s
            }
        }
    }

    /// What is left of the current capped pass: a live round's rest, or the
    /// copy of a VM stopped before the migration; `None` in other stages.
    fn pass_rest(&self) -> Option<&PageCounts> {
        match &self.stage {
            Stage::Rounds { to_send, .. } => Some(to_send),
            Stage::Stop { to_send, .. } if self.copies_stopped_vm() => Some(to_send),
            _ => None,
        }
    }

    /// Under [`PassEnd::BelowTarget`], the pass has sent something since it
    /// began (a stopped VM's copy: it is still capped), a bandwidth has been
    /// measured, and what it has left, in whole pages, is below the downtime
    /// target's worth of it (QEMU's `ram_save_pending` test against
    /// `threshold_size`): a live round ends, a stopped VM's copy completes.
    pub(super) fn pass_below_target(&self, now_s: f64) -> bool {
        if self.config.pass_end != PassEnd::BelowTarget || self.stop_cap_lifted {
            return false;
        }
        if matches!(self.stage, Stage::Rounds { .. }) && self.round_sent_bytes == 0 {
            return false;
        }
        let Some(rest) = self.pass_rest() else {
            return false;
        };
        let Some(bandwidth) = self.sync_bandwidth_bytes_per_s(now_s) else {
            return false;
        };
        let left = (rest.total() * self.profile.page_bytes) as f64;
        rest.total() > 0 && left < bandwidth * secs(self.config.downtime_target)
    }

    /// The most a transfer of a pass may carry so that the pass's end is
    /// checked as often as QEMU checks it: under [`PassEnd::BelowTarget`]
    /// with an evenly paced cap, what the cap lets through in QEMU's 100 ms
    /// (`BUFFER_DELAY`); otherwise, and after the switch, no limit (in
    /// rate-limit windows a window's budget is the limit already).
    pub(super) fn pending_check_bytes(&self) -> u64 {
        match self.config.rate_cap_bps {
            Some(cap)
                if self.pass_rest().is_some()
                    && self.config.pass_end == PassEnd::BelowTarget
                    && self.config.cap_window.is_none()
                    && self.cap_applies() =>
            {
                ((cap / 8.0 * SYNC_BANDWIDTH_SPAN_S) as u64).max(1)
            }
            _ => u64::MAX,
        }
    }

    /// The VM was stopped before the migration and its memory is copied
    /// while it stays stopped (stop-and-copy).
    pub(super) fn copies_stopped_vm(&self) -> bool {
        !self.plan.live_rounds && self.plan.switch == Switch::Suspend { copy_memory: true }
    }
}

/// The pages of `left` and of `dirtied` together, region by region, when
/// each is a set of pages drawn independently over its region:
/// L + D − L·D/N of a region's N pages.
pub(super) fn merge_independent(
    left: &PageCounts,
    dirtied: &PageCounts,
    regions: &[Region],
) -> PageCounts {
    PageCounts(
        left.0
            .iter()
            .zip(&dirtied.0)
            .zip(regions)
            .map(|((&l, &d), region)| {
                if l == 0 || d == 0 || region.pages == 0 {
                    return l + d;
                }
                let both = (l as f64 * d as f64 / region.pages as f64).round() as u64;
                (l + d).saturating_sub(both).min(region.pages)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::memory::{DirtyModel, RegionKind, VmProfile};
    use crate::migration::{MigrationConfig, PathEstimate};

    #[test]
    fn after_a_pass_ends_below_the_target_the_next_goes_on_from_where_it_stood() {
        // 64 MiB: a 16 MiB working set written round-robin at 500 pages/s,
        // half zero pages, 1 MiB of data at the top; 10 MB/s, QEMU's end of
        // a pass (under 3 MB of pages left).
        let profile =
            VmProfile::new(64 << 20, 16 << 20, 500.0, 0.5, DirtyModel::Linear).expect("profile");
        let mut config = MigrationConfig::new(crate::migration::Technique::PreCopy);
        config.rate_cap_bps = Some(80e6);
        config.pass_end = PassEnd::BelowTarget;
        config.top_data_bytes = 1 << 20;
        let path = PathEstimate {
            one_way_latency: Duration::from_micros(50),
            bandwidth_bps: 10e9,
        };
        let mut m = Migration::new(profile, config, path, Duration::ZERO).expect("migration");
        let top = m
            .regions
            .iter()
            .position(|r| r.kind == RegionKind::TopData)
            .expect("top data");
        let ws = m
            .regions
            .iter()
            .position(|r| r.kind == RegionKind::HotWorkingSet)
            .expect("working set");
        let to_send = |m: &Migration| match &m.stage {
            Stage::Rounds { to_send, .. } => to_send.clone(),
            other => panic!("not in the rounds: {other:?}"),
        };
        let mut now = Duration::ZERO;
        let mut left_in_round_0 = None;
        loop {
            let Some(t) = m.poll_transmit(now) else {
                now = m.poll_timeout().expect("a deadline");
                continue;
            };
            if t.round == 0 {
                left_in_round_0 = Some(to_send(&m));
            } else {
                // Round 0 stopped inside the top data; round 1 sends that
                // rest first, though the working set it dirtied comes
                // before it in address order and is left after the transfer.
                let left = left_in_round_0.expect("round 0 sent something");
                assert!(left.0[top] > 0, "round 0 sent all the top data: {left:?}");
                let after = to_send(&m);
                assert_eq!(after.0[top], 0, "{t:?} left {after:?}");
                assert!(after.0[ws] > 0, "{t:?} left {after:?}");
                break;
            }
            m.on_delivered(now, &t);
        }
    }

    #[test]
    fn the_rest_of_a_round_and_the_newly_dirtied_merge_as_independent_draws() {
        // Regions: working set (1,000 pages), idle data, zero pages.
        let profile = VmProfile::new(8000 * 4096, 1000 * 4096, 0.0, 0.0, DirtyModel::Linear)
            .expect("profile");
        let regions = profile.regions();
        let left = PageCounts(vec![400, 30, 0]);
        let dirtied = PageCounts(vec![500, 0, 0]);
        // 400 + 500 − 400·500/1000 = 700 in the working set; the idle rest stays.
        assert_eq!(
            merge_independent(&left, &dirtied, &regions),
            PageCounts(vec![700, 30, 0])
        );
        // Nothing left (a drained round): exactly the newly dirtied.
        let none = PageCounts::zero(3);
        assert_eq!(merge_independent(&none, &dirtied, &regions), dirtied);
        // A whole region dirtied absorbs what was left of it.
        let all = PageCounts(vec![1000, 0, 0]);
        assert_eq!(
            merge_independent(&left, &all, &regions),
            PageCounts(vec![1000, 30, 0])
        );
    }
}
