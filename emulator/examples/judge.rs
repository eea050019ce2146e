//! Runs a scenario driven by one placement policy and judges every policy's
//! answer, at every decision of the run, on the objective `ga` minimises
//! (`mcc_emu::placement::judge`). Prints the run's outcome and, per policy,
//! the objective summed over the decisions and how often the driver lost.
//!
//! ```sh
//! cargo run --release -p mcc-emu --example judge -- \
//!     experiments/ifogsim-melbourne/melbourne-1000.toml \
//!     [--driver ga] [--against nearest,never,least-loaded,threshold] \
//!     [--interval-s 60] [--duration-s 600]
//! ```
//!
//! The weights are the scenario's `[placement.ga.weights]`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use mcc_emu::engine::Engine;
use mcc_emu::output::MemorySink;
use mcc_emu::placement::{self, PlacementPolicy, judge::Judge};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut scenario_path: Option<PathBuf> = None;
    let mut driver = "ga".to_string();
    let mut against = "nearest,never,least-loaded,threshold".to_string();
    let mut interval_s: Option<f64> = None;
    let mut duration_s: Option<f64> = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--driver" => driver = value("--driver")?,
            "--against" => against = value("--against")?,
            "--interval-s" => interval_s = Some(number(&value("--interval-s")?, "--interval-s")?),
            "--duration-s" => duration_s = Some(number(&value("--duration-s")?, "--duration-s")?),
            other if other.starts_with("--") => bail!("unknown option {other}"),
            path => scenario_path = Some(PathBuf::from(path)),
        }
    }
    let path = scenario_path.context(
        "usage: judge SCENARIO [--driver ga] [--against a,b,..] [--interval-s S] [--duration-s S]",
    )?;
    let mut scenario = mcc_emu::scenario::load_file(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(s) = interval_s {
        scenario.settings.placement_interval_ns = Some((s * 1e9) as u64);
    }
    if let Some(s) = duration_s {
        scenario.settings.duration_ns = (s * 1e9) as u64;
    }
    let configs = &scenario.policy_configs;
    let mut policies: Vec<Box<dyn PlacementPolicy + Send>> = Vec::new();
    for name in std::iter::once(driver.as_str()).chain(against.split(',').filter(|n| !n.is_empty()))
    {
        policies.push(placement::build(name, configs).map_err(anyhow::Error::msg)?);
    }
    let (judge, verdict) =
        Judge::new(configs.ga.weights.clone(), policies).map_err(anyhow::Error::msg)?;
    let engine = Engine::new(
        &scenario.world,
        scenario.settings.clone(),
        Box::new(judge),
        MemorySink::default(),
    )?;
    let started = Instant::now();
    let (summary, _) = engine.run(|_| {});
    println!(
        "{}: {} requests, {} failed, {} migrations ({driver} driving), {:.1} s",
        scenario.name,
        summary.requests,
        summary.failed,
        summary.migrations,
        started.elapsed().as_secs_f64()
    );
    let verdict = verdict
        .lock()
        .map_err(|_| anyhow::anyhow!("the judge panicked"))?;
    print!("{}", verdict.table());
    Ok(())
}

fn number(text: &str, name: &str) -> anyhow::Result<f64> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => bail!("{name} must be a number > 0, got {text}"),
    }
}
