//! When each device sends its next request.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::world::{Arrivals, Workload};

/// One device's request clock: periodic with a random phase, or Poisson.
#[derive(Debug, Clone)]
pub struct RequestClock {
    arrivals: Arrivals,
    period_ns: f64,
    rng: ChaCha8Rng,
}

impl RequestClock {
    /// The clock of device `device` under `workload`, seeded from `seed`
    /// (each device draws from its own stream, so adding a device never
    /// changes another device's requests).
    pub fn new(workload: &Workload, seed: u64, device: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::from(device) + 1);
        Self {
            arrivals: workload.arrivals,
            period_ns: 1e9 / workload.rate_hz,
            rng,
        }
    }

    /// When the first request goes out.
    pub fn first_ns(&mut self) -> u64 {
        match self.arrivals {
            Arrivals::Periodic => (self.rng.random::<f64>() * self.period_ns) as u64,
            Arrivals::Poisson => self.gap_ns(),
        }
    }

    /// Time from one request to the next.
    pub fn gap_ns(&mut self) -> u64 {
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

    fn workload(arrivals: Arrivals) -> Workload {
        Workload {
            rate_hz: 10.0,
            arrivals,
            request_bytes: 100,
            response_bytes: 100,
            cpu_ns: 1_000,
        }
    }

    #[test]
    fn periodic_requests_are_evenly_spaced_after_a_random_phase() {
        let mut clock = RequestClock::new(&workload(Arrivals::Periodic), 7, 0);
        assert!(clock.first_ns() < 100_000_000);
        assert_eq!(clock.gap_ns(), 100_000_000);
    }

    #[test]
    fn poisson_gaps_average_the_period() {
        let mut clock = RequestClock::new(&workload(Arrivals::Poisson), 7, 3);
        let n = 20_000;
        let mean = (0..n).map(|_| clock.gap_ns() as f64).sum::<f64>() / f64::from(n);
        assert!((mean / 1e8 - 1.0).abs() < 0.03, "{mean}");
    }

    #[test]
    fn devices_draw_from_their_own_streams() {
        let w = workload(Arrivals::Poisson);
        let a: Vec<u64> = {
            let mut c = RequestClock::new(&w, 7, 0);
            (0..5).map(|_| c.gap_ns()).collect()
        };
        let b: Vec<u64> = {
            let mut c = RequestClock::new(&w, 7, 1);
            (0..5).map(|_| c.gap_ns()).collect()
        };
        let again: Vec<u64> = {
            let mut c = RequestClock::new(&w, 7, 0);
            (0..5).map(|_| c.gap_ns()).collect()
        };
        assert_ne!(a, b);
        assert_eq!(a, again);
    }
}
