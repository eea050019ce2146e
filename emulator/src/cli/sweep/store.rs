//! What a sweep leaves on disk besides each run's own files, and how it is
//! read back.
//!
//! - `sweep-run.json` in a run's folder: written last, atomically (a
//!   temporary name, then a rename), after the run's own files were
//!   committed. Its presence, with the sweep's fingerprint, the run's
//!   number, folder and seed, is what makes a run *complete*; it carries
//!   the figures the plots need, so that neither `--resume` nor `merge`
//!   reads requests.csv again.
//! - `sweep-shard-I-of-N.json` in the output folder: written when shard I
//!   of N has completed all its runs; `merge` requires one of each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::cli::compare::jobs::RunResult;
use crate::cli::compare::readback::{RunFigures, TIME_BINS, empty_histogram};
use crate::output::{AtomicOutputs, Summary};

use super::expand::{RunSpec, Shard};

/// The name of a run's completion marker.
pub const RUN_MARKER: &str = "sweep-run.json";

/// A run's completion marker.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    /// The sweep's fingerprint.
    sweep: String,
    /// The run's number.
    run: usize,
    /// Its folder, relative to the output folder.
    folder: String,
    /// Its seed.
    seed: u64,
    /// The delay histogram: (highest equivalent value in µs, count) of every
    /// recorded bucket.
    delay_us: Vec<(u64, u64)>,
    /// Migrations started in each time bin.
    migrations_per_bin: Vec<u64>,
    /// Migrations per (source, target) cloudlet index: (source, target, count).
    migration_pairs: Vec<(u32, u32, u64)>,
}

/// Marks run `run` of sweep `fingerprint`, in folder `dir`, complete.
pub fn write_marker(
    dir: &Path,
    fingerprint: &str,
    run: &RunSpec,
    result: &RunResult,
) -> anyhow::Result<()> {
    let f = &result.figures;
    let marker = Marker {
        sweep: fingerprint.to_owned(),
        run: run.id,
        folder: folder_text(&run.folder),
        seed: run.seed,
        delay_us: f
            .delay_us
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect(),
        migrations_per_bin: f.migrations_per_bin.clone(),
        migration_pairs: f
            .migration_pairs
            .iter()
            .map(|(&(a, b), &n)| (a, b, n))
            .collect(),
    };
    let mut outputs = AtomicOutputs::new(dir)?;
    outputs.write(RUN_MARKER, &serde_json::to_vec(&marker)?)?;
    outputs.commit()
}

/// Removes run folder `dir`'s marker, if any: the run is no longer
/// complete (before it runs again).
pub fn clear_marker(dir: &Path) -> anyhow::Result<()> {
    remove_if_present(&dir.join(RUN_MARKER))
}

/// Removes the file `path` if it is there.
pub fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// A run folder's path as markers and manifests write it (`/` between parts).
fn folder_text(folder: &Path) -> String {
    folder
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Run `run` of sweep `fingerprint` read back from folder `dir`: its
/// summary.json and its marker's figures. `Ok(None)` when it is not
/// complete there: no marker, or the marker of another sweep or run.
pub fn read_run(dir: &Path, fingerprint: &str, run: &RunSpec) -> anyhow::Result<Option<RunResult>> {
    let marker_path = dir.join(RUN_MARKER);
    let bytes = match std::fs::read(&marker_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", marker_path.display())),
    };
    let Ok(marker) = serde_json::from_slice::<Marker>(&bytes) else {
        return Ok(None);
    };
    if marker.sweep != fingerprint
        || marker.run != run.id
        || marker.folder != folder_text(&run.folder)
        || marker.seed != run.seed
    {
        return Ok(None);
    }
    // The marker is written after the run's files: a summary gone or
    // damaged since makes the run incomplete again.
    let summary_path = dir.join("summary.json");
    let summary_bytes = match std::fs::read(&summary_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", summary_path.display())),
    };
    let Ok(summary) = serde_json::from_slice::<Summary>(&summary_bytes) else {
        return Ok(None);
    };
    let mut delay_us = empty_histogram();
    for (value, count) in marker.delay_us {
        delay_us
            .record_n(value, count)
            .with_context(|| format!("{}: delay {value} µs", marker_path.display()))?;
    }
    if marker.migrations_per_bin.len() != TIME_BINS {
        anyhow::bail!(
            "{}: {} time bins, expected {TIME_BINS}",
            marker_path.display(),
            marker.migrations_per_bin.len()
        );
    }
    Ok(Some(RunResult {
        summary,
        seed: marker.seed,
        figures: RunFigures {
            delay_us,
            migrations_per_bin: marker.migrations_per_bin,
            migration_pairs: marker
                .migration_pairs
                .into_iter()
                .map(|(a, b, n)| ((a, b), n))
                .collect::<BTreeMap<_, _>>(),
        },
    }))
}

/// What a shard leaves when all its runs are complete.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The sweep's fingerprint.
    pub sweep: String,
    /// The plan file, absolute.
    pub plan: PathBuf,
    /// I.
    pub shard: usize,
    /// N.
    pub shards: usize,
    /// The numbers of its runs.
    pub runs: Vec<usize>,
}

/// The manifest file name of `shard`.
pub fn manifest_name(shard: Shard) -> String {
    format!("sweep-shard-{}-of-{}.json", shard.index, shard.count)
}

/// Writes `manifest` into `out`, atomically.
pub fn write_manifest(out: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let name = manifest_name(Shard {
        index: manifest.shard,
        count: manifest.shards,
    });
    let mut json = serde_json::to_vec_pretty(manifest)?;
    json.push(b'\n');
    let mut outputs = AtomicOutputs::new(out)?;
    outputs.write(&name, &json)?;
    outputs.commit()
}

/// Every shard manifest in folder `dir`, with its path, by name order.
pub fn read_manifests(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Manifest)>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("sweep-shard-") && n.ends_with(".json"))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let manifest: Manifest = serde_json::from_slice(
                &std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
            )
            .with_context(|| format!("{}: not a shard manifest", path.display()))?;
            Ok((path, manifest))
        })
        .collect()
}
