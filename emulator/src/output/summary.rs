//! The experiment's summary (`summary.json`) and the delay statistics in it.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The longest delay the percentiles tell apart: one day, in microseconds.
const MAX_TRACKED_US: u64 = 86_400_000_000;

/// Delay statistics in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DelayStats {
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Delays shorter than this many microseconds (131 ms: nearly every answer
/// of a run) are first counted in a plain array, one count per bucket of
/// the histogram ([`dense_index`]).
const DENSE_US: u64 = 1 << 17;
/// Sub-buckets of the histogram at three significant digits: values under
/// this many µs have a bucket each; above, each doubling of the value
/// doubles a bucket's width, [`SUB_BUCKETS`] / 2 buckets per doubling.
const SUB_BUCKETS: u64 = 2_048;
/// Buckets of the histogram below [`DENSE_US`]: 2,048 one-µs buckets, then
/// 1,024 for each of the 6 doublings up to 2^17 µs.
const DENSE_BUCKETS: usize = 8_192;

/// The array index of a delay of `us` µs (under [`DENSE_US`]): its bucket
/// in the histogram's layout, so that 131 ms of delays take 64 KiB of
/// counts (which stay in the cache) instead of 1 MiB at one per µs (which
/// did not: delays spread over that range missed it nearly every time).
fn dense_index(us: u64) -> usize {
    if us < SUB_BUCKETS {
        return us as usize;
    }
    // us in [2^(10 + shift), 2^(11 + shift)): buckets 2^shift µs wide.
    let shift = u64::from(63 - us.leading_zeros()) - 10;
    ((SUB_BUCKETS / 2) * shift + (us >> shift)) as usize
}

/// The lowest delay, in µs, of the bucket at `index` ([`dense_index`]).
fn dense_value(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB_BUCKETS {
        return index;
    }
    let shift = index / (SUB_BUCKETS / 2) - 1;
    (index - (SUB_BUCKETS / 2) * shift) << shift
}

/// Collects delays in constant memory and summarises them.
///
/// Percentiles come from an HDR histogram at microsecond resolution with three
/// significant digits (their error is at most 0.1 %); the mean and the maximum
/// are exact. Delays under 2^17 µs (about 131 ms) are counted per bucket of
/// the histogram in a plain array (an increment and a shift instead of the
/// histogram's index arithmetic, per request) and folded into the histogram
/// when the statistics are read, which leaves it exactly as recording each
/// of them would have.
#[derive(Debug, Clone)]
pub struct DelayStatsBuilder {
    histogram: Histogram<u64>,
    /// `dense_counts[dense_index(us)]`: delays of `us` µs not yet in
    /// `histogram` (empty until the first one).
    dense_counts: Vec<u64>,
    sum_ns: u128,
    count: u64,
    max_ns: u64,
}

impl Default for DelayStatsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl DelayStatsBuilder {
    /// An empty collection.
    pub fn new() -> Self {
        Self {
            // From 1 µs to a day; anything longer saturates at a day.
            histogram: Histogram::new_with_bounds(1, MAX_TRACKED_US, 3)
                .expect("constant bounds are valid"),
            dense_counts: Vec::new(),
            sum_ns: 0,
            count: 0,
            max_ns: 0,
        }
    }

    /// Adds one delay.
    pub fn record_ns(&mut self, delay_ns: u64) {
        let us = (delay_ns + 500) / 1_000;
        if us < DENSE_US {
            if self.dense_counts.is_empty() {
                self.dense_counts = vec![0; DENSE_BUCKETS];
            }
            self.dense_counts[dense_index(us)] += 1;
        } else {
            self.histogram.saturating_record(us);
        }
        self.sum_ns += u128::from(delay_ns);
        self.count += 1;
        self.max_ns = self.max_ns.max(delay_ns);
    }

    /// How many delays were added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The statistics (all zero when nothing was added).
    pub fn stats(&self) -> DelayStats {
        if self.count == 0 {
            return DelayStats::default();
        }
        // A histogram bucket's representative can exceed the largest value
        // recorded; no percentile may.
        let max_ms = round_us(self.max_ns as f64 / 1e6);
        let mut histogram = self.histogram.clone();
        for (index, &n) in self.dense_counts.iter().enumerate() {
            if n > 0 {
                histogram.saturating_record_n(dense_value(index), n);
            }
        }
        let quantile_ms = |q: f64| (histogram.value_at_quantile(q) as f64 / 1_000.0).min(max_ms);
        DelayStats {
            mean: round_us(self.sum_ns as f64 / self.count as f64 / 1e6),
            p50: quantile_ms(0.50),
            p95: quantile_ms(0.95),
            p99: quantile_ms(0.99),
            max: max_ms,
        }
    }
}

/// Rounds milliseconds to whole microseconds, so summaries print stable digits.
fn round_us(ms: f64) -> f64 {
    (ms * 1_000.0).round() / 1_000.0
}

/// What `summary.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The placement policy that ran (`ga`, `nearest`, ...).
    pub policy: String,
    /// The migration technique every migration used (`soft`, `pre-copy`, ...).
    pub technique: String,
    /// Devices in the scenario.
    pub devices: u64,
    /// Cloudlets in the scenario.
    pub cloudlets: u64,
    /// Emulated time covered.
    pub sim_duration_s: f64,
    /// Requests sent.
    pub requests: u64,
    /// Requests that got no answer in time (or no coverage).
    pub failed: u64,
    /// Delay of the answered requests.
    pub delay_ms: DelayStats,
    /// Migrations started.
    pub migrations: u64,
    /// Sum of the migrations' downtimes.
    pub downtime_ms_total: f64,
    /// Longest stall any migration's guest saw (its `stall_ms`; 0 without migrations).
    pub stall_ms_max: f64,
    /// Bytes all migrations sent.
    pub bytes_migrated: u64,
    /// Answered requests slower than the scenario's SLA bound, plus failed ones.
    pub sla_violations: u64,
    /// Wall-clock time the run took.
    pub wall_s: f64,
    /// Requests simulated per second of wall-clock time.
    pub sim_requests_per_s: f64,
    /// How a real-clock run went (absent on the virtual clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_clock: Option<RealClockSummary>,
    /// What this policy saved against leaving every VM where it started,
    /// from a `never` run on the same scenario and seed (`mcc-emu run` on the
    /// virtual clock adds it; absent elsewhere and for `never` itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against_never: Option<AgainstNever>,
    /// The run's energy, in joules (docs/energy.md; absent from a run
    /// whose records were not written, such as the `never` baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_j: Option<crate::energy::EnergySummary>,
    /// Sleeping empty cloudlets: wake-ups and time asleep (present only
    /// when the scenario lets cloudlets sleep, docs/energy.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudlet_sleep: Option<crate::energy::SleepSummary>,
}

