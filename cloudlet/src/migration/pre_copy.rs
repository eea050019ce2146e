//! `pre-copy` (Clark et al., NSDI 2005): copy memory in rounds while the VM
//! runs, then suspend and copy the rest.
//!
//! Round 0 sends all memory; round i sends the pages dirtied while round
//! i − 1 was sent (what the dirty model gives for that window). After each
//! round the model compares what remains with the downtime target at the
//! bandwidth it measured from delivery times; when it fits, or when the
//! maximum number of rounds is reached (`converged: false`), the VM is
//! suspended, the remainder and the CPU state are sent, and the VM resumes at
//! the target. With the linear model and λ = d·page/B < 1, round i sends
//! M·λ^i until d·t saturates at the working set. With auto-converge the
//! dirty rate is throttled (20 %, then +10 % per round, up to 99 %) whenever a
//! round dirtied more than half of what it sent, as QEMU does.

use super::{Plan, Switch};

/// The stages of pre-copy.
pub(crate) const PLAN: Plan = Plan {
    live_rounds: true,
    switch: Switch::Suspend { copy_memory: true },
    push_after_switch: false,
    postcopy_fallback: false,
};
