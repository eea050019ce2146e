//! Cloudlet servers: power as a piecewise-linear function of CPU
//! utilisation (the form of a SPECpower_ssj2008 result), integrated over the
//! run from the CPU time each cloudlet spent, window by window.

use super::sleep::OffCurve;

/// Power against utilisation, from points evenly spaced from 0 % to 100 %.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerCurve {
    watts: Vec<f64>,
}

impl PowerCurve {
    /// The curve through `watts` (at least two points, checked by
    /// [`EnergyConfig::validate`](super::EnergyConfig::validate)).
    pub fn new(watts: Vec<f64>) -> Self {
        Self { watts }
    }

    /// Watts at utilisation `u` (clamped to 0..=1), linear between points.
    pub fn watts(&self, u: f64) -> f64 {
        let steps = self.watts.len().saturating_sub(1);
        if steps == 0 {
            return self.watts.first().copied().unwrap_or(0.0);
        }
        let x = u.clamp(0.0, 1.0) * steps as f64;
        let i = (x.floor() as usize).min(steps - 1);
        let f = x - i as f64;
        self.watts[i] + (self.watts[i + 1] - self.watts[i]) * f
    }

    /// Idle watts.
    pub fn idle(&self) -> f64 {
        self.watts(0.0)
    }

    /// Watts at full utilisation.
    pub fn peak(&self) -> f64 {
        self.watts(1.0)
    }
}

/// The CPU time one cloudlet spent, per utilisation window.
#[derive(Debug, Clone, Default)]
pub struct CpuWindows {
    busy_ns: Vec<u64>,
}

impl CpuWindows {
    /// Adds `cpu_ns` of work that ran from `start_ns`, split over the
    /// windows of `window_ns` it spans. Windows are created as they are
    /// needed, so memory follows the run's length (one number per window).
    pub fn add(&mut self, start_ns: u64, cpu_ns: u64, window_ns: u64) {
        let window_ns = window_ns.max(1);
        let mut at = start_ns;
        let end = start_ns.saturating_add(cpu_ns);
        while at < end {
            let index = (at / window_ns) as usize;
            let window_end = (index as u64 + 1).saturating_mul(window_ns);
            let part = end.min(window_end) - at;
            if self.busy_ns.len() <= index {
                self.busy_ns.resize(index + 1, 0);
            }
            self.busy_ns[index] += part;
            at += part;
        }
    }

