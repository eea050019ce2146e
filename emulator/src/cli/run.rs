//! `mcc-emu run`: run an experiment.

use std::path::PathBuf;

/// Arguments of `mcc-emu run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML); the embedded default scenario when omitted.
    pub scenario: Option<PathBuf>,
}

/// Runs `mcc-emu run`.
pub fn run(_args: RunArgs) -> anyhow::Result<()> {
    anyhow::bail!("the experiment engine is not built yet; `mcc-emu run` arrives with it")
}
