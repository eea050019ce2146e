//! What runs at scenario times: the tick loop (positions and attachments
//! every `mobility_step_s`, the placement timer every `interval_s`) and each
//! scenario device's request schedule.
//!
//! Every tick is handled at its own scenario time: positions are read from
//! the traces at exactly that time, whenever the wall clock lets the loop
//! run, so attachments, hand-overs and the policy's inputs about devices
//! are those of the virtual engine. Ticks due at one instant run in the
//! engine's order (the event scheduled earlier first: the placement timer
//! before the mobility tick when its interval is the longer one).
//! Requests leave at the scenario times the devices' request clocks give
//! (the engine's `RequestClock`, same seeds), each in its own task.

use std::sync::Arc;

use super::edge::{RealEdge, Shared};
use super::request::EdgeRequest;
use crate::engine::workload::RequestClock;
use crate::placement::Trigger;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tick {
    Mobility,
    Placement,
}

/// The ticks of a run with mobility step `step_ns` and placement interval
/// `interval_ns`, in the order the engine handles them, up to `end_ns`.
#[derive(Debug, Clone)]
struct Ticks {
    step_ns: u64,
    interval_ns: Option<u64>,
    next_mobility: u64,
    next_placement: Option<u64>,
    end_ns: Option<u64>,
}

impl Ticks {
    fn new(step_ns: u64, interval_ns: Option<u64>, end_ns: Option<u64>) -> Self {
        Self {
            step_ns: step_ns.max(1),
            interval_ns: interval_ns.filter(|&i| i > 0),
            next_mobility: step_ns.max(1),
            next_placement: interval_ns.filter(|&i| i > 0),
            end_ns,
        }
    }
}

impl Iterator for Ticks {
    type Item = (u64, Tick);

    fn next(&mut self) -> Option<(u64, Tick)> {
        let placement_first = match self.next_placement {
            None => false,
            Some(p) if p < self.next_mobility => true,
            Some(p) if p == self.next_mobility => {
                self.interval_ns.is_some_and(|i| i > self.step_ns)
            }
            Some(_) => false,
        };
        let (at, tick) = if placement_first {
            let at = self.next_placement?;
            self.next_placement = self.interval_ns.map(|i| at + i);
            (at, Tick::Placement)
        } else {
            let at = self.next_mobility;
            self.next_mobility += self.step_ns;
            (at, Tick::Mobility)
        };
        if self.end_ns.is_some_and(|end| at > end) {
            return None;
        }
        Some((at, tick))
    }
}

impl RealEdge {
    /// Starts the tick loop and the scenario devices' request loops.
    pub(super) fn spawn_loops(&self) {
        let shared = &self.shared;
        let settings = &shared.scenario.settings;
        let end_ns = shared
            .options
            .scenario_devices
            .then_some(settings.duration_ns);
        let ticks = Ticks::new(
            settings.mobility_step_ns,
            settings.placement_interval_ns,
            end_ns,
        );
        let mut loops = Vec::new();
        loops.push(spawn_counted(shared, tick_loop(shared.clone(), ticks)));
        if shared.options.scenario_devices {
            for device in 0..shared.scenario.world.devices.len() as u32 {
                let requests = device_loop(shared.clone(), device, settings.duration_ns);
                loops.push(spawn_counted(shared, requests));
            }
        }
        shared
            .loops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(loops);
    }
}

/// Spawns `run`, counted in `loops_running` until it ends (or is aborted).
fn spawn_counted(
    shared: &Arc<Shared>,
    run: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    struct Running(Arc<Shared>);
    impl Drop for Running {
        fn drop(&mut self) {
            self.0.loops_running.decrement();
        }
    }
    shared.loops_running.increment();
    let running = Running(shared.clone());
    shared.runtime.spawn(async move {
        let _running = running;
        run.await;
    })
}

async fn tick_loop(shared: Arc<Shared>, ticks: Ticks) {
    for (at, tick) in ticks {
        shared.timer.sleep_until(shared.clock.wall_at(at)).await;
        let mut state = shared.lock();
        state.covered_ns = at;
        match tick {
            Tick::Mobility => {
                for device in 0..state.devices.len() as u32 {
                    let position = state.devices[device as usize].movement.position_at(at);
                    shared.move_device(&mut state, device, position, at);
                }
                state.scratch.devices_at_ns = None;
            }
            Tick::Placement => shared.place(&mut state, at, Trigger::Periodic),
        }
    }
}

/// The request a scenario device sends.
fn scenario_request(shared: &Shared) -> EdgeRequest {
    let workload = &shared.scenario.world.workload;
    let request_bytes = workload
        .request_bytes
        .min(mcc_cloudlet::node::MAX_PAYLOAD_BYTES as u64);
    EdgeRequest {
        payload: vec![0; request_bytes as usize],
        cpu_cost_us: workload.cpu_ns / 1_000,
        response_bytes: workload
            .response_bytes
            .min(mcc_cloudlet::node::MAX_RESPONSE_BYTES),
    }
}

async fn device_loop(shared: Arc<Shared>, device: u32, end_ns: u64) {
    let settings = &shared.scenario.settings;
    let mut clock = RequestClock::new(&shared.scenario.world.workload, settings.seed, device);
    let mut at = clock.first_ns();
    loop {
        shared.timer.sleep_until(shared.clock.wall_at(at)).await;
        let request = scenario_request(&shared);
        let task_shared = shared.clone();
        shared.runtime.spawn(async move {
            if let Err(error) = task_shared.request(device, at, request).await {
                request_failed(&task_shared, device, &error);
            }
        });
        let next = at + clock.gap_ns();
        if next > end_ns {
            break;
        }
        at = next;
    }
}

/// A scenario device's request that failed outright (no answer at all):
/// said once on stderr, counted as failed.
fn request_failed(shared: &Shared, device: u32, error: &super::RealClockError) {
    if shared.is_stopping() {
        return;
    }
    let mut state = shared.lock();
    state.totals.requests += 1;
    state.totals.failed += 1;
    state.totals.sla_violations += 1;
    let name = state
        .devices
        .get(device as usize)
        .map_or("?", |d| d.name.as_str())
        .to_owned();
    drop(state);
    eprintln!("mcc-emu: request of {name} failed: {error}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_come_in_the_engines_order() {
        let s = 1_000_000_000;
        let ticks: Vec<_> = Ticks::new(s, Some(2 * s), Some(4 * s)).collect();
        assert_eq!(
            ticks,
            vec![
                (s, Tick::Mobility),
                (2 * s, Tick::Placement),
                (2 * s, Tick::Mobility),
                (3 * s, Tick::Mobility),
                (4 * s, Tick::Placement),
                (4 * s, Tick::Mobility),
            ]
        );
        let equal: Vec<_> = Ticks::new(s, Some(s), Some(2 * s)).collect();
        assert_eq!(
            equal,
            vec![
                (s, Tick::Mobility),
                (s, Tick::Placement),
                (2 * s, Tick::Mobility),
                (2 * s, Tick::Placement),
            ]
        );
        let none: Vec<_> = Ticks::new(s, None, Some(2 * s)).collect();
        assert_eq!(none.len(), 2);
    }
}
