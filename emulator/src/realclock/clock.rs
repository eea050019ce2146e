//! Scenario time on the wall clock: scenario time = wall time since the
//! start × speed.

use std::time::{Duration, Instant};

/// Maps scenario time onto the wall clock and back.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioClock {
    epoch: Instant,
    speed: f64,
}

impl ScenarioClock {
    /// A clock whose scenario time 0 is now, running `speed` scenario
    /// seconds per wall second (`speed` must be finite and > 0).
    pub fn start(speed: f64) -> Self {
        Self {
            epoch: Instant::now(),
            speed,
        }
    }

    /// Scenario seconds per wall second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Scenario time now.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed().mul_f64(self.speed)
    }

    /// Scenario time now, in nanoseconds.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.now().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The wall-clock instant of scenario time `scenario_ns`.
    pub fn wall_at(&self, scenario_ns: u64) -> Instant {
        self.epoch + Duration::from_nanos(scenario_ns).div_f64(self.speed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_time_runs_speed_times_faster() {
        let clock = ScenarioClock::start(10.0);
        let at = clock.wall_at(5_000_000_000);
        let wall = at - clock.epoch;
        assert_eq!(wall, Duration::from_millis(500));
        assert!(clock.now() < Duration::from_secs(1));
    }
}
