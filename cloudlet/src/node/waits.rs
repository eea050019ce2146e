//! The waits of the requests a source holds while its VM is suspended, as
//! plain arithmetic.
//!
//! Every wait begins while the VM is suspended and ends with the suspension
//! (the switch to the target, or the commit), unless its request leaves
//! first (cancelled, or giving up). The source counts each wait up to that
//! end itself, rather than relying on the request to report it when it runs
//! again: a request woken by the switch may be scheduled only after the
//! hand-over committed, and its wait must still be in the commit's figures.
//! Times are offsets from the suspend, so the ledger is two numbers however
//! many requests wait.

use std::time::Duration;

/// The waits still open during one suspension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SuspensionWaits {
    /// Requests waiting now.
    open: u32,
    /// Sum of the instants they began waiting, as offsets from the suspend.
    began_total: Duration,
}

impl SuspensionWaits {
    /// A request begins waiting `began` after the suspend.
    pub(crate) fn begin(&mut self, began: Duration) {
        self.open = self.open.saturating_add(1);
        self.began_total = self.began_total.saturating_add(began);
    }

    /// The open wait that began `began` after the suspend ends `now` after
    /// it, before the suspension does; returns its length.
    pub(crate) fn end_one(&mut self, began: Duration, now: Duration) -> Duration {
        if self.open == 0 {
            return Duration::ZERO;
        }
        self.open -= 1;
        self.began_total = self.began_total.saturating_sub(began);
        now.saturating_sub(began)
    }

    /// The summed length of the open waits if they all ended `now` after
    /// the suspend.
    pub(crate) fn total_at(&self, now: Duration) -> Duration {
        now.saturating_mul(self.open)
            .saturating_sub(self.began_total)
    }

    /// Every open wait ends `now` after the suspend; returns their summed
    /// length and leaves none open.
    pub(crate) fn end_all(&mut self, now: Duration) -> Duration {
        let total = self.total_at(now);
        *self = Self::default();
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn each_open_wait_counts_from_its_start_to_the_end() {
        let mut waits = SuspensionWaits::default();
        waits.begin(2 * MS);
        waits.begin(5 * MS);
        waits.begin(9 * MS);
        assert_eq!(waits.total_at(10 * MS), (8 + 5 + 1) * MS);
        // The request that began at 5 ms leaves at 7 ms.
        assert_eq!(waits.end_one(5 * MS, 7 * MS), 2 * MS);
        assert_eq!(waits.end_all(20 * MS), (18 + 11) * MS);
        assert_eq!(waits, SuspensionWaits::default());
        assert_eq!(waits.end_all(30 * MS), Duration::ZERO);
    }

    #[test]
    fn ending_a_wait_when_none_is_open_counts_nothing() {
        let mut waits = SuspensionWaits::default();
        assert_eq!(waits.end_one(MS, 3 * MS), Duration::ZERO);
        assert_eq!(waits.total_at(3 * MS), Duration::ZERO);
    }
}
