//! `mcc-emu run`: run an experiment on the virtual clock and write its results.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::engine::Engine;
use crate::output::{AtomicOutputs, CsvFiles, Names, RecordWriter, Summary};
use crate::placement;
use crate::scenario::{self, Scenario};

/// Arguments of `mcc-emu run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML); the embedded default scenario when omitted.
    pub scenario: Option<PathBuf>,
    /// Folder for the outputs (default: the scenario's `output`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's placement policy (never, nearest, threshold,
    /// least-loaded, ga, optimal).
    #[arg(long)]
    pub policy: Option<String>,
    /// Override the scenario's migration technique (stop-and-copy, pre-copy,
    /// post-copy, soft); its other migration settings stay.
    #[arg(long)]
    pub technique: Option<String>,
}

/// Loads the scenario `path`, or the embedded default.
pub fn load_scenario(path: Option<&std::path::Path>) -> anyhow::Result<Scenario> {
    Ok(match path {
        Some(path) => scenario::load_file(path)?,
        None => scenario::default_scenario()?,
    })
}

/// Runs `mcc-emu run`.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut scenario = load_scenario(args.scenario.as_deref())?;
    if let Some(seed) = args.seed {
        scenario.settings.seed = seed;
    }
    if let Some(policy) = args.policy {
        scenario.policy = policy;
    }
    if let Some(technique) = args.technique {
        scenario.settings.migration.config.technique =
            mcc_cloudlet::migration::Technique::from_name(&technique)
                .map_err(|e| anyhow::anyhow!("--technique: {e}"))?;
    }
    for warning in &scenario.warnings {
        eprintln!("mcc-emu: warning: {warning}");
    }
    let out = args.out.unwrap_or_else(|| scenario.output.clone());
    let summary = run_scenario(
        &scenario,
        &out,
        !args.json && std::io::stderr().is_terminal(),
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&scenario, &summary, &out);
    }
    Ok(())
}

/// Runs `scenario` and writes its outputs into `out` (all or nothing).
pub fn run_scenario(
    scenario: &Scenario,
    out: &std::path::Path,
    progress: bool,
) -> anyhow::Result<Summary> {
    let policy =
        placement::build(&scenario.policy, &scenario.policy_configs).map_err(anyhow::Error::msg)?;
    let mut outputs = AtomicOutputs::new(out)?;
    let files = CsvFiles {
        requests: outputs.create("requests.csv")?,
        handovers: outputs.create("handovers.csv")?,
        migrations: outputs.create("migrations.csv")?,
    };
    let world = &scenario.world;
    let names = Arc::new(Names {
        devices: world.devices.iter().map(|d| d.name.clone()).collect(),
        vms: world
            .devices
            .iter()
            .map(|d| format!("vm-{}", d.name))
            .collect(),
        hosts: world.cloudlets.iter().map(|c| c.name.clone()).collect(),
        access_points: world.access_points.iter().map(|a| a.name.clone()).collect(),
    });
    let metric_header = mcc_cloudlet::migration::MigrationReport::FLAT_FIELDS.join(",");
    let writer = RecordWriter::start(files, names, &metric_header)?;
    let engine = Engine::new(world, scenario.settings.clone(), policy, writer)
        .with_context(|| format!("scenario {}", scenario.name))?;
    let bar = progress.then(|| progress_bar(scenario.settings.duration_ns));
    let started = Instant::now();
    let (mut summary, writer) = engine.run(|now_ns| {
        if let Some(bar) = &bar {
            bar.set_position(now_ns / 1_000_000_000);
        }
    });
    writer.finish()?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let wall_s = started.elapsed().as_secs_f64();
    summary.wall_s = (wall_s * 1e3).round() / 1e3;
    summary.sim_requests_per_s = if wall_s > 0.0 {
        (summary.requests as f64 / wall_s).round()
    } else {
        0.0
    };
    let mut json = serde_json::to_vec_pretty(&summary)?;
    json.push(b'\n');
    outputs.write("summary.json", &json)?;
    outputs.commit()?;
    Ok(summary)
}

fn progress_bar(duration_ns: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(duration_ns / 1_000_000_000);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} s emulated ({eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

fn print_summary(scenario: &Scenario, s: &Summary, out: &std::path::Path) {
    let technique = scenario.settings.migration.config.technique.name();
    println!(
        "{}: {} devices, {} cloudlets, {:.0} s emulated, policy {}, technique {}",
        scenario.name, s.devices, s.cloudlets, s.sim_duration_s, scenario.policy, technique
    );
    println!(
        "requests  {:>10}   failed {:>8}   SLA violations {:>8}",
        s.requests, s.failed, s.sla_violations
    );
    println!(
        "delay ms  mean {:.3}   p50 {:.3}   p95 {:.3}   p99 {:.3}   max {:.3}",
        s.delay_ms.mean, s.delay_ms.p50, s.delay_ms.p95, s.delay_ms.p99, s.delay_ms.max
    );
    println!(
        "migrations {:>9}   downtime {:.3} ms in all   {} bytes moved",
        s.migrations, s.downtime_ms_total, s.bytes_migrated
    );
    println!(
        "wall {:.3} s   {:.0} requests emulated per second",
        s.wall_s, s.sim_requests_per_s
    );
    println!("outputs in {}", out.display());
}
