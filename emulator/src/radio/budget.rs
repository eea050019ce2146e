//! The link budget: from path losses to each direction's SINR and rate, and
//! the coverage radius it implies.
//!
//! - Downlink: `SINR = S / (N + I)` over the whole bandwidth B, with
//!   `S = P_BS + G_BS + G_UE - PL(serving)`,
//!   `N = -174 dBm/Hz + 10 log10(B) + NF_UE` and
//!   `I = load · Σ (P_BS + G_BS + G_UE - PL(neighbour))` (in mW).
//! - Uplink: the UE's power is fixed, so the narrower its allocation the
//!   higher its SINR. `S/N0 = P_UE + G_UE + G_BS - PL - (-174 + NF_BS + M_UL)`
//!   per Hz, with `M_UL` the uplink interference margin; the device uses the
//!   widest allocation b (whole resource blocks, at most B) at which the
//!   SINR `S/(N0·b)` still reaches SINR_MIN, since `b · SE(S/(N0·b))` grows
//!   with b. Below one resource block at SINR_MIN it is out of coverage.
//! - Rate with the cell to itself: `b · (1 - overhead) · time_fraction ·
//!   SE(SINR)`.

use super::config::{DirectionConfig, RadioConfig, Scheduler, THERMAL_NOISE_DBM_HZ};
use super::efficiency::{from_db, to_db};
use super::pathloss::MIN_DISTANCE_M;

/// A device's link in one direction, as the last mobility step left it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirectionQuality {
    /// SINR over the bandwidth the device uses, linear.
    pub sinr: f64,
    /// Usable resources when the device is scheduled: bandwidth × (1 −
    /// overhead) × the direction's share of the time, Hz.
    pub usable_hz: f64,
    /// Rate in bit/s while the device is scheduled alone (no scheduling
    /// gain).
    pub rate_bps: f64,
    /// Share of the cell's bandwidth the device uses (1 in the downlink; a
    /// power-limited uplink uses fewer resource blocks and leaves the rest
    /// to other devices).
    pub band_share: f64,
}

/// A device's link in both directions; only devices in coverage both ways
/// have one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkQuality {
    /// Base station to device.
    pub downlink: DirectionQuality,
    /// Device to base station.
    pub uplink: DirectionQuality,
}

/// The link direction a transfer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Device to base station.
    Up,
    /// Base station to device.
    Down,
}

fn dbm_to_mw(dbm: f64) -> f64 {
    from_db(dbm)
}

impl RadioConfig {
    fn direction(&self, direction: Direction) -> &DirectionConfig {
        match direction {
            Direction::Up => &self.uplink,
            Direction::Down => &self.downlink,
        }
    }

    /// Downlink noise over the whole bandwidth, dBm.
    fn downlink_noise_dbm(&self) -> f64 {
        THERMAL_NOISE_DBM_HZ + 10.0 * self.bandwidth_hz.log10() + self.ue_noise_figure_db
    }

    /// Uplink noise plus interference per Hz, dBm/Hz.
    fn uplink_floor_dbm_hz(&self) -> f64 {
        THERMAL_NOISE_DBM_HZ + self.bs_noise_figure_db + self.uplink_interference_margin_db
    }

    fn downlink_rx_dbm(&self, loss_db: f64) -> f64 {
        self.bs_power_dbm + self.bs_antenna_gain_dbi + self.ue_antenna_gain_dbi - loss_db
    }

    fn uplink_rx_dbm(&self, loss_db: f64) -> f64 {
        self.ue_power_dbm + self.ue_antenna_gain_dbi + self.bs_antenna_gain_dbi - loss_db
    }

    /// The budget's fixed terms, worked out once for many
    /// [`quality_from_gains`](Self::quality_from_gains) calls.
    pub fn budget(&self) -> Budget {
        Budget {
            downlink_eirp_mw: dbm_to_mw(self.downlink_rx_dbm(0.0)),
            downlink_noise_mw: dbm_to_mw(self.downlink_noise_dbm()),
            uplink_snr_per_hz: dbm_to_mw(self.uplink_rx_dbm(0.0) - self.uplink_floor_dbm_hz()),
            downlink_sinr_min: self.downlink.efficiency.sinr_min(),
            uplink_sinr_min: self.uplink.efficiency.sinr_min(),
        }
    }

