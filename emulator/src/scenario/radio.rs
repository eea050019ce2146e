//! `[radio]`: from the section as written to a checked [`RadioConfig`].

use super::schema::RadioSection;
use crate::radio::config::{Preset, RadioConfig, Scheduler};
use crate::radio::pathloss::Environment;

/// The preset's values with every key the section gives applied, checked;
/// an error names the key (`radio.<key>`) and what is allowed.
pub fn radio_config(section: &RadioSection) -> Result<RadioConfig, String> {
    let named = |key: &str, e: String| format!("key `radio.{key}`: {e}");
    let preset = Preset::from_name(&section.preset).map_err(|e| named("preset", e))?;
    let mut c = RadioConfig::preset(preset);
    let r = section;
    if let Some(env) = &r.environment {
        let env = Environment::from_name(env).map_err(|e| named("environment", e))?;
        c.path_loss.environment = env;
        // The scenario's own BS height, unless the section gives one.
        c.path_loss.bs_height_m = env.default_bs_height_m();
    }
    let set = |slot: &mut f64, value: Option<f64>, scale: f64| {
        if let Some(v) = value {
            *slot = v * scale;
        }
    };
    if let Some(los) = r.line_of_sight {
        c.path_loss.line_of_sight = los;
    }
    set(&mut c.path_loss.carrier_ghz, r.carrier_ghz, 1.0);
    set(&mut c.path_loss.bs_height_m, r.bs_height_m, 1.0);
    set(&mut c.path_loss.ue_height_m, r.ue_height_m, 1.0);
    set(&mut c.bandwidth_hz, r.bandwidth_mhz, 1e6);
    set(&mut c.resource_block_hz, r.resource_block_khz, 1e3);
    set(&mut c.bs_power_dbm, r.bs_power_dbm, 1.0);
    set(&mut c.ue_power_dbm, r.ue_power_dbm, 1.0);
    set(&mut c.bs_antenna_gain_dbi, r.bs_antenna_gain_dbi, 1.0);
    set(&mut c.ue_antenna_gain_dbi, r.ue_antenna_gain_dbi, 1.0);
    set(&mut c.bs_noise_figure_db, r.bs_noise_figure_db, 1.0);
    set(&mut c.ue_noise_figure_db, r.ue_noise_figure_db, 1.0);
    set(&mut c.downlink_load, r.downlink_load, 1.0);
    if let Some(n) = r.interfering_cells {
        c.interfering_cells = n;
    }
    set(
        &mut c.uplink_interference_margin_db,
        r.uplink_interference_margin_db,
        1.0,
    );
    let directions = [
        (
            "downlink",
            &mut c.downlink,
            [
                r.downlink_fraction,
                r.downlink_overhead,
                r.downlink_alpha,
                r.downlink_sinr_min_db,
                r.downlink_max_bps_hz,
            ],
            r.downlink_access_ms,
        ),
        (
            "uplink",
            &mut c.uplink,
            [
                r.uplink_fraction,
                r.uplink_overhead,
                r.uplink_alpha,
                r.uplink_sinr_min_db,
                r.uplink_max_bps_hz,
            ],
            r.uplink_access_ms,
        ),
    ];
    for (name, d, [fraction, overhead, alpha, sinr_min, max], access) in directions {
        set(&mut d.time_fraction, fraction, 1.0);
        set(&mut d.overhead, overhead, 1.0);
        set(&mut d.efficiency.alpha, alpha, 1.0);
        set(&mut d.efficiency.sinr_min_db, sinr_min, 1.0);
        set(&mut d.efficiency.max_bps_hz, max, 1.0);
        if let Some(ms) = access {
            if !(ms.is_finite() && (0.0..=1_000.0).contains(&ms)) {
                return Err(named(
                    &format!("{name}_access_ms"),
                    format!("must be in [0, 1000], got {ms}"),
                ));
            }
            d.access_ns = (ms * 1e6).round() as u64;
        }
    }
    if let Some(s) = &r.scheduler {
        c.scheduler = Scheduler::from_name(s).map_err(|e| named("scheduler", e))?;
    }
    // `validate` names the key without its table.
    c.validate()
        .map_err(|e| e.replacen("key `", "key `radio.", 1))?;
    Ok(c)
}
