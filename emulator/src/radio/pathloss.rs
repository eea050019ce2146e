//! Path loss by distance: the deterministic (no shadow fading) formulas of
//! 3GPP TR 38.901 V17 §7.4.1, Table 7.4.1-1, for urban macro (UMa), urban
//! micro street canyon (UMi) and rural macro (RMa), line of sight or not.
//!
//! Every formula takes `d3D` in metres and `fc` in GHz; breakpoint distances
//! use `fc` in Hz. `docs/radio.md` writes each one out.

/// Speed of light, m/s (as TR 38.901 Table 7.4.1-1 note 1 uses it: 3.0e8).
const C_MPS: f64 = 3.0e8;
/// Effective environment height for UMa and UMi, m (TR 38.901 Table
/// 7.4.1-1 notes 1 and 2: 1 m for UMi always, and for UMa with probability
/// 1/(1+C(d2D, hUT)), which is 1 for every UE below 13 m; taken as 1 m
/// everywhere, so the model stays deterministic).
const H_E_M: f64 = 1.0;
/// RMa average building height, m (TR 38.901 Table 7.4.1-1, RMa default h = 5 m).
const RMA_BUILDING_M: f64 = 5.0;
/// RMa average street width, m (TR 38.901 Table 7.4.1-1, RMa default W = 20 m).
const RMA_STREET_M: f64 = 20.0;
/// Shortest 2D distance the formulas hold for, m (TR 38.901 Table 7.4.1-1:
/// 10 m ≤ d2D for every scenario here); nearer devices are taken as at 10 m.
pub const MIN_DISTANCE_M: f64 = 10.0;

/// Which TR 38.901 scenario the cells stand in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Urban macro: rooftop sites (default BS height 25 m).
    UrbanMacro,
    /// Urban micro, street canyon: below-rooftop sites (default BS height 10 m).
    UrbanMicro,
    /// Rural macro: tall masts, few buildings (default BS height 35 m).
    RuralMacro,
}

impl Environment {
    /// `uma`, `umi` or `rma`.
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name {
            "uma" => Ok(Self::UrbanMacro),
            "umi" => Ok(Self::UrbanMicro),
            "rma" => Ok(Self::RuralMacro),
            other => Err(format!("{other:?} is not one of uma, umi, rma")),
        }
    }

    /// The BS height TR 38.901 Table 7.4.1-1 gives for the scenario, m.
    pub fn default_bs_height_m(self) -> f64 {
        match self {
            Self::UrbanMacro => 25.0,
            Self::UrbanMicro => 10.0,
            Self::RuralMacro => 35.0,
        }
    }

    /// Carrier frequencies the formulas hold for, GHz (TR 38.901 §7.4.1:
    /// 0.5-100 GHz for UMa and UMi, 0.5-30 GHz for RMa).
    pub fn carrier_range_ghz(self) -> (f64, f64) {
        match self {
            Self::RuralMacro => (0.5, 30.0),
            _ => (0.5, 100.0),
        }
    }

    /// BS heights the formulas hold for, m (UMa and UMi take the Table's
    /// fixed height but any height above the effective environment height
    /// keeps them finite; RMa: 10-150 m, Table 7.4.1-1).
    pub fn bs_height_range_m(self) -> (f64, f64) {
        match self {
            Self::RuralMacro => (10.0, 150.0),
            _ => (2.0, 150.0),
        }
    }

    /// UE heights the formulas hold for, m (Table 7.4.1-1: 1.5-22.5 m for
    /// UMa and UMi, 1-10 m for RMa).
    pub fn ue_height_range_m(self) -> (f64, f64) {
        match self {
            Self::RuralMacro => (1.0, 10.0),
            _ => (1.5, 22.5),
        }
    }
}

/// Where the cells are and what they send on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathLossModel {
    /// The TR 38.901 scenario.
    pub environment: Environment,
    /// Line of sight (`true`) or not; non-line-of-sight is the usual
    /// assumption for a device on a street among buildings.
    pub line_of_sight: bool,
    /// Carrier frequency, GHz.
    pub carrier_ghz: f64,
    /// Base station antenna height, m.
    pub bs_height_m: f64,
    /// UE antenna height, m.
    pub ue_height_m: f64,
}

