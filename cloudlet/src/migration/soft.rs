//! `soft` (soft-migration, the seed paper by Abid et al.): pre-copy rounds,
//! then a switch with no suspend, then a post-copy push while the device is
//! served by both hosts.
//!
//! The rounds are pre-copy's (they stop early when the remainder fits the
//! downtime target, else at the maximum number of rounds, reported as
//! `converged: false`). At the switch the source keeps running and sends the
//! CPU state; the target starts from that snapshot when it arrives. The pages
//! dirtied since the last round began are the target's missing pages: they
//! are pushed, and pulled on fault. From the switch until the push ends, each
//! request goes to both hosts and the first answer counts: the source answers
//! at once (it holds all memory), the target after its faults, if any.
//!
//! The costs this model reports rather than hides: every request in the
//! handoff is sent and executed twice (`dual_served_requests`); the source
//! stays busy (its copy of the VM runs and serves) until the push ends, which
//! is `total_ms`; faults at the target still cost bytes and stall time even
//! when the source's answer wins. The model assumes that requests served by
//! both hosts are idempotent: executing one twice leaves the same state, the
//! target's execution is the authoritative one, and the source's writes after
//! the switch are discarded, never sent.

use super::{Plan, Switch};

/// The stages of soft-migration.
pub(crate) const PLAN: Plan = Plan {
    live_rounds: true,
    switch: Switch::Live,
    push_after_switch: true,
    postcopy_fallback: false,
};
