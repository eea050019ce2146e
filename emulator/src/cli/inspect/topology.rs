//! `mcc-emu inspect topology FILE [--sites CSV] [--site-role ROLE]
//! [--relocate-to NODE|LAT,LON] [--json]`: load a topology, optionally hang a
//! site list off it, and print its summary (readable, or JSON with `--json`).

use std::path::PathBuf;

use serde::Serialize;

use super::world::{SiteOptions, load_with_sites};
use crate::topology::{Loaded, NodeKind, TopologySummary};

/// Arguments of `mcc-emu inspect topology`.
#[derive(Debug, clap::Args)]
pub struct TopologyArgs {
    /// Topology file: .toml (native), .graphml or .xml (Topology Zoo), or .csv
    /// (a site list alone).
    pub file: PathBuf,
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
    warnings: &'a [String],
}

fn print_readable(args: &TopologyArgs, loaded: &Loaded, summary: &TopologySummary) {
    let mut name = args.file.display().to_string();
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
    if !loaded.warnings.is_empty() {
        println!("warnings ({}):", loaded.warnings.len());
        for w in &loaded.warnings {
            println!("  - {w}");
        }
    }
}

/// Runs `mcc-emu inspect topology`.
pub fn run(args: TopologyArgs) -> anyhow::Result<()> {
    let loaded = load_with_sites(&args.file, &args.sites)?;
    let summary = loaded.topology.summary();
    if args.json {
        let out = JsonOutput {
            summary: &summary,
            warnings: &loaded.warnings,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_readable(&args, &loaded, &summary);
    }
    Ok(())
}
