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
    /// Access point to host paths (access points × hosts), the rows × hosts
    /// the engine's path table stores them as, and host to host paths
    /// (hosts²).
    paths: PathCounts,
    /// Backbone nodes moved, generated operator tiers, breakout, cloud.
    network: crate::scenario::network::NetworkTiers,
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct PathCounts {
    access_point_to_host: usize,
    stored_row_to_host: usize,
    host_to_host: usize,
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
        paths: PathCounts {
            access_point_to_host: scenario.world.paths.access_points()
                * scenario.world.paths.cloudlets(),
            stored_row_to_host: scenario.world.paths.rows() * scenario.world.paths.cloudlets(),
            host_to_host: scenario.world.paths.cloudlets() * scenario.world.paths.cloudlets(),
        },
        network: scenario.network.clone(),
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
    println!(
        "  paths: {} access point to host (stored as {} from access points' rows), {} host \
         to host",
        summary.paths.access_point_to_host,
        summary.paths.stored_row_to_host,
        summary.paths.host_to_host
    );
    print_tiers(&summary.network);
    println!("  outputs to {}", summary.output);
    for warning in &summary.warnings {
        println!("  warning: {warning}");
    }
    Ok(())
}

/// The network tiers, one line each (nothing for a scenario without them).
pub(super) fn print_tiers(tiers: &crate::scenario::network::NetworkTiers) {
    if !tiers.moved_nodes.is_empty() {
        println!(
            "  backbone nodes placed by the scenario: {}",
            tiers.moved_nodes.join(", ")
        );
    }
    if let Some(op) = &tiers.operator {
        let dense = op
            .dense_isd_m
            .map(|isd| {
                format!(
                    " ({} in the dense zone at {isd} m ISD)",
                    op.cell_sites_dense
                )
            })
            .unwrap_or_default();
        println!(
            "  operator network (synthetic): {} cell sites{dense}, {} m ISD elsewhere",
            op.cell_sites, op.isd_m
        );
        println!(
            "    {} aggregation sites with a cloudlet each (at most {} cell sites on one)",
            op.aggregation_sites, op.max_cells_per_aggregation
        );
        let pops: Vec<String> = op
            .metro_pops
            .iter()
            .map(|(id, n)| format!("{id} ({n})"))
            .collect();
        println!(
            "    metro core (aggregation sites per point of presence): {}",
            pops.join(", ")
        );
    }
    println!("  user plane breaks out: {}", tiers.breakout);
    if let Some(c) = &tiers.cloud {
        println!(
            "  remote cloud {}: behind {}, {} ms round trip, {} cores, {} MiB",
            c.id, c.attached_to, c.rtt_ms, c.cpu_cores, c.memory_mib
        );
    }
}
