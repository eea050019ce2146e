//! `nearest`: Follow-Me Cloud, the VM always on the lowest-delay cloudlet.

use super::{Move, PlacementPolicy, PlacementView, Trigger};

/// Moves every VM to the cloudlet with the lowest propagation latency from its
/// device's access point (the nearest one with room), whenever that changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nearest;

impl Nearest {
    fn consider(view: &PlacementView<'_>, vm: u32, moves: &mut Vec<Move>) {
        let i = vm as usize;
        if view.vm_migrating.get(i).copied().unwrap_or(true) {
            return;
        }
        let (Some(&Some(ap)), Some(&host)) = (view.device_ap.get(i), view.vm_hosts.get(i)) else {
            return;
        };
        if let Some(best) = view.nearest_with_room(ap, host)
            && best != host
        {
            moves.push(Move { vm, to: best });
        }
    }
}

impl PlacementPolicy for Nearest {
    fn name(&self) -> &'static str {
        "nearest"
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
