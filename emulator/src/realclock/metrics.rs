//! The edge's Prometheus metrics (`--metrics-listen` on `serve` and
//! `run --clock real`; docs/serve.md, "Metrics", lists them with their
//! units).
//!
//! Recorded with the `metrics` crate into whatever recorder the process
//! installed ([`mcc_cloudlet::node::metrics::install`]); without one every
//! handle is a no-op. The handles are registered once, when the edge
//! starts, so a request only adds to atomics: one outcome counter, two
//! histogram samples (the exporter's lock-free buckets, drained at each
//! scrape and every few seconds) and the in-flight gauge up and down; no
//! lock, no lookup by name (the histograms' buckets take a block of
//! samples at a time: one allocation per 64 or so samples, not per
//! request). Figures the edge keeps anyway (each cloudlet's requests in
//! flight, the in-process nodes' figures) are copied into the registry
//! when a scrape comes ([`super::RealEdge::publish_metrics`]), not per
//! request.

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Unit};

use crate::output::Outcome;

/// Requests that ended, by outcome.
pub const REQUESTS: &str = "mcc_edge_requests_total";
/// Requests refused for overload (RESOURCE_EXHAUSTED).
pub const REFUSED: &str = "mcc_edge_requests_refused_total";
/// Requests sent and not ended.
pub const IN_FLIGHT: &str = "mcc_edge_requests_in_flight";
/// Requests sent to each cloudlet and not answered.
pub const CLOUDLET_IN_FLIGHT: &str = "mcc_edge_cloudlet_requests_in_flight";
/// The delay of answered requests.
pub const DELAY: &str = "mcc_edge_request_delay_seconds";
/// What the emulator added to the model's delay.
pub const ADDED: &str = "mcc_edge_request_added_delay_seconds";
/// Migrations by phase.
pub const MIGRATIONS: &str = "mcc_edge_migrations_total";
/// Migrations under way.
pub const MIGRATING: &str = "mcc_edge_migrations_in_progress";

/// A migration's phase, as `StreamEvents` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// It started.
    Start,
    /// It completed.
    Done,
    /// It failed.
    Aborted,
}

/// The edge's metric handles.
pub struct EdgeMetrics {
    /// By [`Outcome`], in `OUTCOMES` order.
    outcomes: [Counter; 4],
    refused: Counter,
    delay: Histogram,
    added: Histogram,
    in_flight: Gauge,
    /// Start, done, aborted.
    migrations: [Counter; 3],
    migrating: Gauge,
}

const OUTCOMES: [Outcome; 4] = [
    Outcome::Ok,
    Outcome::NoCoverage,
    Outcome::TimedOut,
    Outcome::Unanswered,
];

fn outcome_index(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Ok => 0,
        Outcome::NoCoverage => 1,
        Outcome::TimedOut => 2,
        Outcome::Unanswered => 3,
    }
}

impl EdgeMetrics {
    /// Registers the handles with the process's recorder (no-ops without
    /// one) and describes every metric.
    pub fn register() -> Self {
        metrics::describe_counter!(
            REQUESTS,
            Unit::Count,
            "Requests that ended, by outcome (ok, no_coverage, timed_out, unanswered)."
        );
        metrics::describe_counter!(
            REFUSED,
            Unit::Count,
            "Requests refused with RESOURCE_EXHAUSTED (over the in-flight limits)."
        );
        metrics::describe_gauge!(IN_FLIGHT, Unit::Count, "Requests sent and not ended.");
        metrics::describe_gauge!(
            CLOUDLET_IN_FLIGHT,
            Unit::Count,
            "Requests sent to each cloudlet and not answered (the placement view's backlog)."
        );
        metrics::describe_histogram!(
            DELAY,
            Unit::Seconds,
            "Delay of each answered request, send to answer, measured on the wall clock."
        );
        metrics::describe_histogram!(
            ADDED,
            Unit::Seconds,
            "What the emulator added to each answered request beyond the model's delay \
             (the answer's arrival on the wall clock minus its emulated arrival)."
        );
        metrics::describe_counter!(
            MIGRATIONS,
            Unit::Count,
            "Migrations by phase: start, done, aborted."
        );
        metrics::describe_gauge!(MIGRATING, Unit::Count, "Migrations under way.");
        Self {
            outcomes: OUTCOMES.map(|o| metrics::counter!(REQUESTS, "outcome" => o.as_str())),
            refused: metrics::counter!(REFUSED),
            delay: metrics::histogram!(DELAY),
            added: metrics::histogram!(ADDED),
            in_flight: metrics::gauge!(IN_FLIGHT),
            migrations: ["start", "done", "aborted"]
                .map(|phase| metrics::counter!(MIGRATIONS, "phase" => phase)),
            migrating: metrics::gauge!(MIGRATING),
        }
    }

    /// Counts a request in flight until the guard is dropped.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.increment(1.0);
        InFlight(&self.in_flight)
    }

    /// One request ended with `outcome`; its delay and what the emulator
    /// added to it, for an answer.
    pub fn ended(&self, outcome: Outcome, answer: Option<(Duration, Duration)>) {
        self.outcomes[outcome_index(outcome)].increment(1);
        if let Some((delay, added)) = answer {
            self.delay.record(delay.as_secs_f64());
            self.added.record(added.as_secs_f64());
        }
    }

    /// One request refused for overload.
    pub fn refused(&self) {
        self.refused.increment(1);
    }

    /// A migration reached `phase`.
    pub fn migration(&self, phase: Phase) {
        match phase {
            Phase::Start => {
                self.migrations[0].increment(1);
                self.migrating.increment(1.0);
            }
            Phase::Done | Phase::Aborted => {
                self.migrations[if phase == Phase::Done { 1 } else { 2 }].increment(1);
                self.migrating.decrement(1.0);
            }
        }
    }
}

/// A request in flight ([`EdgeMetrics::in_flight`]).
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
