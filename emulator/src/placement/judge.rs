//! Judging policies on the GA's own objective, decision by decision.
//!
//! [`Judge`] is a policy that drives a run with one policy's moves and, at
//! every decision, also asks the other policies for theirs on the same view
//! and trigger. Each answer is costed with the [`Objective`] `ga` minimises
//! (today's placement with the answer's moves of the concerned VMs; moves of
//! other VMs are ignored), and the costs go to a shared [`Verdict`] that the
//! caller reads after the run. So `ga`, `nearest`, `never`, `least-loaded`
//! and `threshold` are compared on identical instances: the views the run
//! really produced.
//!
//! `cargo run --release -p mcc-emu --example judge -- SCENARIO` prints the
//! verdict of a scenario; `tests/ga_judged.rs` asserts that `ga` never
//! loses.

use std::sync::{Arc, Mutex, PoisonError};

use super::cost::{CostWeights, Objective};
use super::{InstanceSize, Move, PlacementPolicy, PlacementView, Trigger, ViewNeeds};

/// A decision counts as lost when the driver's cost exceeds another
/// policy's by more than this fraction (rounding of incremental sums).
pub const TOLERANCE: f64 = 1e-9;

/// How the policies fared, decision by decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// The policies' names, the driver's first.
    pub policies: Vec<&'static str>,
    /// Decisions judged (those that concerned at least one VM).
    pub decisions: u64,
    /// Per policy: the objective of its answers, summed over the decisions.
    pub cost: Vec<f64>,
    /// Per policy: decisions where its answer cost less than the driver's
    /// by more than [`TOLERANCE`].
    pub driver_lost: Vec<u64>,
    /// Per policy: the largest excess of the driver's cost over its cost.
    pub worst_excess: Vec<f64>,
    /// Per policy: decisions where its answer moves at least one VM.
    pub moving: Vec<u64>,
}

impl Verdict {
    /// One line per policy: name, summed cost, decisions with moves, and
    /// how often and by how much the driver lost to it.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<14} {:>16} {:>10} {:>12} {:>14}\n",
            "policy", "objective sum", "moving", "driver lost", "worst excess"
        );
        for (i, name) in self.policies.iter().enumerate() {
            out.push_str(&format!(
                "{:<14} {:>16.3} {:>10} {:>12} {:>14.6}\n",
                name, self.cost[i], self.moving[i], self.driver_lost[i], self.worst_excess[i]
            ));
        }
        out.push_str(&format!("{} decisions judged\n", self.decisions));
        out
    }
}

/// A policy that carries out the first policy's moves and judges every
/// policy's answer on the objective with `weights`.
pub struct Judge {
    weights: CostWeights,
    policies: Vec<Box<dyn PlacementPolicy + Send>>,
    verdict: Arc<Mutex<Verdict>>,
}

impl Judge {
    /// Drives with `policies[0]` and judges all of `policies`; the verdict
    /// fills the returned handle as the run goes. `policies` must not be
    /// empty.
    pub fn new(
        weights: CostWeights,
        policies: Vec<Box<dyn PlacementPolicy + Send>>,
    ) -> Result<(Self, Arc<Mutex<Verdict>>), String> {
        if policies.is_empty() {
            return Err("a judge needs at least one policy".into());
        }
        weights.validate()?;
        let n = policies.len();
        let verdict = Arc::new(Mutex::new(Verdict {
            policies: policies.iter().map(|p| p.name()).collect(),
            decisions: 0,
            cost: vec![0.0; n],
            driver_lost: vec![0; n],
            worst_excess: vec![0.0; n],
            moving: vec![0; n],
        }));
        let judge = Self {
            weights,
            policies,
            verdict: Arc::clone(&verdict),
        };
        Ok((judge, verdict))
    }
}

/// `objective`'s genes after `moves` (moves of other VMs ignored).
fn assignment_after(objective: &Objective<'_>, moves: &[Move]) -> Vec<u32> {
    let mut assignment = objective.current();
    for m in moves {
        if let Some(gene) = objective.genes().iter().position(|&vm| vm == m.vm)
            && (m.to as usize) < objective.cloudlets()
        {
            assignment[gene] = m.to;
        }
    }
    assignment
}

