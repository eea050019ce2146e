//! Scenario time on the wall clock: scenario time = wall time since the
//! start × speed.
//!
//! The speed has a range ([`MIN_SPEED`]..=[`MAX_SPEED`]) and a scenario's
//! mobility step must last at least [`MIN_WALL_STEP`] of wall time at it
//! ([`check_speed`]): faster, the tick loop could never keep up and
//! would only spin, and the clock's arithmetic would overflow.

use std::time::{Duration, Instant};

/// Slowest speed: one scenario second per 1,000 wall seconds.
pub const MIN_SPEED: f64 = 1e-3;

/// Fastest speed: 1,000 scenario seconds per wall second.
pub const MAX_SPEED: f64 = 1e3;

/// Shortest wall time a mobility step may take: 1 ms, the granularity
/// Tokio's timers work at ("Sleep operates at millisecond granularity",
/// `tokio::time::sleep` documentation). With the default 1 s step, this
/// allows [`MAX_SPEED`].
pub const MIN_WALL_STEP: Duration = Duration::from_millis(1);

/// Checks a speed (`field` names where it came from, for the message) against
/// [`MIN_SPEED`]..=[`MAX_SPEED`] and against a mobility step of
/// `mobility_step_ns` scenario nanoseconds, which must last at least
/// [`MIN_WALL_STEP`] of wall time.
pub fn check_speed(field: &str, speed: f64, mobility_step_ns: u64) -> Result<(), String> {
    if !(speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&speed)) {
        return Err(format!(
            "{field} {speed} is out of range: it must be a number from {MIN_SPEED} to {MAX_SPEED} \
             (scenario seconds per wall-clock second)"
        ));
    }
    let wall_step_ns = mobility_step_ns as f64 / speed;
    if wall_step_ns < MIN_WALL_STEP.as_nanos() as f64 {
        return Err(format!(
            "{field} {speed} is too fast for the scenario's mobility_step_s {} s: a step would last \
             {:.3} ms of wall time, and it must last at least {} ms (use a speed of at most {})",
            mobility_step_ns as f64 / 1e9,
            wall_step_ns / 1e6,
            MIN_WALL_STEP.as_millis(),
            mobility_step_ns as f64 / MIN_WALL_STEP.as_nanos() as f64
        ));
    }
    Ok(())
}

/// Maps scenario time onto the wall clock and back.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioClock {
    epoch: Instant,
    speed: f64,
}

impl ScenarioClock {
    /// A clock whose scenario time 0 is now, running `speed` scenario
    /// seconds per wall second (`speed` must pass [`check_speed`]).
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
        Duration::try_from_secs_f64(self.speed * self.epoch.elapsed().as_secs_f64())
            .unwrap_or(Duration::MAX)
    }

    /// Scenario time now, in nanoseconds.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.now().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The wall-clock instant of scenario time `scenario_ns`.
    /// An instant past what the platform can represent is taken as a
    /// century from the start (never reached).
    pub fn wall_at(&self, scenario_ns: u64) -> Instant {
        const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
        let wall = Duration::try_from_secs_f64(
            Duration::from_nanos(scenario_ns).as_secs_f64() / self.speed,
        )
        .map_or(CENTURY, |d| d.min(CENTURY));
        self.epoch
            .checked_add(wall)
            .unwrap_or_else(|| self.epoch + Duration::from_secs(86_400))
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

    #[test]
    fn speeds_out_of_range_or_too_fast_for_the_step_are_refused_naming_the_range() {
        let second = 1_000_000_000;
        assert!(check_speed("speed", 1.0, second).is_ok());
        assert!(check_speed("speed", MAX_SPEED, second).is_ok());
        assert!(check_speed("speed", MIN_SPEED, second).is_ok());
        for bad in [1e12, 1e308, 0.0, -1.0, 1e-9, f64::NAN, f64::INFINITY] {
            let message = check_speed("speed", bad, second).unwrap_err();
            assert!(
                message.contains("speed") && message.contains("0.001 to 1000"),
                "{message}"
            );
        }
        // 100 ms steps at speed 1000 would be 0.1 ms of wall time each.
        let message = check_speed("--speed", 1000.0, second / 10).unwrap_err();
        assert!(
            message.contains("mobility_step_s 0.1") && message.contains("at most 100"),
            "{message}"
        );
    }
}
