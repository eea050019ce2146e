//! `nearest`: Follow-Me Cloud, the VM always on the lowest-delay cloudlet.

use serde::Deserialize;

use super::{Move, PlacementPolicy, PlacementView, Trigger, ViewNeeds};

/// `[placement.nearest]`: the policy has no settings (the table must be empty).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearestConfig {}

/// Moves every VM to the cloudlet with the lowest propagation latency from its
/// device's access point (the nearest one with room), whenever that changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nearest;

impl Nearest {
    /// Where `nearest` sends VM `vm`: the lowest-latency cloudlet with room
    /// from its device's access point, if that is not its host (`None`: it
    /// stays, is migrating, or its device is out of coverage).
    pub fn target(view: &PlacementView<'_>, vm: u32) -> Option<u32> {
        let i = vm as usize;
        if view.vm_migrating.get(i).copied().unwrap_or(true) {
            return None;
        }
        let (Some(&Some(ap)), Some(&host)) = (view.device_ap.get(i), view.vm_hosts.get(i)) else {
            return None;
        };
        view.nearest_with_room(ap, host)
            .filter(|&best| best != host)
    }

    fn consider(view: &PlacementView<'_>, vm: u32, moves: &mut Vec<Move>) {
        if let Some(to) = Self::target(view, vm) {
            moves.push(Move { vm, to });
        }
    }
}

impl PlacementPolicy for Nearest {
    fn name(&self) -> &'static str {
        "nearest"
    }

    fn needs(&self) -> ViewNeeds {
        ViewNeeds::NONE
    }

    fn decide(&mut self, view: &PlacementView<'_>, trigger: Trigger) -> Vec<Move> {
        let mut moves = Vec::new();
        match trigger {
            Trigger::Handover { device } => Self::consider(view, device, &mut moves),
            Trigger::Periodic => {
                for vm in 0..view.vm_hosts.len() as u32 {
                    Self::consider(view, vm, &mut moves);
                }
            }
        }
        moves
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::instance::Instance;

    #[test]
    fn nearest_moves_to_the_lowest_latency_cloudlet_with_room() {
        // In a random instance, access point `i` stands at cloudlet `i`.
        let mut instance = Instance::random(3, 4, 9);
        instance.device_ap = vec![Some(2), Some(1), None];
        instance.vm_hosts = vec![0, 0, 0];
        instance.refresh_counts();
        let view = instance.view();
        let moves = Nearest.decide(&view, Trigger::Periodic);
        let expected = vec![Move { vm: 0, to: 2 }, Move { vm: 1, to: 1 }];
        assert_eq!(moves, expected, "device 2 is out of coverage and stays");
        let only = Nearest.decide(&view, Trigger::Handover { device: 1 });
        assert_eq!(only, vec![Move { vm: 1, to: 1 }]);
        // A full cloudlet is passed over for the next nearest.
        instance.cloudlet_memory_used_bytes[2] = instance.cloudlet_memory_bytes[2];
        let view = instance.view();
        let second = instance.cloudlets_by_latency[2][1];
        let moves = Nearest.decide(&view, Trigger::Handover { device: 0 });
        if second == 0 {
            assert!(
                moves.is_empty(),
                "the current host is the nearest with room"
            );
        } else {
            assert_eq!(moves, vec![Move { vm: 0, to: second }]);
        }
    }
}
