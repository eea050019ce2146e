//! `mcc-emu bench real`: how large a fleet a real-clock run holds.
//!
//! Runs a scenario (the embedded default without a file) on the real clock
//! (`run --clock real`, nodes in this process) for `--seconds` of wall
//! time at `--speed`, once per fleet size of `--devices`, and prints per
//! run the requests offered and answered and the delay the emulator added
//! to each answered request beyond the model's (`summary.json`'s
//! `real_clock.added_delay_ms`, docs/real-clock.md "The delay the emulator
//! adds"), with this process's CPU and memory. A fleet *holds* when the
//! added delay's p99 is under `--p99-ms` (1 ms, issue #16's bound).
//!
//! The fleet of `N` devices is made from the scenario's own
//! ([`resize_fleet`]): fewer than it has, `N` of them spread evenly over
//! its list (the default scenario's three profiles keep their mix); more,
//! its devices again in turn, each copy named `NAME+K` (same trace and
//! profile, a request clock of its own: device `i` draws from the seed and
//! `i`). `--rate-scale` multiplies every profile's request rate.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::engine::World;
use crate::scenario::Scenario;

/// Most devices a run may have (the scenario files' own limit).
const MAX_DEVICES: u32 = 100_000;
/// Longest run, in wall seconds.
const MAX_SECONDS: f64 = 3_600.0;
/// Highest request rate of one device after scaling (the scenario files'
/// limit: one request per millisecond).
const MAX_RATE_HZ: f64 = 1_000.0;

/// Arguments of `mcc-emu bench real`.
#[derive(Debug, Clone, clap::Args)]
pub struct RealBenchArgs {
    /// Scenario file (TOML); the embedded default scenario when omitted.
    pub scenario: Option<PathBuf>,
    /// Fleet sizes, one run each (comma-separated); default: the
    /// scenario's own device count.
    #[arg(long, value_delimiter = ',')]
    pub devices: Vec<u32>,
    /// Multiplies every profile's request rate.
    #[arg(long, default_value_t = 1.0)]
    pub rate_scale: f64,
    /// Wall seconds each run lasts (the scenario's duration is cut to
    /// `seconds × speed`).
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
    /// Scenario seconds per wall second.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// A run holds when the added delay's p99 is under this, in ms.
    #[arg(long, default_value_t = 1.0)]
    pub p99_ms: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct FleetRun {
    /// Devices in the fleet.
    pub devices: u32,
    /// Requests per second the fleet's profiles ask for in all.
    pub nominal_per_s: f64,
    /// Requests that ended (any outcome) per wall second of the run.
    pub requests_per_s: f64,
    /// Requests that ended.
    pub requests: u64,
    /// Requests that failed (no coverage, timed out, unanswered).
    pub failed: u64,
    /// Added delay of the answered requests, ms (`real_clock.added_delay_ms`).
    pub added_ms: crate::output::DelayStats,
    /// Whether `added_ms.p99` is under `--p99-ms`.
    pub holds: bool,
    /// Migrations completed.
    pub migrations: u64,
    /// Wall seconds the run took, shutdown included.
    pub wall_s: f64,
    /// This process's CPU time over the run's wall time, % of one core.
    pub cpu_pct: Option<f64>,
    /// Its largest resident memory sampled during the run (every second), MiB.
    pub rss_mib: Option<f64>,
}

/// What `bench real --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct RealBench {
    /// The scenario's name.
    pub scenario: String,
    /// Scenario seconds per wall second.
    pub speed: f64,
    /// The rate multiplier.
    pub rate_scale: f64,
    /// The load average when the bench started (the machine may be shared).
    pub load_average: Option<String>,
    /// One entry per fleet size.
    pub runs: Vec<FleetRun>,
}

