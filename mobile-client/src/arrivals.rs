//! When a device sends its requests: evenly spaced with a random phase, or
//! a Poisson process, drawn from a seed and a per-device stream.
//!
//! One clock for every device of the project: the emulator's scenario
//! devices (on both clocks) and the [`fleet`](crate::fleet) driving a
//! running emulator use it, so a fleet device and a scenario device with
//! the same seed and index send at the same times.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How requests are spaced in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrivals {
    /// Evenly spaced at `1 / rate`, each device with its own random phase
    /// in the first period.
    Periodic,
    /// Exponential gaps: a Poisson process of the given rate per device.
    Poisson,
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

/// One device's request clock: when its first request leaves and the gap
/// to each next one, in nanoseconds from the device's start.
#[derive(Debug, Clone)]
pub struct RequestClock {
    arrivals: Arrivals,
    period_ns: f64,
    /// Boxed: a periodic clock reads it once, and the engine keeps a
    /// thousand clocks side by side, each read at every request.
    rng: Box<ChaCha8Rng>,
}

impl RequestClock {
    /// The clock of device `device` sending `rate_hz` requests per second,
    /// drawn from `seed`. Each device draws from its own stream, so adding
    /// a device never changes another device's requests. A rate that is not
    /// a number above zero sends nothing: the first request is due at
    /// `u64::MAX` ns (callers validate rates where users give them).
    pub fn new(arrivals: Arrivals, rate_hz: f64, seed: u64, device: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::from(device) + 1);
        let period_ns = if rate_hz.is_finite() && rate_hz > 0.0 {
            1e9 / rate_hz
        } else {
            f64::INFINITY
        };
        Self {
            arrivals,
            period_ns,
            rng: Box::new(rng),
        }
    }

    /// Starts loading this clock's random stream, which the next draw reads
    /// ([`crate::prefetch`]: for a caller that knows which clock comes next).
    #[inline]
    pub fn prefetch(&self) {
        crate::prefetch::prefetch(&*self.rng, usize::MAX);
    }

    /// When the first request goes out.
    pub fn first_ns(&mut self) -> u64 {
        if self.period_ns.is_infinite() {
            return u64::MAX;
        }
        match self.arrivals {
            Arrivals::Periodic => (self.rng.random::<f64>() * self.period_ns) as u64,
            Arrivals::Poisson => self.gap_ns(),
        }
    }

    /// Time from one request to the next (at least 1 ns).
    pub fn gap_ns(&mut self) -> u64 {
        if self.period_ns.is_infinite() {
            return u64::MAX;
        }
        match self.arrivals {
            Arrivals::Periodic => self.period_ns as u64,
            Arrivals::Poisson => {
                // Inverse transform; 1 - u is in (0, 1], so the log is finite.
                let u: f64 = self.rng.random();
                (-(1.0 - u).ln() * self.period_ns) as u64
            }
        }
        .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_requests_are_evenly_spaced_after_a_random_phase() {
        let mut clock = RequestClock::new(Arrivals::Periodic, 10.0, 7, 0);
        assert!(clock.first_ns() < 100_000_000);
        assert_eq!(clock.gap_ns(), 100_000_000);
        assert_eq!(clock.gap_ns(), 100_000_000);
    }

    #[test]
    fn poisson_gaps_average_the_period() {
        let mut clock = RequestClock::new(Arrivals::Poisson, 10.0, 7, 3);
        let n = 20_000;
        let mean = (0..n).map(|_| clock.gap_ns() as f64).sum::<f64>() / f64::from(n);
        assert!((mean / 1e8 - 1.0).abs() < 0.03, "{mean}");
    }

    #[test]
    fn devices_draw_from_their_own_streams_and_repeat_for_a_seed() {
        let gaps = |seed, device| {
            let mut c = RequestClock::new(Arrivals::Poisson, 10.0, seed, device);
            (0..5).map(|_| c.gap_ns()).collect::<Vec<u64>>()
        };
        assert_ne!(gaps(7, 0), gaps(7, 1));
        assert_ne!(gaps(7, 0), gaps(8, 0));
        assert_eq!(gaps(7, 0), gaps(7, 0));
    }

    #[test]
    fn a_rate_that_is_not_above_zero_sends_nothing() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            for arrivals in [Arrivals::Periodic, Arrivals::Poisson] {
                let mut clock = RequestClock::new(arrivals, rate, 1, 0);
                assert_eq!(clock.first_ns(), u64::MAX, "{arrivals:?} at {rate}");
                assert_eq!(clock.gap_ns(), u64::MAX, "{arrivals:?} at {rate}");
            }
        }
    }

    #[test]
    fn arrivals_are_named() {
        assert_eq!(Arrivals::from_name("poisson"), Ok(Arrivals::Poisson));
        assert_eq!(Arrivals::from_name("periodic"), Ok(Arrivals::Periodic));
        assert!(
            Arrivals::from_name("bursty")
                .unwrap_err()
                .contains("bursty")
        );
    }
}
