//! A plan expanded into its numbered runs: the points (one value of every
//! axis, first axis outermost), each point's combinations (policies outer,
//! techniques inner, as `compare`), and each combination's runs. The
//! numbering is deterministic, so every shard of a sweep computes the same
//! list; shard I of N takes the runs whose number is I modulo N.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::plan::Plan;
use crate::cli::compare::jobs::{self, Combination};
use crate::cli::compare::tree::Tree;

/// One point of the sweep: a value of every axis.
#[derive(Debug, Clone)]
pub struct Point {
    /// The index of each axis's value.
    pub values: Vec<usize>,
    /// The folder its runs go in, relative to the output folder (empty
    /// without axes, `point<k>` with).
    pub folder: PathBuf,
    /// Its combinations, in `compare`'s order.
    pub combos: Vec<Combination>,
    /// Its scenario's seed (run k uses seed + k).
    pub seed: u64,
}

/// One run of the sweep.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Its number, from 0.
    pub id: usize,
    /// Its point.
    pub point: usize,
    /// Its combination in the point.
    pub combo: usize,
    /// Which run of the combination (from 0).
    pub run: u32,
    /// The seed it runs with.
    pub seed: u64,
    /// Its folder, relative to the output folder.
    pub folder: PathBuf,
}

/// A plan's points and runs.
#[derive(Debug)]
pub struct Expansion {
    /// The points, in order.
    pub points: Vec<Point>,
    /// The runs, in number order.
    pub runs: Vec<RunSpec>,
    /// What the loaders had to work around, each once.
    pub warnings: Vec<String>,
}

