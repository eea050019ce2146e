//! What each request of an application carries: request bytes, response
//! bytes and CPU time on a server core, each drawn from a distribution
//! ([`Dist`]), per device from a seeded stream of its own ([`SizeStream`]).
//!
//! The stream is separate from the device's [`RequestClock`](crate::RequestClock),
//! so drawing sizes never moves a request in time; and a [`Dist::Fixed`]
//! value draws nothing, so a profile of fixed values leaves every other
//! random choice where it was. `docs/workloads.md` lists the built-in
//! application profiles and the measurements behind them.

use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A distribution of a non-negative quantity (bytes, nanoseconds).
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// Always this value (draws nothing).
    Fixed(f64),
    /// Uniform in `[min, max]`.
    Uniform {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
    },
    /// Log-normal with this mean and standard deviation (of the value, not
    /// of its logarithm): `exp(mu + sigma·Z)`.
    LogNormal {
        /// Mean of the value.
        mean: f64,
        /// Standard deviation of the value.
        sd: f64,
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
    /// One of these measured values, each equally likely.
    Empirical(Arc<[f64]>),
}

impl Dist {
    /// A log-normal distribution with mean `mean` > 0 and standard deviation
    /// `sd` >= 0; the error says which is wrong.
    pub fn lognormal(mean: f64, sd: f64) -> Result<Self, String> {
        if !(mean.is_finite() && mean > 0.0) {
            return Err(format!("lognormal mean must be a number > 0, got {mean}"));
        }
        if !(sd.is_finite() && sd >= 0.0) {
            return Err(format!("lognormal sd must be a number >= 0, got {sd}"));
        }
        let sigma2 = (1.0 + (sd / mean).powi(2)).ln();
        Ok(Dist::LogNormal {
            mean,
            sd,
            mu: mean.ln() - sigma2 / 2.0,
            sigma: sigma2.sqrt(),
        })
    }

    /// A uniform distribution on `[min, max]`, `0 <= min <= max`.
    pub fn uniform(min: f64, max: f64) -> Result<Self, String> {
        if !(min.is_finite() && max.is_finite() && 0.0 <= min && min <= max) {
            return Err(format!(
                "uniform needs 0 <= min <= max (finite), got min {min}, max {max}"
            ));
        }
        Ok(Dist::Uniform { min, max })
    }

    /// An empirical distribution over `values` (at least one, each >= 0).
    pub fn empirical(values: &[f64]) -> Result<Self, String> {
        if values.is_empty() {
            return Err("empirical needs at least one value".into());
        }
        if let Some(bad) = values.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(format!("empirical values must be numbers >= 0, got {bad}"));
        }
        Ok(Dist::Empirical(values.into()))
    }

    /// A fixed value (`value` >= 0).
    pub fn fixed(value: f64) -> Result<Self, String> {
        if !(value.is_finite() && value >= 0.0) {
            return Err(format!("must be a number >= 0, got {value}"));
        }
        Ok(Dist::Fixed(value))
    }

    /// The distribution's mean.
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Fixed(v) => *v,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::LogNormal { mean, .. } => *mean,
            Dist::Empirical(values) => values.iter().sum::<f64>() / values.len() as f64,
        }
    }

    /// The same distribution with every value multiplied by `factor` (> 0),
    /// for a change of unit.
    pub fn scaled(&self, factor: f64) -> Dist {
        match self {
            Dist::Fixed(v) => Dist::Fixed(v * factor),
            Dist::Uniform { min, max } => Dist::Uniform {
                min: min * factor,
                max: max * factor,
            },
            Dist::LogNormal {
                mean,
                sd,
                mu,
                sigma,
            } => Dist::LogNormal {
                mean: mean * factor,
                sd: sd * factor,
                mu: mu + factor.ln(),
                sigma: *sigma,
            },
            Dist::Empirical(values) => Dist::Empirical(values.iter().map(|v| v * factor).collect()),
        }
    }

    /// One value, rounded to a whole unit (a `Fixed` value draws nothing).
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        let value = match self {
            Dist::Fixed(v) => *v,
            Dist::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
            Dist::LogNormal { mu, sigma, .. } => {
                // Box-Muller; 1 - u is in (0, 1], so the log is finite.
                let u1: f64 = rng.random();
                let u2: f64 = rng.random();
                let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                (mu + sigma * z).exp()
            }
            Dist::Empirical(values) => {
                let i = rng.random_range(0..values.len());
                values[i]
            }
        };
        round_to_u64(value)
    }
}

/// `x.round() as u64` (halves away from zero; negative numbers and NaN give
/// 0, too large ones `u64::MAX`), inline: on the baseline x86-64 target
/// `f64::round` is a library call, and this runs for every drawn size and
/// for every hop of every message (the engine's serialisation times).
#[inline]
pub fn round_to_u64(x: f64) -> u64 {
    let whole = x as u64;
    // Exact: below 2^53 the fraction of a double is representable, above it
    // there is none.
    if x - whole as f64 >= 0.5 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

/// What one request carries and costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSize {
    /// Bytes sent to the VM.
    pub request_bytes: u64,
    /// Bytes of the answer.
    pub response_bytes: u64,
    /// CPU time on one server core, in nanoseconds.
    pub cpu_ns: u64,
}

/// The three distributions of an application's requests.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSizes {
    /// Request size, in bytes.
    pub request_bytes: Dist,
    /// Answer size, in bytes.
    pub response_bytes: Dist,
    /// CPU time per request on one core, in nanoseconds.
    pub cpu_ns: Dist,
}

