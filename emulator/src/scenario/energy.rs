//! `[energy]`: from the section as written to a checked [`EnergyConfig`].

use super::schema::EnergySection;
use crate::energy::EnergyConfig;

/// The defaults with every key the section gives applied, checked; an
/// error names the key (`energy.<key>`) and the allowed range.
pub fn energy_config(section: &EnergySection) -> Result<EnergyConfig, String> {
    let mut c = EnergyConfig::default();
    let e = section;
    if let Some(w) = &e.server_power_w {
        c.server_power_w = w.clone();
    }
    if let Some(t) = e.server_threads {
        c.server_threads = t;
    }
    if let Some(s) = e.utilisation_window_s {
        if !(s.is_finite() && (0.001..=86_400.0).contains(&s)) {
            return Err(format!(
                "key `energy.utilisation_window_s`: must be in [0.001, 86400], got {s}"
            ));
        }
        c.utilisation_window_ns = (s * 1e9).round() as u64;
    }
    let set = |slot: &mut f64, value: Option<f64>| {
        if let Some(v) = value {
            *slot = v;
        }
    };
    let b = &mut c.per_bit_nj;
    set(&mut b.radio_access, e.radio_access_nj_per_bit);
    set(&mut b.aggregation, e.aggregation_nj_per_bit);
    set(&mut b.metro_core, e.metro_core_nj_per_bit);
    set(&mut b.data_centre, e.data_centre_nj_per_bit);
    let d = &mut c.device;
    set(&mut d.promotion_mw, e.device_promotion_mw);
    set(&mut d.promotion_ms, e.device_promotion_ms);
    set(&mut d.tail_mw, e.device_tail_mw);
    set(&mut d.tail_s, e.device_tail_s);
    set(&mut d.transfer_base_mw, e.device_transfer_base_mw);
    set(&mut d.uplink_mw_per_mbps, e.device_uplink_mw_per_mbps);
    set(&mut d.downlink_mw_per_mbps, e.device_downlink_mw_per_mbps);
    set(&mut c.migration.j_per_mib, e.migration_j_per_mib);
    set(&mut c.migration.fixed_j, e.migration_fixed_j);
    // `validate` and `sleep_config` name the key without its table.
    let in_table = |e: String| e.replacen("key `", "key `energy.", 1);
    c.validate().map_err(in_table)?;
    let sleep_keys = [
        ("sleep_after_s", e.sleep_after_s),
        ("sleep_power_w", e.sleep_power_w),
        ("wake_delay_s", e.wake_delay_s),
        ("wake_power_w", e.wake_power_w),
    ];
    if e.sleep_empty_cloudlets == Some(true) {
        c.sleep = Some(
            c.sleep_config(
                e.sleep_after_s,
                e.sleep_power_w,
                e.wake_delay_s,
                e.wake_power_w,
            )
            .map_err(in_table)?,
        );
    } else if let Some((key, _)) = sleep_keys.iter().find(|(_, v)| v.is_some()) {
        return Err(format!(
            "key `energy.{key}`: applies only to sleeping cloudlets; set `energy.sleep_empty_cloudlets = true` or remove it"
        ));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeping_is_off_unless_asked_and_its_keys_are_checked() {
        assert_eq!(
            energy_config(&EnergySection::default()).unwrap().sleep,
            None
        );
        let on = EnergySection {
            sleep_empty_cloudlets: Some(true),
            ..EnergySection::default()
        };
        let sleep = energy_config(&on).unwrap().sleep.unwrap();
        // 9 W asleep, 10 s at the curve's peak (113 W) to wake, asleep
        // after the break-even time (113 − 41.6) · 10 / (41.6 − 9) s.
        assert_eq!(sleep.sleep_w, 9.0);
        assert_eq!(sleep.wake_w, 113.0);
        assert_eq!(sleep.wake_ns, 10_000_000_000);
        let after_s = sleep.after_ns as f64 / 1e9;
        assert!((after_s - 71.4 * 10.0 / 32.6).abs() < 1e-6, "{after_s}");
        let too_much = EnergySection {
            sleep_power_w: Some(50.0),
            ..on.clone()
        };
        assert_eq!(
            energy_config(&too_much).unwrap_err(),
            "key `energy.sleep_power_w`: must be in [0, 41.6) (below the server's idle power, server_power_w[0]), got 50"
        );
        let slow = EnergySection {
            wake_delay_s: Some(-1.0),
            ..on
        };
        assert_eq!(
            energy_config(&slow).unwrap_err(),
            "key `energy.wake_delay_s`: must be in [0, 3600], got -1"
        );
        let stray = EnergySection {
            sleep_after_s: Some(60.0),
            ..EnergySection::default()
        };
        assert!(
            energy_config(&stray)
                .unwrap_err()
                .starts_with("key `energy.sleep_after_s`: applies only to sleeping cloudlets")
        );
    }
}
