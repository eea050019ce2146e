//! Sleeping empty cloudlets on the real clock (`[energy]
//! sleep_empty_cloudlets = true`, `docs/energy.md`): the virtual clock's
//! state machine ([`Sleepers`]), told of the same events at the same
//! scenario times, so that both clocks report the same sleep and energy for
//! what they ran.
//!
//! - The scenario's VMs, once hosted, are each cloudlet's count at time 0.
//! - A migration the policy decides asks [`Shared::sleep_arrive`] when its
//!   target can take the VM (the decision's scenario time, unless the target
//!   sleeps or is waking); the migration task waits for that moment on the
//!   wall clock ([`Shared::wait_until_awake`]: the wake-up's scenario time
//!   over the speed, on the precise timer as every emulated delay) and only
//!   then starts the copy. The VM stays on its host meanwhile (pinned: the
//!   policy does not move it again) and keeps answering from there.
//! - A VM leaves its source when its migration switches (the time the
//!   source reported the switch), its target when the migration fails or
//!   the edge stops during the wake-up, its node when the node is lost; a
//!   VM restarted after a node loss arrives at its new host, and its
//!   restart waits for a wake-up too.
//! - At shutdown the log goes to the output writer's energy meter, which
//!   costs it exactly as on the virtual clock.
//!
//! Only `mcc-emu run --clock real` (the scenario's own devices) supports
//! it; `serve` refuses the option (`RealEdge::start`): there devices
//! register and leave while the edge runs, so a registration would have
//! to hold its caller for a wake-up the API does not promise, and a VM
//! whose device left stays where it was, so what "empty" means for the
//! cloudlet would be a choice of ours rather than the model's.

use super::edge::{EdgeState, Shared};
use crate::energy::Sleepers;
use crate::output::RecordWriter;

impl Shared {
    /// Starts the sleep model (if the scenario lets cloudlets sleep) with
    /// the VMs hosted now, which count from scenario time 0.
    pub(super) fn start_sleep(&self, state: &mut EdgeState) {
        let Some(config) = self.scenario.energy.sleep else {
            return;
        };
        let mut vms = vec![0u32; self.scenario.world.cloudlets.len()];
        for vm in &state.vms {
            if let Some(n) = vms.get_mut(vm.host as usize) {
                *n += 1;
            }
        }
        state.sleep = Some(Sleepers::new(config, &vms));
    }

    /// A VM heads for cloudlet `to` at scenario time `now_ns`: the
    /// scenario time from which `to` can take it (`now_ns` unless it sleeps
    /// or is still waking, or cloudlets never sleep).
    pub(super) fn sleep_arrive(&self, state: &mut EdgeState, to: u32, now_ns: u64) -> u64 {
        state
            .sleep
            .as_mut()
            .map_or(now_ns, |s| s.arrive(to, now_ns))
    }

    /// A VM has left cloudlet `cloudlet` at scenario time `at_ns` (or will
    /// not arrive after all).
    pub(super) fn sleep_leave(&self, state: &mut EdgeState, cloudlet: u32, at_ns: u64) {
        if let Some(s) = state.sleep.as_mut() {
            s.leave(cloudlet, at_ns);
        }
    }

    /// Waits on the wall clock until scenario time `ready_ns` (a target's
    /// wake-up is over). False if the edge stopped first.
    pub(super) async fn wait_until_awake(&self, ready_ns: u64) -> bool {
        let mut stopping = self.stopping.subscribe();
        tokio::select! {
            () = self.timer.sleep_until(self.clock.wall_at(ready_ns)) => !self.is_stopping(),
            _ = stopping.wait_for(|stop| *stop) => false,
        }
    }

    /// Hands `sink` what the cloudlets did over the run, which covered
    /// `covered_ns` of scenario time (nothing when they never sleep).
    pub(super) fn finish_sleep(&self, state: &mut EdgeState, sink: &mut RecordWriter) {
        if let Some(sleepers) = state.sleep.take() {
            sink.cloudlet_sleep(sleepers.finish(state.covered_ns));
        }
    }
}
