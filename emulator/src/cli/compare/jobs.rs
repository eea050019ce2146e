//! The combinations to compare, and the worker threads that run them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use mcc_cloudlet::migration::Technique;

use super::readback::{self, RunFigures};
use crate::cli::run::run_scenario;
use crate::output::{RequestRows, Summary};
use crate::placement;
use crate::scenario::Scenario;

/// One policy under one technique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combination {
    /// The placement policy's name.
    pub policy: String,
    /// The migration technique.
    pub technique: Technique,
}

impl Combination {
    /// `<policy>-<technique>`: the run folder's name and the plots' label.
    pub fn label(&self) -> String {
        format!("{}-{}", self.policy, self.technique.name())
    }
}

/// Every policy × technique, in command-line order (policies outer), each
/// checked before anything runs.
pub fn combinations(
    scenario: &Scenario,
    policies: &[String],
    techniques: &[String],
) -> anyhow::Result<Vec<Combination>> {
    if policies.is_empty() {
        anyhow::bail!("--policies: give at least one policy");
    }
    let techniques: Vec<Technique> = if techniques.is_empty() {
        vec![scenario.settings.migration.config.technique]
    } else {
        techniques
            .iter()
            .map(|name| {
                Technique::from_name(name.trim()).map_err(|_| {
                    anyhow::anyhow!(
                        "--techniques: unknown technique `{name}` (expected one of: {})",
                        Technique::ALL.map(Technique::name).join(", ")
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let mut combos = Vec::new();
    for policy in policies {
        let policy = policy.trim();
        placement::build(policy, &scenario.policy_configs)
            .map_err(|e| anyhow::anyhow!("--policies: {e}"))?;
        for &technique in &techniques {
            let combo = Combination {
                policy: policy.to_owned(),
                technique,
            };
            if combos.contains(&combo) {
                anyhow::bail!(
                    "{} is listed twice (--policies and --techniques must not repeat a name)",
                    combo.label()
                );
            }
            let mut config = scenario.settings.migration.config.clone();
            config.technique = technique;
            config.validate().with_context(|| {
                format!(
                    "technique {} with the scenario's [migration]",
                    technique.name()
                )
            })?;
            combos.push(combo);
        }
    }
    Ok(combos)
}

/// What one run of one combination left.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Its `summary.json`.
    pub summary: Summary,
    /// The seed it ran with.
    pub seed: u64,
    /// What the plots need, read back from its CSV files.
    pub figures: RunFigures,
}

/// The folder of run `run` of `combo`: `OUT/<policy>-<technique>[-run<k>]`.
pub fn run_dir(out: &Path, combo: &Combination, run: u32, runs: u32) -> PathBuf {
    if runs > 1 {
        out.join(format!("{}-run{run}", combo.label()))
    } else {
        out.join(combo.label())
    }
}

/// Runs every combination `runs` times on `threads` worker threads and
/// returns the results by combination, then run, whatever order they
/// finished in. The first failure stops the workers from starting more.
pub fn run_all(
    scenario: &Scenario,
    combos: &[Combination],
    runs: u32,
    out: &Path,
    threads: usize,
    progress: bool,
) -> anyhow::Result<Vec<Vec<RunResult>>> {
    let jobs: Vec<(usize, u32)> = (0..combos.len())
        .flat_map(|c| (0..runs).map(move |r| (c, r)))
        .collect();
    let done = AtomicUsize::new(0);
    let threads = threads.clamp(1, jobs.len().max(1));
    if progress {
        eprintln!(
            "mcc-emu: {} combination(s) x {runs} run(s) on {threads} thread(s)",
            combos.len()
        );
    }
    let run_label = |c: usize, run: u32| {
        format!(
            "{}{}",
            combos[c].label(),
            if runs > 1 {
                format!(" run {run}")
            } else {
                String::new()
            }
        )
    };
    let slots = each_in_parallel(&jobs, threads, |&(c, run)| {
        let started = Instant::now();
        let result = run_one(scenario, &combos[c], run, runs, out);
        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
        if let (Ok(r), true) = (&result, progress) {
            eprintln!(
                "[{finished}/{}] {}: {} migrations, p95 {:.3} ms ({:.1} s)",
                jobs.len(),
                run_label(c, run),
                r.summary.migrations,
                r.summary.delay_ms.p95,
                started.elapsed().as_secs_f64()
            );
        }
        result
    })?;
    let mut by_combo: Vec<Vec<RunResult>> = combos.iter().map(|_| Vec::new()).collect();
    for (slot, &(c, run)) in slots.into_iter().zip(&jobs) {
        match slot {
            Some(Ok(result)) => by_combo[c].push(result),
            Some(Err(err)) => return Err(err.context(run_label(c, run))),
            // Not started because another job failed; that failure is reported.
            None => {}
        }
    }
    if by_combo.iter().any(|r| r.len() != runs as usize) {
        anyhow::bail!("some combinations did not run");
    }
    Ok(by_combo)
}

/// Calls `work` on every item on `threads` worker threads (items taken in
/// order) and returns each item's result in the items' order; once one
/// fails, the workers start no more and the items not started are `None`.
pub fn each_in_parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<Option<anyhow::Result<R>>>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Mutex<Vec<Option<anyhow::Result<R>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else {
                        break;
                    };
                    let result = work(item);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if let Ok(mut slots) = slots.lock() {
                        slots[index] = Some(result);
                    }
                }
            });
        }
    });
    slots
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker thread panicked"))
}

/// Runs one combination once, into its own folder, and reads its figures back.
pub fn run_one(
    scenario: &Scenario,
    combo: &Combination,
    run: u32,
    runs: u32,
    out: &Path,
) -> anyhow::Result<RunResult> {
    let mut scenario = scenario.clone();
    scenario.policy = combo.policy.clone();
    scenario.settings.migration.config.technique = combo.technique;
    let seed = scenario.settings.seed.wrapping_add(u64::from(run));
    scenario.settings.seed = seed;
    let dir = run_dir(out, combo, run, runs);
    let summary = run_scenario(&scenario, &dir, false, RequestRows::Write)?;
    let figures = readback::read_run(&dir, &scenario)?;
    Ok(RunResult {
        summary,
        seed,
        figures,
    })
}
