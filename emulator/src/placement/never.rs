//! `never`: a VM stays where it was first placed.

use super::{Move, PlacementPolicy, PlacementView, Trigger};

/// Never moves a VM: the baseline that shows what mobility costs when VMs do
/// not follow their users.
#[derive(Debug, Clone, Copy, Default)]
pub struct Never;

impl PlacementPolicy for Never {
    fn name(&self) -> &'static str {
        "never"
    }

    fn decide(&mut self, _view: &PlacementView<'_>, _trigger: Trigger) -> Vec<Move> {
        Vec::new()
    }
}
