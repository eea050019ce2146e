//! The comparison's results: one row per combination, in command-line order,
//! with every figure of `summary.json`, or its mean and spread over runs; as
//! JSON, as CSV and as a table for people.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::jobs::{Combination, RunResult};
use super::tree::Tree;

/// The shape of `comparison.json`, for `--help`.
pub const JSON_HELP: &str = "\
Outputs (in --out): one folder per run, <policy>-<technique>[-run<k>]/, as `mcc-emu run`
writes; comparison.json, comparison.csv, delay_cdf.svg, migrations_over_time.svg, map.svg,
delay_energy.svg.

comparison.json is {\"runs\": N, \"seed\": S, \"policies\": [row, ...]}, one row per
combination in command-line order (policies outer, techniques inner). With --runs 1 a row
is {\"policy\", \"technique\", \"seed\", <every key of summary.json>}. With --runs N > 1 a
row is {\"policy\", \"technique\", \"runs\": N, \"seeds\": [S, S+1, ...], <every key of
summary.json, each number replaced by {\"mean\", \"sd\", \"min\", \"max\"} over the runs
(sd: sample standard deviation)>, \"per_run\": [summary.json of each run]}.
comparison.csv has the same rows, nested keys joined by `_` (delay_ms_p95, or
delay_ms_p95_mean, delay_ms_p95_sd, ... with runs). Every figure but wall_s and
sim_requests_per_s is identical from one invocation to the next.";

/// One combination's results.
struct Row {
    /// Members that head the row before `policy` (a sweep's point and axis
    /// values; none for `compare`).
    head: Vec<(String, Tree)>,
    combo: Combination,
    seeds: Vec<u64>,
    summaries: Vec<crate::output::Summary>,
}

/// A figure of a run's energy (0 for a run without one).
fn energy(s: &crate::output::Summary, f: impl Fn(&crate::energy::EnergySummary) -> f64) -> f64 {
    s.energy_j.as_ref().map_or(0.0, f)
}

/// Every combination's results, in command-line order.
pub struct Comparison {
    runs: u32,
    seed: u64,
    /// A sweep's axes (`{path: [values]}`), listed after `seed` when present.
    axes: Option<Tree>,
    rows: Vec<Row>,
}

impl Comparison {
    /// Gathers `results[c][run]` of `combos[c]`.
    pub fn new(combos: &[Combination], runs: u32, seed: u64, results: &[Vec<RunResult>]) -> Self {
        let mut comparison = Self::empty(runs, seed, None);
        comparison.add_rows(&[], combos, results);
        comparison
    }

    /// A comparison without rows yet; `axes` (an object) is listed after
    /// `seed` in comparison.json.
    pub fn empty(runs: u32, seed: u64, axes: Option<Tree>) -> Self {
        Self {
            runs,
            seed,
            axes,
            rows: Vec::new(),
        }
    }

    /// Adds the rows of `results[c][run]` of `combos[c]`, each headed by
    /// the members `head`.
    pub fn add_rows(
        &mut self,
        head: &[(String, Tree)],
        combos: &[Combination],
        results: &[Vec<RunResult>],
    ) {
        self.rows
            .extend(combos.iter().zip(results).map(|(combo, runs)| Row {
                head: head.to_vec(),
                combo: combo.clone(),
                seeds: runs.iter().map(|r| r.seed).collect(),
                summaries: runs.iter().map(|r| r.summary.clone()).collect(),
            }));
    }

    /// `comparison.json`'s bytes: pretty JSON and a newline.
    pub fn json_bytes(&self) -> serde_json::Result<Vec<u8>> {
        let mut json = serde_json::to_vec_pretty(&self.to_json())?;
        json.push(b'\n');
        Ok(json)
    }

    fn row_tree(&self, row: &Row, with_runs: bool) -> Tree {
        let leaf = |v: Value| Tree::Leaf(v);
        let mut members = row.head.clone();
        members.extend([
            ("policy".to_owned(), leaf(json!(row.combo.policy))),
            (
                "technique".to_owned(),
                leaf(json!(row.combo.technique.name())),
            ),
        ]);
        let summaries: Vec<Tree> = row
            .summaries
            .iter()
            .map(|s| without_run_label(Tree::of(s).unwrap_or(Tree::Leaf(Value::Null))))
            .collect();
        if self.runs > 1 {
            members.push(("runs".to_owned(), leaf(json!(self.runs))));
            members.push(("seeds".to_owned(), leaf(json!(row.seeds))));
            if let Tree::Node(figures) = spread(&summaries.iter().collect::<Vec<_>>()) {
                members.extend(figures);
            }
            if with_runs {
                members.push(("per_run".to_owned(), Tree::List(summaries)));
            }
        } else {
            let seed = row.seeds.first().copied().unwrap_or(self.seed);
            members.push(("seed".to_owned(), leaf(json!(seed))));
            if let Some(Tree::Node(figures)) = summaries.into_iter().next() {
                members.extend(figures);
            }
        }
        Tree::Node(members)
    }

    /// `comparison.json`.
    pub fn to_json(&self) -> Tree {
        let mut members = vec![
            ("runs".to_owned(), Tree::Leaf(json!(self.runs))),
            ("seed".to_owned(), Tree::Leaf(json!(self.seed))),
        ];
        if let Some(axes) = &self.axes {
            members.push(("axes".to_owned(), axes.clone()));
        }
        members.push((
            "policies".to_owned(),
            Tree::List(self.rows.iter().map(|r| self.row_tree(r, true)).collect()),
        ));
        Tree::Node(members)
    }

    /// `comparison.csv`: a header and one line per combination.
    pub fn to_csv(&self) -> String {
        let mut header = Vec::new();
        let mut lines = Vec::new();
        for row in &self.rows {
            let mut cells = Vec::new();
            flatten("", &self.row_tree(row, false), &mut cells);
            if header.is_empty() {
                header = cells.iter().map(|(k, _)| k.clone()).collect();
            }
            lines.push(cells.into_iter().map(|(_, v)| v).collect::<Vec<_>>());
        }
        let mut writer = csv::Writer::from_writer(Vec::new());
        // Writing to memory cannot fail.
        let _ = writer.write_record(&header);
        for line in &lines {
            let _ = writer.write_record(line);
        }
        String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// The table `mcc-emu compare` prints: means (± sample standard
    /// deviation with several runs).
    pub fn table(&self) -> String {
        let mut out = String::new();
        // A sweep's head members (point, axis values) lead, `axes_` dropped.
        let mut head_cells = Vec::new();
        let mut head_names = Vec::new();
        for row in &self.rows {
            let mut cells = Vec::new();
            flatten("", &Tree::Node(row.head.clone()), &mut cells);
            if head_names.is_empty() {
                head_names = cells
                    .iter()
                    .map(|(k, _)| k.strip_prefix("axes_").unwrap_or(k).to_owned())
                    .collect();
            }
            head_cells.push(cells.into_iter().map(|(_, v)| v).collect::<Vec<_>>());
        }
        let lead = head_names.len();
        let fixed = [
            "policy",
            "technique",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "failed",
            "SLA viol.",
            "migrations",
            "downtime s",
            "max stall s",
            "moved MiB",
            "energy MJ",
            "migr. kJ",
            "wall s",
        ];
        let headers: Vec<String> = head_names
            .into_iter()
            .chain(fixed.iter().map(|h| h.to_string()))
            .collect();
        let mut cells: Vec<Vec<String>> = vec![headers.clone()];
        for (row, head) in self.rows.iter().zip(head_cells) {
            let s = &row.summaries;
            let cell = |f: &dyn Fn(&crate::output::Summary) -> f64, decimals: usize| {
                let values: Vec<f64> = s.iter().map(f).collect();
                let (mean, sd) = mean_sd(&values);
                if values.len() > 1 {
                    format!("{mean:.decimals$} ±{sd:.decimals$}")
                } else {
                    format!("{mean:.decimals$}")
                }
            };
            cells.push(
                head.into_iter()
                    .chain([
                        row.combo.policy.clone(),
                        row.combo.technique.name().to_owned(),
                        cell(&|s| s.delay_ms.p50, 3),
                        cell(&|s| s.delay_ms.p95, 3),
                        cell(&|s| s.delay_ms.p99, 3),
                        cell(&|s| s.failed as f64, 0),
                        cell(&|s| s.sla_violations as f64, 0),
                        cell(&|s| s.migrations as f64, 0),
                        cell(&|s| s.downtime_ms_total / 1e3, 3),
                        cell(&|s| s.stall_ms_max / 1e3, 3),
                        cell(&|s| s.bytes_migrated as f64 / 1_048_576.0, 1),
                        cell(&|s| energy(s, |e| e.total()) / 1e6, 3),
                        cell(&|s| energy(s, |e| e.migrations) / 1e3, 1),
                        cell(&|s| s.wall_s, 2),
                    ])
                    .collect(),
            );
        }
        let widths: Vec<usize> = (0..headers.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for line in &cells {
            for (i, (cell, width)) in line.iter().zip(&widths).enumerate() {
                let sep = if i == 0 { "" } else { "  " };
                if i < lead + 2 {
                    let _ = write!(out, "{sep}{cell:<width$}");
                } else {
                    let _ = write!(out, "{sep}{cell:>width$}");
                }
            }
            out.push('\n');
        }
        if self.runs > 1 {
            let _ = writeln!(
                out,
                "means of {} runs (seeds {}..={}), ± sample standard deviation",
                self.runs,
                self.seed,
                self.seed.wrapping_add(u64::from(self.runs) - 1)
            );
        }
        out
    }
}

/// Mean and sample standard deviation (0 for a single value).
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (mean, (squares / (n - 1.0)).sqrt())
}

/// The same shape as the values, each number replaced by its mean, sample
/// standard deviation, minimum and maximum over the values.
/// A summary's tree without `policy` and `technique`, which head the row
/// already.
fn without_run_label(tree: Tree) -> Tree {
    match tree {
        Tree::Node(members) => Tree::Node(
            members
                .into_iter()
                .filter(|(key, _)| key != "policy" && key != "technique")
                .collect(),
        ),
        other => other,
    }
}

fn spread(values: &[&Tree]) -> Tree {
    match values.first() {
        Some(Tree::Node(first)) => Tree::Node(
            first
                .iter()
                .map(|(key, _)| {
                    let members: Vec<&Tree> = values.iter().filter_map(|v| v.get(key)).collect();
                    (key.clone(), spread(&members))
                })
                .collect(),
        ),
        Some(Tree::Leaf(Value::Number(_))) => {
            let numbers: Vec<f64> = values
                .iter()
                .filter_map(|v| match v {
                    Tree::Leaf(n) => n.as_f64(),
                    _ => None,
                })
                .collect();
            let (mean, sd) = mean_sd(&numbers);
            let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
            let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Tree::Node(vec![
                ("mean".to_owned(), Tree::Leaf(json!(mean))),
                ("sd".to_owned(), Tree::Leaf(json!(sd))),
                ("min".to_owned(), Tree::Leaf(json!(min))),
                ("max".to_owned(), Tree::Leaf(json!(max))),
            ])
        }
        Some(other) => (*other).clone(),
        None => Tree::Leaf(Value::Null),
    }
}

/// The leaves of `tree` as (`a_b_c`, text) pairs, in order; a list of leaves
/// becomes one cell, its items joined by `;`.
fn flatten(prefix: &str, tree: &Tree, out: &mut Vec<(String, String)>) {
    match tree {
        Tree::Node(members) => {
            for (k, v) in members {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}_{k}")
                };
                flatten(&key, v, out);
            }
        }
        Tree::List(items) => {
            let texts: Vec<String> = items
                .iter()
                .map(|item| match item {
                    Tree::Leaf(v) => text(v),
                    other => serde_json::to_string(other).unwrap_or_default(),
                })
                .collect();
            out.push((prefix.to_owned(), texts.join(";")));
        }
        Tree::Leaf(Value::Array(items)) => {
            let texts: Vec<String> = items.iter().map(text).collect();
            out.push((prefix.to_owned(), texts.join(";")));
        }
        Tree::Leaf(v) => out.push((prefix.to_owned(), text(v))),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_standard_deviation() {
        let (mean, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(mean, 5.0);
        assert!((sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_sd(&[3.0]), (3.0, 0.0));
    }

    #[test]
    fn spread_keeps_the_shape_and_flatten_joins_keys() {
        let a = Tree::of(&json!({"n": 1, "d": {"p": 2.0}})).unwrap();
        let b = Tree::of(&json!({"n": 3, "d": {"p": 2.0}})).unwrap();
        let s = serde_json::to_value(spread(&[&a, &b])).unwrap();
        assert_eq!(s["n"]["mean"], 2.0);
        assert_eq!(s["n"]["sd"], 2.0f64.sqrt());
        assert_eq!(s["n"]["min"], 1.0);
        assert_eq!(s["n"]["max"], 3.0);
        assert_eq!(s["d"]["p"]["sd"], 0.0);
        let mut cells = Vec::new();
        flatten("", &spread(&[&a, &b]), &mut cells);
        let keys: Vec<&str> = cells.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "d_p_mean", "d_p_sd", "d_p_min", "d_p_max", "n_mean", "n_sd", "n_min", "n_max"
            ]
        );
    }
}
