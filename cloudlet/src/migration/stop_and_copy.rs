//! `stop-and-copy`: suspend the VM, copy all of its memory and its CPU
//! state, resume it at the target.
//!
//! Downtime = (non-zero memory + zero-page headers + CPU state) / B + one-way
//! latency; total time is the same. Nothing is sent while the VM runs, so no
//! page is ever sent twice.

use super::{Plan, Switch};

/// The stages of stop-and-copy.
pub(crate) const PLAN: Plan = Plan {
    live_rounds: false,
    switch: Switch::Suspend { copy_memory: true },
    push_after_switch: false,
    postcopy_fallback: false,
};
