//! `mcc-emu inspect scenario`: check a scenario file without running it.

use std::path::PathBuf;

use serde::Serialize;

use crate::cli::run::load_scenario;

/// Arguments of `mcc-emu inspect scenario`.
#[derive(Debug, clap::Args)]
pub struct ScenarioArgs {
    /// Scenario file (TOML); the embedded default scenario when omitted.
    pub file: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What a valid scenario amounts to.
#[derive(Debug, Serialize)]
struct ScenarioSummary {
    name: String,
    devices: usize,
    cloudlets: usize,
    access_points: usize,
    links: usize,
    duration_s: f64,
    seed: u64,
    policy: String,
    technique: &'static str,
    vm_memory_mib: u64,
    output: String,
    warnings: Vec<String>,
}

/// Runs `mcc-emu inspect scenario`.
pub fn run(args: ScenarioArgs) -> anyhow::Result<()> {
    let scenario = load_scenario(args.file.as_deref())?;
    let summary = ScenarioSummary {
        name: scenario.name.clone(),
        devices: scenario.world.devices.len(),
        cloudlets: scenario.world.cloudlets.len(),
        access_points: scenario.world.access_points.len(),
        links: scenario.world.links.len(),
        duration_s: scenario.settings.duration_ns as f64 / 1e9,
        seed: scenario.settings.seed,
        policy: scenario.policy.clone(),
        technique: scenario.settings.migration.config.technique.name(),
        vm_memory_mib: scenario.settings.migration.vm_memory_bytes() >> 20,
        output: scenario.output.display().to_string(),
        warnings: scenario.warnings.clone(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!("scenario {} is valid", summary.name);
    println!(
        "  {} devices, {} cloudlets, {} access points, {} links",
        summary.devices, summary.cloudlets, summary.access_points, summary.links
    );
    println!(
        "  {} s emulated, seed {}, policy {}, technique {}, VMs of {} MiB",
        summary.duration_s, summary.seed, summary.policy, summary.technique, summary.vm_memory_mib
    );
    println!("  outputs to {}", summary.output);
    for warning in &summary.warnings {
        println!("  warning: {warning}");
    }
    Ok(())
}
