//! When a device sends its requests: a seeded Poisson process or evenly
//! spaced arrivals with a random phase, as offsets from the device's start.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How requests are spaced in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrivals {
    /// Exponential gaps: a Poisson process of the given rate.
    Poisson,
    /// Evenly spaced at `1 / rate`, starting at a random phase in the first period.
    Periodic,
}

impl Arrivals {
    /// The arrivals named `name` (`poisson` or `periodic`).
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name {
            "poisson" => Ok(Self::Poisson),
            "periodic" => Ok(Self::Periodic),
            other => Err(format!(
                "unknown arrivals {other:?}; expected poisson or periodic"
            )),
        }
    }
}

/// The send times of one device, in seconds from its start, in order.
///
/// Identical for identical `(arrivals, rate_hz, seed)`; an iterator that
/// never ends (the caller stops at its duration).
#[derive(Debug, Clone)]
pub struct ArrivalTimes {
    arrivals: Arrivals,
    period_s: f64,
    next_s: f64,
    rng: ChaCha8Rng,
}

impl ArrivalTimes {
    /// Arrivals at `rate_hz` requests per second (finite, > 0) drawn from `seed`.
    pub fn new(arrivals: Arrivals, rate_hz: f64, seed: u64) -> Result<Self, String> {
        if !(rate_hz.is_finite() && rate_hz > 0.0) {
            return Err(format!(
                "request rate {rate_hz} per second must be a number > 0"
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let period_s = 1.0 / rate_hz;
        let next_s = match arrivals {
            Arrivals::Periodic => rng.random_range(0.0..period_s),
            Arrivals::Poisson => exponential_s(&mut rng, period_s),
        };
        Ok(Self {
            arrivals,
            period_s,
            next_s,
            rng,
        })
    }
}

impl Iterator for ArrivalTimes {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        let now = self.next_s;
        self.next_s += match self.arrivals {
            Arrivals::Periodic => self.period_s,
            Arrivals::Poisson => exponential_s(&mut self.rng, self.period_s),
        };
        Some(now)
    }
}

/// An exponential gap of mean `mean_s` (inverse transform of a uniform draw in (0, 1]).
fn exponential_s(rng: &mut ChaCha8Rng, mean_s: f64) -> f64 {
    let u: f64 = 1.0 - rng.random_range(0.0..1.0f64);
    -mean_s * u.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_arrivals_are_one_period_apart_after_a_phase_in_the_first_period() {
        let times: Vec<f64> = ArrivalTimes::new(Arrivals::Periodic, 4.0, 7)
            .unwrap()
            .take(5)
            .collect();
        assert!((0.0..0.25).contains(&times[0]), "{times:?}");
        for pair in times.windows(2) {
            assert!((pair[1] - pair[0] - 0.25).abs() < 1e-12, "{times:?}");
        }
    }

    #[test]
    fn poisson_arrivals_have_the_rate_on_average_and_repeat_for_a_seed() {
        let times: Vec<f64> = ArrivalTimes::new(Arrivals::Poisson, 10.0, 3)
            .unwrap()
            .take(20_000)
            .collect();
        let mean_gap = times[times.len() - 1] / times.len() as f64;
        assert!((mean_gap - 0.1).abs() < 0.005, "mean gap {mean_gap}");
        assert!(times.windows(2).all(|p| p[1] >= p[0]));
        let again: Vec<f64> = ArrivalTimes::new(Arrivals::Poisson, 10.0, 3)
            .unwrap()
            .take(20_000)
            .collect();
        assert_eq!(times, again);
        let other: Vec<f64> = ArrivalTimes::new(Arrivals::Poisson, 10.0, 4)
            .unwrap()
            .take(10)
            .collect();
        assert_ne!(times[..10], other[..]);
    }

    #[test]
    fn a_rate_that_is_not_positive_is_refused() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(ArrivalTimes::new(Arrivals::Poisson, rate, 1).is_err());
        }
        assert!(
            Arrivals::from_name("bursty")
                .unwrap_err()
                .contains("bursty")
        );
    }
}
