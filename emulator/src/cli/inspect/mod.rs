//! `mcc-emu inspect`: look at the inputs of an experiment without running it.

use clap::Subcommand;

pub mod topology;
pub mod world;

/// Arguments of `mcc-emu inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// What to inspect.
    #[command(subcommand)]
    pub what: InspectCommand,
}

/// The things `mcc-emu inspect` can look at.
#[derive(Debug, Subcommand)]
pub enum InspectCommand {
    /// Load a topology (and optionally a site list hung off it) and summarise it.
    Topology(topology::TopologyArgs),
}

/// Runs `mcc-emu inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    match args.what {
        InspectCommand::Topology(args) => topology::run(args),
    }
}
