//! The energy model's parameters, their defaults (each sourced in
//! `docs/energy.md`) and their checks.

use super::server::PowerCurve;
pub use super::sleep::SleepConfig;

/// Watts of the reference server at 0 %, 10 %, ..., 100 % CPU utilisation:
/// the SPECpower_ssj2008 result of an IBM System x3250 M3 (one Xeon X3470,
/// 4 cores, 8 hardware threads; result power_ssj2008-20091104-00213, the
/// curve CloudSim ships as `PowerModelSpecPowerIbmX3250XeonX3470`).
pub const DEFAULT_SERVER_POWER_W: [f64; 11] = [
    41.6, 46.7, 52.3, 57.9, 65.4, 73.0, 80.7, 89.5, 99.6, 105.0, 113.0,
];
/// Hardware threads of that server: 8, the vCPUs of the default cloudlet.
pub const DEFAULT_SERVER_THREADS: u32 = 8;
/// Utilisation is averaged over windows of this length before the curve is
/// read: 240 s, the length of each load level SPECpower_ssj2008 measures.
pub const DEFAULT_UTILISATION_WINDOW_S: f64 = 240.0;

/// The radio access network's energy per bit: 0.12 kWh per GB carried in
/// Finland's mobile networks in 2021 (Traficom's pilot study, 2022), of
/// which the radio networks' share (60 % of all networks' energy against
/// 10 % for the mobile half of the other sections) is 6/7: 46,286 nJ/bit
/// (46.3 µJ/bit).
pub const DEFAULT_RADIO_ACCESS_NJ_PER_BIT: f64 = 0.12 * 3.6e6 / 8e9 * 1e9 * 6.0 / 7.0;
/// One backbone hop's energy per bit: an IP router (2 W per Gbit/s) and a
/// transceiver at each end (0.09 W per Gbit/s each), the current figures
/// of arXiv:2504.14022's appendix against Van Heddeghem et al.'s 2012
/// reference values.
pub const DEFAULT_HOP_NJ_PER_BIT: f64 = 2.0 + 2.0 * 0.09;
/// The data centre's switching hop per bit: a top-of-rack switch whose
/// typical power is under 7 W per 100GbE port (Arista's 7050X3 series
/// datasheet, the 7050CX3-32S), over its full capacity as the hop figures
/// are: each port receives and sends up to 100 Gbit/s and every bit
/// crosses two ports, so the switch forwards at most ports × 100 Gbit/s for
/// ports × 7 W: 7 W / 100 Gbit/s = 0.07 nJ/bit (an upper bound, "under
/// 7 W"; in-rack copper cables draw no optics power).
pub const DEFAULT_DATA_CENTRE_NJ_PER_BIT: f64 = 7.0 / 100.0;

/// Power of one reference server asleep (ACPI S3, suspend to RAM): 9 W,
/// what Goiri et al. (GreenHadoop, EuroSys 2012) give for a 4-core Xeon
/// server with 8 GB in S3, a server of the reference one's class.
pub const DEFAULT_SLEEP_POWER_W: f64 = 9.0;
/// How long a sleeping server takes to wake: 10 s, the wake-up time of the
/// shallow sleep state of Isci et al.'s low-latency server power states
/// for virtualised servers (ISCA 2013).
pub const DEFAULT_WAKE_DELAY_S: f64 = 10.0;

/// The highest a power figure may be, in watts (a whole rack row).
const MAX_WATTS: f64 = 1e6;
/// The highest a per-bit figure may be, in nJ/bit.
const MAX_NJ_PER_BIT: f64 = 1e6;

/// Network energy per bit, by link class, in nJ/bit (W/Gbit/s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerBit {
    /// The radio hop between a device and its cell site (the base station's
    /// share), per bit in either direction.
    pub radio_access: f64,
    /// Each hop of a link touching a cell site (backhaul to aggregation).
    pub aggregation: f64,
    /// Each hop of any other backbone link (metro and core).
    pub metro_core: f64,
    /// Inside a cloudlet's (or the cloud's) data centre, once per bit at
    /// each host end of a transfer.
    pub data_centre: f64,
}

/// The device radio's power model (LTE, Huang et al., MobiSys 2012).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceRadio {
    /// Power while promoting from RRC_IDLE to RRC_CONNECTED, mW.
    pub promotion_mw: f64,
    /// How long the promotion lasts, ms.
    pub promotion_ms: f64,
    /// Power while connected without data (the tail, DRX), mW.
    pub tail_mw: f64,
    /// How long the radio stays connected after its last activity, s.
    pub tail_s: f64,
    /// Power while transferring, above nothing: `β`, mW.
    pub transfer_base_mw: f64,
    /// Uplink power per Mbit/s of throughput: `α_u`, mW/(Mbit/s).
    pub uplink_mw_per_mbps: f64,
    /// Downlink power per Mbit/s of throughput: `α_d`, mW/(Mbit/s).
    pub downlink_mw_per_mbps: f64,
}

