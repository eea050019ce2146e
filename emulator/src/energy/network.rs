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

/// Nanojoules per bit of every path the runs use, worked out once, in the
/// shape of the path table ([`Paths`](crate::engine::Paths)): per row and
/// host, plus each access point's own hop.
#[derive(Debug, Clone, Default)]
pub struct PathEnergy {
    cloudlets: usize,
    /// Each access point's row and the nanojoules per bit of its own hop
    /// beyond the row's node, radio hop and data centre included.
    ap: Vec<(u32, f64)>,
    /// By `row * cloudlets + cloudlet`: between a row's node and a host,
    /// either way (the way up crosses the way down's links in reverse).
    row_nj: Vec<f64>,
    /// By `from * cloudlets + to`: host to host, both data centres included.
    between_nj: Vec<f64>,
}

impl PathEnergy {
    /// The table for `world`, whose backbone link `i` is of class
    /// `classes[i]` (a link without a class counts as metro/core).
    pub fn new(world: &World, classes: &[LinkClass], per_bit: &PerBit) -> Self {
        let link_nj = |hop: DirectedLink| match classes.get((hop / 2) as usize) {
            Some(LinkClass::Aggregation) => per_bit.aggregation,
            _ => per_bit.metro_core,
        };
        let sum = |hops: &mut dyn Iterator<Item = DirectedLink>| hops.map(link_nj).sum::<f64>();
        let paths = &world.paths;
        let (rows, cloudlets) = (paths.rows(), paths.cloudlets());
        let edge = per_bit.radio_access + per_bit.data_centre;
        let ap = (0..paths.access_points() as u32)
            .map(|ap| {
                let row = paths.ap_rows().get(ap as usize).copied().unwrap_or(0);
                (row, edge + paths.ap_hop(ap).map_or(0.0, link_nj))
            })
            .collect();
        let mut row_nj = Vec::with_capacity(rows * cloudlets);
        for row in 0..rows as u32 {
            for host in 0..cloudlets as u32 {
                row_nj.push(sum(&mut paths.row_down(row, host).iter().copied()));
            }
        }
        let mut between_nj = Vec::with_capacity(cloudlets * cloudlets);
        for from in 0..cloudlets as u32 {
            for to in 0..cloudlets as u32 {
                between_nj.push(
                    2.0 * per_bit.data_centre + sum(&mut paths.between(from, to).iter().copied()),
                );
            }
        }
        Self {
            cloudlets,
            ap,
            row_nj,
            between_nj,
        }
    }

    /// Joules of `up_bytes` from access point `ap` to `host` and
    /// `down_bytes` back.
    pub fn request_j(&self, ap: u32, host: u32, up_bytes: u64, down_bytes: u64) -> f64 {
        let Some(&(row, own_nj)) = self.ap.get(ap as usize) else {
            return 0.0;
        };
        let nj = own_nj + Self::at(&self.row_nj, row as usize * self.cloudlets + host as usize);
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
