//! `mcc-emu sweep PLAN.toml` and `mcc-emu merge DIR...`: a study over
//! policies, techniques, runs and any scenario field, on one machine or
//! split into shards that a cluster's scheduler runs (docs/cluster.md).
//!
//! The plan ([`plan`]) expands into numbered runs ([`expand`]); each run
//! goes through `compare`'s job ([`crate::cli::compare::jobs::run_one`])
//! into its own folder, then a marker makes it complete ([`store`]). The
//! comparison is always built from what is on disk ([`outputs`]), so one
//! machine's sweep and the merge of its shards give the same bytes.

pub mod expand;
mod merge;
mod outputs;
pub mod plan;
mod points;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;

use crate::cli::compare::jobs;
use expand::{RunSpec, Shard};
use plan::Plan;

/// The shape of the outputs, for `--help`.
const OUTPUTS_HELP: &str = "\
Outputs (in --out, default the plan's `output`, else the scenario's `output` + `-sweep`):
without axes, exactly what `mcc-emu compare` writes for the same policies, techniques and
runs: <policy>-<technique>[-run<k>]/ folders, comparison.json, comparison.csv and the SVG
plots. With axes, run folders go in point<k>/ (k numbers the points, first axis
outermost) with that point's plots; comparison.json gains \"axes\": {path: [values]} after
\"seed\", and each row starts with \"point\": k and \"axes\": {path: value}; comparison.csv
with the columns point and axes_<path>. Each run folder also holds sweep-run.json, written
last: the run is complete. A shard writes its runs and sweep-shard-I-of-N.json, and no
comparison: `mcc-emu merge` writes it.";

/// Arguments of `mcc-emu sweep`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = OUTPUTS_HELP)]
pub struct SweepArgs {
    /// The plan file (TOML; docs/cluster.md).
    pub plan: PathBuf,
    /// Print the numbered run list (of this shard with --shard) and stop.
    #[arg(long)]
    pub list: bool,
    /// Run only shard I of N (from 0): the runs whose number is I modulo N.
    /// Writes the runs and sweep-shard-I-of-N.json; `mcc-emu merge` writes
    /// the comparison.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Skip the runs already complete in the output folder (their
    /// sweep-run.json matches this plan), so a stopped job loses only the
    /// runs it was in.
    #[arg(long)]
    pub resume: bool,
    /// Folder for the outputs.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print comparison.json (the run list with --list, the shard's
    /// manifest with --shard) on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: the available cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Write 0 for the wall-clock figures (wall_s, sim_requests_per_s) in
    /// the comparison, so that it is byte-identical from one invocation,
    /// machine or sharding to the next (run folders keep the real ones).
    /// A shard writes no comparison: give it to `merge` instead.
    #[arg(long, conflicts_with = "shard")]
    pub reproducible: bool,
}

/// Arguments of `mcc-emu merge`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = OUTPUTS_HELP)]
pub struct MergeArgs {
    /// Output folders of the shards (one folder if they all wrote there).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Folder for the comparison (default: the one folder given; required
    /// with several).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The plan file (default: the one the shards recorded).
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Print comparison.json on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// As `sweep --reproducible`: 0 for the wall-clock figures.
    #[arg(long)]
    pub reproducible: bool,
}