impl PathLossModel {
    /// Path loss in dB at horizontal distance `d2d_m` from the site (at
    /// least [`MIN_DISTANCE_M`]); never decreases with distance.
    pub fn loss_db(&self, d2d_m: f64) -> f64 {
        let d2d = d2d_m.max(MIN_DISTANCE_M);
        let dh = self.bs_height_m - self.ue_height_m;
        let d3d = (d2d * d2d + dh * dh).sqrt();
        let los = self.los_db(d2d, d3d);
        if self.line_of_sight {
            return los;
        }
        let fc = self.carrier_ghz;
        let h_ut = self.ue_height_m;
        let nlos = match self.environment {
            Environment::UrbanMacro => {
                13.54 + 39.08 * d3d.log10() + 20.0 * fc.log10() - 0.6 * (h_ut - 1.5)
            }
            Environment::UrbanMicro => {
                35.3 * d3d.log10() + 22.4 + 21.3 * fc.log10() - 0.3 * (h_ut - 1.5)
            }
            Environment::RuralMacro => {
                let (w, h, h_bs) = (RMA_STREET_M, RMA_BUILDING_M, self.bs_height_m);
                161.04 - 7.1 * w.log10() + 7.5 * h.log10()
                    - (24.37 - 3.7 * (h / h_bs).powi(2)) * h_bs.log10()
                    + (43.42 - 3.1 * h_bs.log10()) * (d3d.log10() - 3.0)
                    + 20.0 * fc.log10()
                    - (3.2 * (11.75 * h_ut).log10().powi(2) - 4.97)
            }
        };
        // Table 7.4.1-1: PL_NLOS = max(PL_LOS, PL'_NLOS).
        los.max(nlos)
    }

    fn los_db(&self, d2d: f64, d3d: f64) -> f64 {
        let fc = self.carrier_ghz;
        let (h_bs, h_ut) = (self.bs_height_m, self.ue_height_m);
        let dh2 = (h_bs - h_ut).powi(2);
        match self.environment {
            Environment::UrbanMacro | Environment::UrbanMicro => {
                let (a, b, k) = if self.environment == Environment::UrbanMacro {
                    (28.0, 22.0, 9.0)
                } else {
                    (32.4, 21.0, 9.5)
                };
                // Breakpoint with effective heights, fc in Hz (note 1).
                let d_bp = 4.0 * (h_bs - H_E_M) * (h_ut - H_E_M) * fc * 1e9 / C_MPS;
                if d2d <= d_bp {
                    a + b * d3d.log10() + 20.0 * fc.log10()
                } else {
                    a + 40.0 * d3d.log10() + 20.0 * fc.log10() - k * (d_bp * d_bp + dh2).log10()
                }
            }
            Environment::RuralMacro => {
                let h = RMA_BUILDING_M;
                let pl1 = |d: f64| {
                    20.0 * (40.0 * std::f64::consts::PI * d * fc / 3.0).log10()
                        + (0.03 * h.powf(1.72)).min(10.0) * d.log10()
                        - (0.044 * h.powf(1.72)).min(14.77)
                        + 0.002 * h.log10() * d
                };
                // Note 5: d_BP = 2π hBS hUT fc / c, fc in Hz.
                let d_bp = 2.0 * std::f64::consts::PI * h_bs * h_ut * fc * 1e9 / C_MPS;
                if d2d <= d_bp {
                    pl1(d3d)
                } else {
                    pl1(d_bp) + 40.0 * (d3d / d_bp).log10()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(environment: Environment, line_of_sight: bool, fc: f64) -> PathLossModel {
        PathLossModel {
            environment,
            line_of_sight,
            carrier_ghz: fc,
            bs_height_m: environment.default_bs_height_m(),
            ue_height_m: 1.5,
        }
    }

    #[test]
    fn uma_nlos_matches_the_table_by_hand() {
        // 2 GHz, 500 m: 13.54 + 39.08 log10(d3D) + 20 log10(2), d3D = sqrt(500² + 23.5²).
        let d3d = (500.0f64 * 500.0 + 23.5 * 23.5).sqrt();
        let expected = 13.54 + 39.08 * d3d.log10() + 20.0 * 2f64.log10();
        let got = model(Environment::UrbanMacro, false, 2.0).loss_db(500.0);
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        assert!((got - 125.1).abs() < 0.1, "{got}");
    }

    #[test]
    fn uma_los_changes_slope_at_the_breakpoint() {
        let m = model(Environment::UrbanMacro, true, 3.5);
        // d'BP = 4 · 24 · 0.5 · 3.5e9 / 3e8 = 560 m.
        let below = m.loss_db(300.0);
        let d3d = (300.0f64.powi(2) + 23.5f64.powi(2)).sqrt();
        assert!((below - (28.0 + 22.0 * d3d.log10() + 20.0 * 3.5f64.log10())).abs() < 1e-9);
        // Continuous at the breakpoint to within a few tenths of a dB.
        let (a, b) = (m.loss_db(559.9), m.loss_db(560.1));
        assert!((a - b).abs() < 0.5, "{a} {b}");
    }

    #[test]
    fn loss_never_falls_with_distance_and_nlos_is_never_below_los() {
        for env in [
            Environment::UrbanMacro,
            Environment::UrbanMicro,
            Environment::RuralMacro,
        ] {
            for fc in [0.7, 2.0, 3.5, 28.0] {
                let los = model(env, true, fc);
                let nlos = model(env, false, fc);
                let mut last = f64::MIN;
                let mut d = 1.0;
                while d < 20_000.0 {
                    let l = nlos.loss_db(d);
                    assert!(l >= last - 1e-9, "{env:?} {fc} GHz at {d} m");
                    assert!(l >= los.loss_db(d) - 1e-9);
                    last = l;
                    d *= 1.05;
                }
            }
        }
    }
}
