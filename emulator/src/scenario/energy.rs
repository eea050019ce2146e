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
    // `validate` names the key without its table.
    c.validate()
        .map_err(|e| e.replacen("key `", "key `energy.", 1))?;
    Ok(c)
}