/// This run against a `never` run of the same scenario and seed: the same
/// devices, traces and request times, every VM left on its first host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgainstNever {
    /// Delay of the `never` run's answered requests.
    pub never_delay_ms: DelayStats,
    /// The `never` run's failed requests.
    pub never_failed: u64,
    /// The `never` run's SLA violations.
    pub never_sla_violations: u64,
    /// `never`'s delay minus this run's, statistic by statistic (positive:
    /// this policy's requests were faster).
    pub delay_saved_ms: DelayStats,
    /// SLA violations this run avoided (negative: it caused more).
    pub sla_violations_avoided: i64,
    /// Failed requests this run avoided (negative: it failed more).
    pub failures_avoided: i64,
    /// The `never` run's energy, in joules (docs/energy.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never_energy_j: Option<crate::energy::EnergySummary>,
    /// This run's energy minus `never`'s, part by part (positive: this
    /// policy spent more; its `migrations` part is all its migrations').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_added_j: Option<crate::energy::EnergySummary>,
}

impl AgainstNever {
    /// `run` against `never`, two summaries of the same scenario and seed.
    pub fn new(run: &Summary, never: &Summary) -> Self {
        let (a, b) = (&never.delay_ms, &run.delay_ms);
        let saved = |x: f64, y: f64| round_us(x - y);
        let signed = |x: u64, y: u64| {
            i64::try_from(x).unwrap_or(i64::MAX) - i64::try_from(y).unwrap_or(i64::MAX)
        };
        Self {
            never_delay_ms: never.delay_ms,
            never_failed: never.failed,
            never_sla_violations: never.sla_violations,
            delay_saved_ms: DelayStats {
                mean: saved(a.mean, b.mean),
                p50: saved(a.p50, b.p50),
                p95: saved(a.p95, b.p95),
                p99: saved(a.p99, b.p99),
                max: saved(a.max, b.max),
            },
            sla_violations_avoided: signed(never.sla_violations, run.sla_violations),
            failures_avoided: signed(never.failed, run.failed),
            never_energy_j: never.energy_j,
            energy_added_j: run.energy_j.zip(never.energy_j).map(|(r, n)| {
                let less = |x: f64, y: f64| ((x - y) * 1e3).round() / 1e3;
                crate::energy::EnergySummary {
                    cloudlets: less(r.cloudlets, n.cloudlets),
                    network: less(r.network, n.network),
                    devices: less(r.devices, n.devices),
                    migrations: less(r.migrations, n.migrations),
                }
            }),
        }
    }
}

