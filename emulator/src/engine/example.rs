//! A world small enough to check by hand, for tests, benchmarks and examples:
//! two cell sites 2 km apart (52° N, 8° W), a cloudlet behind each, a router
//! between the cloudlets, and one device walking from the western site to the
//! eastern one in ten minutes (it hands over once, near the middle).

use mcc_mobile_client::{Edge, LatLon, Trace, TracePoint};

use super::from_topology::network_from_topology;
use super::world::{Arrivals, Device, Workload, World};
use crate::topology::{AccessPointSpec, CloudletSpec, Link, Node, NodeRole, Topology};

/// The knobs of the two-site world.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoSites {
    /// Latency of each site-to-cloudlet link (10 Gbit/s).
    pub access_link_ms: f64,
    /// Latency of each cloudlet-to-router link.
    pub backbone_link_ms: f64,
    /// Capacity of each cloudlet-to-router link.
    pub backbone_bps: f64,
    /// Requests per second the device sends (1,000 bytes each way, 1 ms of CPU).
    pub rate_hz: f64,
}

impl Default for TwoSites {
    fn default() -> Self {
        Self {
            access_link_ms: 1.0,
            backbone_link_ms: 5.0,
            backbone_bps: 1e9,
            rate_hz: 10.0,
        }
    }
}

fn pos(lat_deg: f64, lon_deg: f64) -> LatLon {
    LatLon { lat_deg, lon_deg }
}

impl TwoSites {
    /// The world: access points `ap-west` (0) and `ap-east` (1) with 1.2 km
    /// cells, 5 ms and 50 Mbit/s wireless hops; cloudlets `cl-west` (0) and
    /// `cl-east` (1) with 4 cores and 4 GiB; one device, `walker`.
    pub fn world(&self) -> World {
        self.world_and_link_classes().0
    }

    /// [`world`](Self::world) with each backbone link's class for the
    /// energy model (the two cell-site links aggregation, the two router
    /// links metro/core).
    pub fn world_and_link_classes(&self) -> (World, Vec<crate::energy::LinkClass>) {
        let mut t = Topology::new();
        let ap = |id: &str, p| {
            Node::new(
                id,
                Some(p),
                NodeRole::AccessPoint(AccessPointSpec {
                    coverage_radius_m: 1_200.0,
                    wireless_latency_ms: 5.0,
                    wireless_rate_bps: 50e6,
                }),
            )
        };
        let cloudlet = |id: &str, p| {
            Node::new(
                id,
                Some(p),
                NodeRole::Cloudlet(CloudletSpec {
                    cpu_cores: 4,
                    memory_mib: 4_096,
                }),
            )
        };
        let (west, east) = (pos(52.0, -8.0), pos(52.0, -7.97));
        let fixed = "the example's nodes and links are valid";
        let ap_w = t.add_node(ap("ap-west", west)).expect(fixed);
        let ap_e = t.add_node(ap("ap-east", east)).expect(fixed);
        let cl_w = t.add_node(cloudlet("cl-west", west)).expect(fixed);
        let cl_e = t.add_node(cloudlet("cl-east", east)).expect(fixed);
        let router = t
            .add_node(Node::new(
                "router",
                Some(pos(52.01, -7.985)),
                NodeRole::Router,
            ))
            .expect(fixed);
        let access = Link {
            latency_ms: self.access_link_ms,
            capacity_bps: 10e9,
        };
        let backbone = Link {
            latency_ms: self.backbone_link_ms,
            capacity_bps: self.backbone_bps,
        };
        t.add_link(ap_w, cl_w, access).expect(fixed);
        t.add_link(ap_e, cl_e, access).expect(fixed);
        t.add_link(cl_w, router, backbone).expect(fixed);
        t.add_link(cl_e, router, backbone).expect(fixed);
        let network = network_from_topology(&t).expect(fixed);
        let walk = Trace::new(
            "walk",
            None,
            vec![
                TracePoint {
                    t_s: 0.0,
                    pos: pos(52.0, -8.01),
                },
                TracePoint {
                    t_s: 600.0,
                    pos: pos(52.0, -7.96),
                },
            ],
        )
        .expect(fixed);
        let world = World {
            access_points: network.access_points,
            cloudlets: network.cloudlets,
            links: network.links,
            paths: network.paths,
            devices: vec![Device {
                name: "walker".into(),
                trace: walk,
                edge: Edge::Hold,
                workload: 0,
            }],
            workloads: vec![Workload::fixed(
                self.rate_hz,
                Arrivals::Periodic,
                1_000,
                1_000,
                1_000_000,
            )],
            radio: None,
        };
        (world, network.link_classes)
    }
}
