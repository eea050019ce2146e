//! `mcc-emu compare`: run several placement policies and migration techniques
//! on identical traces and seeds, side by side.
//!
//! The scenario is loaded once; every combination policy × technique × run
//! becomes a job (`jobs`) that worker threads take in turn and run through
//! [`run_scenario`](super::run::run_scenario) into its own folder. After each
//! run its CSV files are read back, streaming, into fixed-size figures
//! (`readback`); the summaries are gathered per combination, with mean and
//! spread over runs (`aggregate`), and written as a table, `comparison.json`,
//! `comparison.csv` and SVG plots (`plots`), all in one atomic commit.

// `sweep` (one module up) reuses the jobs, the aggregation and the plots.
pub(crate) mod aggregate;
pub(crate) mod jobs;
pub(crate) mod plots;
pub(crate) mod readback;
pub(crate) mod tree;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;

use crate::output::AtomicOutputs;

use super::run::load_scenario;

/// Arguments of `mcc-emu compare`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = aggregate::JSON_HELP)]
pub struct CompareArgs {
    /// Scenario file (TOML); the embedded default scenario when omitted.
    pub scenario: Option<PathBuf>,
    /// Placement policies to compare, in the order the outputs list them.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ga,nearest,threshold,never"
    )]
    pub policies: Vec<String>,
    /// Migration techniques to compare (stop-and-copy, pre-copy, post-copy,
    /// soft, hybrid); the scenario's technique when omitted.
    #[arg(long, value_delimiter = ',')]
    pub techniques: Vec<String>,
    /// Runs per combination; run k uses the scenario's seed + k, the same for
    /// every combination, so all see identical traces and request times.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,
    /// Folder for the outputs (default: the scenario's `output` + `-compare`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print comparison.json on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: the available cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
}

/// Runs `mcc-emu compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let scenario = load_scenario(args.scenario.as_deref())?;
    for warning in &scenario.warnings {
        eprintln!("mcc-emu: warning: {warning}");
    }
    let combos = jobs::combinations(&scenario, &args.policies, &args.techniques)?;
    let out = args.out.unwrap_or_else(|| {
        let mut name = scenario.output.clone().into_os_string();
        name.push("-compare");
        PathBuf::from(name)
    });
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    let progress = std::io::stderr().is_terminal();
    let results = jobs::run_all(&scenario, &combos, args.runs, &out, threads, progress)?;

    let comparison =
        aggregate::Comparison::new(&combos, args.runs, scenario.settings.seed, &results);
    let mut outputs = AtomicOutputs::new(&out)?;
    let json = comparison.json_bytes()?;
    outputs.write("comparison.json", &json)?;
    outputs.write("comparison.csv", comparison.to_csv().as_bytes())?;
    for (name, svg) in plots::draw_all(&scenario, &combos, &results)? {
        outputs.write(name, svg.as_bytes())?;
    }
    outputs
        .commit()
        .with_context(|| format!("cannot write the comparison in {}", out.display()))?;

    if args.json {
        println!("{}", String::from_utf8_lossy(&json).trim_end());
    } else {
        print!("{}", comparison.table());
        println!("outputs in {}", out.display());
    }
    Ok(())
}
