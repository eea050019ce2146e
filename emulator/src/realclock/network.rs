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
    /// The real one-way delay between the edge and each cloudlet's node,
    /// part of the emulated delay (zero unless [`Self::subtract_real`]).
    real: Vec<Duration>,
    /// Pairs of cloudlets `from/to` whose nodes' real crossing through the
    /// relay exceeds their emulated latency, and by how much, in ms.
    pub node_path_excess_ms: std::collections::BTreeMap<String, f64>,
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
            real: vec![Duration::ZERO; world.cloudlets.len()],
            node_path_excess_ms: Default::default(),
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

    fn path(&self, hops: impl IntoIterator<Item = DirectedLink>) -> EmulatedPath {
        let hops = hops
            .into_iter()
            .filter_map(|hop| {
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

    /// From cloudlet `from` to cloudlet `to` over the backbone. With real
    /// parts, the calls between the two nodes cross the real network from
    /// `from`'s node to the edge's relay and on to `to`'s: the path's real
    /// part is both one-way delays, at most its whole latency (the excess
    /// is in `node_path_excess_ms`).
    pub fn between(&self, world: &World, from: u32, to: u32) -> EmulatedPath {
        let path = self.path(world.paths.between(from, to).iter().copied());
        let real = (self.real_of(from) + self.real_of(to)).min(path.latency());
        path.with_real_part(real)
    }

    fn real_of(&self, cloudlet: u32) -> Duration {
        self.real
            .get(cloudlet as usize)
            .copied()
            .unwrap_or(Duration::ZERO)
    }

    /// Makes the real network part of the emulated delay: `round_trips[c]`
    /// is the real round trip between the edge and cloudlet c's node (its
    /// nodes on other hosts), half of it one way. Every path to and from
    /// c then delivers that much earlier, so that the emulated delay plus
    /// the real one is the emulated delay. Refused, naming the cloudlet
    /// and the figures, when a real one-way delay exceeds the emulated
    /// latency from the nearest access point to the cloudlet: a device's
    /// delay, what an experiment measures, would be longer than the model's.
    /// Between two cloudlets (whose nodes' calls cross the real network
    /// twice, through the edge's relay) the real part is at most the path's
    /// latency, and what the real crossing takes beyond it is listed in
    /// `node_path_excess_ms` (migrations and forwarded calls pay it).
    pub fn subtract_real(
        &mut self,
        world: &World,
        round_trips: &[Duration],
    ) -> Result<(), RealClockError> {
        if round_trips.len() != world.cloudlets.len() {
            return Err(RealClockError::internal(format!(
                "{} round trips for {} cloudlets",
                round_trips.len(),
                world.cloudlets.len()
            )));
        }
        let real: Vec<Duration> = round_trips.iter().map(|rtt| *rtt / 2).collect();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let aps = world.access_points.len();
        for (c, cloudlet) in world.cloudlets.iter().enumerate() {
            let one_way = real[c];
            for ap in 0..aps {
                let emulated = self.up[ap * self.cloudlets + c].latency();
                if one_way > emulated {
                    return Err(RealClockError::invalid(format!(
                        "--spawn remote: the real round trip to the node of cloudlet {} is \
                         {:.3} ms, {:.3} ms one way, more than the emulated latency from \
                         access point {} to it, {:.3} ms: the emulated delay cannot be kept \
                         (run mcc-emu nearer the node, or give the path more latency)",
                        cloudlet.name,
                        ms(one_way * 2),
                        ms(one_way),
                        world.access_points[ap].name,
                        ms(emulated)
                    )));
                }
            }
        }
        let mut excess = std::collections::BTreeMap::new();
        for (a, from) in world.cloudlets.iter().enumerate() {
            for (b, to) in world.cloudlets.iter().enumerate() {
                let emulated = self
                    .path(world.paths.between(a as u32, b as u32).iter().copied())
                    .latency();
                let crossing = real[a] + real[b];
                if a != b && crossing > emulated {
                    excess.insert(
                        format!("{}/{}", from.name, to.name),
                        ms(crossing - emulated),
                    );
                }
            }
        }
        for ap in 0..aps {
            for (c, one_way) in real.iter().enumerate() {
                let i = ap * self.cloudlets + c;
                self.up[i] = self.up[i].clone().with_real_part(*one_way);
                self.down[i] = self.down[i].clone().with_real_part(*one_way);
            }
        }
        self.real = real;
        self.node_path_excess_ms = excess;
        Ok(())
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

    #[test]
    fn real_round_trips_are_subtracted_or_refused_when_they_exceed_the_emulated_latency() {
        let world = TwoSites::default().world();
        let timer = Timer::new(mcc_cloudlet::realtime::TimerKind::Tokio).expect("timer");
        let mut network = Network::new(&world, timer).expect("network");
        let least: Vec<Duration> = (0..world.cloudlets.len() as u32)
            .map(|c| {
                (0..world.access_points.len() as u32)
                    .map(|ap| network.up(ap, c).unwrap().latency())
                    .min()
                    .unwrap()
            })
            .collect();
        let least_ap = |c: usize| least[c];
        let between = network.between(&world, 0, 1).latency();
        // Round trips that fit every path: half of each is subtracted.
        let fits = (least_ap(0).min(between / 2)) / 2;
        network
            .subtract_real(&world, &[fits, fits / 2])
            .expect("fits");
        assert_eq!(network.up(0, 0).unwrap().real_part(), fits / 2);
        assert_eq!(network.down(0, 1).unwrap().real_part(), fits / 4);
        assert_eq!(
            network.between(&world, 0, 1).real_part(),
            fits / 2 + fits / 4
        );
        // One way more than the nearest access point's latency: refused.
        let too_far = least_ap(1) * 2 + Duration::from_micros(2);
        let err = network
            .subtract_real(&world, &[Duration::ZERO, too_far])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("cloudlet {}", world.cloudlets[1].name))
                && err.contains("more than the emulated latency from access point"),
            "{err}"
        );
        // Both nodes' real paths add up between the two cloudlets: more
        // than its latency is not subtracted, and the excess is listed.
        // Each node as far as its device paths allow: through the relay,
        // more than the path between them.
        let one_way = least_ap(0).min(least_ap(1));
        assert!(one_way * 2 > between, "{one_way:?} {between:?}");
        network
            .subtract_real(&world, &[one_way * 2, one_way * 2])
            .expect("device paths fit");
        let path = network.between(&world, 0, 1);
        assert_eq!(path.real_part(), path.latency());
        let pair = format!("{}/{}", world.cloudlets[0].name, world.cloudlets[1].name);
        let excess = network.node_path_excess_ms[&pair];
        let want = (one_way * 2 - between).as_secs_f64() * 1e3;
        assert!((excess - want).abs() < 1e-9, "{excess} {want}");
    }
}
