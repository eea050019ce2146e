//! `hybrid`: pre-copy rounds, then a post-copy switch with the source
//! stopped (QEMU's postcopy-after-precopy: `migrate`, then
//! `migrate-start-postcopy` during the rounds).
//!
//! The rounds are pre-copy's. When the remainder fits the downtime target
//! before the round limit, the VM is suspended and the rest copied as in
//! pre-copy (QEMU completes as pre-copy then too). Otherwise, after
//! `max_rounds` rounds the VM is suspended, only the CPU state is sent, the
//! target resumes and the pages dirtied since the last round began are
//! pushed and pulled on fault, as in post-copy; `converged` is then `false`.
//! It is soft-migration's fair baseline: the same rounds, but the source
//! stops at the switch.

use super::{Plan, Switch};

/// The stages of hybrid migration.
pub(crate) const PLAN: Plan = Plan {
    live_rounds: true,
    switch: Switch::Suspend { copy_memory: true },
    push_after_switch: true,
    postcopy_fallback: true,
};
