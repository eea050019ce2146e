//! `never`: a VM stays where it was first placed.

use serde::Deserialize;

use super::{Move, PlacementPolicy, PlacementView, Trigger, ViewNeeds};

/// `[placement.never]`: the policy has no settings (the table must be empty).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeverConfig {}

/// Never moves a VM: the baseline that shows what mobility costs when VMs do
/// not follow their users.
#[derive(Debug, Clone, Copy, Default)]
pub struct Never;

impl PlacementPolicy for Never {
    fn name(&self) -> &'static str {
        "never"
    }

    fn needs(&self) -> ViewNeeds {
        ViewNeeds::NONE
    }

    fn decide(&mut self, _view: &PlacementView<'_>, _trigger: Trigger) -> Vec<Move> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::instance::Instance;

    #[test]
    fn never_moves_anything_even_far_from_home() {
        let mut instance = Instance::random(8, 4, 3);
        // Every device next to cloudlet 3, every VM elsewhere.
        instance.device_ap = vec![Some(3); 8];
        instance.device_ap_ahead = vec![Some(3); 8];
        instance.vm_hosts = vec![0; 8];
        instance.refresh_counts();
        let view = instance.view();
        assert!(Never.decide(&view, Trigger::Periodic).is_empty());
        assert!(
            Never
                .decide(&view, Trigger::Handover { device: 2 })
                .is_empty()
        );
    }
}
