//! GPS traces: a device's timestamped path, how raw points become one
//! (cleaning), where the device is at any time, transforms and summaries.

pub mod clean;
pub mod error;
pub mod fleet;
pub mod interpolate;
pub mod summary;
pub mod timefmt;
pub mod transform;

use serde::Serialize;

use crate::position::LatLon;

pub use clean::{CleanOptions, CleaningReport, RawPoint};
pub use error::{TraceError, TraceErrorKind};
pub use interpolate::{Edge, TraceCursor};
pub use summary::TraceSummary;
pub use timefmt::TimeFormat;
pub use transform::TransformError;

/// One fix of a trace: where the device was, `t_s` seconds after the trace's
/// time zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TracePoint {
    /// Seconds since the trace's time zero (the first recorded point, until
    /// a transform moves it).
    pub t_s: f64,
    /// Where the device was.
    pub pos: LatLon,
}

/// A device's timestamped path.
///
/// Invariants (checked by every constructor): at least one point, every time
/// finite, times strictly increasing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    name: String,
    start_unix_ms: Option<i64>,
    points: Vec<TracePoint>,
    cleaning: CleaningReport,
}

/// Why a list of points is not a trace.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidTrace {
    /// No point at all.
    #[error("a trace needs at least one point")]
    Empty,
    /// A time that is NaN or infinite.
    #[error("point {index} has a non-finite time")]
    NonFiniteTime {
        /// Index of the point.
        index: usize,
    },
    /// A time not after the previous one.
    #[error("point {index} at t = {t_s} s is not after the previous point")]
    NotIncreasing {
        /// Index of the point.
        index: usize,
        /// Its time.
        t_s: f64,
    },
}

impl Trace {
    /// A trace from points already in order (strictly increasing, finite times).
    ///
    /// `name` identifies it in messages and summaries; `start_unix_ms` is the
    /// real (unix, milliseconds) time of `t_s = 0`, when known.
    pub fn new(
        name: impl Into<String>,
        start_unix_ms: Option<i64>,
        points: Vec<TracePoint>,
    ) -> Result<Self, InvalidTrace> {
        Self::with_report(name, start_unix_ms, points, CleaningReport::default())
    }

    pub(crate) fn with_report(
        name: impl Into<String>,
        start_unix_ms: Option<i64>,
        points: Vec<TracePoint>,
        cleaning: CleaningReport,
    ) -> Result<Self, InvalidTrace> {
        if points.is_empty() {
            return Err(InvalidTrace::Empty);
        }
        for (index, p) in points.iter().enumerate() {
            if !p.t_s.is_finite() {
                return Err(InvalidTrace::NonFiniteTime { index });
            }
            if index > 0 && p.t_s <= points[index - 1].t_s {
                return Err(InvalidTrace::NotIncreasing { index, t_s: p.t_s });
            }
        }
        Ok(Self {
            name: name.into(),
            start_unix_ms,
            points,
            cleaning,
        })
    }

    /// The trace's name: its source file, then `#` and the track, route or
    /// device id when the file can hold several traces.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Real time of `t_s = 0` in unix milliseconds, when the source had times.
    pub fn start_unix_ms(&self) -> Option<i64> {
        self.start_unix_ms
    }

    /// The points, in strictly increasing time.
    pub fn points(&self) -> &[TracePoint] {
        &self.points
    }

    /// What cleaning did to the raw points.
    pub fn cleaning(&self) -> &CleaningReport {
        &self.cleaning
    }

    /// The first point (a trace always has one).
    pub fn first(&self) -> TracePoint {
        // The constructor guarantees at least one point.
        self.points[0]
    }

    /// The last point.
    pub fn last(&self) -> TracePoint {
        self.points[self.points.len() - 1]
    }

    /// Time from the first to the last point, in seconds.
    pub fn duration_s(&self) -> f64 {
        self.last().t_s - self.first().t_s
    }
}
