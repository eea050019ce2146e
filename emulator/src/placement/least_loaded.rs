//! `least-loaded`: spread VMs over the cloudlets' cores, ignoring where users are
//! (except within an optional round-trip bound).
//!
//! A cloudlet's load is its VMs per core. A VM moves to the least-loaded
//! cloudlet with room (ties: less CPU backlog, then lower latency from the
//! device, then lower index) when that cloudlet, with the VM, would still be
//! less loaded than the VM's host is now; so VMs move only when that
//! strictly evens the load, and the policy settles. On the timer every VM is
//! considered in index order, each move counted before the next VM's turn.

use serde::Deserialize;

use super::{Move, PlacementPolicy, PlacementView, Trigger, ViewNeeds};

/// `[placement.least-loaded]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeastLoadedConfig {
    /// Only consider cloudlets within this round trip of the device's access
    /// point, in ms (default: any cloudlet).
    pub max_rtt_ms: Option<f64>,
}

/// The least-loaded placer.
#[derive(Debug, Clone, Default)]
pub struct LeastLoaded {
    max_rtt_ns: Option<f64>,
}

impl LeastLoaded {
    /// The policy with `config`, or the field that is out of range.
    pub fn new(config: LeastLoadedConfig) -> Result<Self, String> {
        if let Some(r) = config.max_rtt_ms
            && !(r.is_finite() && r >= 0.0)
        {
            return Err(format!("max_rtt_ms must be a finite number >= 0, got {r}"));
        }
        Ok(Self {
            max_rtt_ns: config.max_rtt_ms.map(|r| r * 1e6),
        })
    }
}

impl PlacementPolicy for LeastLoaded {
    fn name(&self) -> &'static str {
        "least-loaded"
    }

    fn needs(&self) -> ViewNeeds {
        ViewNeeds::NONE
    }

    fn decide(&mut self, view: &PlacementView<'_>, trigger: Trigger) -> Vec<Move> {
        self.assign(view, &view.concerned(trigger))
    }
}

impl LeastLoaded {
    /// The moves of the VMs `concerned`, considered in that order (each move
    /// counted before the next VM's turn); moves come in the same order.
    pub fn assign(&self, view: &PlacementView<'_>, concerned: &[u32]) -> Vec<Move> {
        let mut vms: Vec<u64> = view.cloudlet_vms.iter().map(|&n| u64::from(n)).collect();
        let mut room: Vec<u64> = (0..view.cloudlets() as u32)
            .map(|c| view.room_vms(c))
            .collect();
        let cores =
            |c: usize| u64::from(view.cloudlet_cpu_cores.get(c).copied().unwrap_or(1).max(1));
        // a/b < c/d without division.
        let less = |(a, b): (u64, u64), (c, d): (u64, u64)| {
            u128::from(a) * u128::from(d) < u128::from(c) * u128::from(b)
        };
        let mut moves = Vec::new();
        for &vm in concerned {
            let i = vm as usize;
            let host = view.vm_hosts[i] as usize;
            if host >= vms.len() {
                continue;
            }
            let ap = view.device_ap.get(i).copied().flatten();
            let latency = |c: u32| ap.map_or(0, |ap| view.ap_latency(ap, c));
            let allowed = |c: u32| match (self.max_rtt_ns, ap) {
                (Some(bound), Some(_)) => 2.0 * latency(c) as f64 <= bound,
                _ => true,
            };
            let best = (0..vms.len() as u32)
                .filter(|&c| c as usize != host && room[c as usize] > 0 && allowed(c))
                .min_by(|&a, &b| {
                    let (ia, ib) = (a as usize, b as usize);
                    let load_a = (vms[ia], cores(ia));
                    let load_b = (vms[ib], cores(ib));
                    let by_load = if less(load_a, load_b) {
                        std::cmp::Ordering::Less
                    } else if less(load_b, load_a) {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    };
                    by_load
                        .then(view.cloudlet_backlog_ns[ia].cmp(&view.cloudlet_backlog_ns[ib]))
                        .then(latency(a).cmp(&latency(b)))
                        .then(a.cmp(&b))
                });
            let Some(best) = best else {
                continue;
            };
            let b = best as usize;
            if less((vms[b] + 1, cores(b)), (vms[host], cores(host))) {
                moves.push(Move { vm, to: best });
                vms[b] += 1;
                vms[host] -= 1;
                room[b] -= 1;
            }
        }
        moves
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::instance::Instance;

    #[test]
    fn it_evens_the_load_and_then_settles() {
        let mut instance = Instance::random(8, 4, 2);
        instance.cloudlet_cpu_cores = vec![1, 1, 1, 1];
        instance.cloudlet_memory_bytes = vec![8 * instance.vm_memory_bytes; 4];
        instance.vm_hosts = vec![0; 8];
        instance.refresh_counts();
        let mut policy = LeastLoaded::new(LeastLoadedConfig::default()).unwrap();
        let moves = policy.decide(&instance.view(), Trigger::Periodic);
        for m in &moves {
            instance.vm_hosts[m.vm as usize] = m.to;
        }
        instance.refresh_counts();
        assert_eq!(instance.cloudlet_vms, vec![2, 2, 2, 2], "{moves:?}");
        assert!(
            policy
                .decide(&instance.view(), Trigger::Periodic)
                .is_empty()
        );
    }

    #[test]
    fn more_cores_take_more_vms_and_the_rtt_bound_holds() {
        let mut instance = Instance::random(6, 2, 2);
        instance.cloudlet_cpu_cores = vec![1, 2];
        instance.cloudlet_memory_bytes = vec![6 * instance.vm_memory_bytes; 2];
        instance.vm_hosts = vec![0; 6];
        instance.refresh_counts();
        let mut policy = LeastLoaded::new(LeastLoadedConfig::default()).unwrap();
        let moves = policy.decide(&instance.view(), Trigger::Periodic);
        assert_eq!(moves.len(), 4, "2 VMs on 1 core, 4 on 2: {moves:?}");
        instance.device_ap = vec![Some(0); 6];
        let rtt_to_1_ms = 2.0 * instance.ap_latency_ns[1] as f64 / 1e6;
        let mut bounded = LeastLoaded::new(LeastLoadedConfig {
            max_rtt_ms: Some(rtt_to_1_ms - 0.01),
        })
        .unwrap();
        assert!(
            bounded
                .decide(&instance.view(), Trigger::Periodic)
                .is_empty()
        );
    }
}
