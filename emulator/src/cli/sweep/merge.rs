//! Finding the shards of a sweep in the folders given to `mcc-emu merge`:
//! one manifest for each shard 0..N of the same sweep, each run complete in
//! exactly one folder. A shard or run missing or found twice is an error
//! that names it.

use std::path::{Path, PathBuf};

use super::expand::{self, Expansion};
use super::store::{self, Manifest};

/// The shards found, checked against each other.
#[derive(Debug)]
pub struct Shards {
    /// The sweep's fingerprint.
    pub sweep: String,
    /// The plan the shards recorded.
    pub plan: PathBuf,
    /// A manifest's path, for messages.
    pub first_manifest: PathBuf,
    /// The folder and manifest of each shard, by index.
    shards: Vec<(PathBuf, PathBuf, Manifest)>,
    /// Every folder given.
    dirs: Vec<PathBuf>,
}

/// Reads the manifests in `dirs` and checks that they are shards 0..N of
/// one sweep, each once.
pub fn find_shards(dirs: &[PathBuf]) -> anyhow::Result<Shards> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut found: Vec<(PathBuf, PathBuf, Manifest)> = Vec::new();
    for dir in dirs {
        let canonical = std::fs::canonicalize(dir)
            .map_err(|e| anyhow::anyhow!("cannot read the folder {}: {e}", dir.display()))?;
        if seen.contains(&canonical) {
            anyhow::bail!("{} is given twice", dir.display());
        }
        seen.push(canonical);
        for (path, manifest) in store::read_manifests(dir)? {
            found.push((dir.clone(), path, manifest));
        }
    }
    let Some((_, first_path, first)) = found.first().cloned() else {
        anyhow::bail!(
            "no sweep-shard-I-of-N.json in {}: no shard of `mcc-emu sweep --shard` finished there",
            list(dirs)
        );
    };
    for (_, path, m) in &found {
        if m.sweep != first.sweep {
            anyhow::bail!(
                "{} and {} are shards of different sweeps (another plan, scenario or build)",
                first_path.display(),
                path.display()
            );
        }
        if m.shards != first.shards {
            anyhow::bail!(
                "{} is a shard of {} and {} of {}: a sweep is split one way",
                first_path.display(),
                first.shards,
                path.display(),
                m.shards
            );
        }
    }
    let count = first.shards;
    let mut shards = Vec::with_capacity(count);
    for index in 0..count {
        let mine: Vec<&(PathBuf, PathBuf, Manifest)> =
            found.iter().filter(|(_, _, m)| m.shard == index).collect();
        match mine.as_slice() {
            [one] => shards.push((*one).clone()),
            [] => anyhow::bail!(
                "shard {index}/{count} is missing: no {} in {} (did its job finish?)",
                store::manifest_name(expand::Shard { index, count }),
                list(dirs)
            ),
            [a, b, ..] => anyhow::bail!(
                "shard {index}/{count} is there twice: {} and {}",
                a.1.display(),
                b.1.display()
            ),
        }
    }
    Ok(Shards {
        sweep: first.sweep.clone(),
        plan: first.plan.clone(),
        first_manifest: first_path,
        shards,
        dirs: dirs.to_vec(),
    })
}

fn list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Shards {
    /// The folder of the shard that ran run `id`.
    pub fn dir_of(&self, id: usize) -> &Path {
        &self.shards[id % self.shards.len()].0
    }

    /// Checks that each shard ran the runs the plan gives it, and that no
    /// run is complete in a folder other than its shard's.
    pub fn check_runs(&self, expansion: &Expansion) -> anyhow::Result<()> {
        let count = self.shards.len();
        for (index, (_, path, manifest)) in self.shards.iter().enumerate() {
            let shard = expand::Shard { index, count };
            let expected: Vec<usize> = expansion.selected(Some(shard)).map(|r| r.id).collect();
            if manifest.runs != expected {
                let missing: Vec<String> = expected
                    .iter()
                    .filter(|id| !manifest.runs.contains(id))
                    .map(usize::to_string)
                    .collect();
                anyhow::bail!(
                    "{}: shard {shard} lists runs {:?}, the plan gives it {:?}{}",
                    path.display(),
                    manifest.runs,
                    expected,
                    if missing.is_empty() {
                        String::new()
                    } else {
                        format!(" (missing: {})", missing.join(", "))
                    }
                );
            }
        }
        if self.dirs.len() > 1 {
            for run in &expansion.runs {
                let own = self.dir_of(run.id);
                let own = std::fs::canonicalize(own).unwrap_or_else(|_| own.to_path_buf());
                for dir in &self.dirs {
                    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
                    if canonical != own
                        && store::read_run(&expand::run_folder(dir, run), &self.sweep, run)?
                            .is_some()
                    {
                        anyhow::bail!(
                            "run {} ({}) is complete twice: in {} (its shard's) and in {}; remove the one left over",
                            run.id,
                            run.folder.display(),
                            own.display(),
                            dir.display()
                        );
                    }
                }
            }
        }
        Ok(())
    }
}
