//! `post-copy` (Hines et al., VEE 2009): suspend the VM, send only its CPU
//! state, resume it at the target; push the rest of memory in the background
//! and pull missing pages on fault.
//!
//! Downtime = CPU state / B + one-way latency. A request that touches a page
//! the target lacks waits for a fault per missing page: one round trip plus
//! the page's transfer time at the path's bandwidth. The VM's own writes at
//! the target fault too (accounted every tick; they cost bytes and faults
//! but are not charged to requests). No page is sent twice: bytes ≈ M.

use super::{Plan, Switch};

/// The stages of post-copy.
pub(crate) const PLAN: Plan = Plan {
    live_rounds: false,
    switch: Switch::Suspend { copy_memory: false },
    push_after_switch: true,
    postcopy_fallback: false,
};
