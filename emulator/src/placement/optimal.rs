//! `optimal`: exhaustive search over every assignment of the VMs a decision
//! concerns, on the objective `ga` minimises ([`Objective`]); the yardstick
//! of the GA's optimality gap on small instances.
//!
//! It refuses instances with more than `max_assignments` assignments
//! (cloudlets to the power of the VMs one decision concerns): before a run
//! through [`PlacementPolicy::check`], and per decision through
//! [`Optimal::solve`].

use serde::Deserialize;

use super::cost::{CostWeights, Objective, assignments_within};
use super::{InstanceSize, Move, PlacementPolicy, PlacementView, Trigger};

/// Default most assignments one decision may enumerate: 10 million (a
/// couple of seconds on one core: about 0.23 µs per assignment measured).
pub const DEFAULT_MAX_ASSIGNMENTS: u64 = 10_000_000;

/// `[placement.optimal]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimalConfig {
    /// The objective's weights (`[placement.optimal.weights]`); give the same
    /// as `ga`'s to measure its gap.
    pub weights: CostWeights,
    /// Most assignments one decision may enumerate (default 10 million).
    pub max_assignments: u64,
}

impl Default for OptimalConfig {
    fn default() -> Self {
        Self {
            weights: CostWeights::default(),
            max_assignments: DEFAULT_MAX_ASSIGNMENTS,
        }
    }
}

/// An instance too large to enumerate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "optimal: {cloudlets} cloudlets ^ {vms} VMs is more than {limit} assignments to enumerate; \
     use a smaller scenario, place on handovers only (one VM per decision), \
     raise max_assignments, or use `ga`"
)]
pub struct TooLarge {
    /// VMs the decision concerns.
    pub vms: usize,
    /// Cloudlets.
    pub cloudlets: usize,
    /// The limit.
    pub limit: u64,
}

/// The exhaustive placer.
#[derive(Debug, Clone)]
pub struct Optimal {
    config: OptimalConfig,
}

impl Optimal {
    /// The policy with `config`, or the field that is out of range.
    pub fn new(config: OptimalConfig) -> Result<Self, String> {
        config.weights.validate()?;
        if config.max_assignments == 0 {
            return Err("max_assignments must be at least 1".into());
        }
        Ok(Self { config })
    }

    /// The assignment of `objective`'s genes with the lowest cost (the first
    /// in lexicographic order among equals) and that cost, or [`TooLarge`].
    pub fn solve(&self, objective: &Objective<'_>) -> Result<(Vec<u32>, f64), TooLarge> {
        let genes = objective.genes().len();
        let cloudlets = objective.cloudlets();
        let too_large = TooLarge {
            vms: genes,
            cloudlets,
            limit: self.config.max_assignments,
        };
        assignments_within(genes, cloudlets, self.config.max_assignments).ok_or(too_large)?;
        // The first in lexicographic order among equals: the all-zero
        // assignment is the incumbent.
        let (best, _) = objective.exhaustive(&vec![0; genes]);
        // Report the winner's cost from scratch, free of rounding drift.
        let cost = objective.evaluate(&best);
        Ok((best, cost))
    }
}

impl PlacementPolicy for Optimal {
    fn name(&self) -> &'static str {
        "optimal"
    }

    fn check(&self, size: &InstanceSize) -> Result<(), String> {
        let vms = size.vms_per_decision();
        match assignments_within(vms, size.cloudlets, self.config.max_assignments) {
            Some(_) => Ok(()),
            None => Err(TooLarge {
                vms,
                cloudlets: size.cloudlets,
                limit: self.config.max_assignments,
            }
            .to_string()),
        }
    }

    /// The moves to the optimum; none if the decision is too large (the
    /// engine's [`PlacementPolicy::check`] refuses such runs up front).
    fn decide(&mut self, view: &PlacementView<'_>, trigger: Trigger) -> Vec<Move> {
        let genes = view.concerned(trigger);
        let objective = Objective::new(view, &self.config.weights, &genes);
        match self.solve(&objective) {
            Ok((best, _)) => objective.moves(&best),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::instance::Instance;

    #[test]
    fn the_optimum_is_no_worse_than_any_assignment() {
        let instance = Instance::random(4, 3, 8);
        let view = instance.view();
        let objective = Objective::new(&view, &CostWeights::default(), &[0, 1, 2, 3]);
        let (best, cost) = Optimal::new(OptimalConfig::default())
            .unwrap()
            .solve(&objective)
            .unwrap();
        assert!((objective.evaluate(&best) - cost).abs() < 1e-9);
        // Every one of the 81 assignments, enumerated independently.
        for code in 0..81u32 {
            let a: Vec<u32> = (0..4).map(|g| code / 3u32.pow(g) % 3).collect();
            assert!(objective.evaluate(&a) >= cost - 1e-9, "{a:?}");
        }
        assert!(cost <= objective.evaluate(&objective.greedy()) + 1e-9);
    }

    #[test]
    fn large_instances_are_refused_with_a_clear_message() {
        let optimal = Optimal::new(OptimalConfig::default()).unwrap();
        let size = InstanceSize {
            vms: 20,
            cloudlets: 10,
            periodic: true,
        };
        let err = optimal.check(&size).unwrap_err();
        assert!(
            err.contains("10 cloudlets ^ 20 VMs is more than 10000000 assignments"),
            "{err}"
        );
        assert!(err.contains("use `ga`"), "{err}");
        // On handovers only, one VM per decision: fine.
        assert!(
            optimal
                .check(&InstanceSize {
                    periodic: false,
                    ..size
                })
                .is_ok()
        );
        let instance = Instance::random(20, 10, 1);
        let view = instance.view();
        let all: Vec<u32> = (0..20).collect();
        let objective = Objective::new(&view, &CostWeights::default(), &all);
        assert!(optimal.solve(&objective).is_err());
        let mut optimal = optimal;
        assert!(optimal.decide(&view, Trigger::Periodic).is_empty());
    }

    #[test]
    fn a_handover_decision_moves_only_that_vm() {
        let instance = Instance::random(6, 4, 21);
        let view = instance.view();
        let mut optimal = Optimal::new(OptimalConfig::default()).unwrap();
        for m in optimal.decide(&view, Trigger::Handover { device: 3 }) {
            assert_eq!(m.vm, 3);
        }
    }
}
