//! The `mcc-emu` command line: one module per subcommand.

use clap::{Parser, Subcommand};

mod bench;
mod bench_real;
mod bench_serve;
pub mod compare;
pub mod inspect;
mod migrate;
pub mod nodes;
pub mod replay;
pub mod run;
pub mod serve;
pub mod sweep;

/// mcc-emu: an edge-cloudlet mobility emulator.
#[derive(Debug, Parser)]
#[command(name = "mcc-emu", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What `mcc-emu` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an experiment (the embedded default scenario when no file is given).
    Run(run::RunArgs),
    /// Run several policies and techniques on identical traces and seeds, side by side.
    Compare(compare::CompareArgs),
    /// Run a sweep plan (policies, techniques, runs and scenario fields), whole or one shard.
    Sweep(sweep::SweepArgs),
    /// Combine the shards of a sweep into its comparison.
    Merge(sweep::MergeArgs),
    /// Look at an input (a topology, traces, a scenario) without running anything.
    Inspect(inspect::InspectArgs),
    /// Run one VM migration on the virtual clock and print its metrics.
    Migrate(migrate::MigrateArgs),
    /// Serve the emulated edge to external devices over gRPC (EmulatorControl).
    Serve(serve::ServeArgs),
    /// Replay a finished run's output folder in the live view (`--ui ADDR`).
    Replay(replay::ReplayArgs),
    /// Measure this machine for the real-clock driver (delay injection error).
    Bench(bench::BenchArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Run(args) => run::run(args),
            Command::Compare(args) => compare::run(args),
            Command::Sweep(args) => sweep::run(args),
            Command::Merge(args) => sweep::merge(args),
            Command::Inspect(args) => inspect::run(args),
            Command::Migrate(args) => migrate::run(args),
            Command::Bench(args) => bench::run(args),
            Command::Serve(args) => serve::run(args),
            Command::Replay(args) => replay::run(args),
        }
    }
}
