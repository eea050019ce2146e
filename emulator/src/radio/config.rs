//! Every parameter of the radio model, the `lte` and `nr` presets they
//! default to (each value with its source), and their ranges.
//! `docs/radio.md` has the same table for users.

use super::efficiency::Efficiency;
use super::pathloss::{Environment, PathLossModel};

/// How a cell's time is shared among the devices active on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    /// Round robin: each active device gets the cell in turn, at the rate
    /// its own SINR allows.
    EqualShare,
    /// Proportional fair over Rayleigh fading: each active device still gets
    /// 1/n of the time, but is served when its channel is at its relative
    /// best among the n, which raises its SINR while served by the harmonic
    /// number H_n = 1 + 1/2 + … + 1/n (multi-user diversity; see
    /// `docs/radio.md`).
    ProportionalFair,
}

impl Scheduler {
    /// `equal-share` or `proportional-fair`.
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name {
            "equal-share" => Ok(Self::EqualShare),
            "proportional-fair" => Ok(Self::ProportionalFair),
            other => Err(format!(
                "{other:?} is not one of equal-share, proportional-fair"
            )),
        }
    }
}

/// The radio access technology a preset describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// LTE, FDD, 10 MHz at 2 GHz.
    Lte,
    /// 5G NR, TDD, 100 MHz at 3.5 GHz (band n78).
    Nr,
}

impl Preset {
    /// `lte` or `nr`.
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name {
            "lte" => Ok(Self::Lte),
            "nr" => Ok(Self::Nr),
            other => Err(format!("{other:?} is not one of lte, nr")),
        }
    }
}

/// One direction's radio resources and decoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirectionConfig {
    /// Share of the time the direction has the carrier (1 for FDD; the
    /// TDD pattern's share for TDD).
    pub time_fraction: f64,
    /// Share of the resources that carries no user data (control channels,
    /// reference signals).
    pub overhead: f64,
    /// SINR to spectral efficiency.
    pub efficiency: Efficiency,
    /// Base one-way access delay (scheduling request and grant, frame
    /// alignment, processing, HARQ), ns.
    pub access_ns: u64,
}

/// The whole radio model's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RadioConfig {
    /// The preset the values started from.
    pub preset: Preset,
    /// Path loss by distance.
    pub path_loss: PathLossModel,
    /// Transmission bandwidth (resource blocks × their width), Hz.
    pub bandwidth_hz: f64,
    /// Width of one resource block, Hz (the least an uplink transmission
    /// uses).
    pub resource_block_hz: f64,
    /// Base station transmit power over the whole bandwidth, dBm.
    pub bs_power_dbm: f64,
    /// UE transmit power, dBm.
    pub ue_power_dbm: f64,
    /// Base station antenna gain, dBi.
    pub bs_antenna_gain_dbi: f64,
    /// UE antenna gain, dBi.
    pub ue_antenna_gain_dbi: f64,
    /// Base station receiver noise figure, dB.
    pub bs_noise_figure_db: f64,
    /// UE receiver noise figure, dB.
    pub ue_noise_figure_db: f64,
    /// Fraction of the time neighbouring cells transmit (0 to 1): scales
    /// their downlink interference.
    pub downlink_load: f64,
    /// How many of the nearest other sites interfere in the downlink.
    pub interfering_cells: u32,
    /// Uplink interference as a rise over the thermal noise, dB.
    pub uplink_interference_margin_db: f64,
    /// Downlink resources and decoding.
    pub downlink: DirectionConfig,
    /// Uplink resources and decoding.
    pub uplink: DirectionConfig,
    /// How a cell's time is shared.
    pub scheduler: Scheduler,
}

/// Thermal noise density, dBm/Hz (kT at 290 K; TR 38.901 and every 3GPP
/// link budget use -174 dBm/Hz).
pub const THERMAL_NOISE_DBM_HZ: f64 = -174.0;

