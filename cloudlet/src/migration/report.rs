//! What a migration reports, with the key names `mcc-emu migrate --json` prints.

use serde::Serialize;

use super::Technique;

/// Percentiles of the delay of the requests that arrived during a migration,
/// in milliseconds; all `None` (JSON `null`) when no request arrived.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct DelaySummary {
    /// Median.
    pub p50: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

impl DelaySummary {
    /// Nearest-rank percentiles of `delays_ms` (any order; NaNs are ignored).
    pub fn from_delays_ms(delays_ms: &[f64]) -> Self {
        let mut delays: Vec<f64> = delays_ms.iter().copied().filter(|d| !d.is_nan()).collect();
        if delays.is_empty() {
            return Self::default();
        }
        // The ranks of the percentiles in the sorted list; selecting them
        // (in a total order) gives the very elements sorting would put there,
        // without sorting the whole list.
        let rank = |q: f64| ((q * delays.len() as f64).ceil() as usize).clamp(1, delays.len()) - 1;
        let (i50, i99) = (rank(0.50), rank(0.99));
        let (below, p99, above) = delays.select_nth_unstable_by(i99, f64::total_cmp);
        let p99 = *p99;
        let max = above.iter().copied().max_by(f64::total_cmp).unwrap_or(p99);
        let p50 = if i50 < i99 {
            *below.select_nth_unstable_by(i50, f64::total_cmp).1
        } else {
            p99
        };
        Self {
            p50: Some(p50),
            p99: Some(p99),
            max: Some(max),
        }
    }
}

/// The outcome of one migration. Times are milliseconds from the migration's
/// start; bytes are bytes on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigrationReport {
    /// Which technique.
    pub technique: Technique,
    /// The technique's stop criterion was met: for pre-copy and soft, the
    /// remainder fitted the downtime target before the maximum number of
    /// rounds; always true for stop-and-copy and post-copy.
    pub converged: bool,
    /// From the start until the source holds nothing of the VM.
    pub total_ms: f64,
    /// Longest interval in which the VM could answer nothing, as QEMU's
    /// `downtime` counts it: from the suspend to the target's resume.
    pub downtime_ms: f64,
    /// Longest gap a guest heartbeat (every `heartbeat`, 10 ms by default)
    /// sees: the longest time the VM makes no progress (suspended, then
    /// blocked on the pages it faults on after the resume) plus one period.
    pub stall_ms: f64,
    /// All bytes sent.
    pub bytes_total: u64,
    /// Bytes sent while the VM ran at the source before the switch.
    pub bytes_precopy: u64,
    /// Bytes sent while the VM was suspended.
    pub bytes_stop: u64,
    /// Bytes sent after the switch (CPU state of a live switch, push, fault pulls).
    pub bytes_postcopy: u64,
    /// Live copy rounds, round 0 included.
    pub rounds: u32,
    /// Pages the target pulled on fault (requests' and the VM's own).
    pub page_faults: u64,
    /// Time requests spent waiting at the target for faulted pages, summed.
    pub fault_stall_ms: f64,
    /// Requests sent to and executed by both hosts.
    pub dual_served_requests: u64,
    /// Delay of the requests that arrived during the migration.
    pub request_delay_ms: DelaySummary,
}

impl MigrationReport {
    /// The names of [`MigrationReport::flat_fields`], in order: the report
    /// as one flat row (the delay summary as three `request_delay_*_ms` columns).
    pub const FLAT_FIELDS: [&'static str; 16] = [
        "technique",
        "converged",
        "total_ms",
        "downtime_ms",
        "bytes_total",
        "bytes_precopy",
        "bytes_stop",
        "bytes_postcopy",
        "rounds",
        "page_faults",
        "fault_stall_ms",
        "dual_served_requests",
        "request_delay_p50_ms",
        "request_delay_p99_ms",
        "request_delay_max_ms",
        "stall_ms",
    ];

    /// The report as one row of text fields in [`MigrationReport::FLAT_FIELDS`]
    /// order: milliseconds with `ms_decimals` decimals, and `absent` for the
    /// delay percentiles when no request arrived during the migration.
    pub fn flat_fields(&self, ms_decimals: usize, absent: &str) -> [String; 16] {
        let ms = |v: f64| format!("{v:.ms_decimals$}");
        let opt = |v: Option<f64>| v.map_or_else(|| absent.to_owned(), ms);
        [
            self.technique.name().to_owned(),
            self.converged.to_string(),
            ms(self.total_ms),
            ms(self.downtime_ms),
            self.bytes_total.to_string(),
            self.bytes_precopy.to_string(),
            self.bytes_stop.to_string(),
            self.bytes_postcopy.to_string(),
            self.rounds.to_string(),
            self.page_faults.to_string(),
            ms(self.fault_stall_ms),
            self.dual_served_requests.to_string(),
            opt(self.request_delay_ms.p50),
            opt(self.request_delay_ms.p99),
            opt(self.request_delay_ms.max),
            ms(self.stall_ms),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let delays: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = DelaySummary::from_delays_ms(&delays);
        assert_eq!(s.p50, Some(50.0));
        assert_eq!(s.p99, Some(99.0));
        assert_eq!(s.max, Some(100.0));
        assert_eq!(DelaySummary::from_delays_ms(&[]), DelaySummary::default());
        assert_eq!(DelaySummary::from_delays_ms(&[7.0]).p99, Some(7.0));
    }

    proptest::proptest! {
        /// Selection picks exactly the elements of the fully sorted list.
        #[test]
        fn selection_matches_sorting(
            delays in proptest::collection::vec(
                proptest::prop_oneof![0.0..50.0f64, proptest::sample::select(vec![1.0, 2.5, 0.0])],
                1..300,
            ),
        ) {
            let mut sorted = delays.clone();
            sorted.sort_by(f64::total_cmp);
            let rank = |q: f64| {
                sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
            };
            let s = DelaySummary::from_delays_ms(&delays);
            proptest::prop_assert_eq!(s.p50.map(f64::to_bits), Some(rank(0.50).to_bits()));
            proptest::prop_assert_eq!(s.p99.map(f64::to_bits), Some(rank(0.99).to_bits()));
            proptest::prop_assert_eq!(s.max.map(f64::to_bits), sorted.last().map(|m| m.to_bits()));
        }
    }
}