/// Runs `mcc-emu bench real`.
pub fn run(args: RealBenchArgs) -> anyhow::Result<()> {
    let scenario = super::run::load_scenario(args.scenario.as_deref())?;
    validate(&args, &scenario)?;
    let sizes = if args.devices.is_empty() {
        vec![u32::try_from(scenario.world.devices.len()).unwrap_or(u32::MAX)]
    } else {
        args.devices.clone()
    };
    let load_average = super::bench::load_average();
    if !args.json {
        println!(
            "{}: {:.0} s of wall time per run at speed {}, rates × {}; load average at the start: {}",
            scenario.name,
            args.seconds,
            args.speed,
            args.rate_scale,
            load_average.as_deref().unwrap_or("unknown")
        );
        println!("{}", FleetRun::HEADER);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    let mut runs = Vec::new();
    for devices in sizes {
        let fleet = fleet_scenario(&scenario, devices, &args);
        let run = runtime.block_on(run_fleet(fleet, devices, &args))?;
        if !args.json {
            println!("{}", run.line());
        }
        runs.push(run);
    }
    if args.json {
        let report = RealBench {
            scenario: scenario.name.clone(),
            speed: args.speed,
            rate_scale: args.rate_scale,
            load_average,
            runs,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

fn validate(args: &RealBenchArgs, scenario: &Scenario) -> anyhow::Result<()> {
    if scenario.world.devices.is_empty() {
        bail!(
            "scenario {} has no devices to make a fleet of",
            scenario.name
        );
    }
    for &n in &args.devices {
        if n == 0 || n > MAX_DEVICES {
            bail!("--devices: {n} is out of range; each size must be from 1 to {MAX_DEVICES}");
        }
    }
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= MAX_SECONDS) {
        bail!(
            "--seconds: {} is out of range; it must be > 0 and at most {MAX_SECONDS}",
            args.seconds
        );
    }
    crate::realclock::clock::check_speed("--speed", args.speed, scenario.settings.mobility_step_ns)
        .map_err(anyhow::Error::msg)?;
    let fastest = scenario
        .world
        .workloads
        .iter()
        .map(|w| w.rate_hz)
        .fold(0.0, f64::max);
    if !(args.rate_scale.is_finite()
        && args.rate_scale > 0.0
        && fastest * args.rate_scale <= MAX_RATE_HZ)
    {
        bail!(
            "--rate-scale: {} is out of range; it must be > 0 and keep every profile at most \
             {MAX_RATE_HZ} requests/s (the fastest is {fastest}/s)",
            args.rate_scale
        );
    }
    if !(args.p99_ms.is_finite() && args.p99_ms > 0.0) {
        bail!("--p99-ms: {} must be > 0", args.p99_ms);
    }
    Ok(())
}

/// `scenario` cut to the run's length, with a fleet of `devices` and its
/// rates scaled.
fn fleet_scenario(scenario: &Scenario, devices: u32, args: &RealBenchArgs) -> Scenario {
    let mut fleet = scenario.clone();
    fleet.settings.duration_ns = (args.seconds * args.speed * 1e9).round() as u64;
    resize_fleet(&mut fleet.world, devices as usize);
    for workload in &mut fleet.world.workloads {
        workload.rate_hz *= args.rate_scale;
    }
    fleet
}

/// Makes `world`'s fleet `n` devices long (see the module doc): fewer, `n`
/// spread evenly over the list; more, the list again in turn, copies named
/// `NAME+K`.
pub fn resize_fleet(world: &mut World, n: usize) {
    let have = world.devices.len();
    if have == 0 || n == have {
        return;
    }
    let devices = (0..n)
        .map(|i| {
            if n < have {
                return world.devices[i * have / n].clone();
            }
            let mut device = world.devices[i % have].clone();
            let copy = i / have;
            if copy > 0 {
                device.name = format!("{}+{copy}", device.name);
            }
            device
        })
        .collect();
    world.devices = devices;
}

/// One run of `scenario` on the real clock, its figures.
async fn run_fleet(
    scenario: Scenario,
    devices: u32,
    args: &RealBenchArgs,
) -> anyhow::Result<FleetRun> {
    let nominal_per_s = (0..scenario.world.devices.len())
        .map(|d| scenario.world.workload_of(d).rate_hz)
        .sum::<f64>()
        * args.speed;
    // The outputs are written, as a run's are, then removed.
    let out = std::env::temp_dir().join(format!("mcc-bench-real-{}-{devices}", std::process::id()));
    let options = crate::realclock::RealOptions {
        speed: args.speed,
        nodes: crate::realclock::NodeLaunch::InProcess,
        scenario_devices: true,
        out: Some(out.clone()),
    };
    let name = scenario.name.clone();
    let cpu_before = super::bench::cpu_time("self");
    let wall = Instant::now();
    let mut rss_mib: Option<f64> = None;
    let summary = crate::realclock::run::run_scenario(
        scenario,
        options,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
        |_| {
            if let Some(now) = super::bench::rss_mib("self") {
                rss_mib = Some(rss_mib.map_or(now, |peak: f64| peak.max(now)));
            }
        },
    )
    .await;
    let _ = std::fs::remove_dir_all(&out);
    let summary = summary
        .with_context(|| format!("scenario {name} on the real clock with {devices} devices"))?;
    let wall_s = wall.elapsed().as_secs_f64();
    let cpu_pct = cpu_before
        .zip(super::bench::cpu_time("self"))
        .map(|(before, after)| (after - before).as_secs_f64() / wall_s * 100.0);
    let added_ms = summary
        .real_clock
        .as_ref()
        .map(|real| real.added_delay_ms)
        .unwrap_or_default();
    let holds = summary.requests > summary.failed && added_ms.p99 < args.p99_ms;
    Ok(FleetRun {
        devices,
        nominal_per_s,
        requests_per_s: summary.requests as f64 / args.seconds,
        requests: summary.requests,
        failed: summary.failed,
        added_ms,
        holds,
        migrations: summary.migrations,
        wall_s,
        cpu_pct,
        rss_mib,
    })
}

impl FleetRun {
    const HEADER: &'static str = " devices nominal/s   ended/s    failed  added ms: p50      p99      max   holds  migrations  wall s   cpu%  rss MiB";

    fn line(&self) -> String {
        format!(
            "{:>8} {:>9.0} {:>9.0} {:>9} {:>13.3} {:>8.3} {:>8.3} {:>7} {:>11} {:>7.1} {:>6} {:>8}",
            self.devices,
            self.nominal_per_s,
            self.requests_per_s,
            self.failed,
            self.added_ms.p50,
            self.added_ms.p99,
            self.added_ms.max,
            if self.holds { "yes" } else { "no" },
            self.migrations,
            self.wall_s,
            super::bench::figure_or_dash(self.cpu_pct, 0),
            super::bench::figure_or_dash(self.rss_mib, 1),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(world: &World) -> Vec<String> {
        world.devices.iter().map(|d| d.name.clone()).collect()
    }

    #[test]
    fn fleets_are_spread_over_the_list_or_copied_in_turn() {
        let mut world = crate::engine::example::TwoSites::default().world();
        let mut other = world.devices[0].clone();
        other.name = "other".into();
        world.devices.push(other);
        let mut fewer = world.clone();
        resize_fleet(&mut fewer, 1);
        assert_eq!(names(&fewer), ["walker"]);
        let mut more = world.clone();
        resize_fleet(&mut more, 5);
        assert_eq!(
            names(&more),
            ["walker", "other", "walker+1", "other+1", "walker+2"]
        );
        assert_eq!(more.devices[4].trace, world.devices[0].trace);
        let mut same = world.clone();
        resize_fleet(&mut same, 2);
        assert_eq!(names(&same), ["walker", "other"]);
    }
}