impl Summary {
    /// Sets the wall-clock figures of a run that took `wall_s` seconds.
    pub fn set_wall_time(&mut self, wall_s: f64) {
        self.wall_s = (wall_s * 1e3).round() / 1e3;
        self.sim_requests_per_s = if wall_s > 0.0 {
            (self.requests as f64 / wall_s).round()
        } else {
            0.0
        };
    }
}

/// The counters `summary.json` is made of, kept alike by both clocks: a
/// request is counted when it is sent, its outcome when it ends.
#[derive(Debug, Default)]
pub struct RunTotals {
    /// Requests sent.
    pub requests: u64,
    /// Requests without an answer in time (or without coverage).
    pub failed: u64,
    /// Answered requests over the SLA bound, plus failed ones.
    pub sla_violations: u64,
    /// Migrations started.
    pub migrations: u64,
    /// Sum of the migrations' downtimes.
    pub downtime_ns_total: u64,
    /// Longest `stall_ms` of any migration, in nanoseconds.
    pub stall_ns_max: u64,
    /// Bytes all migrations sent.
    pub bytes_migrated: u64,
    /// Delays of the answered requests.
    pub delays: DelayStatsBuilder,
}

impl RunTotals {
    /// Counts how a request ended: an answer's delay against `sla_ns`, or a
    /// failure.
    pub fn count_outcome(&mut self, outcome: super::Outcome, total_ns: u64, sla_ns: u64) {
        match outcome {
            super::Outcome::Ok => {
                self.delays.record_ns(total_ns);
                if total_ns > sla_ns {
                    self.sla_violations += 1;
                }
            }
            super::Outcome::TimedOut | super::Outcome::NoCoverage | super::Outcome::Unanswered => {
                self.count_failure()
            }
        }
    }

    /// Counts a request that ended without an answer.
    pub fn count_failure(&mut self) {
        self.failed += 1;
        self.sla_violations += 1;
    }

    /// The summary of these counts for a run of `policy` with `technique`;
    /// the wall-clock figures are zero and there is no real-clock part (the
    /// caller adds what it has).
    pub fn summary(
        &self,
        run: RunLabel<'_>,
        devices: u64,
        cloudlets: u64,
        sim_duration_s: f64,
    ) -> Summary {
        Summary {
            policy: run.policy.to_owned(),
            technique: run.technique.to_owned(),
            devices,
            cloudlets,
            sim_duration_s,
            requests: self.requests,
            failed: self.failed,
            delay_ms: self.delays.stats(),
            migrations: self.migrations,
            downtime_ms_total: (self.downtime_ns_total as f64 / 1e3).round() / 1e3,
            stall_ms_max: (self.stall_ns_max as f64 / 1e3).round() / 1e3,
            bytes_migrated: self.bytes_migrated,
            sla_violations: self.sla_violations,
            wall_s: 0.0,
            sim_requests_per_s: 0.0,
            real_clock: None,
            against_never: None,
            energy_j: None,
            cloudlet_sleep: None,
        }
    }
}

/// What ran: the placement policy's and the migration technique's names,
/// which head `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLabel<'a> {
    /// The placement policy's name.
    pub policy: &'a str,
    /// The migration technique's name.
    pub technique: &'a str,
}

/// What `summary.json` adds for a run on the real clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RealClockSummary {
    /// Scenario seconds per wall-clock second.
    pub speed: f64,
    /// How the cloudlet nodes ran (`in-process`, `processes`, `remote`).
    pub nodes: String,
    /// Whether the run was stopped early (Ctrl-C); the outputs cover the
    /// scenario time up to `sim_duration_s` then.
    pub interrupted: bool,
    /// Migrations that failed (the VM stayed at its source).
    pub migrations_failed: u64,
    /// Requests answered by the second host of a soft handoff first.
    pub answered_by_handoff_peer: u64,
    /// Requests redirected at least once (sent to a host the VM had left).
    pub redirected: u64,
    /// Requests from outside (`serve`) refused with `RESOURCE_EXHAUSTED`
    /// because too many were in flight; they are not in `requests`.
    pub refused_overload: u64,
    /// What the emulator added to each answered request beyond the
    /// model's delay, in ms: the answer's arrival on the wall clock minus
    /// its arrival in the emulated world (the deadline of the request's
    /// last wait, from the links', cells' and cores' bookings). Timer
    /// lateness, Tokio wake-ups, the loopback gRPC hop to a node outside
    /// the process and the machine's load; not the queueing the model asks
    /// for (docs/real-clock.md, "The delay the emulator adds").
    #[serde(default)]
    pub added_delay_ms: DelayStats,
    /// Cloudlet nodes that died during the run, in the order they were
    /// found dead.
    pub nodes_lost: Vec<NodeLost>,
    /// The VMs that died with them.
    pub vms_lost: Vec<VmLost>,
    /// `--spawn remote`: the least real round trip measured to each node at
    /// the start, by cloudlet, in ms (half of it each way was subtracted
    /// from the emulated delays); absent otherwise.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub node_rtt_ms: std::collections::BTreeMap<String, f64>,
    /// `--spawn remote`: the pairs of cloudlets (`from/to`) whose nodes'
    /// real crossing through mcc-emu's relay (both one-way delays) is longer
    /// than their emulated latency, by how much in ms: their migrations and
    /// forwarded calls are that much slower than the model's. Absent when
    /// none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub node_path_excess_ms: std::collections::BTreeMap<String, f64>,
}