/// `--shard I/N`: this process runs shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// I, from 0.
    pub index: usize,
    /// N.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let form = || format!("`{text}` is not I/N (shard I of N, from 0: 0/4, 1/4, 2/4, 3/4)");
        let (i, n) = text.split_once('/').ok_or_else(form)?;
        let index: usize = i.trim().parse().map_err(|_| form())?;
        let count: usize = n.trim().parse().map_err(|_| form())?;
        if count == 0 {
            return Err(format!("`{text}`: N must be at least 1"));
        }
        if index >= count {
            return Err(format!(
                "`{text}`: I must be in 0..={} (shards are numbered from 0)",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether run number `id` belongs to this shard.
    pub fn owns(&self, id: usize) -> bool {
        id % self.count == self.index
    }
}

/// Expands `plan`: loads every point's scenario once (which checks it, and
/// gives its combinations and seed), then drops it.
pub fn expand(plan: &Plan) -> anyhow::Result<Expansion> {
    let sizes: Vec<usize> = plan.axes.iter().map(|a| a.values.len()).collect();
    let total: usize = sizes.iter().product();
    let width = total.saturating_sub(1).to_string().len();
    let mut points = Vec::with_capacity(total);
    let mut runs = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    for k in 0..total {
        // Mixed radix, the last axis fastest.
        let mut rest = k;
        let mut values = vec![0; sizes.len()];
        for (slot, size) in values.iter_mut().zip(&sizes).rev() {
            *slot = rest % size;
            rest /= size;
        }
        let scenario = plan.load_point(&values)?;
        let combos = jobs::combinations(&scenario, &plan.policies, &plan.techniques)
            .map_err(|e| anyhow::anyhow!("{}: {e:#}", plan.file.display()))?;
        let folder = if plan.axes.is_empty() {
            PathBuf::new()
        } else {
            PathBuf::from(format!("point{k:0width$}"))
        };
        let seed = scenario.settings.seed;
        for warning in &scenario.warnings {
            if !warnings.contains(warning) {
                warnings.push(warning.clone());
            }
        }
        for (c, combo) in combos.iter().enumerate() {
            for run in 0..plan.runs {
                runs.push(RunSpec {
                    id: runs.len(),
                    point: k,
                    combo: c,
                    run,
                    seed: seed.wrapping_add(u64::from(run)),
                    folder: jobs::run_dir(&folder, combo, run, plan.runs),
                });
            }
        }
        points.push(Point {
            values,
            folder,
            combos,
            seed,
        });
    }
    Ok(Expansion {
        points,
        runs,
        warnings,
    })
}

impl Expansion {
    /// The members that head a point's rows: `point` and `axes` (none
    /// without axes).
    pub fn head(&self, plan: &Plan, point: usize) -> Vec<(String, Tree)> {
        if plan.axes.is_empty() {
            return Vec::new();
        }
        let values = plan
            .axes
            .iter()
            .zip(&self.points[point].values)
            .map(|(axis, &v)| (axis.path.clone(), axis.values[v].clone()))
            .collect();
        vec![
            ("point".to_owned(), Tree::Leaf(json!(point))),
            ("axes".to_owned(), Tree::Node(values)),
        ]
    }

    /// The run list as `--list --json` prints it.
    pub fn listing_json(&self, plan: &Plan, shard: Option<Shard>) -> Tree {
        Tree::List(
            self.selected(shard)
                .map(|r| {
                    let combo = &self.points[r.point].combos[r.combo];
                    let mut members = vec![("run".to_owned(), Tree::Leaf(json!(r.id)))];
                    if let Some(shard) = shard {
                        members.push(("shard".to_owned(), Tree::Leaf(json!(shard.index))));
                    }
                    members.push((
                        "folder".to_owned(),
                        Tree::Leaf(json!(r.folder.display().to_string())),
                    ));
                    members.extend(self.head(plan, r.point));
                    members.extend([
                        ("policy".to_owned(), Tree::Leaf(json!(combo.policy))),
                        (
                            "technique".to_owned(),
                            Tree::Leaf(json!(combo.technique.name())),
                        ),
                        ("seed".to_owned(), Tree::Leaf(json!(r.seed))),
                    ]);
                    Tree::Node(members)
                })
                .collect(),
        )
    }

    /// The run list as `--list` prints it: a header and a line per run,
    /// columns aligned.
    pub fn listing_table(&self, plan: &Plan, shard: Option<Shard>) -> String {
        let mut lines = vec![
            ["run", "folder", "policy", "technique", "seed"]
                .iter()
                .map(|s| s.to_string())
                .chain(plan.axes.iter().map(|a| a.path.clone()))
                .collect::<Vec<_>>(),
        ];
        for r in self.selected(shard) {
            let point = &self.points[r.point];
            let combo = &point.combos[r.combo];
            lines.push(
                [
                    r.id.to_string(),
                    r.folder.display().to_string(),
                    combo.policy.clone(),
                    combo.technique.name().to_owned(),
                    r.seed.to_string(),
                ]
                .into_iter()
                .chain(
                    plan.axes
                        .iter()
                        .zip(&point.values)
                        .map(|(a, &v)| match &a.values[v] {
                            Tree::Leaf(serde_json::Value::String(s)) => s.clone(),
                            other => serde_json::to_string(other).unwrap_or_default(),
                        }),
                )
                .collect(),
            );
        }
        let columns = lines[0].len();
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for line in &lines {
            let cells: Vec<String> = line
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }

    /// The runs of `shard` (every run without one), in number order.
    pub fn selected(&self, shard: Option<Shard>) -> impl Iterator<Item = &RunSpec> {
        self.runs
            .iter()
            .filter(move |r| shard.is_none_or(|s| s.owns(r.id)))
    }
}

/// The absolute folder of run `run` under `out`.
pub fn run_folder(out: &Path, run: &RunSpec) -> PathBuf {
    out.join(&run.folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_from_zero_and_refuse_what_is_not_one() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(
            "3/3".parse::<Shard>().unwrap_err(),
            "`3/3`: I must be in 0..=2 (shards are numbered from 0)"
        );
        assert_eq!(
            "1/0".parse::<Shard>().unwrap_err(),
            "`1/0`: N must be at least 1"
        );
        assert!("1-3".parse::<Shard>().unwrap_err().contains("is not I/N"));
        assert!("x/3".parse::<Shard>().unwrap_err().contains("is not I/N"));
        let shard = Shard { index: 1, count: 3 };
        let owned: Vec<usize> = (0..8).filter(|&i| shard.owns(i)).collect();
        assert_eq!(owned, [1, 4, 7]);
    }
}
