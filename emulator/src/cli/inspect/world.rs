//! Loading a topology as the `inspect` subcommands name it: a topology file,
//! optionally with a site list hung off it (`--sites`, `--site-role`,
//! `--relocate-to`). `inspect topology` and `inspect trace --topology` share
//! this code and these options.

use std::path::Path;

use anyhow::bail;
use mcc_mobile_client::position::LatLon;

use crate::topology::combine::{attach_sites, sites_topology};
use crate::topology::sites::{SiteRole, SiteSet, load_sites};
use crate::topology::{LinkDefaults, Loaded, Topology, load_topology};

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

/// The options that hang a site list off a topology file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SiteOptions {
    /// Site list (EUA or iFogSim tiered CSV) to hang off the topology, each
    /// site (or tree root) linked to the nearest backbone node.
    #[arg(long, value_name = "CSV")]
    pub sites: Option<std::path::PathBuf>,
    /// What sites become [default: both for EUA files; access-point for the
    /// leaves of an iFogSim tiered file].
    #[arg(long, value_enum)]
    pub site_role: Option<SiteRoleArg>,
    /// Move the sites, keeping their shape, so that their centroid lands on
    /// this backbone node (by id) or on LAT,LON in degrees.
    #[arg(long, value_name = "NODE|LAT,LON", allow_hyphen_values = true)]
    pub relocate_to: Option<String>,
}

impl SiteOptions {
    /// Whether any of the options was given.
    pub fn any(&self) -> bool {
        self.sites.is_some() || self.site_role.is_some() || self.relocate_to.is_some()
    }
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

fn relocate(sites: &SiteSet, to: LatLon) -> anyhow::Result<SiteSet> {
    sites
        .relocated(to)
        .map_err(|e| anyhow::anyhow!("{}: {e}", sites.file.display()))
}

/// Loads `file` (`.toml`, `.graphml`/`.xml`, or a `.csv` site list on its
/// own) and, when `options` name one, hangs a site list off it.
///
/// A `.csv` `file` without `--sites` is a site list alone: `--site-role` and
/// `--relocate-to` (to `LAT,LON` only) apply to it. Otherwise `--site-role`
/// and `--relocate-to` need `--sites`.
pub fn load_with_sites(file: &Path, options: &SiteOptions) -> anyhow::Result<Loaded> {
    let defaults = LinkDefaults::default();
    let role = options.site_role.map(SiteRole::from);
    let is_csv = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv && options.sites.is_none() {
        let mut sites = load_sites(file)?;
        if let Some(spec) = &options.relocate_to {
            sites = relocate(&sites, relocation_target(spec, &Topology::new())?)?;
        }
        return Ok(sites_topology(&sites, role, &defaults)?);
    }
    let backbone = load_topology(file, &defaults)?;
    let Some(site_file) = &options.sites else {
        if options.any() {
            bail!("--site-role and --relocate-to need --sites CSV");
        }
        return Ok(backbone);
    };
    let mut sites = load_sites(site_file)?;
    if let Some(spec) = &options.relocate_to {
        sites = relocate(&sites, relocation_target(spec, &backbone.topology)?)?;
    }
    Ok(attach_sites(backbone, &sites, role, &defaults)?)
}
