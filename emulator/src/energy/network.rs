//! Network energy per bit: each link belongs to a class, each class costs
//! so many nanojoules per bit and hop, and a transfer costs its bits times
//! the sum along its path.

use super::config::PerBit;
use crate::engine::World;
use crate::engine::links::DirectedLink;

/// What part of the operator's network a backbone link belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkClass {
    /// A link touching a cell site: its backhaul to the aggregation site.
    Aggregation,
    /// Any other backbone link (metro, core, to the remote cloud).
    MetroCore,
}

/// Nanojoules per bit of every path the runs use, worked out once.
#[derive(Debug, Clone, Default)]
pub struct PathEnergy {
    cloudlets: usize,
    /// By `ap * cloudlets + cloudlet`: between device and host, either way
    /// (the way up crosses the way down's links in reverse:
    /// [`Paths`](crate::engine::Paths)), radio hop included.
    ap_nj: Vec<f64>,
    /// By `from * cloudlets + to`: host to host, both data centres included.
    between_nj: Vec<f64>,
}

impl PathEnergy {
    /// The table for `world`, whose backbone link `i` is of class
    /// `classes[i]` (a link without a class counts as metro/core).
    pub fn new(world: &World, classes: &[LinkClass], per_bit: &PerBit) -> Self {
        let link_nj = |hop: &DirectedLink| match classes.get((*hop / 2) as usize) {
            Some(LinkClass::Aggregation) => per_bit.aggregation,
            _ => per_bit.metro_core,
        };
        let sum = |hops: &[DirectedLink]| hops.iter().map(link_nj).sum::<f64>();
        let paths = &world.paths;
        let (aps, cloudlets) = (paths.access_points(), paths.cloudlets());
        let edge = per_bit.radio_access + per_bit.data_centre;
        let mut ap_nj = Vec::with_capacity(aps * cloudlets);
        for ap in 0..aps as u32 {
            for host in 0..cloudlets as u32 {
                ap_nj.push(edge + sum(paths.up(ap, host)));
            }
        }
        let mut between_nj = Vec::with_capacity(cloudlets * cloudlets);
        for from in 0..cloudlets as u32 {
            for to in 0..cloudlets as u32 {
                between_nj.push(2.0 * per_bit.data_centre + sum(paths.between(from, to)));
            }
        }
        Self {
            cloudlets,
            ap_nj,
            between_nj,
        }
    }

    /// Joules of `up_bytes` from access point `ap` to `host` and
    /// `down_bytes` back.
    pub fn request_j(&self, ap: u32, host: u32, up_bytes: u64, down_bytes: u64) -> f64 {
        let i = ap as usize * self.cloudlets + host as usize;
        let nj = Self::at(&self.ap_nj, i);
        (nj * up_bytes as f64 + nj * down_bytes as f64) * 8e-9
    }

    fn at(table: &[f64], index: usize) -> f64 {
        table.get(index).copied().unwrap_or(0.0)
    }

    /// Joules of `bytes` from cloudlet `from` to cloudlet `to`.
    pub fn between_j(&self, from: u32, to: u32, bytes: u64) -> f64 {
        let i = from as usize * self.cloudlets + to as usize;
        Self::at(&self.between_nj, i) * bytes as f64 * 8e-9
    }
}
