//! The sweep plan file (TOML): a base scenario, the policies, techniques
//! and runs `compare` takes, and axes that vary any scenario field by its
//! dotted path. Every key and every axis value is checked against the
//! scenario schema before anything runs; an error names the plan file, the
//! key or axis, and what was wrong.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mcc_cloudlet::migration::Technique;
use serde::Deserialize;

use crate::cli::compare::tree::Tree;
use crate::placement;
use crate::scenario::{self, Scenario};

/// The policies a plan compares when it names none (as `compare`).
pub const DEFAULT_POLICIES: [&str; 4] = ["ga", "nearest", "threshold", "never"];

/// The most runs per combination (as `compare --runs`).
pub const MAX_RUNS: u32 = 1000;

/// Scenario fields an axis may not vary, and why.
const FIXED_PATHS: [(&str, &str); 3] = [
    (
        "output",
        "a sweep writes into its own folder (the plan's `output`)",
    ),
    (
        "placement.policy",
        "list the policies in the plan's `policies`",
    ),
    (
        "migration.technique",
        "list the techniques in the plan's `techniques`",
    ),
];

/// The plan file exactly as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    scenario: Option<String>,
    policies: Option<Vec<String>>,
    #[serde(default)]
    techniques: Vec<String>,
    #[serde(default = "one")]
    runs: u32,
    output: Option<String>,
    axes: Option<AxisNode>,
}

fn one() -> u32 {
    1
}

/// The scenario a plan varies.
#[derive(Debug, Clone)]
pub enum Base {
    /// The embedded default scenario.
    Embedded,
    /// A scenario file, its path relative to the plan's folder resolved.
    File {
        /// The scenario file.
        path: PathBuf,
        /// Its text, read once.
        text: String,
    },
}

/// One scenario field the sweep varies, and its values in plan order.
#[derive(Debug, Clone)]
pub struct Axis {
    /// The dotted path (`workload.rate_hz`, `devices.0.count`).
    pub path: String,
    /// The values, as the plan gives them.
    pub values: Vec<Tree>,
}

/// A checked plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The plan file, as named on the command line.
    pub file: PathBuf,
    /// The base scenario.
    pub base: Base,
    /// Placement policies, in plan order.
    pub policies: Vec<String>,
    /// Migration techniques, in plan order (empty: each point's own).
    pub techniques: Vec<String>,
    /// Runs per combination and point (run k uses the point's seed + k).
    pub runs: u32,
    /// The plan's `output` folder, if it names one.
    pub output: Option<PathBuf>,
    /// The axes, outermost first.
    pub axes: Vec<Axis>,
}