/// Runs `mcc-emu sweep`.
pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    let plan = Plan::load(&args.plan)?;
    let base = plan.base_file()?;
    let expansion = expand::expand(&plan)?;
    for warning in &expansion.warnings {
        eprintln!("mcc-emu: warning: {warning}");
    }
    if args.list {
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&expansion.listing_json(&plan, args.shard))?
            );
        } else {
            print!("{}", expansion.listing_table(&plan, args.shard));
        }
        return Ok(());
    }
    let out = match (&args.out, &plan.output) {
        (Some(out), _) => out.clone(),
        (None, Some(out)) => out.clone(),
        (None, None) => {
            let mut name = PathBuf::from(&base.output).into_os_string();
            name.push("-sweep");
            PathBuf::from(name)
        }
    };
    let fingerprint = plan.fingerprint();
    if let Some(shard) = args.shard {
        // This shard is not complete until it writes its manifest again.
        store::remove_if_present(&out.join(store::manifest_name(shard)))?;
    }
    let selected: Vec<&RunSpec> = expansion.selected(args.shard).collect();
    let mut to_run = Vec::new();
    for run in &selected {
        let dir = expand::run_folder(&out, run);
        if args.resume && store::read_run(&dir, &fingerprint, run)?.is_some() {
            continue;
        }
        to_run.push(*run);
    }
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    eprintln!(
        "mcc-emu: sweep {}: {} run(s){}, {} already complete, running {} on {} thread(s) into {}",
        plan.file.display(),
        selected.len(),
        args.shard
            .map(|s| format!(" in shard {s} (of {})", expansion.runs.len()))
            .unwrap_or_default(),
        selected.len() - to_run.len(),
        to_run.len(),
        threads.clamp(1, to_run.len().max(1)),
        out.display()
    );
    run_each(&plan, &expansion, &to_run, &out, &fingerprint, threads)?;

    if let Some(shard) = args.shard {
        let manifest = store::Manifest {
            sweep: fingerprint,
            plan: std::path::absolute(&plan.file)
                .with_context(|| format!("cannot locate {}", plan.file.display()))?,
            shard: shard.index,
            shards: shard.count,
            runs: selected.iter().map(|r| r.id).collect(),
        };
        store::write_manifest(&out, &manifest)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&manifest)?);
        } else {
            println!(
                "shard {shard}: {} run(s) complete in {}; when every shard is done: mcc-emu merge {}",
                selected.len(),
                out.display(),
                out.display()
            );
        }
        return Ok(());
    }
    let results = outputs::read_all(&expansion, &fingerprint, |_| out.clone())?;
    let comparison = outputs::write(
        &plan,
        base.seed,
        &expansion,
        results,
        &out,
        args.reproducible,
    )?;
    outputs::print(&comparison, args.json, &out)
}

/// Runs `runs` on `threads` worker threads, each into its folder, then
/// marks it complete; the first failure stops the others from starting.
fn run_each(
    plan: &Plan,
    expansion: &expand::Expansion,
    runs: &[&RunSpec],
    out: &Path,
    fingerprint: &str,
    threads: usize,
) -> anyhow::Result<()> {
    let done = AtomicUsize::new(0);
    let mut uses = vec![0; expansion.points.len()];
    for run in runs {
        uses[run.point] += 1;
    }
    let scenarios = points::PointCache::new(plan, expansion, uses);
    let slots = jobs::each_in_parallel(runs, threads, |run| {
        let point = &expansion.points[run.point];
        let combo = &point.combos[run.combo];
        let scenario = scenarios.get(run.point)?;
        let dir = expand::run_folder(out, run);
        store::clear_marker(&dir)?;
        let started = Instant::now();
        let result = jobs::run_one(
            &scenario,
            combo,
            run.run,
            plan.runs,
            &out.join(&point.folder),
        );
        drop(scenario);
        scenarios.done(run.point);
        let result = result
            .and_then(|result| {
                store::write_marker(&dir, fingerprint, run, &result)?;
                Ok(result)
            })
            .with_context(|| format!("run {} ({})", run.id, run.folder.display()))?;
        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
        eprintln!(
            "[{finished}/{}] run {} {}: {} migrations, p95 {:.3} ms ({:.1} s)",
            runs.len(),
            run.id,
            run.folder.display(),
            result.summary.migrations,
            result.summary.delay_ms.p95,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })?;
    for slot in slots.into_iter().flatten() {
        slot?;
    }
    Ok(())
}

/// Runs `mcc-emu merge`.
pub fn merge(args: MergeArgs) -> anyhow::Result<()> {
    let out = match (&args.out, args.dirs.as_slice()) {
        (Some(out), _) => out.clone(),
        (None, [dir]) => dir.clone(),
        (None, _) => {
            anyhow::bail!("--out: give the folder for the comparison when merging several folders")
        }
    };
    let shards = merge::find_shards(&args.dirs)?;
    let plan_path = match &args.plan {
        Some(path) => path.clone(),
        None => shards.plan.clone(),
    };
    let plan = Plan::load(&plan_path)?;
    let fingerprint = plan.fingerprint();
    if fingerprint != shards.sweep {
        anyhow::bail!(
            "{}: this plan (or its scenario, or this build of mcc-emu) is not the one the shards ran (fingerprint {} here, {} in {})",
            plan_path.display(),
            fingerprint,
            shards.sweep,
            shards.first_manifest.display()
        );
    }
    let base = plan.base_file()?;
    let expansion = expand::expand(&plan)?;
    shards.check_runs(&expansion)?;
    let results = outputs::read_all(&expansion, &fingerprint, |run| {
        shards.dir_of(run.id).to_path_buf()
    })?;
    let comparison = outputs::write(
        &plan,
        base.seed,
        &expansion,
        results,
        &out,
        args.reproducible,
    )?;
    outputs::print(&comparison, args.json, &out)
}
