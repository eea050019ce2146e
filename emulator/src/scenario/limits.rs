//! The ranges of the scenario's numbers that size a run: how long it lasts,
//! how fine its steps are, how many devices it has and how many requests
//! they send. Each is checked before anything is allocated or generated
//! from it, and a refusal names the key, the value and the range.
//!
//! These are not defaults (no scenario is changed by them) but bounds on
//! what one run on one machine may ask for, chosen so that the largest
//! accepted run still fits in memory and finishes, and so that every shipped
//! scenario lies well inside them (the largest, `bench-1k.toml`: 1,000
//! devices, 3,600 steps, about 3.6 million requests).

/// Longest `duration_s`: one year (365 days) of scenario time. Scenario
/// times are nanoseconds in a `u64`, which would overflow after 584 years.
pub const MAX_DURATION_S: f64 = 365.0 * 86_400.0;

/// Shortest `mobility_step_s`: 1 ms. The real clock cannot wait for less
/// (Tokio's timers work at millisecond granularity, see
/// [`crate::realclock::clock::MIN_WALL_STEP`]).
pub const MIN_MOBILITY_STEP_S: f64 = 1e-3;

/// Most mobility steps in a run (`duration_s / mobility_step_s`): 100
/// million, which is a 1 ms step for a little over a day, or a 1 s step for
/// three years.
pub const MAX_MOBILITY_STEPS: f64 = 1e8;

/// Most device positions updated in a run (devices × mobility steps): 10
/// billion, tens of minutes of ticks on one core at the engine's ~100 ns
/// per device update.
pub const MAX_DEVICE_STEPS: f64 = 1e10;

/// Most devices in a scenario, all groups together: 100,000. Each holds
/// its trace, its VM and its queues in memory for the whole run.
pub const MAX_DEVICES: usize = 100_000;

/// Highest `rate_hz` of a profile: 1,000 requests per second per device
/// (one per millisecond, the real clock's timer granularity).
pub const MAX_RATE_HZ: f64 = 1_000.0;

/// Most requests a run may be expected to send (the sum over devices of
/// `rate_hz × duration_s`): one billion, about 100 GB of `requests.csv` at
/// its ~100 bytes a row.
pub const MAX_REQUESTS: f64 = 1e9;

/// Checks `duration_s` and `mobility_step_s` (and the steps they make).
pub fn check_time(duration_s: f64, mobility_step_s: f64) -> Result<(), String> {
    if !(duration_s > 0.0 && duration_s <= MAX_DURATION_S) {
        return Err(format!(
            "key `duration_s`: {duration_s} is out of range; it must be > 0 and at most \
             {MAX_DURATION_S} (one year)"
        ));
    }
    if !(MIN_MOBILITY_STEP_S..=duration_s).contains(&mobility_step_s) {
        return Err(format!(
            "key `mobility_step_s`: {mobility_step_s} is out of range; it must be from \
             {MIN_MOBILITY_STEP_S} to duration_s ({duration_s})"
        ));
    }
    let steps = duration_s / mobility_step_s;
    if steps > MAX_MOBILITY_STEPS {
        return Err(format!(
            "keys `duration_s` and `mobility_step_s`: {duration_s} s in steps of \
             {mobility_step_s} s make {steps:.3e} steps; at most {MAX_MOBILITY_STEPS:.0e} are \
             accepted (a longer step or a shorter run)"
        ));
    }
    Ok(())
}

/// Checks that `more` devices of group `key` can be added to `so_far`
/// devices, before they are made.
pub fn check_devices(key: &str, so_far: usize, more: u64) -> Result<(), String> {
    let total = (so_far as u64).saturating_add(more);
    if total > MAX_DEVICES as u64 {
        return Err(format!(
            "key `{key}.count`: the scenario would have {total} devices; at most {MAX_DEVICES} \
             are accepted (all groups together)"
        ));
    }
    Ok(())
}

/// Checks a profile's `rate_hz` (`key` names it).
pub fn check_rate(key: &str, rate_hz: f64) -> Result<(), String> {
    if !(rate_hz > 0.0 && rate_hz <= MAX_RATE_HZ) {
        return Err(format!(
            "key `{key}`: {rate_hz} is out of range; it must be > 0 and at most {MAX_RATE_HZ} \
             requests per second"
        ));
    }
    Ok(())
}

/// Checks what the whole run would do: `devices` devices (each at the rate
/// of its profile, `rates_hz`) for `duration_s` in `steps` steps.
pub fn check_run(duration_s: f64, steps: f64, rates_hz: &[f64]) -> Result<(), String> {
    let device_steps = rates_hz.len() as f64 * steps;
    if device_steps > MAX_DEVICE_STEPS {
        return Err(format!(
            "keys `devices` and `mobility_step_s`: {} devices over {steps:.0} steps make \
             {device_steps:.3e} position updates; at most {MAX_DEVICE_STEPS:.0e} are accepted",
            rates_hz.len()
        ));
    }
    let requests: f64 = rates_hz.iter().map(|r| r * duration_s).sum();
    if requests > MAX_REQUESTS {
        return Err(format!(
            "keys `duration_s` and `rate_hz`: the devices would send about {requests:.3e} \
             requests; at most {MAX_REQUESTS:.0e} are accepted (about 100 GB of requests.csv)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_out_of_range_are_refused_naming_key_and_range() {
        assert!(check_time(3600.0, 1.0).is_ok());
        let e = check_time(1e300, 1.0).unwrap_err();
        assert!(e.contains("`duration_s`") && e.contains("one year"), "{e}");
        let e = check_time(3600.0, 1e-12).unwrap_err();
        assert!(
            e.contains("`mobility_step_s`") && e.contains("from 0.001"),
            "{e}"
        );
        let e = check_time(MAX_DURATION_S, 0.001).unwrap_err();
        assert!(e.contains("at most 1e8"), "{e}");
        assert!(check_time(f64::NAN, 1.0).is_err());
        assert!(check_time(10.0, f64::NAN).is_err());
    }

    #[test]
    fn devices_rates_and_requests_are_bounded() {
        assert!(check_devices("devices[0]", 0, 1000).is_ok());
        let e = check_devices("devices[2]", 10, 1_000_000_000).unwrap_err();
        assert!(
            e.contains("devices[2].count") && e.contains("100000"),
            "{e}"
        );
        assert!(check_rate("workload.rate_hz", 5.0).is_ok());
        let e = check_rate("workload.rate_hz", 1e9).unwrap_err();
        assert!(e.contains("workload.rate_hz") && e.contains("1000"), "{e}");
        assert!(check_run(3600.0, 3600.0, &[1.0; 1000]).is_ok());
        let e = check_run(1e7, 1e7, &[100.0; 2000]).unwrap_err();
        assert!(e.contains("position updates"), "{e}");
        let e = check_run(3e7, 3e4, &[1000.0; 100]).unwrap_err();
        assert!(e.contains("requests"), "{e}");
    }
}