    /// A device's link, from the path loss to its serving cell and to each
    /// interfering cell (dB); `None` when it cannot decode in one of the
    /// directions.
    pub fn quality(
        &self,
        serving_loss_db: f64,
        interferer_losses_db: impl IntoIterator<Item = f64>,
    ) -> Option<LinkQuality> {
        self.quality_from_gains(
            &self.budget(),
            from_db(-serving_loss_db),
            interferer_losses_db.into_iter().map(|l| from_db(-l)),
        )
    }

    /// [`quality`](Self::quality) from path gains (linear, `10^(-loss/10)`)
    /// and the fixed terms of [`budget`](Self::budget).
    pub fn quality_from_gains(
        &self,
        budget: &Budget,
        serving_gain: f64,
        interferer_gains: impl IntoIterator<Item = f64>,
    ) -> Option<LinkQuality> {
        let signal = budget.downlink_eirp_mw * serving_gain;
        let interference = budget.downlink_eirp_mw
            * interferer_gains.into_iter().sum::<f64>()
            * self.downlink_load;
        let sinr_dl = signal / (budget.downlink_noise_mw + interference);
        let down = self.direction_quality(
            Direction::Down,
            sinr_dl,
            budget.downlink_sinr_min,
            self.bandwidth_hz,
        )?;

        let snr_per_hz = budget.uplink_snr_per_hz * serving_gain;
        let min = budget.uplink_sinr_min;
        let blocks = (snr_per_hz / min / self.resource_block_hz)
            .floor()
            .min((self.bandwidth_hz / self.resource_block_hz).floor());
        if blocks.is_nan() || blocks < 1.0 {
            return None;
        }
        let band = blocks * self.resource_block_hz;
        let up = self.direction_quality(Direction::Up, snr_per_hz / band, min, band)?;
        Some(LinkQuality {
            downlink: down,
            uplink: up,
        })
    }

    fn direction_quality(
        &self,
        direction: Direction,
        sinr: f64,
        sinr_min: f64,
        band_hz: f64,
    ) -> Option<DirectionQuality> {
        // As `Efficiency::at`, with the threshold worked out once.
        if sinr.is_nan() || sinr < sinr_min {
            return None;
        }
        let d = self.direction(direction);
        let se = d.efficiency.above_min(sinr);
        let usable_hz = band_hz * (1.0 - d.overhead) * d.time_fraction;
        Some(DirectionQuality {
            sinr,
            usable_hz,
            rate_bps: usable_hz * se,
            band_share: (band_hz / self.bandwidth_hz).min(1.0),
        })
    }

    /// The rate in bit/s at which a device with link `q` is served in
    /// `direction` while `active` devices (itself included, at least 1)
    /// share the cell: its own rate for `equal-share`; for
    /// `proportional-fair` the rate at its SINR raised by the multi-user
    /// diversity gain H_active, still capped by the table. Its throughput
    /// over time is this divided by `active`.
    ///
    /// Worked out by the transfer that needs it (a logarithm under
    /// `proportional-fair` with 2 or more active), not with the link at
    /// every mobility step: a link carries only the transfers of the
    /// requests its device sends before the next step replaces it.
    pub fn scheduled_rate_bps(
        &self,
        direction: Direction,
        q: &DirectionQuality,
        active: u32,
    ) -> f64 {
        match self.scheduler {
            Scheduler::EqualShare => q.rate_bps,
            Scheduler::ProportionalFair if active <= 1 => q.rate_bps,
            Scheduler::ProportionalFair => {
                // A link exists only at or above SINR_MIN, and the gain is > 1.
                let e = &self.direction(direction).efficiency;
                q.usable_hz * e.above_min(q.sinr * harmonic(active))
            }
        }
    }

