//! `mcc-emu run --clock real`: start the edge with the scenario's devices,
//! wait until the scenario's duration has passed on the scenario clock (or
//! until a stop signal), shut down and write the outputs.

use std::future::Future;

use super::edge::{RealEdge, RealOptions};
use super::error::RealClockError;
use crate::output::Summary;
use crate::scenario::Scenario;

/// Runs `scenario` on the real clock with its own devices; `stop`
/// completing ends the run early (the outputs then cover the scenario time
/// up to the stop, and the summary says it was interrupted); `progress` is
/// called about once a wall second with the scenario time reached, in
/// seconds.
pub async fn run_scenario(
    scenario: Scenario,
    options: RealOptions,
    stop: impl Future<Output = ()>,
    progress: impl FnMut(u64),
) -> Result<Summary, RealClockError> {
    run_scenario_watched(scenario, options, stop, progress, |_| {}).await
}

/// [`run_scenario`], with `started` given the edge once it runs (the live
/// view subscribes to it there).
pub async fn run_scenario_watched(
    scenario: Scenario,
    mut options: RealOptions,
    stop: impl Future<Output = ()>,
    mut progress: impl FnMut(u64),
    started: impl FnOnce(&RealEdge),
) -> Result<Summary, RealClockError> {
    options.scenario_devices = true;
    let edge = RealEdge::start(scenario, options).await?;
    started(&edge);
    {
        let done = edge.scenario_done();
        tokio::pin!(done, stop);
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = &mut done => break,
                _ = &mut stop => break,
                _ = ticker.tick() => progress(edge.now().as_secs()),
            }
        }
    }
    edge.shutdown().await
}