impl RadioConfig {
    /// The preset's values; each one's source is in `docs/radio.md`.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Lte => Self::lte(),
            Preset::Nr => Self::nr(),
        }
    }

    /// LTE, FDD, 10 MHz at 2 GHz, macro sites: the 3GPP TR 36.814 V9
    /// Table A.2.1.1-2 case (2 GHz, 10 MHz, eNB 46 dBm, 14 dBi, noise
    /// figures 5 dB eNB and 9 dB UE, proportional fair scheduling), TR
    /// 38.901 UMa heights (25 m, 1.5 m), TS 36.101 power class 3 UE (23
    /// dBm) and 50 resource blocks of 180 kHz in a 10 MHz channel (Table
    /// 5.6-1), TR 36.942 Annex A.2 efficiencies, overheads from the TS
    /// 36.211 frame (3-symbol PDCCH and 2-port CRS in the downlink, DM-RS
    /// in the uplink), the TR 25.913 §7.2.2 one-way user-plane target (5
    /// ms), full-buffer neighbours and a 2 dB uplink interference margin
    /// (C. Johnson, *LTE in Bullets*, 2nd ed., Table 343).
    pub fn lte() -> Self {
        Self {
            preset: Preset::Lte,
            path_loss: PathLossModel {
                environment: Environment::UrbanMacro,
                line_of_sight: false,
                carrier_ghz: 2.0,
                bs_height_m: 25.0,
                ue_height_m: 1.5,
            },
            bandwidth_hz: 9.0e6,
            resource_block_hz: 180e3,
            bs_power_dbm: 46.0,
            ue_power_dbm: 23.0,
            bs_antenna_gain_dbi: 14.0,
            ue_antenna_gain_dbi: 0.0,
            bs_noise_figure_db: 5.0,
            ue_noise_figure_db: 9.0,
            downlink_load: 1.0,
            interfering_cells: 6,
            uplink_interference_margin_db: 2.0,
            downlink: DirectionConfig {
                time_fraction: 1.0,
                // 168 resource elements per resource block pair: 36 in a
                // 3-symbol PDCCH, 12 CRS (2 ports) in the other 11 symbols.
                overhead: 48.0 / 168.0,
                efficiency: Efficiency {
                    alpha: 0.6,
                    sinr_min_db: -10.0,
                    max_bps_hz: 4.4,
                },
                access_ns: 5_000_000,
            },
            uplink: DirectionConfig {
                time_fraction: 1.0,
                // One DM-RS symbol per slot: 2 of 14 symbols.
                overhead: 2.0 / 14.0,
                efficiency: Efficiency {
                    alpha: 0.4,
                    sinr_min_db: -10.0,
                    max_bps_hz: 2.0,
                },
                access_ns: 5_000_000,
            },
            scheduler: Scheduler::ProportionalFair,
        }
    }

    /// 5G NR, TDD, 100 MHz at 3.5 GHz (band n78, 30 kHz subcarriers, 273
    /// resource blocks, TS 38.101-1 Table 5.3.2-1): ITU-R M.2412-0 dense
    /// urban eMBB values (gNB 44 dBm per 20 MHz, scaled to 100 MHz: 51
    /// dBm; noise figures 5 dB gNB, 7 dB UE; UE antenna 0 dBi), a gNB
    /// antenna of 8 dBi elements (TR 38.901 Table 7.3-1; ITU-R M.2412-0's
    /// dense urban-eMBB configuration A: element gain 8 dBi, up to 256 Tx/Rx
    /// elements per TRxP) with the 15 dB ideal gain of a 32-element panel
    /// (32 is this project's choice within M.2412's "up to 256", not a
    /// cited count), TS 38.101-1 power
    /// class 3 UE (23 dBm), the DDDSU pattern (S = 10:2:2 symbols) of TR
    /// 37.910, TS 38.306 §4.1.2 FR1 overheads (0.14 downlink, 0.08
    /// uplink), TR 36.942 α with the TS 38.214 CQI tables' highest
    /// efficiencies as caps (256QAM downlink, 64QAM uplink), and the TR
    /// 38.913 §7.5 eMBB user-plane latency (4 ms each way).
    pub fn nr() -> Self {
        Self {
            preset: Preset::Nr,
            path_loss: PathLossModel {
                environment: Environment::UrbanMacro,
                line_of_sight: false,
                carrier_ghz: 3.5,
                bs_height_m: 25.0,
                ue_height_m: 1.5,
            },
            bandwidth_hz: 273.0 * 360e3,
            resource_block_hz: 360e3,
            bs_power_dbm: 44.0 + 10.0 * 5f64.log10(),
            ue_power_dbm: 23.0,
            bs_antenna_gain_dbi: 8.0 + 10.0 * 32f64.log10(),
            ue_antenna_gain_dbi: 0.0,
            bs_noise_figure_db: 5.0,
            ue_noise_figure_db: 7.0,
            downlink_load: 1.0,
            interfering_cells: 6,
            uplink_interference_margin_db: 2.0,
            downlink: DirectionConfig {
                // DDDSU: 3 × 14 + 10 downlink symbols of 70.
                time_fraction: 52.0 / 70.0,
                overhead: 0.14,
                efficiency: Efficiency {
                    alpha: 0.6,
                    sinr_min_db: -10.0,
                    max_bps_hz: 7.4063,
                },
                access_ns: 4_000_000,
            },
            uplink: DirectionConfig {
                // DDDSU: the U slot (the S slot's 2 uplink symbols carry
                // control, not data).
                time_fraction: 14.0 / 70.0,
                overhead: 0.08,
                efficiency: Efficiency {
                    alpha: 0.4,
                    sinr_min_db: -10.0,
                    max_bps_hz: 5.5547,
                },
                access_ns: 4_000_000,
            },
            scheduler: Scheduler::ProportionalFair,
        }
    }

    /// Checks every value against its range; an error names the
    /// `[radio]` key (without the `radio.` prefix) and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        let pl = &self.path_loss;
        let env = pl.environment;
        let (lo, hi) = env.carrier_range_ghz();
        within("carrier_ghz", pl.carrier_ghz, lo, hi)?;
        let (lo, hi) = env.bs_height_range_m();
        within("bs_height_m", pl.bs_height_m, lo, hi)?;
        let (lo, hi) = env.ue_height_range_m();
        within("ue_height_m", pl.ue_height_m, lo, hi)?;
        if pl.ue_height_m >= pl.bs_height_m {
            return Err(format!(
                "key `ue_height_m`: {} m must be below the base station ({} m)",
                pl.ue_height_m, pl.bs_height_m
            ));
        }
        within("bandwidth_mhz", self.bandwidth_hz / 1e6, 0.18, 400.0)?;
        within(
            "resource_block_khz",
            self.resource_block_hz / 1e3,
            15.0,
            self.bandwidth_hz / 1e3,
        )?;
        within("bs_power_dbm", self.bs_power_dbm, -10.0, 80.0)?;
        within("ue_power_dbm", self.ue_power_dbm, -40.0, 40.0)?;
        within("bs_antenna_gain_dbi", self.bs_antenna_gain_dbi, -10.0, 40.0)?;
        within("ue_antenna_gain_dbi", self.ue_antenna_gain_dbi, -20.0, 30.0)?;
        within("bs_noise_figure_db", self.bs_noise_figure_db, 0.0, 20.0)?;
        within("ue_noise_figure_db", self.ue_noise_figure_db, 0.0, 20.0)?;
        within("downlink_load", self.downlink_load, 0.0, 1.0)?;
        if self.interfering_cells > 100 {
            return Err(format!(
                "key `interfering_cells`: must be in 0..=100, got {}",
                self.interfering_cells
            ));
        }
        within(
            "uplink_interference_margin_db",
            self.uplink_interference_margin_db,
            0.0,
            30.0,
        )?;
        for (name, d) in [("downlink", &self.downlink), ("uplink", &self.uplink)] {
            let key = |k: &str| format!("{name}_{k}");
            if !(d.time_fraction.is_finite() && d.time_fraction > 0.0 && d.time_fraction <= 1.0) {
                return Err(format!(
                    "key `{}`: must be in (0, 1], got {}",
                    key("fraction"),
                    d.time_fraction
                ));
            }
            if !(d.overhead.is_finite() && (0.0..1.0).contains(&d.overhead)) {
                return Err(format!(
                    "key `{}`: must be in [0, 1), got {}",
                    key("overhead"),
                    d.overhead
                ));
            }
            let e = &d.efficiency;
            if !(e.alpha.is_finite() && e.alpha > 0.0 && e.alpha <= 1.0) {
                return Err(format!(
                    "key `{}`: must be in (0, 1], got {}",
                    key("alpha"),
                    e.alpha
                ));
            }
            within(&key("sinr_min_db"), e.sinr_min_db, -20.0, 20.0)?;
            if !(e.max_bps_hz.is_finite() && e.max_bps_hz > 0.0 && e.max_bps_hz <= 30.0) {
                return Err(format!(
                    "key `{}`: must be in (0, 30], got {}",
                    key("max_bps_hz"),
                    e.max_bps_hz
                ));
            }
            within(&key("access_ms"), d.access_ns as f64 / 1e6, 0.0, 1_000.0)?;
        }
        Ok(())
    }
}

fn within(key: &str, value: f64, lo: f64, hi: f64) -> Result<(), String> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(format!("key `{key}`: must be in [{lo}, {hi}], got {value}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_presets_are_valid() {
        RadioConfig::lte().validate().expect("lte");
        RadioConfig::nr().validate().expect("nr");
    }

    #[test]
    fn an_error_names_the_key_and_the_range() {
        let mut c = RadioConfig::nr();
        c.downlink_load = 1.5;
        let e = c.validate().expect_err("load above 1");
        assert!(e.contains("`downlink_load`") && e.contains("[0, 1]"), "{e}");
        let mut c = RadioConfig::lte();
        c.path_loss.carrier_ghz = 0.1;
        assert!(c.validate().expect_err("carrier").contains("carrier_ghz"));
        let mut c = RadioConfig::lte();
        c.uplink.efficiency.alpha = 0.0;
        assert!(c.validate().expect_err("alpha").contains("uplink_alpha"));
    }
}
