//! The comparison of a sweep, built from the runs on disk (their
//! summary.json and sweep-run.json) with `compare`'s aggregation and plots,
//! so that a sweep on one machine and the merge of its shards write the
//! same bytes.

use std::path::{Path, PathBuf};

use crate::cli::compare::aggregate::Comparison;
use crate::cli::compare::jobs::RunResult;
use crate::cli::compare::plots;
use crate::cli::compare::tree::Tree;
use crate::output::AtomicOutputs;

use super::expand::{self, Expansion, RunSpec};
use super::plan::Plan;
use super::points::PointCache;
use super::store;

/// Results by point, then combination, then run.
pub type Results = Vec<Vec<Vec<RunResult>>>;

/// Reads every run of `expansion` back from the output folder `root_of(run)`;
/// a run that is not complete there is an error naming it.
pub fn read_all(
    expansion: &Expansion,
    fingerprint: &str,
    root_of: impl Fn(&RunSpec) -> PathBuf,
) -> anyhow::Result<Results> {
    let mut results: Results = expansion
        .points
        .iter()
        .map(|p| p.combos.iter().map(|_| Vec::new()).collect())
        .collect();
    for run in &expansion.runs {
        let root = root_of(run);
        let dir = expand::run_folder(&root, run);
        let result = store::read_run(&dir, fingerprint, run)?.ok_or_else(|| {
            anyhow::anyhow!(
                "run {} ({}) is not complete in {}: no {} of this sweep in {}",
                run.id,
                run.folder.display(),
                root.display(),
                store::RUN_MARKER,
                dir.display()
            )
        })?;
        results[run.point][run.combo].push(result);
    }
    Ok(results)
}

/// Writes the comparison of `results` into `out`: comparison.json,
/// comparison.csv and the plots (each point's in its folder when the plan
/// has axes); `seed` is the base scenario's. Returns it.
pub fn write(
    plan: &Plan,
    seed: u64,
    expansion: &Expansion,
    mut results: Results,
    out: &Path,
    reproducible: bool,
) -> anyhow::Result<Comparison> {
    if reproducible {
        for run in results.iter_mut().flatten().flatten() {
            run.summary.set_wall_time(0.0);
        }
    }
    let axes = (!plan.axes.is_empty()).then(|| {
        Tree::Node(
            plan.axes
                .iter()
                .map(|a| (a.path.clone(), Tree::List(a.values.clone())))
                .collect(),
        )
    });
    let mut comparison = Comparison::empty(plan.runs, seed, axes);
    for (k, point) in expansion.points.iter().enumerate() {
        comparison.add_rows(&expansion.head(plan, k), &point.combos, &results[k]);
    }
    let mut top = AtomicOutputs::new(out)?;
    top.write("comparison.json", &comparison.json_bytes()?)?;
    top.write("comparison.csv", comparison.to_csv().as_bytes())?;
    let mut folders = Vec::new();
    let scenarios = PointCache::new(plan, expansion, vec![1; expansion.points.len()]);
    for (k, point) in expansion.points.iter().enumerate() {
        let figures = plots::draw_all(&*scenarios.get(k)?, &point.combos, &results[k])?;
        scenarios.done(k);
        if point.folder.as_os_str().is_empty() {
            for (name, svg) in figures {
                top.write(name, svg.as_bytes())?;
            }
        } else {
            let mut outputs = AtomicOutputs::new(&out.join(&point.folder))?;
            for (name, svg) in figures {
                outputs.write(name, svg.as_bytes())?;
            }
            folders.push(outputs);
        }
    }
    // The points' plots first: comparison.json last says all is written.
    for outputs in folders {
        outputs.commit()?;
    }
    top.commit()
        .map_err(|e| e.context(format!("cannot write the comparison in {}", out.display())))?;
    Ok(comparison)
}

/// Prints the comparison's table (or its JSON) as `compare` does.
pub fn print(comparison: &Comparison, json: bool, out: &Path) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            String::from_utf8_lossy(&comparison.json_bytes()?).trim_end()
        );
    } else {
        print!("{}", comparison.table());
        println!("outputs in {}", out.display());
    }
    Ok(())
}