impl PlacementPolicy for Judge {
    fn name(&self) -> &'static str {
        self.policies[0].name()
    }

    fn needs(&self) -> ViewNeeds {
        let mut needs = ViewNeeds::NONE;
        for p in &self.policies {
            let n = p.needs();
            needs.positions |= n.positions;
            needs.look_ahead |= n.look_ahead;
        }
        needs
    }

    fn check(&self, size: &InstanceSize) -> Result<(), String> {
        self.policies.iter().try_for_each(|p| p.check(size))
    }

    fn decide(&mut self, view: &PlacementView<'_>, trigger: Trigger) -> Vec<Move> {
        let genes = view.concerned(trigger);
        let objective = Objective::new(view, &self.weights, &genes);
        let answers: Vec<Vec<Move>> = self
            .policies
            .iter_mut()
            .map(|p| p.decide(view, trigger))
            .collect();
        if !objective.genes().is_empty() {
            let costs: Vec<f64> = answers
                .iter()
                .map(|moves| objective.evaluate(&assignment_after(&objective, moves)))
                .collect();
            let mut verdict = self.verdict.lock().unwrap_or_else(PoisonError::into_inner);
            verdict.decisions += 1;
            for (i, &cost) in costs.iter().enumerate() {
                verdict.cost[i] += cost;
                let excess = costs[0] - cost;
                if excess > TOLERANCE * cost.abs().max(1.0) {
                    verdict.driver_lost[i] += 1;
                }
                verdict.worst_excess[i] = verdict.worst_excess[i].max(excess);
                if !objective
                    .moves(&assignment_after(&objective, &answers[i]))
                    .is_empty()
                {
                    verdict.moving[i] += 1;
                }
            }
        }
        answers.into_iter().next().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::instance::Instance;
    use crate::placement::{Ga, GaConfig, Nearest, Never};

    #[test]
    fn the_judge_carries_out_the_drivers_moves_and_scores_every_answer() {
        let instance = Instance::random(30, 6, 3);
        let view = instance.view();
        let (mut judge, verdict) = Judge::new(
            CostWeights::default(),
            vec![Box::new(Nearest), Box::new(Never)],
        )
        .unwrap();
        let moves = judge.decide(&view, Trigger::Periodic);
        assert_eq!(moves, Nearest.decide(&view, Trigger::Periodic));
        let v = verdict.lock().unwrap().clone();
        assert_eq!(v.policies, vec!["nearest", "never"]);
        assert_eq!(v.decisions, 1);
        assert_eq!(v.moving, vec![u64::from(!moves.is_empty()), 0]);
        let objective = Objective::new(
            &view,
            &CostWeights::default(),
            &view.concerned(Trigger::Periodic),
        );
        let stay = objective.evaluate(&objective.current());
        assert!((v.cost[1] - stay).abs() <= 1e-9 * stay);
        assert_eq!(v.driver_lost[0], 0, "a policy never loses to itself");
    }

    #[test]
    fn a_driver_that_does_worse_is_caught() {
        // Prices moves out of reach: then `nearest`, which moves, loses to
        // `never` on this objective, and the judge must say so.
        let weights = CostWeights {
            migration_ms: 1e7,
            ..CostWeights::default()
        };
        let instance = Instance::random(30, 6, 3);
        let (mut judge, verdict) = Judge::new(
            weights.clone(),
            vec![
                Box::new(Nearest),
                Box::new(Never),
                Box::new(
                    Ga::new(GaConfig {
                        weights,
                        ..GaConfig::default()
                    })
                    .unwrap(),
                ),
            ],
        )
        .unwrap();
        assert!(!judge.decide(&instance.view(), Trigger::Periodic).is_empty());
        let v = verdict.lock().unwrap().clone();
        assert_eq!(v.driver_lost, vec![0, 1, 1], "{}", v.table());
        assert!(v.worst_excess[1] >= 1e7);
    }
}
