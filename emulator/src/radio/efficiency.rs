//! Spectral efficiency from SINR: the attenuated and truncated Shannon bound
//! of 3GPP TR 36.942 V17 Annex A.1-A.2, which fits the throughput of a real
//! adaptive modulation and coding table:
//!
//! ```text
//! SE(SINR) = 0                          SINR < SINR_MIN
//!          = α · log2(1 + SINR)         SINR_MIN ≤ SINR, while below SE_MAX
//!          = SE_MAX                     above
//! ```
//!
//! with α the implementation loss, SINR_MIN the lowest SINR the most robust
//! modulation and coding scheme decodes at, and SE_MAX the efficiency of the
//! highest one (the cap a modulation table puts on any SINR).

/// One direction's SINR to spectral-efficiency mapping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Efficiency {
    /// Attenuation α of the Shannon bound (0 < α ≤ 1).
    pub alpha: f64,
    /// Below this SINR nothing decodes, dB.
    pub sinr_min_db: f64,
    /// The highest modulation and coding scheme's efficiency, bit/s/Hz.
    pub max_bps_hz: f64,
}

/// dB to a linear power ratio.
pub fn from_db(db: f64) -> f64 {
    10f64.powf(db / 10.0)
}

/// A linear power ratio to dB.
pub fn to_db(ratio: f64) -> f64 {
    10.0 * ratio.log10()
}

impl Efficiency {
    /// SINR_MIN as a linear ratio.
    pub fn sinr_min(&self) -> f64 {
        from_db(self.sinr_min_db)
    }

    /// Spectral efficiency in bit/s/Hz at linear `sinr`: 0 below SINR_MIN,
    /// never above `max_bps_hz`.
    pub fn at(&self, sinr: f64) -> f64 {
        if sinr.is_nan() || sinr < self.sinr_min() {
            return 0.0;
        }
        self.above_min(sinr)
    }

    /// [`at`](Self::at) for a `sinr` already known to be at least SINR_MIN.
    pub fn above_min(&self, sinr: f64) -> f64 {
        (self.alpha * sinr.log2_1p()).min(self.max_bps_hz)
    }
}

/// `log2(1 + x)`, accurate for small `x`.
trait Log2OnePlus {
    fn log2_1p(self) -> f64;
}

impl Log2OnePlus for f64 {
    fn log2_1p(self) -> f64 {
        self.ln_1p() * std::f64::consts::LOG2_E
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LTE_DL: Efficiency = Efficiency {
        alpha: 0.6,
        sinr_min_db: -10.0,
        max_bps_hz: 4.4,
    };

    #[test]
    fn zero_below_the_threshold_shannon_above_it() {
        assert_eq!(LTE_DL.at(from_db(-10.5)), 0.0);
        assert_eq!(LTE_DL.at(0.0), 0.0);
        assert_eq!(LTE_DL.at(f64::NAN), 0.0);
        let at_min = LTE_DL.at(from_db(-10.0));
        assert!((at_min - 0.6 * 1.1f64.log2()).abs() < 1e-12, "{at_min}");
        let at_10db = LTE_DL.at(10.0);
        assert!((at_10db - 0.6 * 11f64.log2()).abs() < 1e-12);
    }

    #[test]
    fn never_above_the_cap_and_never_falls_with_sinr() {
        let mut last = 0.0;
        let mut db = -30.0;
        while db < 80.0 {
            let se = LTE_DL.at(from_db(db));
            assert!(se <= LTE_DL.max_bps_hz, "{db} dB: {se}");
            assert!(se >= last, "{db} dB");
            last = se;
            db += 0.25;
        }
        assert_eq!(last, 4.4, "capped at high SINR");
        assert_eq!(LTE_DL.at(f64::INFINITY), 4.4);
    }
}
