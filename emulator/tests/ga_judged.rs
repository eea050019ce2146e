//! `ga` judged on its own objective against the baselines, decision by
//! decision, on the views of a real run: the iFogSim2-like Melbourne world
//! of `experiments/ifogsim-melbourne/` (130 cloudlets, random waypoint at
//! 10-20 m/s, placement on every handover), its first five minutes.

use std::path::Path;

use mcc_emu::engine::Engine;
use mcc_emu::output::MemorySink;
use mcc_emu::placement::judge::{Judge, Verdict};
use mcc_emu::placement::{self, CostWeights, PlacementPolicy};
use mcc_emu::scenario::{Scenario, load_file};

fn melbourne() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../experiments/ifogsim-melbourne/melbourne-100.toml");
    let mut scenario = load_file(&path).unwrap();
    scenario.settings.duration_ns = 300_000_000_000;
    scenario
}

/// Runs `scenario` driven by `ga` and judges it against every baseline.
fn judge(scenario: &Scenario) -> Verdict {
    let configs = &scenario.policy_configs;
    let policies: Vec<Box<dyn PlacementPolicy + Send>> =
        ["ga", "nearest", "never", "least-loaded", "threshold"]
            .iter()
            .map(|name| placement::build(name, configs).unwrap())
            .collect();
    let (judge, verdict) = Judge::new(configs.ga.weights.clone(), policies).unwrap();
    let engine = Engine::new(
        &scenario.world,
        scenario.settings.clone(),
        Box::new(judge),
        MemorySink::default(),
    )
    .unwrap();
    engine.run(|_| {});
    let verdict = verdict.lock().unwrap().clone();
    println!("{}", verdict.table());
    verdict
}

fn assert_ga_never_loses(verdict: &Verdict) {
    assert!(verdict.decisions > 100, "{}", verdict.table());
    assert_eq!(
        verdict.driver_lost,
        vec![0; verdict.policies.len()],
        "ga lost decisions:\n{}",
        verdict.table()
    );
}

#[test]
fn ga_never_loses_a_handover_or_periodic_decision_with_the_default_weights() {
    let mut scenario = melbourne();
    scenario.settings.placement_interval_ns = Some(60_000_000_000);
    let verdict = judge(&scenario);
    assert_ga_never_loses(&verdict);
    // Moves do not pay here (docs/placement.md): nearest's and
    // least-loaded's cost more in all.
    assert!(verdict.cost[1] > verdict.cost[0] && verdict.cost[3] > verdict.cost[0]);
}

#[test]
fn ga_never_loses_when_moves_are_free_and_it_moves() {
    // With migrations priced at nothing, following users pays and every
    // decision is a real choice (periodic ones over all 100 VMs evolved,
    // not enumerated).
    let mut scenario = melbourne();
    scenario.settings.placement_interval_ns = Some(60_000_000_000);
    scenario.policy_configs.ga.weights = CostWeights {
        migration_ms: 0.0,
        migration_ms_per_mib: 0.0,
        downtime_weight: 0.0,
        ..CostWeights::default()
    };
    let verdict = judge(&scenario);
    assert_ga_never_loses(&verdict);
    assert!(verdict.moving[0] > 100, "ga moves: {}", verdict.table());
}
