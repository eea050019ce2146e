//! `mcc-emu inspect`: look at the inputs of an experiment without running it.
//!
//! - [`topology`]: a topology file (and a site list hung off it);
//! - [`trace`]: trace files, their figures and handovers ([`trace_report`]
//!   builds what it prints);
//! - [`scenario`]: a scenario file, checked without running it;
//! - [`world`]: the topology loading both share (`--sites`, `--site-role`,
//!   `--relocate-to`).

use clap::Subcommand;

pub mod scenario;
pub mod topology;
pub mod trace;
pub mod trace_report;
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
    /// Read trace files and summarise them (and their handovers with --topology).
    Trace(trace::TraceArgs),
    /// Check a scenario file (every key, every file it names) without running it.
    Scenario(scenario::ScenarioArgs),
}

/// Runs `mcc-emu inspect`.
///
/// An error comes back as a single line (its causes joined by `: `, any line
/// break in a message replaced by a space), so that a bad file always gets
/// exactly one line on standard error.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let result = match args.what {
        InspectCommand::Topology(args) => topology::run(args),
        InspectCommand::Trace(args) => trace::run(args),
        InspectCommand::Scenario(args) => scenario::run(args),
    };
    result.map_err(|e| anyhow::anyhow!(one_line(&e)))
}

/// `error` and its causes on one line.
fn one_line(error: &anyhow::Error) -> String {
    format!("{error:#}").replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_become_one_line_with_their_causes() {
        let e = anyhow::anyhow!("bad\r\nthing").context("f.gpx:3");
        assert_eq!(one_line(&e), "f.gpx:3: bad  thing");
    }
}
