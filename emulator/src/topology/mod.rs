//! The network of the world: clouds, cloudlets, access points and routers
//! joined by links, with cached shortest-path delays.
//!
//! - [`model`]: node kinds and their data, links, documented defaults;
//! - [`graph`]: [`Topology`], the petgraph graph with id and dense-index
//!   lookups and link edits;
//! - [`paths`]: shortest paths by latency, one lazily built Dijkstra tree per
//!   source, dropped on every edit;
//! - [`summary`]: the figures `mcc-emu inspect topology` prints;
//! - loaders, each naming file, line and reason on error ([`error`]):
//!   [`toml_format`] (native format, `docs/topology.md`), [`graphml`]
//!   (Internet Topology Zoo), [`sites`] (EUA and iFogSim site CSVs);
//! - [`relocate`] moves a site set to another city, [`combine`] turns sites
//!   into nodes and hangs them off a backbone;
//! - [`positions`] moves backbone nodes where the scenario says;
//! - [`operator`] generates a synthetic operator access network (cell sites
//!   on a [`hexgrid`], aggregation sites with cloudlets) under a backbone;
//!   [`cloud`] adds the remote cloud behind the cloudlets.

pub mod cloud;
pub mod combine;
pub mod error;
pub mod graph;
pub mod graphml;
pub mod hexgrid;
pub mod model;
pub mod operator;
pub mod paths;
pub mod positions;
pub mod relocate;
pub mod sites;
pub mod summary;
pub mod toml_format;

use std::path::Path;

pub use error::{LoadError, Location};
pub use graph::{LinkIx, NodeIx, Topology, TopologyError};
pub use model::{AccessPointSpec, CloudletSpec, Link, LinkDefaults, Node, NodeKind, NodeRole};
pub use paths::Path as NetPath;
pub use sites::{SiteRole, SiteSet};
pub use summary::TopologySummary;

/// A topology read from a file, with what the loader had to work around.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The network.
    pub topology: Topology,
    /// Things worth telling the user (nodes without coordinates, merged
    /// parallel edges...), each naming the file.
    pub warnings: Vec<String>,
}

/// Loads a topology file, choosing the format by extension: `.toml` (native),
/// `.graphml`/`.xml` (Topology Zoo), `.csv` (sites alone, default role).
/// GraphML and CSV links use `defaults`; a TOML file carries its own.
pub fn load_topology(file: &Path, defaults: &LinkDefaults) -> Result<Loaded, LoadError> {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "toml" => toml_format::load_toml(file),
        "graphml" | "xml" => graphml::load_graphml(file, defaults),
        "csv" => combine::sites_topology(&sites::load_sites(file)?, None, defaults),
        _ => Err(LoadError::file(
            file,
            "unknown topology file type: use .toml, .graphml, .xml or .csv",
        )),
    }
}
