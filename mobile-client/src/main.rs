//! The `mobile-client` binary: emulated IoT devices against `mcc-emu serve`;
//! see [`mcc_mobile_client::fleet`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use mcc_mobile_client::fleet::{self, Arrivals, FleetConfig, Movement, RequestShape};
use mcc_mobile_client::{ReadOptions, read_trace_file};

/// Emulated devices for mcc-emu: each registers with `mcc-emu serve`, moves
/// (a trace, or a seeded random waypoint in the emulator's area), sends
/// requests to its VM and writes one CSV row per request.
#[derive(Debug, Parser)]
#[command(name = "mobile-client", version, about, long_about = None)]
struct Args {
    /// The emulator's gRPC address.
    #[arg(long, value_name = "URL")]
    emulator: String,
    /// How many devices.
    #[arg(long, default_value_t = 1)]
    devices: u32,
    /// How long the devices run, in seconds.
    #[arg(long)]
    duration_s: f64,
    /// Trace files to follow (GPX, PLT, CSV), given to devices round-robin;
    /// without any, each device walks a seeded random waypoint.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    trace: Vec<PathBuf>,
    /// Requests per second per device.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// How requests are spaced: poisson or periodic.
    #[arg(long, default_value = "poisson")]
    arrivals: String,
    /// Seed of the arrivals and random waypoints.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Bearer token the emulator wants (visible in the process list; see
    /// --token-file).
    #[arg(long, conflicts_with = "token_file")]
    token: Option<String>,
    /// File holding the bearer token (its text without the last line break).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The CSV file to write (one row per request).
    #[arg(long)]
    out: PathBuf,
    /// Trace seconds per wall-clock second.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Seconds between two position reports.
    #[arg(long, default_value_t = 1.0)]
    position_interval_s: f64,
    /// Device ids are this prefix and a number.
    #[arg(long, default_value = "device-")]
    id_prefix: String,
    /// Payload bytes per request.
    #[arg(long, default_value_t = 1024)]
    request_bytes: u64,
    /// Bytes of each answer.
    #[arg(long, default_value_t = 1024)]
    response_bytes: u64,
    /// CPU time each request costs the VM, in microseconds.
    #[arg(long, default_value_t = 1000)]
    cpu_us: u64,
    /// Milliseconds a device waits for an answer.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Most requests the whole fleet keeps in flight; a request due beyond
    /// it is not sent and is a row with outcome `not_sent` (1 to 65,536).
    #[arg(long, default_value_t = fleet::MAX_IN_FLIGHT)]
    max_in_flight: usize,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mobile-client: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let movement = if args.trace.is_empty() {
        Movement::RandomWaypoint {
            speed_mps: [0.5, 15.0],
            pause_s: [0.0, 30.0],
        }
    } else {
        let mut traces = Vec::new();
        for path in &args.trace {
            let read = read_trace_file(path, &ReadOptions::default()).map_err(|e| e.to_string())?;
            let skipped = read
                .first()
                .map_or(0, |t| t.cleaning().empty_traces_skipped);
            if skipped > 0 {
                eprintln!(
                    "mobile-client: warning: {}: {skipped} track(s) or route(s) without a point skipped",
                    path.display()
                );
            }
            traces.extend(read);
        }
        Movement::Traces(traces)
    };
    let config = FleetConfig {
        emulator: args.emulator,
        token: match &args.token_file {
            Some(path) => Some(fleet::token_from_file(path)?),
            None => args.token,
        },
        devices: args.devices,
        id_prefix: args.id_prefix,
        duration_s: args.duration_s,
        speed: args.speed,
        movement,
        rate_hz: args.rate,
        arrivals: Arrivals::from_name(&args.arrivals).map_err(|e| format!("--arrivals: {e}"))?,
        seed: args.seed,
        request: RequestShape {
            payload_bytes: args.request_bytes,
            cpu_cost_us: args.cpu_us,
            response_bytes: args.response_bytes,
        },
        position_interval_s: args.position_interval_s,
        request_timeout: Duration::from_millis(args.timeout_ms),
        max_in_flight: args.max_in_flight,
    };
    config.validate().map_err(|e| e.to_string())?;
    check_output_folder(&args.out)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the Tokio runtime: {e}"))?;
    let cannot_write = |e: std::io::Error| format!("cannot write {}: {e}", args.out.display());
    // Rows stream to a sorting thread as requests end (flat memory).
    let (rows, sorter) = fleet::spool::spawn_sorter(&args.out).map_err(cannot_write)?;
    let report = runtime.block_on(fleet::run_fleet(config, rows));
    // Joined whatever the run did: a failed run's spool is removed here.
    let sorted = sorter
        .join()
        .map_err(|_| "the row writer thread panicked".to_owned())?;
    let report = report.map_err(|e| e.to_string())?;
    let sorted = sorted.map_err(cannot_write)?;
    let (requests, ok, not_sent) = (sorted.rows(), sorted.ok(), sorted.not_sent());
    fleet::rows::write_atomically_with(&args.out, |file| sorted.finish(file))
        .map_err(cannot_write)?;
    eprintln!(
        "mobile-client: {requests} requests ({ok} ok, {not_sent} not sent: over --max-in-flight), {} hand-overs, {} failed position reports; rows in {}",
        report.handovers,
        report.position_errors,
        args.out.display()
    );
    for failure in &report.unregister_errors {
        eprintln!("mobile-client: unregister failed: {failure}");
    }
    for example in &report.position_error_examples {
        eprintln!("mobile-client: position report failed: {example}");
    }
    Ok(())
}

/// The folder `out` goes to must exist: better to say so before a run than after.
fn check_output_folder(out: &std::path::Path) -> Result<(), String> {
    match out.parent() {
        Some(folder) if !folder.as_os_str().is_empty() && !folder.is_dir() => Err(format!(
            "--out {}: the folder {} does not exist",
            out.display(),
            folder.display()
        )),
        _ => Ok(()),
    }
}
