//! A device that leaves (`serve`'s `UnregisterDevice`): it disappears from
//! the edge at once, its memory on its cloudlet is free for the next
//! registration, and its VM is taken off the node.
//!
//! Devices and VMs are numbered by their place in the edge's lists (the
//! policy's view, the outputs), so a device that leaves keeps its place,
//! marked [`VmState::retired`](super::edge::VmState): the ticks no longer
//! move it, the policy sees its VM pinned and never moves it, and its name
//! is free to register again (as a new device, with a new place).

use super::edge::RealEdge;
use super::error::RealClockError;

/// What unregistering a device did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unregistered {
    /// The VM that was taken off.
    pub vm_id: String,
    /// The cloudlet it was on.
    pub host_id: String,
    /// Why the node could not be told, if it could not (a node that died,
    /// say): the edge has let the VM go all the same.
    pub node_error: Option<String>,
}

impl RealEdge {
    /// Removes device `device_id`: NOT_FOUND if no such device is
    /// registered, FAILED_PRECONDITION while its VM migrates (retry when
    /// the migration is over). Its requests in flight run to their end and
    /// are recorded.
    pub async fn unregister_device(&self, device_id: &str) -> Result<Unregistered, RealClockError> {
        let shared = &self.shared;
        let (vm_id, host) = {
            let mut state = shared.lock();
            let device = *state
                .by_name
                .get(device_id)
                .ok_or_else(|| RealClockError::not_found(format!("no device {device_id:?}")))?;
            let vm = state
                .vms
                .get_mut(device as usize)
                .ok_or_else(|| RealClockError::internal(format!("no VM for device {device}")))?;
            if vm.migrating || vm.restarting.is_some() {
                return Err(RealClockError::precondition(format!(
                    "the VM of device {device_id:?} is migrating or restarting; unregister \
                     it once that is over (retry in a second)"
                )));
            }
            vm.retired = true;
            let (vm_id, host) = (vm.id.clone(), vm.host);
            state.by_name.remove(device_id);
            let vm_bytes = shared.scenario.settings.migration.vm_memory_bytes();
            if let Some(used) = state.memory_used_bytes.get_mut(host as usize) {
                *used = used.saturating_sub(vm_bytes);
            }
            state.scratch.devices_at_ns = None;
            (vm_id, host)
        };
        let node = shared
            .nodes
            .get(host)
            .ok_or_else(|| RealClockError::internal(format!("no node for cloudlet {host}")))?;
        let released = match &node.local {
            Some(local) => local.release_vm(&vm_id).map_err(|e| e.to_string()),
            None => node
                .client
                .clone()
                .release_vm(mcc_proto::v1::ReleaseVmRequest {
                    vm_id: vm_id.clone(),
                })
                .await
                .map(|_| ())
                .map_err(|s| s.message().to_owned()),
        };
        Ok(Unregistered {
            vm_id,
            host_id: node.name.clone(),
            node_error: released
                .err()
                .map(|e| format!("cloudlet {}: {e}", node.name)),
        })
    }
}
