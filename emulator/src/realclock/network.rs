//! The emulated network on the wall clock: one
//! [`EmulatedLink`] per topology link and one per access point's wireless
//! hop (unless the world has a radio model, whose cells are
//! [`super::radio`]), built from the same [`World`] the virtual engine runs, and the
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

/// Every link of the world on the wall clock, and the paths requests take.
#[derive(Debug, Clone)]
pub struct Network {
    backbone: Vec<Arc<EmulatedLink>>,
    wireless: Vec<Arc<EmulatedLink>>,
    timer: Timer,
    cloudlets: usize,
    /// Device to cloudlet and back, by `ap * cloudlets + cloudlet`: built
    /// once, so a request books its path without building it.
    up: Vec<EmulatedPath>,
    down: Vec<EmulatedPath>,
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
        // With a radio model the wireless hop is the model's cells
        // (`realclock::radio`): the paths are the backbone alone.
        let fixed_aps = if world.radio.is_some() {
            &[][..]
        } else {
            &world.access_points[..]
        };
        let wireless = fixed_aps
            .iter()
            .map(|ap| {
                let what = format!("access point {} (wireless hop)", ap.name);
                let spec = spec(&what, ap.wireless_latency_ns, ap.wireless_rate_bps)?;
                Ok(Arc::new(EmulatedLink::symmetric(spec, timer.clone())))
            })
            .collect::<Result<Vec<_>, RealClockError>>()?;
        let mut network = Self {
            backbone,
            wireless,
            timer,
            cloudlets: world.cloudlets.len(),
            up: Vec::new(),
            down: Vec::new(),
        };
        for ap in 0..world.access_points.len() as u32 {
            for cloudlet in 0..world.cloudlets.len() as u32 {
                let backbone_up = network.path(world.paths.up(ap, cloudlet));
                let backbone_down = network.path(world.paths.down(ap, cloudlet));
                let up = network.wireless(ap, true).then(&backbone_up);
                let down = backbone_down.then(&network.wireless(ap, false));
                network.up.push(up);
                network.down.push(down);
            }
        }
        Ok(network)
    }

    /// The timer every link waits with.
    pub fn timer(&self) -> &Timer {
        &self.timer
    }

    /// The backbone link and direction of `hop` (link index × 2, + 1 for B→A).
    fn directed(&self, hop: DirectedLink) -> Option<(&Arc<EmulatedLink>, Direction)> {
        let link = self.backbone.get((hop / 2) as usize)?;
        let direction = if hop.is_multiple_of(2) {
            Direction::AToB
        } else {
            Direction::BToA
        };
        Some((link, direction))
    }

    fn path(&self, hops: &[DirectedLink]) -> EmulatedPath {
        let hops = hops
            .iter()
            .filter_map(|&hop| {
                let (link, direction) = self.directed(hop)?;
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
    /// wireless hop (always the first hop; none with a radio model), then
    /// the backbone. `None` for an access point or cloudlet the world does
    /// not have.
    pub fn up(&self, ap: u32, cloudlet: u32) -> Option<&EmulatedPath> {
        self.up.get(self.pair(ap, cloudlet)?)
    }

    /// From cloudlet `cloudlet` back to a device at access point `ap`: the
    /// backbone, then the wireless hop (always the last hop; none with a
    /// radio model).
    pub fn down(&self, ap: u32, cloudlet: u32) -> Option<&EmulatedPath> {
        self.down.get(self.pair(ap, cloudlet)?)
    }

    fn pair(&self, ap: u32, cloudlet: u32) -> Option<usize> {
        ((cloudlet as usize) < self.cloudlets)
            .then(|| ap as usize * self.cloudlets + cloudlet as usize)
    }

    /// Bytes booked so far on one direction of a topology link (`hop` as
    /// `World::paths` lists them: link index × 2, + 1 for B→A): requests,
    /// answers, migration streams and node-to-node calls alike. `None` for
    /// a link the world does not have.
    pub fn booked_bytes(&self, hop: DirectedLink) -> Option<u64> {
        let (link, direction) = self.directed(hop)?;
        Some(link.booked_bytes(direction))
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
                let up = network.up(ap, cloudlet).expect("an up path");
                let down = network.down(ap, cloudlet).expect("a down path");
                let wireless =
                    Duration::from_nanos(world.access_points[ap as usize].wireless_latency_ns);
                let backbone = Duration::from_nanos(world.paths.ap_latency_ns(ap, cloudlet));
                assert_eq!(up.len(), world.paths.up(ap, cloudlet).len() + 1);
                assert_eq!(up.latency(), wireless + backbone);
                assert_eq!(down.latency(), up.latency());
            }
        }
        assert!(network.up(0, world.cloudlets.len() as u32).is_none());
        let between = network.between(&world, 0, 1);
        assert_eq!(
            between.latency(),
            Duration::from_nanos(world.paths.between_latency_ns(0, 1))
        );
    }
}
