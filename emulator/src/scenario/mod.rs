//! Scenario files: the TOML that describes an experiment ([`schema`]), the
//! files it names ([`source`]: on disk, or embedded for the default
//! scenario), its network tiers ([`network`]), and their resolution into a runnable [`Scenario`]
//! ([`resolve`]). `docs/scenario.md` documents every field.

pub mod energy;
pub mod limits;
pub mod network;
pub mod radio;
pub mod resolve;
pub mod schema;
pub mod source;

use std::path::Path;

pub use resolve::{Scenario, ScenarioError};
use source::{DiskSource, EmbeddedSource};

/// The default scenario's text.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../topologies/default.toml");

/// The files the default scenario names, compiled into the binary so that
/// `mcc-emu run` works from any folder.
static EMBEDDED: &[(&str, &str)] = &[
    (
        "Heanet.graphml",
        include_str!("../../../topologies/Heanet.graphml"),
    ),
    (
        "traces/dublin-bus-siri-20130131-sample.csv",
        include_str!("../../../topologies/traces/dublin-bus-siri-20130131-sample.csv"),
    ),
];

/// The name the embedded default scenario goes by in messages.
pub const DEFAULT_SCENARIO_PATH: &str = "<embedded>/topologies/default.toml";

/// The embedded default scenario, resolved.
pub fn default_scenario() -> Result<Scenario, ScenarioError> {
    load_embedded(DEFAULT_SCENARIO)
}

/// Scenario text `text` (the default scenario's, changed) resolved with
/// the files embedded for the default scenario.
pub fn load_embedded(text: &str) -> Result<Scenario, ScenarioError> {
    resolve::load(
        Path::new(DEFAULT_SCENARIO_PATH),
        text,
        &EmbeddedSource::new(EMBEDDED),
    )
}

/// Scenario text `text`, as if it were the file `path`: the files it
/// names are relative to `path`'s folder.
pub fn load_text(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let base = path.parent().unwrap_or(Path::new("."));
    resolve::load(path, text, &DiskSource::new(base))
}

/// The network a scenario file on disk describes, with its tiers (see
/// [`resolve::load_topology`]).
pub fn load_topology_file(
    path: &Path,
) -> Result<(crate::topology::Loaded, network::NetworkTiers), ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.display().to_string(),
        message: format!("cannot read it: {e}"),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    resolve::load_topology(path, &text, &DiskSource::new(base))
}

/// A scenario file on disk; the files it names are relative to its folder.
pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.display().to_string(),
        message: format!("cannot read it: {e}"),
    })?;
    load_text(path, &text)
}