impl RequestSizes {
    /// The sizes of every request when all three distributions are fixed
    /// (what [`SizeStream::draw`] returns then, drawing nothing), so that a
    /// caller can skip the draw; `None` when one of them varies.
    pub fn fixed(&self) -> Option<RequestSize> {
        match (&self.request_bytes, &self.response_bytes, &self.cpu_ns) {
            (Dist::Fixed(request), Dist::Fixed(response), Dist::Fixed(cpu)) => Some(RequestSize {
                request_bytes: round_to_u64(*request),
                response_bytes: round_to_u64(*response),
                cpu_ns: round_to_u64(*cpu),
            }),
            _ => None,
        }
    }
}

/// Seed tag of the size streams, so they never coincide with the request
/// clocks' streams of the same seed.
const SIZE_STREAM_TAG: u64 = 0x5349_5a45_5354_524d;

/// One device's stream of request sizes.
#[derive(Debug, Clone)]
pub struct SizeStream {
    rng: Box<ChaCha8Rng>,
}

impl SizeStream {
    /// The stream of device `device` under run seed `seed`.
    pub fn new(seed: u64, device: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SIZE_STREAM_TAG);
        rng.set_stream(u64::from(device) + 1);
        Self { rng: Box::new(rng) }
    }

    /// The next request's sizes: request bytes, response bytes, then CPU
    /// time, in that order (fixed values draw nothing).
    pub fn draw(&mut self, sizes: &RequestSizes) -> RequestSize {
        RequestSize {
            request_bytes: sizes.request_bytes.sample(&mut self.rng),
            response_bytes: sizes.response_bytes.sample(&mut self.rng),
            cpu_ns: sizes.cpu_ns.sample(&mut self.rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_and_sd(dist: &Dist, n: usize) -> (f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let xs: Vec<f64> = (0..n).map(|_| dist.sample(&mut rng) as f64).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        (mean, var.sqrt())
    }

    #[test]
    fn rounding_inline_matches_the_library() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            0.499_999_999_999_999_94,
            4_503_599_627_370_495.5,
            9_007_199_254_740_993.0,
            1.844_674_407_370_955_2e19,
            1e30,
            -0.7,
            -3.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for _ in 0..100_000 {
            let scale = 10f64.powi(rng.random_range(-3..20));
            values.push(rng.random_range(0.0..1.0) * scale);
            values.push(rng.random_range(0..1_000_000u32) as f64 + 0.5);
        }
        for x in values {
            assert_eq!(round_to_u64(x), x.round() as u64, "{x}");
            // What `sample` rounded with before.
            assert_eq!(
                round_to_u64(x),
                x.round().clamp(0.0, u64::MAX as f64) as u64,
                "{x}"
            );
        }
    }

    #[test]
    fn draws_follow_their_distribution() {
        // OpenFace nn4.small2.v1 on a CPU: 58.9 ms ± 15.36 ms, in µs.
        let lognormal = Dist::lognormal(58_900.0, 15_360.0).unwrap();
        let (mean, sd) = mean_and_sd(&lognormal, 200_000);
        assert!((mean / 58_900.0 - 1.0).abs() < 0.01, "{mean}");
        assert!((sd / 15_360.0 - 1.0).abs() < 0.03, "{sd}");
        let uniform = Dist::uniform(1_000.0, 3_000.0).unwrap();
        let (mean, sd) = mean_and_sd(&uniform, 100_000);
        assert!((mean / 2_000.0 - 1.0).abs() < 0.01, "{mean}");
        assert!((sd / (2_000.0 / 12f64.sqrt()) - 1.0).abs() < 0.02, "{sd}");
        let empirical = Dist::empirical(&[10.0, 20.0, 60.0]).unwrap();
        let (mean, _) = mean_and_sd(&empirical, 100_000);
        assert!((mean / 30.0 - 1.0).abs() < 0.01, "{mean}");
        assert_eq!(empirical.mean(), 30.0);
    }

    #[test]
    fn fixed_values_draw_nothing() {
        let sizes = RequestSizes {
            request_bytes: Dist::Fixed(1_024.0),
            response_bytes: Dist::Fixed(4_096.0),
            cpu_ns: Dist::Fixed(2e6),
        };
        let mut stream = SizeStream::new(3, 0);
        let before = stream.rng.clone();
        let drawn = stream.draw(&sizes);
        assert_eq!(
            drawn,
            RequestSize {
                request_bytes: 1_024,
                response_bytes: 4_096,
                cpu_ns: 2_000_000
            }
        );
        assert_eq!(*stream.rng, *before);
        assert_eq!(sizes.fixed(), Some(drawn), "what a draw gives");
        let varying = RequestSizes {
            cpu_ns: Dist::uniform(1.0, 2.0).unwrap(),
            ..sizes
        };
        assert_eq!(varying.fixed(), None);
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(Dist::lognormal(0.0, 1.0).is_err());
        assert!(Dist::lognormal(1.0, -1.0).is_err());
        assert!(Dist::uniform(3.0, 1.0).is_err());
        assert!(Dist::empirical(&[]).is_err());
        assert!(Dist::fixed(f64::NAN).is_err());
        assert_eq!(Dist::lognormal(2.0, 0.5).unwrap().scaled(1e6).mean(), 2e6);
    }
}
