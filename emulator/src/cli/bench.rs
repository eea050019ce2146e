//! `mcc-emu bench`: measure this machine for the real-clock driver.
//!
//! `mcc-emu bench delay` offers messages at a fixed rate, each waiting a
//! configured delay with each [`TimerKind`], and prints how late the waits
//! ended (observed − configured) and the process CPU time the run took.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Subcommand;
use serde::Serialize;

use mcc_cloudlet::realtime::delay::{DEFAULT_SLEEP_SPIN_MARGIN, DEFAULT_THREAD_MARGIN};
use mcc_cloudlet::realtime::{Timer, TimerKind};

/// Most messages one cell of `bench delay` offers.
const MAX_MESSAGES_PER_CELL: f64 = 1_000_000.0;
/// Longest a cell of `bench delay` may last, in seconds.
const MAX_SECONDS_PER_CELL: f64 = 60.0;
/// Longest configured delay `bench delay` accepts, in ms.
const MAX_DELAY_MS: f64 = 10_000.0;

/// Arguments of `mcc-emu bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub what: BenchCommand,
}

/// The measurements `mcc-emu bench` can make.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Error of wall-clock delay injection, per timer strategy, rate and delay.
    Delay(DelayArgs),
    /// A stepped load against `mcc-emu serve` (started as a child): offered
    /// and answered rates, failures, the delay added to the configured
    /// path, serve's and the generator's CPU and memory, per step.
    Serve(super::bench_serve::ServeBenchArgs),
    /// Real-clock runs of a scenario (the default one without a file) with
    /// fleets of several sizes: requests, the delay the emulator added to
    /// the model's, CPU and memory, per fleet size.
    Real(super::bench_real::RealBenchArgs),
}

/// Arguments of `mcc-emu bench delay`.
#[derive(Debug, clap::Args)]
pub struct DelayArgs {
    /// Message rates to offer, in messages/s (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1000.0, 10000.0])]
    pub rates: Vec<f64>,
    /// Configured delays, in ms (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1.0, 5.0, 20.0])]
    pub delays_ms: Vec<f64>,
    /// How long each (strategy, rate, delay) cell offers messages, in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Spin margin of the timer-thread strategy, in µs.
    #[arg(long, default_value_t = DEFAULT_THREAD_MARGIN.as_micros() as u64)]
    pub thread_margin_us: u64,
    /// Spin margin of the sleep-then-yield-spin strategy, in µs.
    #[arg(long, default_value_t = DEFAULT_SLEEP_SPIN_MARGIN.as_micros() as u64)]
    pub sleep_spin_margin_us: u64,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Figures of one cell of `bench delay`.
#[derive(Debug, Clone, Serialize)]
pub struct DelayCell {
    /// Timer strategy (`tokio`, `sleep-spin`, `thread`).
    pub strategy: &'static str,
    /// Its spin margin in µs (0 for `tokio`).
    pub margin_us: u64,
    /// Offered rate in messages/s.
    pub rate_per_s: f64,
    /// Configured delay in ms.
    pub delay_ms: f64,
    /// Messages measured.
    pub messages: usize,
    /// Error (observed − configured delay) at the 50th percentile, in µs.
    pub error_p50_us: f64,
    /// Error at the 99th percentile, in µs.
    pub error_p99_us: f64,
    /// Largest error, in µs.
    pub error_max_us: f64,
    /// Smallest error, in µs (negative would mean a wait ended early).
    pub error_min_us: f64,
    /// Process CPU time over wall time, in % of one core (absent off Linux).
    pub cpu_pct: Option<f64>,
}

/// Runs `mcc-emu bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchCommand::Delay(args) => run_delay(args),
        BenchCommand::Serve(args) => super::bench_serve::run(args),
        BenchCommand::Real(args) => super::bench_real::run(args),
    }
}

