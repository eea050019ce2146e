//! The emulated network on the wall clock: one
//! [`EmulatedLink`] per topology link and one per access point's wireless
//! hop, built from the same [`World`] the virtual engine runs, and the
//! paths messages take over them ([`EmulatedPath`]).
//!
//! Requests, answers, migration streams, forwarded requests and fault pulls
//! that cross one link direction share its FIFO. Each message books every
//! hop of its path when it is sent, as the virtual engine does
//! (`engine::links`). Where the two differ: the virtual engine lets a
//! migration flow take a fair share of each link and serialises requests at
//! the capacity divided by one more than the flows on it; here a migration
//! is a stream of real chunks (up to 1 MiB) in the same FIFO, so a request
//! behind a chunk waits for that chunk to leave.

use std::sync::Arc;
use std::time::Duration;

use mcc_cloudlet::realtime::{Direction, EmulatedLink, EmulatedPath, LinkSpec, Timer};

use super::error::RealClockError;
use crate::engine::World;
use crate::engine::links::DirectedLink;

/// Every link of the world on the wall clock.
#[derive(Debug, Clone)]
pub struct Network {
    backbone: Vec<Arc<EmulatedLink>>,
    wireless: Vec<Arc<EmulatedLink>>,
    timer: Timer,
}

fn spec(what: &str, latency_ns: u64, capacity_bps: f64) -> Result<LinkSpec, RealClockError> {
    LinkSpec::new(Duration::from_nanos(latency_ns), capacity_bps)
        .map_err(|e| RealClockError::invalid(format!("{what}: {e}")))
}

impl Network {
    /// The links of `world`, idle, waiting with `timer`.
    pub fn new(world: &World, timer: Timer) -> Result<Self, RealClockError> {
        let backbone = world
            .links
            .iter()
            .enumerate()
            .map(|(i, link)| {
                let spec = spec(&format!("link {i}"), link.latency_ns, link.capacity_bps)?;
                Ok(Arc::new(EmulatedLink::symmetric(spec, timer.clone())))
            })
            .collect::<Result<Vec<_>, RealClockError>>()?;
        let wireless = world
            .access_points
            .iter()
            .map(|ap| {
                let what = format!("access point {} (wireless hop)", ap.name);
                let spec = spec(&what, ap.wireless_latency_ns, ap.wireless_rate_bps)?;
                Ok(Arc::new(EmulatedLink::symmetric(spec, timer.clone())))
            })
            .collect::<Result<Vec<_>, RealClockError>>()?;
        Ok(Self {
            backbone,
            wireless,
            timer,
        })
    }

    /// The timer every link waits with.
    pub fn timer(&self) -> &Timer {
        &self.timer
    }

    fn path(&self, hops: &[DirectedLink]) -> EmulatedPath {
        let hops = hops
            .iter()
            .filter_map(|&hop| {
                let link = self.backbone.get((hop / 2) as usize)?;
                let direction = if hop % 2 == 0 {
                    Direction::AToB
                } else {
                    Direction::BToA
                };
                Some((link.clone(), direction))
            })
            .collect();
        EmulatedPath::new(hops, self.timer.clone())
    }

    fn wireless(&self, ap: u32, up: bool) -> EmulatedPath {
        let hops = self
            .wireless
            .get(ap as usize)
            .map(|link| {
                let direction = if up { Direction::AToB } else { Direction::BToA };
                vec![(link.clone(), direction)]
            })
            .unwrap_or_default();
        EmulatedPath::new(hops, self.timer.clone())
    }

    /// From a device at access point `ap` to cloudlet `cloudlet`: the
    /// wireless hop (always the first hop), then the backbone.
    pub fn up(&self, world: &World, ap: u32, cloudlet: u32) -> EmulatedPath {
        self.wireless(ap, true)
            .then(&self.path(world.paths.up(ap, cloudlet)))
    }

    /// From cloudlet `cloudlet` back to a device at access point `ap`: the
    /// backbone, then the wireless hop (always the last hop).
    pub fn down(&self, world: &World, ap: u32, cloudlet: u32) -> EmulatedPath {
        self.path(world.paths.down(ap, cloudlet))
            .then(&self.wireless(ap, false))
    }

    /// From cloudlet `from` to cloudlet `to` over the backbone.
    pub fn between(&self, world: &World, from: u32, to: u32) -> EmulatedPath {
        self.path(world.paths.between(from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::example::TwoSites;

    #[test]
    fn paths_follow_the_worlds_links_with_the_wireless_hop_at_the_ends() {
        let world = TwoSites::default().world();
        let timer = Timer::new(mcc_cloudlet::realtime::TimerKind::Tokio).expect("timer");
        let network = Network::new(&world, timer).expect("network");
        for ap in 0..world.access_points.len() as u32 {
            for cloudlet in 0..world.cloudlets.len() as u32 {
                let up = network.up(&world, ap, cloudlet);
                let down = network.down(&world, ap, cloudlet);
                let wireless =
                    Duration::from_nanos(world.access_points[ap as usize].wireless_latency_ns);
                let backbone = Duration::from_nanos(world.paths.ap_latency_ns(ap, cloudlet));
                assert_eq!(up.len(), world.paths.up(ap, cloudlet).len() + 1);
                assert_eq!(up.latency(), wireless + backbone);
                assert_eq!(down.latency(), up.latency());
            }
        }
        let between = network.between(&world, 0, 1);
        assert_eq!(
            between.latency(),
            Duration::from_nanos(world.paths.between_latency_ns(0, 1))
        );
    }
}
