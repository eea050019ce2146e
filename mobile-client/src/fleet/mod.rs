//! A fleet of emulated devices driving a running `mcc-emu serve` over gRPC
//! (the `mobile-client` binary is a thin command line over [`run_fleet`]).
//!
//! Each device registers with the emulator at its first position, then, on
//! its own clock, pushes its position every [`FleetConfig::position_interval_s`]
//! (following a trace file, or a seeded random waypoint inside the area the
//! emulator reports) and sends requests at the configured rate
//! ([`arrivals`]), each on its own task so a slow answer never delays the
//! next send. Every request becomes one [`rows::RequestRow`] with the delay
//! the device measured; [`rows`] writes them sorted and atomically.

mod connect;
mod device;
pub mod rows;

use std::time::Duration;

pub use crate::arrivals::Arrivals;
pub use connect::{Client, connect, token_from_file};
pub use rows::{Breakdown, RequestRow};

use crate::trace::Trace;

/// How the devices move.
#[derive(Debug, Clone)]
pub enum Movement {
    /// These traces, assigned to devices round-robin (device `i` follows
    /// trace `i mod n`).
    Traces(Vec<Trace>),
    /// A seeded random waypoint per device inside the emulator's area.
    RandomWaypoint {
        /// Speed range in m/s.
        speed_mps: [f64; 2],
        /// Pause range in seconds.
        pause_s: [f64; 2],
    },
}

/// What each request asks of the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestShape {
    /// Payload bytes sent.
    pub payload_bytes: u64,
    /// CPU time the VM spends on it.
    pub cpu_cost_us: u64,
    /// Bytes of the answer.
    pub response_bytes: u64,
}

/// Everything a fleet run needs.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The emulator's gRPC address (`http://127.0.0.1:PORT`).
    pub emulator: String,
    /// The bearer token to send, if the emulator wants one.
    pub token: Option<String>,
    /// How many devices.
    pub devices: u32,
    /// Device ids are this prefix and the device's number (`dev-0`, `dev-1`...).
    pub id_prefix: String,
    /// How long the devices run, in seconds of wall-clock time.
    pub duration_s: f64,
    /// Trace seconds per wall-clock second (1 = real time).
    pub speed: f64,
    /// How the devices move.
    pub movement: Movement,
    /// Requests per second per device.
    pub rate_hz: f64,
    /// How requests are spaced.
    pub arrivals: Arrivals,
    /// Seed of every random choice (device `i` draws from `seed` and `i`).
    pub seed: u64,
    /// What each request asks.
    pub request: RequestShape,
    /// Seconds between two position reports.
    pub position_interval_s: f64,
    /// How long a device waits for an answer before it gives up.
    pub request_timeout: Duration,
}

/// What a fleet run produced.
#[derive(Debug, Clone, Default)]
pub struct FleetReport {
    /// One row per request, sorted by device then request number.
    pub rows: Vec<RequestRow>,
    /// Position reports the emulator refused or that failed, with why
    /// (the first few, and the count in `position_errors`).
    pub position_error_examples: Vec<String>,
    /// How many position reports failed.
    pub position_errors: u64,
    /// Hand-overs the emulator reported in answer to position reports.
    pub handovers: u64,
}

/// Why a fleet could not run.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// A setting makes no sense.
    #[error("{0}")]
    Config(String),
    /// The emulator could not be reached.
    #[error("cannot reach the emulator at {url}: {reason}")]
    Unreachable {
        /// The address tried.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The emulator refused a call the fleet cannot do without.
    #[error("{what}: the emulator answered {code:?}: {message}")]
    Refused {
        /// The call and device.
        what: String,
        /// The gRPC code.
        code: tonic::Code,
        /// The emulator's message.
        message: String,
    },
    /// A device task ended abnormally.
    #[error("device task failed: {0}")]
    Task(String),
}

impl FleetError {
    fn refused(what: impl Into<String>, status: &tonic::Status) -> Self {
        Self::Refused {
            what: what.into(),
            code: status.code(),
            message: status.message().to_owned(),
        }
    }
}

impl FleetConfig {
    /// Checks the settings a person gives (numbers in range).
    pub fn validate(&self) -> Result<(), FleetError> {
        let bad = |m: String| Err(FleetError::Config(m));
        if self.devices == 0 {
            return bad("--devices must be at least 1".into());
        }
        if !(self.duration_s.is_finite() && self.duration_s > 0.0) {
            return bad(format!("--duration-s {} must be > 0", self.duration_s));
        }
        if !(self.speed.is_finite() && self.speed > 0.0) {
            return bad(format!("--speed {} must be > 0", self.speed));
        }
        if !(self.rate_hz.is_finite() && self.rate_hz > 0.0) {
            return bad(format!("--rate {} must be > 0", self.rate_hz));
        }
        if !(self.position_interval_s.is_finite() && self.position_interval_s > 0.0) {
            return bad(format!(
                "--position-interval-s {} must be > 0",
                self.position_interval_s
            ));
        }
        if let Movement::Traces(traces) = &self.movement
            && traces.is_empty()
        {
            return bad("no trace to follow".into());
        }
        if self.id_prefix.is_empty() {
            return bad("--id-prefix must not be empty".into());
        }
        Ok(())
    }
}

/// Runs the fleet against the emulator and returns its rows, sorted.
pub async fn run_fleet(config: FleetConfig) -> Result<FleetReport, FleetError> {
    config.validate()?;
    let client = connect(&config.emulator, config.token.as_deref()).await?;
    let area = device::emulator_area(&client, &config).await?;
    let start = tokio::time::Instant::now();
    let mut plans = Vec::new();
    for index in 0..config.devices as usize {
        plans.push(device::DevicePlan::new(&config, index, area)?);
    }
    // Register every device before any starts its clock, so a refused
    // registration stops the run before it sends anything.
    let mut registered = Vec::new();
    for plan in plans {
        registered.push(plan.register(&client).await?);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for device in registered {
        let client = client.clone();
        let config = config.clone();
        tasks.spawn(async move { device.run(client, &config, start).await });
    }
    let mut report = FleetReport::default();
    while let Some(done) = tasks.join_next().await {
        let outcome = done.map_err(|e| FleetError::Task(e.to_string()))?;
        report.rows.extend(outcome.rows);
        report.position_errors += outcome.position_errors.len() as u64;
        report.handovers += outcome.handovers;
        for e in outcome.position_errors {
            if report.position_error_examples.len() < 5 {
                report.position_error_examples.push(e);
            }
        }
    }
    rows::sort_rows(&mut report.rows);
    Ok(report)
}