    /// A device's throughput in bit/s in `direction` when `active` devices
    /// share its cell and each always has data (the long-run share).
    pub fn share_bps(&self, direction: Direction, q: &DirectionQuality, active: u32) -> f64 {
        let n = active.max(1);
        self.scheduled_rate_bps(direction, q, n) / f64::from(n)
    }

    /// The base one-way access delay of `direction`, ns.
    pub fn access_ns(&self, direction: Direction) -> u64 {
        self.direction(direction).access_ns
    }

    /// The largest path loss, dB, at which a lone device (no interference
    /// but the uplink margin) still decodes both ways: the downlink over
    /// the whole band, the uplink on one resource block.
    pub fn max_path_loss_db(&self) -> f64 {
        let down = self.downlink_rx_dbm(0.0)
            - self.downlink_noise_dbm()
            - self.downlink.efficiency.sinr_min_db;
        let up = self.uplink_rx_dbm(0.0)
            - (self.uplink_floor_dbm_hz() + to_db(self.resource_block_hz))
            - self.uplink.efficiency.sinr_min_db;
        down.min(up)
    }

    /// The distance, m, at which the path loss reaches
    /// [`max_path_loss_db`](Self::max_path_loss_db): the cell's coverage
    /// radius. `None` when even [`MIN_DISTANCE_M`] is out of reach.
    pub fn coverage_radius_m(&self) -> Option<f64> {
        let budget = self.max_path_loss_db();
        let pl = &self.path_loss;
        if pl.loss_db(MIN_DISTANCE_M) > budget {
            return None;
        }
        let (mut lo, mut hi) = (MIN_DISTANCE_M, 1_000_000.0);
        if pl.loss_db(hi) <= budget {
            return Some(hi);
        }
        // The loss never falls with distance: bisect to a centimetre.
        while hi - lo > 0.01 {
            let mid = 0.5 * (lo + hi);
            if pl.loss_db(mid) <= budget {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }
}

/// The fixed terms of a link budget (linear).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Downlink power received at a path gain of 1 (P_BS + G_BS + G_UE), mW.
    pub downlink_eirp_mw: f64,
    /// Downlink noise over the bandwidth, mW.
    pub downlink_noise_mw: f64,
    /// Uplink signal over noise and interference per Hz at a path gain of
    /// 1, Hz.
    pub uplink_snr_per_hz: f64,
    /// Downlink SINR_MIN, linear.
    pub downlink_sinr_min: f64,
    /// Uplink SINR_MIN, linear.
    pub uplink_sinr_min: f64,
}

/// H_0 to H_64, so that a request's share costs no loop.
const HARMONIC: [f64; 65] = {
    let mut table = [0.0; 65];
    let mut k = 1;
    while k < 65 {
        table[k] = table[k - 1] + 1.0 / k as f64;
        k += 1;
    }
    table
};

/// H_n = 1 + 1/2 + … + 1/n: the mean of the largest of n independent
/// unit-mean exponential variables (beyond 64 by its asymptotic expansion,
/// ln n + γ + 1/(2n) − 1/(12n²), exact to better than 1e-9 there).
pub fn harmonic(n: u32) -> f64 {
    match HARMONIC.get(n as usize) {
        Some(&h) => h,
        None => {
            let n = f64::from(n);
            n.ln() + 0.577_215_664_901_532_9 + 1.0 / (2.0 * n) - 1.0 / (12.0 * n * n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quality_at(c: &RadioConfig, d: f64) -> Option<LinkQuality> {
        c.quality(c.path_loss.loss_db(d), [])
    }

    #[test]
    fn a_cells_rate_falls_with_distance() {
        for c in [RadioConfig::lte(), RadioConfig::nr()] {
            let mut last = (f64::INFINITY, f64::INFINITY);
            let mut strictly = 0;
            for d in [50.0, 200.0, 500.0, 1_000.0, 1_500.0, 2_000.0, 3_000.0] {
                let Some(q) = quality_at(&c, d) else { break };
                let now = (q.downlink.rate_bps, q.uplink.rate_bps);
                assert!(
                    now.0 <= last.0 && now.1 <= last.1,
                    "{:?} at {d} m",
                    c.preset
                );
                if now.0 < last.0 && now.1 < last.1 {
                    strictly += 1;
                }
                last = now;
            }
            assert!(strictly >= 4, "{:?}: rates fall with distance", c.preset);
        }
    }

    #[test]
    fn neighbours_lower_the_downlink_and_more_load_lowers_it_more() {
        let mut c = RadioConfig::lte();
        let serving = c.path_loss.loss_db(300.0);
        let neighbour = c.path_loss.loss_db(600.0);
        let alone = c.quality(serving, []).expect("covered").downlink.sinr;
        let loaded = c
            .quality(serving, [neighbour])
            .expect("covered")
            .downlink
            .sinr;
        c.downlink_load = 0.3;
        let light = c
            .quality(serving, [neighbour])
            .expect("covered")
            .downlink
            .sinr;
        assert!(loaded < light && light < alone, "{loaded} {light} {alone}");
    }

    #[test]
    fn the_coverage_radius_is_where_the_budget_runs_out() {
        for c in [RadioConfig::lte(), RadioConfig::nr()] {
            let r = c.coverage_radius_m().expect("some coverage");
            assert!(r > 500.0 && r < 20_000.0, "{:?}: {r} m", c.preset);
            assert!(quality_at(&c, r - 1.0).is_some(), "{:?} inside", c.preset);
            assert!(quality_at(&c, r + 1.0).is_none(), "{:?} outside", c.preset);
            // At the edge one direction is exactly at its threshold.
            let q = quality_at(&c, r - 0.05).expect("inside");
            let down_db = to_db(q.downlink.sinr);
            let up_db = to_db(q.uplink.sinr);
            let at_min = (down_db - c.downlink.efficiency.sinr_min_db).abs() < 0.05
                || (up_db - c.uplink.efficiency.sinr_min_db).abs() < 0.05;
            assert!(at_min, "{:?}: {down_db} dB down, {up_db} dB up", c.preset);
        }
    }

    #[test]
    fn a_devices_share_falls_with_the_devices_active_in_its_cell() {
        for scheduler in [Scheduler::EqualShare, Scheduler::ProportionalFair] {
            let mut c = RadioConfig::nr();
            c.scheduler = scheduler;
            let q = quality_at(&c, 800.0).expect("covered");
            let mut last = f64::INFINITY;
            for n in 1..=50 {
                for dir in [Direction::Down, Direction::Up] {
                    let dq = if dir == Direction::Down {
                        &q.downlink
                    } else {
                        &q.uplink
                    };
                    let cap = match dir {
                        Direction::Down => c.downlink.efficiency.max_bps_hz,
                        Direction::Up => c.uplink.efficiency.max_bps_hz,
                    };
                    assert!(c.scheduled_rate_bps(dir, dq, n) <= dq.usable_hz * cap + 1e-6);
                }
                let share = c.share_bps(Direction::Down, &q.downlink, n);
                assert!(share < last, "{scheduler:?}: {n} devices");
                last = share;
            }
            let one = c.share_bps(Direction::Down, &q.downlink, 1);
            assert!(
                last < one / 10.0,
                "{scheduler:?}: 50 devices share the cell"
            );
        }
    }

    #[test]
    fn proportional_fair_gains_over_equal_share_when_crowded() {
        let mut c = RadioConfig::lte();
        let q = quality_at(&c, 1_200.0).expect("covered");
        let pf = c.share_bps(Direction::Down, &q.downlink, 10);
        c.scheduler = Scheduler::EqualShare;
        let rr = c.share_bps(Direction::Down, &q.downlink, 10);
        assert!(pf > rr, "{pf} vs {rr}");
        assert!((harmonic(4) - (1.0 + 0.5 + 1.0 / 3.0 + 0.25)).abs() < 1e-12);
        let summed = |n: u32| (1..=n).map(|k| 1.0 / f64::from(k)).sum::<f64>();
        for n in [0, 1, 2, 63, 64, 65, 100, 1_000] {
            assert!((harmonic(n) - summed(n)).abs() < 1e-9, "H_{n}");
        }
    }
}
