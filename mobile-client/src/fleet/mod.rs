//! A fleet of emulated devices driving a running `mcc-emu serve` over gRPC
//! (the `mobile-client` binary is a thin command line over [`run_fleet`]).
//!
//! Each device registers with the emulator at its first position, then, on
//! its own clock, pushes its position every [`FleetConfig::position_interval_s`]
//! (following a trace file, or a seeded random waypoint inside the area the
//! emulator reports) and sends requests at the configured rate
//! ([`arrivals`]), each on its own task so a slow answer never delays the
//! next send. Every request becomes one [`rows::RequestRow`] with the delay
//! the device measured, sent to the caller's channel as it ends;
//! [`spool`] sorts them in flat memory and [`rows`] writes them atomically.

mod connect;
mod device;
pub mod rows;
pub mod spool;

use std::time::Duration;

pub use crate::arrivals::Arrivals;
pub use connect::{Client, connect, token_from_file};
pub use device::code_name;
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
    /// Most requests the whole fleet has in flight ([`MAX_IN_FLIGHT`]
    /// unless a test or a user says otherwise; `--max-in-flight`).
    pub max_in_flight: usize,
}

/// Rows a fleet's requests may have ended and the caller not taken yet:
/// beyond it the requests' tasks wait for the caller (their delay is
/// measured already), so what waits is bounded.
pub const ROW_BUFFER: usize = 4096;

/// Most requests the whole fleet has in flight by default
/// ([`FleetConfig::max_in_flight`], `--max-in-flight`): 4,096, four times what
/// `mcc-emu serve` admits at once (1,024; beyond that a request waits in
/// this client's HTTP/2 queue or is refused). A request due beyond it is
/// not sent and is a row with outcome `not_sent`: when the emulator (or
/// this machine) falls behind, what the client holds stays bounded (a
/// request in flight holds about 20 KB) instead of growing by every
/// request it cannot send (a gigabyte in a minute at 10,000/s, measured).
pub const MAX_IN_FLIGHT: usize = 4_096;

/// Where a fleet sends its rows, one per request as it ends (in the order
/// the answers come).
pub type RowSender = tokio::sync::mpsc::Sender<RequestRow>;