/// A cloudlet node that died during a real-clock run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeLost {
    /// The cloudlet.
    pub id: String,
    /// Scenario time it was declared lost, in seconds.
    pub at_s: f64,
    /// Why (the failed call, then the failed health check).
    pub reason: String,
    /// Scenario time it answered again and went back into placement (taken
    /// as empty), in seconds; `null` if it never did.
    pub back_at_s: Option<f64>,
}

/// A VM lost with its node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmLost {
    /// The VM.
    pub vm: String,
    /// Its device.
    pub device: String,
    /// The node it was on.
    pub node: String,
    /// What it was doing: `running`, or `migrating to C` (it was leaving the
    /// node; a migration to the node leaves the VM at its source, not lost).
    pub doing: String,
    /// What became of it (`[placement] on_node_loss`): `dropped`,
    /// `restarted on C after N ms` (wall clock, from the node found lost),
    /// `arrived at C` (its migration away completed after all), or
    /// `restart failed: why`.
    pub then: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_known_delays() {
        let mut builder = DelayStatsBuilder::new();
        for ms in 1..=100u64 {
            builder.record_ns(ms * 1_000_000);
        }
        let stats = builder.stats();
        assert_eq!(builder.count(), 100);
        assert_eq!(stats.mean, 50.5);
        assert_eq!(stats.max, 100.0);
        assert!((stats.p50 - 50.0).abs() <= 0.05, "{stats:?}");
        assert!((stats.p95 - 95.0).abs() <= 0.1, "{stats:?}");
        assert!((stats.p99 - 99.0).abs() <= 0.1, "{stats:?}");
    }

    #[test]
    fn percentiles_never_exceed_the_maximum() {
        let mut builder = DelayStatsBuilder::new();
        for _ in 0..10 {
            builder.record_ns(26_236_000);
        }
        let stats = builder.stats();
        assert_eq!(stats.p50, 26.236);
        assert_eq!(stats.p99, 26.236);
        assert_eq!(stats.max, 26.236);
    }

    #[test]
    fn dense_counts_leave_the_histogram_as_direct_recording_would() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut builder = DelayStatsBuilder::new();
        let mut direct: Histogram<u64> = Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).unwrap();
        for _ in 0..50_000 {
            // Mostly under the dense limit, some far above it, a few at 0.
            let delay_ns = match rng.random_range(0..10) {
                0 => rng.random_range(0..2_000),
                1 | 2 => rng.random_range(100_000_000..20_000_000_000),
                _ => rng.random_range(1_000_000..140_000_000),
            };
            builder.record_ns(delay_ns);
            direct.saturating_record((delay_ns + 500) / 1_000);
        }
        let stats = builder.stats();
        let max_ms = stats.max;
        for (q, got) in [(0.50, stats.p50), (0.95, stats.p95), (0.99, stats.p99)] {
            let want = (direct.value_at_quantile(q) as f64 / 1_000.0).min(max_ms);
            assert_eq!(got.to_bits(), want.to_bits(), "q = {q}");
        }
    }

    #[test]
    fn every_delay_under_the_dense_limit_has_its_histogram_bucket() {
        let histogram: Histogram<u64> = Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).unwrap();
        assert_eq!(dense_index(DENSE_US - 1), DENSE_BUCKETS - 1);
        let mut last = 0;
        for us in 0..DENSE_US {
            let index = dense_index(us);
            // Buckets in order, none skipped.
            assert!(
                index == last || index == last + 1,
                "{us} µs: {index} after {last}"
            );
            last = index;
            // The value recorded for the bucket is the lowest the histogram
            // counts with `us`, so it lands where `us` would have.
            assert_eq!(
                dense_value(index),
                histogram.lowest_equivalent(us),
                "{us} µs"
            );
        }
    }

    #[test]
    fn no_delays_give_zeros() {
        assert_eq!(DelayStatsBuilder::new().stats(), DelayStats::default());
    }
}
