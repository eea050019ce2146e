//! `mcc-emu inspect topology FILE [--sites CSV] [--site-role ROLE]
//! [--relocate-to NODE|LAT,LON] [--json]`: load a topology, optionally hang a
//! site list off it, and print its summary (readable, or JSON with `--json`).

use std::path::PathBuf;

use anyhow::bail;
use mcc_mobile_client::position::LatLon;
use serde::Serialize;

use crate::topology::combine::{attach_sites, sites_topology};
use crate::topology::sites::{SiteRole, SiteSet, load_sites};
use crate::topology::{LinkDefaults, Loaded, NodeKind, Topology, TopologySummary, load_topology};

/// What the sites of a site file become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SiteRoleArg {
    /// An access point per site.
    AccessPoint,
    /// A cloudlet per site.
    Cloudlet,
    /// An access point with a co-located cloudlet per site.
    Both,
}

impl From<SiteRoleArg> for SiteRole {
    fn from(arg: SiteRoleArg) -> Self {
        match arg {
            SiteRoleArg::AccessPoint => SiteRole::AccessPoint,
            SiteRoleArg::Cloudlet => SiteRole::Cloudlet,
            SiteRoleArg::Both => SiteRole::Both,
        }
    }
}

/// Arguments of `mcc-emu inspect topology`.
#[derive(Debug, clap::Args)]
pub struct TopologyArgs {
    /// Topology file: .toml (native), .graphml or .xml (Topology Zoo), or .csv
    /// (a site list alone).
    pub file: PathBuf,
    /// Site list (EUA or iFogSim tiered CSV) to hang off the topology, each
    /// site (or tree root) linked to the nearest backbone node.
    #[arg(long, value_name = "CSV")]
    pub sites: Option<PathBuf>,
    /// What sites become [default: both for EUA files; access-point for the
    /// leaves of an iFogSim tiered file].
    #[arg(long, value_enum)]
    pub site_role: Option<SiteRoleArg>,
    /// Move the sites, keeping their shape, so that their centroid lands on
    /// this backbone node (by id) or on LAT,LON in degrees.
    #[arg(long, value_name = "NODE|LAT,LON", allow_hyphen_values = true)]
    pub relocate_to: Option<String>,
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

/// Where `--relocate-to` points.
fn relocation_target(spec: &str, backbone: &Topology) -> anyhow::Result<LatLon> {
    if let Some((lat, lon)) = spec.split_once(',')
        && let (Ok(lat), Ok(lon)) = (lat.trim().parse::<f64>(), lon.trim().parse::<f64>())
    {
        return LatLon::new(lat, lon).map_err(|e| anyhow::anyhow!("--relocate-to {spec}: {e}"));
    }
    match backbone.node_by_id(spec) {
        Some(node) => match node.position {
            Some(p) => Ok(p),
            None => bail!("--relocate-to {spec}: node {spec:?} has no coordinates"),
        },
        None => bail!("--relocate-to {spec}: not LAT,LON and not a node id of the topology"),
    }
}

/// Loads what the arguments name.
fn load(args: &TopologyArgs) -> anyhow::Result<Loaded> {
    let defaults = LinkDefaults::default();
    let role = args.site_role.map(SiteRole::from);
    let is_csv = args
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv && args.sites.is_none() {
        let mut sites = load_sites(&args.file)?;
        if let Some(spec) = &args.relocate_to {
            sites = relocate(&sites, relocation_target(spec, &Topology::new())?)?;
        }
        return Ok(sites_topology(&sites, role, &defaults)?);
    }
    let backbone = load_topology(&args.file, &defaults)?;
    let Some(site_file) = &args.sites else {
        if args.site_role.is_some() || args.relocate_to.is_some() {
            bail!("--site-role and --relocate-to need --sites CSV");
        }
        return Ok(backbone);
    };
    let mut sites = load_sites(site_file)?;
    if let Some(spec) = &args.relocate_to {
        sites = relocate(&sites, relocation_target(spec, &backbone.topology)?)?;
    }
    Ok(attach_sites(backbone, &sites, role, &defaults)?)
}

fn relocate(sites: &SiteSet, to: LatLon) -> anyhow::Result<SiteSet> {
    sites
        .relocated(to)
        .map_err(|e| anyhow::anyhow!("{}: {e}", sites.file.display()))
}

fn print_readable(args: &TopologyArgs, loaded: &Loaded, summary: &TopologySummary) {
    let mut name = args.file.display().to_string();
    if let Some(sites) = &args.sites {
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
    let loaded = load(&args)?;
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
