//! `mcc-emu inspect topology FILE [--sites CSV] [--site-role ROLE]
//! [--relocate-to NODE|LAT,LON] [--json]`: load a topology, optionally hang a
//! site list off it, and print its summary (readable, or JSON with `--json`).
//! `mcc-emu inspect topology --scenario FILE` prints the network a scenario
//! builds instead, with its tiers (operator network, breakout, cloud).

use std::path::PathBuf;

use serde::Serialize;

use super::world::{SiteOptions, load_with_sites};
use crate::scenario::network::NetworkTiers;
use crate::topology::{Loaded, NodeKind, TopologySummary};

/// Arguments of `mcc-emu inspect topology`.
#[derive(Debug, clap::Args)]
pub struct TopologyArgs {
    /// Topology file: .toml (native), .graphml or .xml (Topology Zoo), or .csv
    /// (a site list alone).
    #[arg(required_unless_present = "scenario", conflicts_with = "scenario")]
    pub file: Option<PathBuf>,
    /// A scenario file instead: its backbone, moved positions, sites,
    /// generated operator network and remote cloud.
    #[arg(long, value_name = "SCENARIO")]
    pub scenario: Option<PathBuf>,
    /// A site list to hang off the topology.
    #[command(flatten)]
    pub sites: SiteOptions,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The `--json` output: the summary plus the loaders' warnings.
#[derive(Debug, Serialize)]
struct JsonOutput<'a> {
    #[serde(flatten)]
    summary: &'a TopologySummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    tiers: Option<&'a NetworkTiers>,
    warnings: &'a [String],
}

fn print_readable(
    args: &TopologyArgs,
    loaded: &Loaded,
    summary: &TopologySummary,
    tiers: Option<&NetworkTiers>,
) {
    let file = args.file.as_ref().or(args.scenario.as_ref());
    let mut name = file.map(|f| f.display().to_string()).unwrap_or_default();
    if let Some(sites) = &args.sites.sites {
        name = format!("{name} + {}", sites.display());
    }
    println!("{name}: {} nodes, {} links", summary.nodes, summary.links);
    let kinds: Vec<String> = NodeKind::ALL
        .iter()
        .map(|k| {
            let n = summary.by_kind.get(k.name()).copied().unwrap_or(0);
            format!("{} {n}", k.name().replace('_', " "))
        })
        .collect();
    println!("  {}", kinds.join(", "));
    println!(
        "  connected: {}",
        if summary.connected { "yes" } else { "no" }
    );
    println!(
        "  diameter: {:.3} ms (largest shortest-path latency between connected nodes)",
        summary.diameter_ms
    );
    if let Some(tiers) = tiers {
        super::scenario::print_tiers(tiers);
    }
    if !loaded.warnings.is_empty() {
        println!("warnings ({}):", loaded.warnings.len());
        for w in &loaded.warnings {
            println!("  - {w}");
        }
    }
}

/// Runs `mcc-emu inspect topology`.
pub fn run(args: TopologyArgs) -> anyhow::Result<()> {
    let (loaded, tiers) = match (&args.file, &args.scenario) {
        (_, Some(_)) if args.sites.sites.is_some() => {
            anyhow::bail!("--sites goes with a topology FILE; a --scenario names its own sites")
        }
        (_, Some(scenario)) => {
            let (loaded, tiers) = crate::scenario::load_topology_file(scenario)?;
            (loaded, Some(tiers))
        }
        (Some(file), None) => (load_with_sites(file, &args.sites)?, None),
        (None, None) => anyhow::bail!("give a topology FILE or --scenario FILE"),
    };
    let summary = loaded.topology.summary();
    if args.json {
        let out = JsonOutput {
            summary: &summary,
            tiers: tiers.as_ref(),
            warnings: &loaded.warnings,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_readable(&args, &loaded, &summary, tiers.as_ref());
    }
    Ok(())
}