impl Plan {
    /// Reads and checks the plan file `file` (not yet its points: see
    /// [`Plan::load_point`]).
    pub fn load(file: &Path) -> anyhow::Result<Plan> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the plan {}", file.display()))?;
        let name = file.display();
        let raw: PlanFile =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{name}: {}", e.message().trim()))?;
        let base = match &raw.scenario {
            None => Base::Embedded,
            Some(rel) => {
                let path = file.parent().unwrap_or(Path::new(".")).join(rel);
                let text = std::fs::read_to_string(&path).with_context(|| {
                    format!(
                        "{name}: key `scenario`: cannot read {} (relative to the plan's folder)",
                        path.display()
                    )
                })?;
                Base::File { path, text }
            }
        };
        if !(1..=MAX_RUNS).contains(&raw.runs) {
            anyhow::bail!(
                "{name}: key `runs`: must be in 1..={MAX_RUNS}, got {}",
                raw.runs
            );
        }
        let policies = raw
            .policies
            .unwrap_or_else(|| DEFAULT_POLICIES.map(String::from).to_vec());
        check_list(&name.to_string(), "policies", &policies, |p| {
            placement::build(p, &placement::PolicyConfigs::default())
                .map(drop)
                .map_err(|e| e.to_string())
        })?;
        check_list(&name.to_string(), "techniques", &raw.techniques, |t| {
            Technique::from_name(t).map(drop).map_err(|_| {
                format!(
                    "unknown technique `{t}` (expected one of: {})",
                    Technique::ALL.map(Technique::name).join(", ")
                )
            })
        })?;
        if policies.is_empty() {
            anyhow::bail!("{name}: key `policies`: give at least one policy");
        }
        let axes = match &raw.axes {
            Some(node) => flatten_axes(&name.to_string(), node)?,
            None => Vec::new(),
        };
        let plan = Plan {
            file: file.to_path_buf(),
            base,
            policies,
            techniques: raw.techniques,
            runs: raw.runs,
            output: raw.output.map(PathBuf::from),
            axes,
        };
        plan.check_axes()?;
        Ok(plan)
    }

    /// The base scenario's name in messages.
    pub fn base_name(&self) -> String {
        match &self.base {
            Base::Embedded => scenario::DEFAULT_SCENARIO_PATH.to_owned(),
            Base::File { path, .. } => path.display().to_string(),
        }
    }

    fn base_text(&self) -> &str {
        match &self.base {
            Base::Embedded => scenario::DEFAULT_SCENARIO,
            Base::File { text, .. } => text,
        }
    }

    /// The base scenario's text with every `(axis, value index)` set.
    fn text_with(&self, values: &[(usize, usize)]) -> anyhow::Result<String> {
        if values.is_empty() {
            return Ok(self.base_text().to_owned());
        }
        let mut table: toml::Table = self
            .base_text()
            .parse()
            .map_err(|e: toml::de::Error| anyhow::anyhow!("{}: {e}", self.base_name()))?;
        for &(a, v) in values {
            let axis = &self.axes[a];
            let value = toml_value(&axis.values[v])
                .map_err(|e| anyhow::anyhow!("{}: {e}", self.at(a, v)))?;
            set_path(&mut table, &axis.path, value)
                .map_err(|e| anyhow::anyhow!("{}: {e}", self.at(a, v)))?;
        }
        Ok(toml::to_string(&table)?)
    }

    /// `PLAN: axis `path` = value`, for messages.
    fn at(&self, axis: usize, value: usize) -> String {
        let axis = &self.axes[axis];
        format!(
            "{}: axis `{}` = {}",
            self.file.display(),
            axis.path,
            serde_json::to_string(&axis.values[value]).unwrap_or_default()
        )
    }

    /// Every axis value alone, checked against the scenario schema (keys and
    /// types; ranges are checked when the points load).
    fn check_axes(&self) -> anyhow::Result<()> {
        for (a, axis) in self.axes.iter().enumerate() {
            for v in 0..axis.values.len() {
                let text = self.text_with(&[(a, v)])?;
                scenario::resolve::parse(Path::new(&self.base_name()), &text)
                    .map_err(|e| anyhow::anyhow!("{}: {}", self.at(a, v), e.message))?;
            }
        }
        Ok(())
    }

    /// The base scenario's file, parsed (not resolved: its seed and output
    /// folder without loading its world).
    pub fn base_file(&self) -> anyhow::Result<scenario::schema::ScenarioFile> {
        Ok(scenario::resolve::parse(
            Path::new(&self.base_name()),
            self.base_text(),
        )?)
    }

    /// The scenario of the point whose value indexes (one per axis) are
    /// `values`.
    pub fn load_point(&self, values: &[usize]) -> anyhow::Result<Scenario> {
        let pairs: Vec<(usize, usize)> = values.iter().copied().enumerate().collect();
        self.load_with(&pairs).with_context(|| {
            let set: Vec<String> = pairs
                .iter()
                .map(|&(a, v)| {
                    format!(
                        "{} = {}",
                        self.axes[a].path,
                        serde_json::to_string(&self.axes[a].values[v]).unwrap_or_default()
                    )
                })
                .collect();
            format!("{}: with {}", self.file.display(), set.join(", "))
        })
    }

    fn load_with(&self, values: &[(usize, usize)]) -> anyhow::Result<Scenario> {
        let text = self.text_with(values)?;
        Ok(match &self.base {
            Base::Embedded => scenario::load_embedded(&text)?,
            Base::File { path, .. } => scenario::load_text(path, &text)?,
        })
    }

    /// What identifies this sweep's runs: the program's version, the base
    /// scenario's text, the policies, techniques, runs and axes (not the
    /// output folder). Shards and run markers carry it, so that outputs of
    /// another plan or another build are never taken for this one's.
    pub fn fingerprint(&self) -> String {
        let identity = serde_json::json!({
            "mcc_emu": env!("CARGO_PKG_VERSION"),
            "scenario": self.base_text(),
            "policies": self.policies,
            "techniques": self.techniques,
            "runs": self.runs,
            "axes": self.axes.iter().map(|a| (a.path.clone(), serde_json::to_value(&a.values).unwrap_or_default())).collect::<Vec<_>>(),
        });
        format!("{:016x}", fnv1a64(identity.to_string().as_bytes()))
    }
}