fn run_delay(args: DelayArgs) -> anyhow::Result<()> {
    validate(&args)?;
    if !args.json
        && let Some(load) = load_average()
    {
        println!("load average before the run: {load}");
    }
    if !args.json {
        println!(
            "{:<11} {:>7} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>6}",
            "strategy",
            "margin",
            "rate/s",
            "delay",
            "msgs",
            "p50 µs",
            "p99 µs",
            "max µs",
            "min µs",
            "cpu%"
        );
    }
    let cells = measure_delay(&args, |cell| {
        if !args.json {
            print_cell(cell);
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&cells)?);
    }
    Ok(())
}

/// Runs every (strategy, rate, delay) cell of `bench delay`, calling
/// `on_cell` as each one ends.
pub fn measure_delay(
    args: &DelayArgs,
    mut on_cell: impl FnMut(&DelayCell),
) -> anyhow::Result<Vec<DelayCell>> {
    validate(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    let kinds = [
        TimerKind::Tokio,
        TimerKind::SleepSpin {
            margin: Duration::from_micros(args.sleep_spin_margin_us),
        },
        TimerKind::Thread {
            margin: Duration::from_micros(args.thread_margin_us),
        },
    ];
    let mut cells = Vec::new();
    for kind in kinds {
        let timer = Timer::new(kind).context("starting the timer")?;
        for &rate in &args.rates {
            for &delay_ms in &args.delays_ms {
                let cell = runtime.block_on(measure_cell(&timer, rate, delay_ms, args.seconds))?;
                on_cell(&cell);
                cells.push(cell);
            }
        }
    }
    Ok(cells)
}

/// Checks the arguments of `bench delay`, naming the flag that is wrong.
fn validate(args: &DelayArgs) -> anyhow::Result<()> {
    if !(args.seconds > 0.0 && args.seconds <= MAX_SECONDS_PER_CELL) {
        bail!(
            "--seconds must lie in (0, {MAX_SECONDS_PER_CELL}], got {}",
            args.seconds
        );
    }
    if args.rates.is_empty() || args.delays_ms.is_empty() {
        bail!("--rates and --delays-ms need at least one value each");
    }
    for &rate in &args.rates {
        if !(rate.is_finite() && rate > 0.0) {
            bail!("--rates: every rate must be a number of messages/s > 0, got {rate}");
        }
    }
    for &delay in &args.delays_ms {
        if !(delay.is_finite() && (0.0..=MAX_DELAY_MS).contains(&delay)) {
            bail!("--delays-ms: every delay must lie in [0, {MAX_DELAY_MS}] ms, got {delay}");
        }
    }
    if args.workers == 0 {
        bail!("--workers must be at least 1");
    }
    Ok(())
}

async fn measure_cell(
    timer: &Timer,
    rate: f64,
    delay_ms: f64,
    seconds: f64,
) -> anyhow::Result<DelayCell> {
    let count = (rate * seconds).clamp(1.0, MAX_MESSAGES_PER_CELL) as u64;
    let delay = Duration::from_secs_f64(delay_ms / 1e3);
    let cpu_before = process_cpu_time();
    let start = Instant::now();
    let mut waits = Vec::with_capacity(count as usize);
    for i in 0..count {
        let offer_at = start + Duration::from_secs_f64(i as f64 / rate);
        if offer_at > Instant::now() {
            tokio::time::sleep_until(offer_at.into()).await;
        }
        let timer = timer.clone();
        waits.push(tokio::spawn(async move {
            let deadline = Instant::now() + delay;
            timer.sleep_until(deadline).await;
            let now = Instant::now();
            if now >= deadline {
                (now - deadline).as_secs_f64() * 1e6
            } else {
                -((deadline - now).as_secs_f64() * 1e6)
            }
        }));
    }
    let mut errors_us = Vec::with_capacity(waits.len());
    for wait in waits {
        errors_us.push(wait.await.context("a waiting task failed")?);
    }
    let wall = start.elapsed();
    let cpu_pct = match (cpu_before, process_cpu_time()) {
        (Some(before), Some(after)) => {
            Some(after.saturating_sub(before).as_secs_f64() / wall.as_secs_f64() * 100.0)
        }
        _ => None,
    };
    errors_us.sort_by(f64::total_cmp);
    let quantile = |q: f64| -> f64 {
        let index = ((errors_us.len() as f64 - 1.0) * q).round() as usize;
        errors_us.get(index).copied().unwrap_or(f64::NAN)
    };
    let kind = timer.kind();
    Ok(DelayCell {
        strategy: kind.name(),
        margin_us: kind.margin().map_or(0, |m| m.as_micros() as u64),
        rate_per_s: rate,
        delay_ms,
        messages: errors_us.len(),
        error_p50_us: quantile(0.5),
        error_p99_us: quantile(0.99),
        error_max_us: quantile(1.0),
        error_min_us: quantile(0.0),
        cpu_pct,
    })
}

fn print_cell(cell: &DelayCell) {
    let cpu = cell
        .cpu_pct
        .map_or_else(|| "-".to_owned(), |pct| format!("{pct:.0}"));
    println!(
        "{:<11} {:>5}µs {:>8} {:>6}ms {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>6}",
        cell.strategy,
        cell.margin_us,
        cell.rate_per_s,
        cell.delay_ms,
        cell.messages,
        cell.error_p50_us,
        cell.error_p99_us,
        cell.error_max_us,
        cell.error_min_us,
        cpu
    );
}

/// User + system CPU time of this process, from `/proc/self/stat` (Linux;
/// `USER_HZ` is 100 on every Linux ABI, so the resolution is 10 ms).
fn process_cpu_time() -> Option<Duration> {
    cpu_time("self")
}

/// User + system CPU time of process `pid` (`self`: this one), from
/// `/proc/PID/stat` (Linux only; 10 ms resolution).
pub(super) fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ")".
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Resident memory of process `pid` (`self` for this one), from
/// `/proc/PID/status` (Linux only), in MiB.
pub(super) fn rss_mib(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// `v` with `digits` decimals, or `-` when it could not be measured.
pub(super) fn figure_or_dash(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

/// The load average of the machine (1, 5 and 15 minutes), Linux only.
pub(super) fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> DelayArgs {
        DelayArgs {
            rates: vec![1000.0],
            delays_ms: vec![0.5],
            seconds: 0.01,
            thread_margin_us: 300,
            sleep_spin_margin_us: 2000,
            workers: 2,
            json: true,
        }
    }

    #[test]
    fn every_strategy_is_measured_and_none_wakes_early() {
        let cells = measure_delay(&args(), |_| {}).expect("bench");
        let names: Vec<&str> = cells.iter().map(|c| c.strategy).collect();
        assert_eq!(names, ["tokio", "sleep-spin", "thread"]);
        for cell in &cells {
            assert_eq!(cell.messages, 10);
            assert!(cell.error_min_us >= 0.0, "{} woke early", cell.strategy);
            assert!(
                cell.error_p50_us <= cell.error_p99_us && cell.error_p99_us <= cell.error_max_us
            );
        }
    }

    #[test]
    fn bad_arguments_name_the_flag() {
        type Spoil = fn(&mut DelayArgs);
        let cases: [(Spoil, &str); 5] = [
            (|a| a.seconds = 0.0, "--seconds"),
            (|a| a.seconds = 1e9, "--seconds"),
            (|a| a.rates = vec![-1.0], "--rates"),
            (|a| a.delays_ms = vec![f64::NAN], "--delays-ms"),
            (|a| a.workers = 0, "--workers"),
        ];
        for (spoil, flag) in cases {
            let mut bad = args();
            spoil(&mut bad);
            let error = measure_delay(&bad, |_| {}).expect_err("bad arguments");
            assert!(error.to_string().contains(flag), "{error}");
        }
    }
}