/// Host energy of a migration's copy (Liu et al., HPDC 2011):
/// `E = per_mib · MiB moved + fixed`, both hosts together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MigrationCpu {
    /// Joules per MiB moved.
    pub j_per_mib: f64,
    /// Joules per migration.
    pub fixed_j: f64,
}

/// Every parameter of the energy model.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyConfig {
    /// Watts of one reference server at evenly spaced utilisations from 0 %
    /// to 100 % (two points: linear between idle and peak).
    pub server_power_w: Vec<f64>,
    /// Hardware threads of the reference server: a cloudlet of `n` cores
    /// draws `n / server_threads` times its curve.
    pub server_threads: u32,
    /// Window over which utilisation is averaged, in nanoseconds.
    pub utilisation_window_ns: u64,
    /// Network energy per bit.
    pub per_bit_nj: PerBit,
    /// The device radio.
    pub device: DeviceRadio,
    /// Migration copy CPU.
    pub migration: MigrationCpu,
    /// Sleeping empty cloudlets (`None`: they never sleep, the default).
    pub sleep: Option<SleepConfig>,
}

impl Default for EnergyConfig {
    fn default() -> Self {
        Self {
            server_power_w: DEFAULT_SERVER_POWER_W.to_vec(),
            server_threads: DEFAULT_SERVER_THREADS,
            utilisation_window_ns: (DEFAULT_UTILISATION_WINDOW_S * 1e9) as u64,
            per_bit_nj: PerBit {
                radio_access: DEFAULT_RADIO_ACCESS_NJ_PER_BIT,
                aggregation: DEFAULT_HOP_NJ_PER_BIT,
                metro_core: DEFAULT_HOP_NJ_PER_BIT,
                data_centre: DEFAULT_DATA_CENTRE_NJ_PER_BIT,
            },
            device: DeviceRadio {
                promotion_mw: 1210.7,
                promotion_ms: 260.1,
                tail_mw: 1060.0,
                tail_s: 11.576,
                transfer_base_mw: 1288.04,
                uplink_mw_per_mbps: 438.39,
                downlink_mw_per_mbps: 51.97,
            },
            migration: MigrationCpu {
                j_per_mib: 0.512,
                fixed_j: 20.165,
            },
            sleep: None,
        }
    }
}

/// Checks `value` of key `key` lies in `[low, high]`.
fn in_range(key: &str, value: f64, low: f64, high: f64) -> Result<(), String> {
    if value.is_finite() && (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "key `{key}`: must be in [{low}, {high}], got {value}"
        ))
    }
}

impl EnergyConfig {
    /// Checks every value; an error names the key (as `[energy]` spells
    /// it, without the table) and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.server_power_w.len();
        if !(2..=101).contains(&n) {
            return Err(format!(
                "key `server_power_w`: needs 2 to 101 values (watts at evenly spaced utilisations from 0 % to 100 %), got {n}"
            ));
        }
        for (i, w) in self.server_power_w.iter().enumerate() {
            in_range(&format!("server_power_w[{i}]"), *w, 0.0, MAX_WATTS)?;
        }
        if !(1..=1_000_000).contains(&self.server_threads) {
            return Err(format!(
                "key `server_threads`: must be in [1, 1000000], got {}",
                self.server_threads
            ));
        }
        let window_s = self.utilisation_window_ns as f64 / 1e9;
        in_range("utilisation_window_s", window_s, 0.001, 86_400.0)?;
        let b = &self.per_bit_nj;
        for (key, v) in [
            ("radio_access_nj_per_bit", b.radio_access),
            ("aggregation_nj_per_bit", b.aggregation),
            ("metro_core_nj_per_bit", b.metro_core),
            ("data_centre_nj_per_bit", b.data_centre),
        ] {
            in_range(key, v, 0.0, MAX_NJ_PER_BIT)?;
        }
        let d = &self.device;
        for (key, v, high) in [
            ("device_promotion_mw", d.promotion_mw, 100_000.0),
            ("device_promotion_ms", d.promotion_ms, 60_000.0),
            ("device_tail_mw", d.tail_mw, 100_000.0),
            ("device_tail_s", d.tail_s, 3_600.0),
            ("device_transfer_base_mw", d.transfer_base_mw, 100_000.0),
            ("device_uplink_mw_per_mbps", d.uplink_mw_per_mbps, 100_000.0),
            (
                "device_downlink_mw_per_mbps",
                d.downlink_mw_per_mbps,
                100_000.0,
            ),
        ] {
            in_range(key, v, 0.0, high)?;
        }
        in_range("migration_j_per_mib", self.migration.j_per_mib, 0.0, 1e6)?;
        in_range("migration_fixed_j", self.migration.fixed_j, 0.0, 1e9)?;
        if let Some(sleep) = &self.sleep {
            self.validate_sleep(sleep)?;
        }
        Ok(())
    }

    /// Checks the sleep model, its sleep power against the power curve.
    fn validate_sleep(&self, sleep: &SleepConfig) -> Result<(), String> {
        check_sleep_w(&PowerCurve::new(self.server_power_w.clone()), sleep.sleep_w)?;
        in_range("wake_power_w", sleep.wake_w, 0.0, MAX_WATTS)?;
        in_range("wake_delay_s", sleep.wake_ns as f64 / 1e9, 0.0, MAX_WAKE_S)?;
        in_range(
            "sleep_after_s",
            sleep.after_ns as f64 / 1e9,
            0.0,
            MAX_SLEEP_AFTER_S,
        )?;
        Ok(())
    }

    /// The sleep model with `[energy]`'s values where given and the
    /// defaults elsewhere: 9 W asleep, 10 s to wake at the curve's peak
    /// power, asleep after the break-even time ([`break_even_s`]). Each
    /// value is checked (an error names the key and its range).
    pub fn sleep_config(
        &self,
        after_s: Option<f64>,
        sleep_w: Option<f64>,
        wake_s: Option<f64>,
        wake_w: Option<f64>,
    ) -> Result<SleepConfig, String> {
        let curve = PowerCurve::new(self.server_power_w.clone());
        let sleep_w = sleep_w.unwrap_or(DEFAULT_SLEEP_POWER_W);
        check_sleep_w(&curve, sleep_w)?;
        let wake_w = wake_w.unwrap_or(curve.peak());
        let wake_s = wake_s.unwrap_or(DEFAULT_WAKE_DELAY_S);
        in_range("wake_delay_s", wake_s, 0.0, MAX_WAKE_S)?;
        let after_s =
            after_s.unwrap_or_else(|| break_even_s(curve.idle(), sleep_w, wake_w, wake_s));
        in_range("sleep_after_s", after_s, 0.0, MAX_SLEEP_AFTER_S)?;
        let sleep = SleepConfig {
            after_ns: (after_s * 1e9).round() as u64,
            sleep_w,
            wake_ns: (wake_s * 1e9).round() as u64,
            wake_w,
        };
        self.validate_sleep(&sleep)?;
        Ok(sleep)
    }
}

