//! What runs at scenario times: the tick loop (positions and attachments
//! every `mobility_step_s`, the placement timer every `interval_s`) and each
//! scenario device's request schedule.
//!
//! The ticks are the engine's ([`Ticks`]), and every tick is handled at its
//! own scenario time: positions are read from the traces at exactly that
//! time, whenever the wall clock lets the loop run, so attachments,
//! hand-overs and the policy's inputs about devices are those of the
//! virtual engine. Requests leave at the scenario times the devices'
//! request clocks give (the engine's `RequestClock`, same seeds), each in
//! its own task, and each reads the attachment of its own scenario time:
//! the tick gate (`tick_gate.rs`) holds back whichever side
//! the wall clock woke too early.

use std::sync::Arc;

use super::edge::{RealEdge, Shared};
use super::locks::lock;
use super::request::EdgeRequest;
use crate::engine::ticks::{Tick, Ticks};
use crate::engine::workload::{RequestSize, request_clock, size_stream};
use crate::placement::Trigger;

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
        // Before any loop runs: requests before the first tick need not wait.
        shared
            .tick_gate
            .ticks_applied_before(ticks.peek_ns().unwrap_or(u64::MAX));
        let mut loops = Vec::new();
        loops.push(spawn_counted(shared, tick_loop(shared.clone(), ticks)));
        if shared.options.scenario_devices {
            for device in 0..shared.scenario.world.devices.len() as u32 {
                let requests = device_loop(shared.clone(), device, settings.duration_ns);
                loops.push(spawn_counted(shared, requests));
            }
        }
        lock(&shared.loops).extend(loops);
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

async fn tick_loop(shared: Arc<Shared>, mut ticks: Ticks) {
    while let Some((at, tick)) = ticks.next() {
        shared.timer.sleep_until(shared.clock.wall_at(at)).await;
        // A loop that fell behind finds every deadline passed and would
        // never yield: give the other tasks (calls, the stop) their turn.
        tokio::task::consume_budget().await;
        shared.tick_gate.devices_before(at).await;
        {
            let mut state = shared.lock();
            state.covered_ns = at;
            match tick {
                Tick::Mobility => {
                    for device in 0..state.devices.len() as u32 {
                        if state.vms.get(device as usize).is_some_and(|vm| vm.retired) {
                            continue; // It left.
                        }
                        let position = state.devices[device as usize].movement.position_at(at);
                        shared.move_device(&mut state, device, position, at);
                    }
                    state.scratch.devices_at_ns = None;
                }
                Tick::Placement => shared.place(&mut state, at, Trigger::Periodic),
            }
        }
        shared
            .tick_gate
            .ticks_applied_before(ticks.peek_ns().unwrap_or(u64::MAX));
    }
    shared.tick_gate.ticks_applied_before(u64::MAX);
}

/// The request a scenario device sends, of the sizes drawn for it.
fn scenario_request(size: RequestSize) -> EdgeRequest {
    let request_bytes = size
        .request_bytes
        .min(mcc_cloudlet::node::MAX_PAYLOAD_BYTES as u64);
    EdgeRequest {
        payload: vec![0; request_bytes as usize],
        cpu_cost_us: size.cpu_ns / 1_000,
        response_bytes: size
            .response_bytes
            .min(mcc_cloudlet::node::MAX_RESPONSE_BYTES),
    }
}

async fn device_loop(shared: Arc<Shared>, device: u32, end_ns: u64) {
    let settings = &shared.scenario.settings;
    let workload = shared.scenario.world.workload_of(device as usize);
    let mut clock = request_clock(workload, settings.seed, device);
    let mut sizes = size_stream(settings.seed, device);
    let mut at = clock.first_ns();
    if at > end_ns {
        // No request within the run (the engine sends none either).
        shared.tick_gate.device_before(device, u64::MAX);
        return;
    }
    shared.tick_gate.device_before(device, at);
    loop {
        shared.timer.sleep_until(shared.clock.wall_at(at)).await;
        shared.tick_gate.ticks_through(at).await;
        if shared.radio.is_some() {
            // Every earlier request announced first: the cells book the
            // uplinks in the engine's order (`radio.rs`).
            shared.tick_gate.devices_before(at).await;
        }
        // The attachment is read here, in the gate's order; the exchange
        // runs in its own task.
        let mut prepared = shared.prepare_request(device, at);
        if let Ok(prepared) = &mut prepared {
            prepared.announce_uplink(&shared, shared.clock.wall_at(at));
        }
        let next = at.saturating_add(clock.gap_ns());
        let more = next <= end_ns;
        shared
            .tick_gate
            .device_before(device, if more { next } else { u64::MAX });
        let task_shared = shared.clone();
        let request = scenario_request(sizes.draw(&workload.sizes));
        shared.runtime.spawn(async move {
            let answer = match prepared {
                Ok(prepared) => task_shared.send_prepared(prepared, request).await,
                Err(error) => Err(error),
            };
            if let Err(error) = answer {
                request_failed(&task_shared, device, &error);
            }
        });
        if !more {
            break;
        }
        at = next;
    }
}

/// A scenario device's request that got no answer at all (counted by
/// the request itself): said on stderr, unless the edge is stopping.
fn request_failed(shared: &Shared, device: u32, error: &super::RealClockError) {
    if shared.is_stopping() {
        return;
    }
    let (name, lost) = {
        let state = shared.lock();
        let name = state
            .devices
            .get(device as usize)
            .map_or_else(|| "?".to_owned(), |d| d.name.clone());
        let in_doubt = state
            .vms
            .get(device as usize)
            .is_some_and(|vm| vm.lost || shared.node_in_doubt(&state, vm.host));
        (name, in_doubt)
    };
    // A node found dead (or being checked) is reported once, with its VMs.
    if !lost {
        eprintln!("mcc-emu: request of {name} failed: {error}");
    }
}
