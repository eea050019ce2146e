//! `threshold`: follow the user only when staying has become clearly worse.
//!
//! A VM moves to the lowest-latency cloudlet (with room) from its device's
//! access point when the round trip to its current host exceeds the round
//! trip to that cloudlet by more than `margin_ms`, or when the device is
//! farther than `distance_m` from its host (hosts without a known position
//! never trip the distance rule). Either rule may be left out, not both.

use serde::Deserialize;

use super::{Move, PlacementPolicy, PlacementView, Trigger, ViewNeeds};

/// `[placement.threshold]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThresholdConfig {
    /// Move when the host's round trip exceeds the best one by more than this,
    /// in ms (default 5; leave out for no delay rule).
    pub margin_ms: Option<f64>,
    /// Move when the device is farther than this from its host, in metres
    /// (default: no distance rule).
    pub distance_m: Option<f64>,
}

impl Default for ThresholdConfig {
    fn default() -> Self {
        Self {
            margin_ms: Some(5.0),
            distance_m: None,
        }
    }
}

/// The threshold placer.
#[derive(Debug, Clone)]
pub struct Threshold {
    margin_ns: Option<f64>,
    distance_m: Option<f64>,
}

impl Threshold {
    /// The policy with `config`, or the field that is out of range.
    pub fn new(config: ThresholdConfig) -> Result<Self, String> {
        if config.margin_ms.is_none() && config.distance_m.is_none() {
            return Err("give margin_ms, distance_m or both".into());
        }
        if let Some(m) = config.margin_ms
            && !(m.is_finite() && m >= 0.0)
        {
            return Err(format!("margin_ms must be a finite number >= 0, got {m}"));
        }
        if let Some(d) = config.distance_m
            && !(d.is_finite() && d > 0.0)
        {
            return Err(format!("distance_m must be a finite number > 0, got {d}"));
        }
        Ok(Self {
            margin_ns: config.margin_ms.map(|m| m * 1e6),
            distance_m: config.distance_m,
        })
    }

    fn consider(&self, view: &PlacementView<'_>, vm: u32, moves: &mut Vec<Move>) {
        let i = vm as usize;
        if !view.movable(vm) {
            return;
        }
        let (Some(&Some(ap)), Some(&host)) = (view.device_ap.get(i), view.vm_hosts.get(i)) else {
            return;
        };
        let Some(best) = view.nearest_with_room(ap, host) else {
            return;
        };
        if best == host {
            return;
        }
        let round_trip = |c: u32| 2.0 * view.ap_latency(ap, c) as f64;
        let too_slow = self
            .margin_ns
            .is_some_and(|margin| round_trip(host) > round_trip(best) + margin);
        let too_far = self.distance_m.is_some_and(|bound| {
            match (
                view.device_position.get(i),
                view.cloudlet_position.get(host as usize),
            ) {
                (Some(&device), Some(&Some(at))) => device.distance_m(at) > bound,
                _ => false,
            }
        });
        if too_slow || too_far {
            moves.push(Move { vm, to: best });
        }
    }
}

impl PlacementPolicy for Threshold {
    fn name(&self) -> &'static str {
        "threshold"
    }

    fn needs(&self) -> ViewNeeds {
        ViewNeeds {
            positions: true,
            look_ahead: false,
        }
    }

    fn decide(&mut self, view: &PlacementView<'_>, trigger: Trigger) -> Vec<Move> {
        let mut moves = Vec::new();
        for vm in view.concerned(trigger) {
            self.consider(view, vm, &mut moves);
        }
        moves
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::instance::Instance;

    /// One device at access point 1 (co-located with cloudlet 1), its VM on
    /// cloudlet 0; returns the instance and the extra round trip of staying, in ms.
    fn away_from_home() -> (Instance, f64) {
        let mut instance = Instance::random(1, 3, 12);
        instance.device_ap = vec![Some(1)];
        instance.device_position = vec![instance.cloudlet_position[1].unwrap()];
        instance.vm_hosts = vec![0];
        instance.refresh_counts();
        let extra_ms =
            2.0 * (instance.ap_latency_ns[3] as f64 - instance.ap_latency_ns[3 + 1] as f64) / 1e6;
        (instance, extra_ms)
    }

    #[test]
    fn it_moves_only_past_the_delay_margin() {
        let (instance, extra_ms) = away_from_home();
        assert!(extra_ms > 0.0, "{extra_ms}");
        let view = instance.view();
        let trigger = Trigger::Handover { device: 0 };
        let config = |margin_ms| ThresholdConfig {
            margin_ms: Some(margin_ms),
            distance_m: None,
        };
        let mut tight = Threshold::new(config(extra_ms * 0.5)).unwrap();
        assert_eq!(tight.decide(&view, trigger), vec![Move { vm: 0, to: 1 }]);
        let mut loose = Threshold::new(config(extra_ms * 1.5)).unwrap();
        assert!(loose.decide(&view, trigger).is_empty());
    }

    #[test]
    fn it_moves_past_the_distance_bound() {
        let (instance, _) = away_from_home();
        let distance =
            instance.device_position[0].distance_m(instance.cloudlet_position[0].unwrap());
        let view = instance.view();
        let config = |distance_m| ThresholdConfig {
            margin_ms: None,
            distance_m: Some(distance_m),
        };
        let mut near = Threshold::new(config(distance - 10.0)).unwrap();
        assert_eq!(
            near.decide(&view, Trigger::Periodic),
            vec![Move { vm: 0, to: 1 }]
        );
        let mut far = Threshold::new(config(distance + 10.0)).unwrap();
        assert!(far.decide(&view, Trigger::Periodic).is_empty());
    }

    #[test]
    fn settings_are_checked() {
        let none = ThresholdConfig {
            margin_ms: None,
            distance_m: None,
        };
        assert!(
            Threshold::new(none)
                .unwrap_err()
                .contains("margin_ms, distance_m")
        );
        let negative = ThresholdConfig {
            margin_ms: Some(-1.0),
            distance_m: None,
        };
        assert!(
            Threshold::new(negative)
                .unwrap_err()
                .starts_with("margin_ms")
        );
    }
}