/// Sleeping must draw less than idling, or it would never save anything.
fn check_sleep_w(curve: &PowerCurve, sleep_w: f64) -> Result<(), String> {
    let idle = curve.idle();
    if sleep_w.is_finite() && sleep_w >= 0.0 && sleep_w < idle {
        Ok(())
    } else {
        Err(format!(
            "key `sleep_power_w`: must be in [0, {idle}) (below the server's idle power, server_power_w[0]), got {sleep_w}"
        ))
    }
}

/// The longest a wake-up may take, s (an hour).
const MAX_WAKE_S: f64 = 3_600.0;
/// The longest a cloudlet may wait empty before it sleeps, s (a day).
const MAX_SLEEP_AFTER_S: f64 = 86_400.0;

/// How long a server must sleep for the energy it saves against idling,
/// `(idle − sleep)` a second, to pay for one wake-up's energy above
/// idling, `(wake − idle) · wake_s`: waiting that long before sleeping
/// costs at most twice what a sleeper who knew the future would spend
/// (the break-even rule). 0 when a wake-up costs no more than idling;
/// with the defaults, (113 − 41.6) · 10 / (41.6 − 9) = 21.9 s. Callers
/// check `sleep_w < idle_w` (otherwise the result is not finite, and the
/// check of `sleep_after_s` refuses it).
pub fn break_even_s(idle_w: f64, sleep_w: f64, wake_w: f64, wake_s: f64) -> f64 {
    ((wake_w - idle_w).max(0.0) * wake_s) / (idle_w - sleep_w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_bit_defaults_are_the_sources_figures() {
        // 0.12 kWh/GB is 54 µJ/bit; 6/7 of it 46.3 µJ/bit.
        assert!((DEFAULT_RADIO_ACCESS_NJ_PER_BIT - 46_285.714).abs() < 1e-3);
        assert!((DEFAULT_HOP_NJ_PER_BIT - 2.18).abs() < 1e-12);
        // 7 W per 100 Gbit/s port.
        assert!((DEFAULT_DATA_CENTRE_NJ_PER_BIT - 0.07).abs() < 1e-12);
    }

    #[test]
    fn the_defaults_pass_and_a_bad_value_is_named_with_its_range() {
        EnergyConfig::default().validate().unwrap();
        let mut c = EnergyConfig::default();
        c.device.tail_s = -1.0;
        assert_eq!(
            c.validate().unwrap_err(),
            "key `device_tail_s`: must be in [0, 3600], got -1"
        );
        let mut c = EnergyConfig {
            server_power_w: vec![50.0],
            ..EnergyConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("server_power_w"));
        c.server_power_w = vec![50.0, f64::NAN];
        assert!(c.validate().unwrap_err().contains("server_power_w[1]"));
    }
}