    /// Joules a cloudlet of `cores` cores drew over `duration_ns`: each
    /// window at the curve's power for its utilisation (busy time over
    /// `cores` × the window), scaled by `cores / threads` reference servers.
    /// Work after the end (requests answered while the run drains) counts
    /// in the last window, at most full. During the spans of `off` (asleep
    /// or waking, in time order and disjoint) the cloudlet draws their
    /// power instead of the curve's, and utilisation is taken over the rest
    /// of the window.
    pub fn energy_j(
        &self,
        curve: &PowerCurve,
        cores: u32,
        threads: u32,
        window_ns: u64,
        duration_ns: u64,
        off: &[OffCurve],
    ) -> f64 {
        let window_ns = window_ns.max(1);
        let servers = f64::from(cores) / f64::from(threads.max(1));
        let windows = duration_ns.div_ceil(window_ns) as usize;
        let mut joules = 0.0;
        // The first span that may still overlap the current window.
        let mut next_off = 0;
        for w in 0..windows {
            let start = w as u64 * window_ns;
            let length_ns = (duration_ns - start).min(window_ns);
            let mut busy = self.busy_ns.get(w).copied().unwrap_or(0);
            if w + 1 == windows {
                busy += self.busy_ns.iter().skip(windows).sum::<u64>();
            }
            let end = start + length_ns;
            let (mut off_ns, mut off_j) = (0u64, 0.0);
            while let Some(span) = off.get(next_off) {
                let overlap = span
                    .end_ns
                    .min(end)
                    .saturating_sub(span.start_ns.max(start));
                off_ns += overlap;
                off_j += span.watts * overlap as f64;
                if span.end_ns > end {
                    break;
                }
                next_off += 1;
            }
            if off_ns == 0 {
                let capacity = f64::from(cores.max(1)) * length_ns as f64;
                let u = (busy as f64 / capacity).min(1.0);
                joules += curve.watts(u) * servers * length_ns as f64 / 1e9;
            } else {
                let on_ns = length_ns.saturating_sub(off_ns);
                let capacity = f64::from(cores.max(1)) * on_ns as f64;
                let u = if on_ns == 0 {
                    0.0
                } else {
                    (busy as f64 / capacity).min(1.0)
                };
                joules += (curve.watts(u) * on_ns as f64 + off_j) * servers / 1e9;
            }
        }
        joules
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::config::DEFAULT_SERVER_POWER_W;

    #[test]
    fn the_curve_interpolates_between_its_points() {
        let c = PowerCurve::new(DEFAULT_SERVER_POWER_W.to_vec());
        assert_eq!(c.idle(), 41.6);
        assert_eq!(c.peak(), 113.0);
        assert!((c.watts(0.05) - (41.6 + 46.7) / 2.0).abs() < 1e-9);
        assert!((c.watts(0.95) - 109.0).abs() < 1e-9);
        let linear = PowerCurve::new(vec![100.0, 200.0]);
        assert!((linear.watts(0.25) - 125.0).abs() < 1e-9);
    }

    #[test]
    fn an_idle_cloudlet_draws_its_idle_power_for_the_run_length() {
        let c = PowerCurve::new(DEFAULT_SERVER_POWER_W.to_vec());
        let idle = CpuWindows::default();
        // 1 h, 8 cores = one reference server; 16 cores = two.
        let hour = 3_600_000_000_000;
        let window = 240_000_000_000;
        assert!((idle.energy_j(&c, 8, 8, window, hour, &[]) - 41.6 * 3600.0).abs() < 1e-6);
        assert!((idle.energy_j(&c, 16, 8, window, hour, &[]) - 2.0 * 41.6 * 3600.0).abs() < 1e-6);
        // A run that is not a whole number of windows.
        assert!((idle.energy_j(&c, 8, 8, window, 1_000_000_000, &[]) - 41.6).abs() < 1e-9);
    }

    #[test]
    fn busy_time_is_split_over_the_windows_it_spans() {
        let mut w = CpuWindows::default();
        w.add(900, 300, 1_000);
        assert_eq!(w.busy_ns, vec![100, 200]);
        let c = PowerCurve::new(vec![100.0, 200.0]);
        // 2 windows of 1 µs on one core: u = 0.1 then 0.2.
        let j = w.energy_j(&c, 1, 1, 1_000, 2_000, &[]);
        assert!((j - (110.0 + 120.0) * 1e-6).abs() < 1e-12);
    }

    #[test]
    fn asleep_it_draws_the_sleep_power_and_its_work_loads_the_rest() {
        let c = PowerCurve::new(vec![100.0, 200.0]);
        let mut w = CpuWindows::default();
        // 100 ns of work in the first 1,000 ns window, asleep 500..1,500
        // at 10 W, then waking 1,500..1,600 at 300 W.
        w.add(0, 100, 1_000);
        let off = [
            OffCurve {
                start_ns: 500,
                end_ns: 1_500,
                watts: 10.0,
                waking: false,
            },
            OffCurve {
                start_ns: 1_500,
                end_ns: 1_600,
                watts: 300.0,
                waking: true,
            },
        ];
        let j = w.energy_j(&c, 1, 1, 1_000, 2_000, &off);
        // Window 1: 500 ns on at u = 100/500 (120 W), 500 ns asleep.
        // Window 2: 500 ns asleep, 100 ns waking, 400 ns idle.
        let expected =
            (120.0 * 500.0 + 10.0 * 500.0) + (10.0 * 500.0 + 300.0 * 100.0 + 100.0 * 400.0);
        assert!((j - expected * 1e-9).abs() < 1e-15, "{j}");
    }
}
