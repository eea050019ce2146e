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
    /// By `ap * cloudlets + cloudlet`: device to host, radio hop included.
    up_nj: Vec<f64>,
    /// By `ap * cloudlets + cloudlet`: host to device, radio hop included.
    down_nj: Vec<f64>,
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
        let mut up_nj = Vec::with_capacity(aps * cloudlets);
        let mut down_nj = Vec::with_capacity(aps * cloudlets);
        for ap in 0..aps as u32 {
            for host in 0..cloudlets as u32 {
                up_nj.push(edge + sum(paths.up(ap, host)));
                down_nj.push(edge + sum(paths.down(ap, host)));
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
            up_nj,
            down_nj,
            between_nj,
        }
    }

    fn at(table: &[f64], index: usize) -> f64 {
        table.get(index).copied().unwrap_or(0.0)
    }

    /// Joules of `up_bytes` from access point `ap` to `host` and
    /// `down_bytes` back.
    pub fn request_j(&self, ap: u32, host: u32, up_bytes: u64, down_bytes: u64) -> f64 {
        let i = ap as usize * self.cloudlets + host as usize;
        (Self::at(&self.up_nj, i) * up_bytes as f64
            + Self::at(&self.down_nj, i) * down_bytes as f64)
            * 8e-9
    }

    /// Joules of `bytes` from cloudlet `from` to cloudlet `to`.
    pub fn between_j(&self, from: u32, to: u32, bytes: u64) -> f64 {
        let i = from as usize * self.cloudlets + to as usize;
        Self::at(&self.between_nj, i) * bytes as f64 * 8e-9
    }
}