/// What a fleet run produced besides its rows.
#[derive(Debug, Clone, Default)]
pub struct FleetReport {
    /// Position reports the emulator refused or that failed, with why
    /// (the first few, and the count in `position_errors`).
    pub position_error_examples: Vec<String>,
    /// How many position reports failed.
    pub position_errors: u64,
    /// Hand-overs the emulator reported in answer to position reports.
    pub handovers: u64,
    /// Devices the emulator would not unregister at the end, with why.
    pub unregister_errors: Vec<String>,
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

/// The ranges of the fleet's numbers (flags of `mobile-client`): each is
/// checked before anything is allocated or sent, and a refusal names the
/// flag and the range. The rows a run would make are bounded too, for the
/// disk they take.
pub mod limits {
    /// Most devices: 10,000 (each is a task, a trace and a connection's share).
    pub const MAX_DEVICES: u32 = 10_000;
    /// Longest run: one week of wall time, in seconds.
    pub const MAX_DURATION_S: f64 = 7.0 * 86_400.0;
    /// Speed range (trace seconds per wall second), as `mcc-emu serve`'s.
    pub const SPEED: [f64; 2] = [1e-3, 1e3];
    /// Highest request rate per device: 1,000 per second (one per
    /// millisecond, Tokio's timer granularity).
    pub const MAX_RATE_HZ: f64 = 1_000.0;
    /// Shortest interval between position reports: 1 ms (the same granularity).
    pub const MIN_POSITION_INTERVAL_S: f64 = 1e-3;
    /// Most request rows a run may make (devices × rate × duration): ten
    /// million, about 1.2 GB of CSV, and as much again spooled on disk
    /// while they are sorted ([`super::spool`]; memory stays flat).
    pub const MAX_ROWS: f64 = 1e7;
    /// Largest payload or answer, in bytes: 1 MiB, the cloudlet node's limit.
    pub const MAX_BYTES: u64 = 1 << 20;
    /// Largest CPU cost per request, in µs: 60 s, the cloudlet node's limit.
    pub const MAX_CPU_US: u64 = 60_000_000;
    /// Longest wait for an answer, in ms: one hour.
    pub const MAX_TIMEOUT_MS: u64 = 3_600_000;
    /// Highest bound on the requests in flight (`--max-in-flight`):
    /// 65,536, about 1.3 GB at the 20 KB a request in flight holds.
    pub const MAX_IN_FLIGHT: usize = 65_536;
}

/// `value` of `flag` in `(0, max]` (or `[min, max]` with `min`), or the
/// message naming both.
fn in_range(flag: &str, value: f64, min: Option<f64>, max: f64) -> Result<(), FleetError> {
    let ok = match min {
        Some(min) => (min..=max).contains(&value),
        None => value > 0.0 && value <= max,
    };
    if ok {
        return Ok(());
    }
    let range = match min {
        Some(min) => format!("from {min} to {max}"),
        None => format!("> 0 and at most {max}"),
    };
    Err(FleetError::Config(format!(
        "{flag} {value} is out of range; it must be {range}"
    )))
}

impl FleetConfig {
    /// Checks the settings a person gives (numbers in range, see [`limits`]).
    pub fn validate(&self) -> Result<(), FleetError> {
        let bad = |m: String| Err(FleetError::Config(m));
        if self.devices == 0 || self.devices > limits::MAX_DEVICES {
            return bad(format!(
                "--devices {} is out of range; it must be from 1 to {}",
                self.devices,
                limits::MAX_DEVICES
            ));
        }
        in_range(
            "--duration-s",
            self.duration_s,
            None,
            limits::MAX_DURATION_S,
        )?;
        let [slowest, fastest] = limits::SPEED;
        in_range("--speed", self.speed, Some(slowest), fastest)?;
        in_range("--rate", self.rate_hz, None, limits::MAX_RATE_HZ)?;
        in_range(
            "--position-interval-s",
            self.position_interval_s,
            Some(limits::MIN_POSITION_INTERVAL_S),
            limits::MAX_DURATION_S,
        )?;
        let rows = f64::from(self.devices) * self.rate_hz * self.duration_s;
        if rows > limits::MAX_ROWS {
            return bad(format!(
                "--devices × --rate × --duration-s would make about {rows:.3e} request rows; at \
                 most {:.0e} are accepted (about 120 bytes each on disk, twice while sorted)",
                limits::MAX_ROWS
            ));
        }
        let shape = &self.request;
        for (flag, value, max) in [
            ("--request-bytes", shape.payload_bytes, limits::MAX_BYTES),
            ("--response-bytes", shape.response_bytes, limits::MAX_BYTES),
            ("--cpu-us", shape.cpu_cost_us, limits::MAX_CPU_US),
            (
                "--timeout-ms",
                u64::try_from(self.request_timeout.as_millis()).unwrap_or(u64::MAX),
                limits::MAX_TIMEOUT_MS,
            ),
        ] {
            if value > max {
                return bad(format!(
                    "{flag} {value} is out of range; it must be at most {max}"
                ));
            }
        }
        if let Movement::Traces(traces) = &self.movement
            && traces.is_empty()
        {
            return bad("no trace to follow".into());
        }
        if self.id_prefix.is_empty() {
            return bad("--id-prefix must not be empty".into());
        }
        if self.max_in_flight == 0 || self.max_in_flight > limits::MAX_IN_FLIGHT {
            return bad(format!(
                "--max-in-flight {} is out of range; it must be from 1 to {}",
                self.max_in_flight,
                limits::MAX_IN_FLIGHT
            ));
        }
        Ok(())
    }
}

/// Runs the fleet against the emulator; every request's row goes to `rows`
/// as it ends ([`spool::spawn_sorter`] sorts them into a file). Returns
/// once every request has ended and its row was taken.
pub async fn run_fleet(config: FleetConfig, rows: RowSender) -> Result<FleetReport, FleetError> {
    config.validate()?;
    let client = connect(&config.emulator, config.token.as_deref()).await?;
    let area = device::emulator_area(&client, &config).await?;
    let start = tokio::time::Instant::now();
    let mut plans = Vec::new();
    for index in 0..config.devices as usize {
        plans.push(device::DevicePlan::new(&config, index, area)?);
    }
    // Register every device before any starts its clock, so a refused
    // registration stops the run before it sends anything (and the ones
    // registered already leave again).
    let mut registered = Vec::new();
    for plan in plans {
        match plan.register(&client).await {
            Ok(device) => registered.push(device),
            Err(error) => {
                let ids: Vec<String> = registered.iter().map(|d| d.id().to_owned()).collect();
                unregister_all(&client, &ids).await;
                return Err(error);
            }
        }
    }
    let ids: Vec<String> = registered.iter().map(|d| d.id().to_owned()).collect();
    let mut tasks = tokio::task::JoinSet::new();
    let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for device in registered {
        let client = client.clone();
        let config = config.clone();
        let rows = rows.clone();
        let in_flight = in_flight.clone();
        tasks.spawn(async move { device.run(client, &config, start, rows, in_flight).await });
    }
    let mut report = FleetReport::default();
    while let Some(done) = tasks.join_next().await {
        let outcome = done.map_err(|e| FleetError::Task(e.to_string()))?;
        report.position_errors += outcome.position_errors.len() as u64;
        report.handovers += outcome.handovers;
        for e in outcome.position_errors {
            if report.position_error_examples.len() < 5 {
                report.position_error_examples.push(e);
            }
        }
    }
    report.unregister_errors = unregister_all(&client, &ids).await;
    Ok(report)
}

/// Unregisters the devices `ids` (so the same ids can run again); the
/// failures, as `id: reason`.
async fn unregister_all(client: &Client, ids: &[String]) -> Vec<String> {
    let mut failures = Vec::new();
    for id in ids {
        let left = client
            .clone()
            .unregister_device(mcc_proto::v1::UnregisterDeviceRequest {
                device_id: id.clone(),
            })
            .await;
        if let Err(status) = left {
            failures.push(format!("{id}: {}", status.message()));
        }
    }
    failures
}