/// FNV-1a, 64 bits (Fowler, Noll and Vo; offset basis 0xcbf29ce484222325
/// and prime 0x100000001b3 as in IETF draft-eastlake-fnv): a stable
/// identity for the plan, not a defence against forgery.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Checks each name of the list `key` with `check`, and that none repeats.
fn check_list(
    plan: &str,
    key: &str,
    names: &[String],
    check: impl Fn(&str) -> Result<(), String>,
) -> anyhow::Result<()> {
    for (i, name) in names.iter().enumerate() {
        check(name).map_err(|e| anyhow::anyhow!("{plan}: key `{key}`: {e}"))?;
        if names[..i].contains(name) {
            anyhow::bail!("{plan}: key `{key}`: `{name}` is listed twice");
        }
    }
    Ok(())
}

/// A value under `[axes]`, with where it starts in the plan, so that the
/// axes keep the plan's order (a TOML table's keys come back sorted).
#[derive(Debug)]
enum AxisNode {
    /// A table: more keys of the path.
    Table(Vec<(String, toml::Spanned<AxisNode>)>),
    /// A list: an axis's values.
    Values(Vec<Tree>),
    /// A single value where a list was due.
    Single(Tree),
}

impl<'de> Deserialize<'de> for AxisNode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> serde::de::Visitor<'de> for NodeVisitor {
            type Value = AxisNode;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table of `path = [values]`")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AxisNode, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, toml::Spanned<AxisNode>>()? {
                    members.push(entry);
                }
                Ok(AxisNode::Table(members))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<AxisNode, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<Tree>()? {
                    values.push(value);
                }
                Ok(AxisNode::Values(values))
            }
            fn visit_bool<E>(self, v: bool) -> Result<AxisNode, E> {
                Ok(AxisNode::Single(Tree::Leaf(v.into())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<AxisNode, E> {
                Ok(AxisNode::Single(Tree::Leaf(v.into())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<AxisNode, E> {
                Ok(AxisNode::Single(Tree::Leaf(v.into())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<AxisNode, E> {
                Ok(AxisNode::Single(Tree::Leaf(v.into())))
            }
            fn visit_str<E>(self, v: &str) -> Result<AxisNode, E> {
                Ok(AxisNode::Single(Tree::Leaf(v.into())))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// The axes of the `[axes]` table: every list of values under it, by its
/// dotted path, in the order the plan gives them.
fn flatten_axes(plan: &str, node: &AxisNode) -> anyhow::Result<Vec<Axis>> {
    let mut found = Vec::new();
    walk_axes(plan, "", node, 0, &mut found)?;
    found.sort_by_key(|(start, _)| *start);
    let mut axes: Vec<Axis> = Vec::new();
    for (_, axis) in found {
        if axes.iter().any(|a| a.path == axis.path) {
            anyhow::bail!("{plan}: axis `{}`: given twice", axis.path);
        }
        axes.push(axis);
    }
    Ok(axes)
}

fn walk_axes(
    plan: &str,
    path: &str,
    node: &AxisNode,
    start: usize,
    axes: &mut Vec<(usize, Axis)>,
) -> anyhow::Result<()> {
    let at = format!("{plan}: axis `{path}`");
    match node {
        AxisNode::Table(members) => {
            for (key, value) in members {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk_axes(plan, &path, value.get_ref(), value.span().start, axes)?;
            }
        }
        AxisNode::Values(values) => {
            if path.split('.').any(str::is_empty) {
                anyhow::bail!("{at}: a path is keys joined by `.`, none empty");
            }
            if let Some((_, why)) = FIXED_PATHS.iter().find(|(p, _)| *p == path) {
                anyhow::bail!("{at}: cannot be an axis: {why}");
            }
            if values.is_empty() {
                anyhow::bail!("{at}: give at least one value");
            }
            for (i, v) in values.iter().enumerate() {
                if values[..i].contains(v) {
                    anyhow::bail!(
                        "{at}: the value {} is listed twice",
                        serde_json::to_string(v).unwrap_or_default()
                    );
                }
            }
            axes.push((
                start,
                Axis {
                    path: path.to_owned(),
                    values: values.clone(),
                },
            ));
        }
        AxisNode::Single(v) => anyhow::bail!(
            "{at}: give a list of values, such as `{path} = [{}]`, not a single value",
            serde_json::to_string(v).unwrap_or_default()
        ),
    }
    Ok(())
}

/// A plan value as TOML.
fn toml_value(value: &Tree) -> Result<toml::Value, String> {
    let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
    toml::Value::try_from(json).map_err(|e| format!("not a TOML value: {e}"))
}

/// Sets the field at dotted `path` of `table` to `value`, creating the
/// tables on the way; a number on the way indexes an array (`devices.0`).
pub fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let keys: Vec<&str> = path.split('.').collect();
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_in(&mut root, &keys, "", value);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result
}

fn set_in(
    here: &mut toml::Value,
    keys: &[&str],
    walked: &str,
    value: toml::Value,
) -> Result<(), String> {
    let Some((key, rest)) = keys.split_first() else {
        *here = value;
        return Ok(());
    };
    let child = match here {
        toml::Value::Table(t) => t
            .entry((*key).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new())),
        toml::Value::Array(items) => {
            let len = items.len();
            key.parse::<usize>()
                .ok()
                .and_then(|n| items.get_mut(n))
                .ok_or_else(|| {
                    format!("`{walked}` is a list of {len}; `{key}` is not an index in 0..{len}")
                })?
        }
        _ => return Err(format!("`{walked}` is a value, not a table or a list")),
    };
    let walked = if walked.is_empty() {
        (*key).to_owned()
    } else {
        format!("{walked}.{key}")
    };
    set_in(child, rest, &walked, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn paths_set_fields_create_tables_and_index_lists() {
        let mut t = table("seed = 1\n[workload]\nrate_hz = 2\n[[devices]]\ncount = 3\n");
        set_path(&mut t, "workload.rate_hz", toml::Value::Float(0.5)).unwrap();
        set_path(&mut t, "seed", toml::Value::Integer(9)).unwrap();
        set_path(&mut t, "devices.0.count", toml::Value::Integer(6)).unwrap();
        set_path(&mut t, "placement.ga.generations", toml::Value::Integer(4)).unwrap();
        assert_eq!(t["workload"]["rate_hz"].as_float(), Some(0.5));
        assert_eq!(t["seed"].as_integer(), Some(9));
        assert_eq!(t["devices"][0]["count"].as_integer(), Some(6));
        assert_eq!(t["placement"]["ga"]["generations"].as_integer(), Some(4));
        let err = set_path(&mut t, "devices.4.count", toml::Value::Integer(1)).unwrap_err();
        assert_eq!(err, "`devices` is a list of 1; `4` is not an index in 0..1");
        let err = set_path(&mut t, "seed.x", toml::Value::Integer(1)).unwrap_err();
        assert_eq!(err, "`seed` is a value, not a table or a list");
    }

    #[test]
    fn fnv1a_gives_its_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
