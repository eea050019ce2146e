//! The world as the engine runs it: everything resolved to dense indices.
//!
//! A scenario file (or a test) is turned into a [`World`] once; the engine
//! then never looks a name up, walks a graph or reads a file. Access points,
//! cloudlets and devices are numbered from 0 in the order given; device `i`
//! owns VM `i`.

use mcc_mobile_client::{Edge, LatLon, Trace};

use super::links::{DirectedLink, LinkSpec, reversed};

/// A cell site devices attach to.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessPoint {
    /// Name shown in outputs.
    pub name: String,
    /// Where it stands.
    pub position: LatLon,
    /// How far it reaches, in metres.
    pub coverage_radius_m: f64,
    /// One-way latency of the wireless hop, in nanoseconds.
    pub wireless_latency_ns: u64,
    /// Rate of the wireless hop, in bit/s, shared by the devices attached.
    pub wireless_rate_bps: f64,
}

/// A cloudlet that hosts VMs.
#[derive(Debug, Clone, PartialEq)]
pub struct Cloudlet {
    /// Name shown in outputs.
    pub name: String,
    /// Cores its VMs share.
    pub cpu_cores: u32,
    /// Memory for VMs, in bytes.
    pub memory_bytes: u64,
    /// Where it stands, if the topology says (distance-based placement
    /// policies skip a cloudlet without one).
    pub position: Option<LatLon>,
}

/// A mobile device and how it moves.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// Name shown in outputs.
    pub name: String,
    /// Its path, already shifted, sped up or transplanted as the scenario says.
    pub trace: Trace,
    /// What the trace says before it starts and after it ends.
    pub edge: Edge,
    /// Index of its application profile in [`World::workloads`].
    pub workload: u32,
}

/// Backbone paths between access points and cloudlets, and between cloudlets,
/// as lists of directed links, so nothing is searched per request.
///
/// Paths to access points are kept per *row*: a cell site with one link (the
/// usual case: its backhaul to an aggregation site) shares the row of the
/// node at the other end of that link, since every path to it crosses that
/// node and then that link. So the table grows with the aggregation sites
/// times the hosts, not with the cell sites times the hosts. Each row keeps
/// the way down from every host; the way up crosses the same links in
/// reverse ([`Route`] walks them either way).
///
/// The latency of a path between an access point and a host is the sum of
/// its links' own latencies in nanoseconds ([`LinkSpec::latency_ns`]): what
/// a request's propagation adds up to on the links, exactly. Between hosts
/// it is the shortest-path search's sum, rounded to the nanosecond.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Paths {
    cloudlets: usize,
    rows: usize,
    hops: Vec<DirectedLink>,
    /// Each access point's row.
    ap_row: Vec<u32>,
    /// The link from each access point's row node to it ([`NO_HOP`] when the
    /// access point is its row's node).
    ap_hop: Vec<DirectedLink>,
    /// Latency of `ap_hop` (0 without one).
    ap_hop_ns: Vec<u64>,
    /// (start, end) into `hops`: the way down from each cloudlet to each
    /// row's node, by `row * cloudlets + cloudlet`.
    row_down: Vec<(u32, u32)>,
    /// Latency of each row's way down, by the same index.
    row_latency_ns: Vec<u64>,
    /// (start, end) into `hops`, by `from * cloudlets + to`.
    between: Vec<(u32, u32)>,
    /// Propagation latency between cloudlets.
    between_latency_ns: Vec<u64>,
}

/// [`Paths`]' mark for an access point that is its row's node.
const NO_HOP: DirectedLink = DirectedLink::MAX;

/// Where an access point stands in the network, for [`Paths::build`]: on
/// its own node, or one link beyond a node it shares with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApAttachment<N> {
    /// The node whose paths the access point's extend (the access point's
    /// own node when `hop` is `None`).
    pub node: N,
    /// The link from `node` to the access point, when it hangs one link
    /// beyond it.
    pub hop: Option<DirectedLink>,
}

/// The links of one path between an access point and a host, in the order
/// they are crossed: a row's way down, then the access point's own hop; or
/// the way up, the same links reversed.
#[derive(Debug, Clone)]
pub struct Route<'a> {
    first: Option<DirectedLink>,
    body: std::slice::Iter<'a, DirectedLink>,
    up: bool,
    last: Option<DirectedLink>,
}

impl Iterator for Route<'_> {
    type Item = DirectedLink;

    fn next(&mut self) -> Option<DirectedLink> {
        if let Some(hop) = self.first.take() {
            return Some(hop);
        }
        let hop = if self.up {
            self.body.next_back().map(|&hop| reversed(hop))
        } else {
            self.body.next().copied()
        };
        hop.or_else(|| self.last.take())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n =
            self.body.len() + usize::from(self.first.is_some()) + usize::from(self.last.is_some());
        (n, Some(n))
    }
}

impl ExactSizeIterator for Route<'_> {}

/// Why the path table cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathTableError {
    /// Two ends the table needs are not connected.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// The table's links do not fit its 32-bit offsets.
    #[error(
        "the path table would hold more than 4,294,967,295 links ((access points' rows + \
         hosts) × hosts × hops): the layout is too large for one table"
    )]
    TooLarge,
}

/// A path the engine cannot use: the topology does not connect the two ends.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("no path from {from} to {to}")]
pub struct Unreachable {
    /// Where the path starts.
    pub from: String,
    /// Where it should end.
    pub to: String,
}

impl Paths {
    /// Builds the table from a function that returns the route from a
    /// cloudlet's topology node to another node (a row's or a cloudlet's).
    ///
    /// `aps` gives each access point's name and where it attaches
    /// ([`ApAttachment`]), `cloudlet_nodes` each cloudlet's name and node;
    /// `link_latency_ns` is a directed link's latency; `route(a, b,
    /// user_plane, links)` fills `links` (empty when called) with the directed
    /// links from `a` to `b` (`user_plane`: on the way to access points, not
    /// to another cloudlet) and answers their latency as the search summed it
    /// (the latency of the paths between cloudlets), or `None` when `b` cannot
    /// be reached. The latency of a way down to a row is the sum of
    /// `link_latency_ns` over its links.
    ///
    /// Paths are symmetric: the way up from an access point crosses the
    /// links of the way down in reverse, so `route` is only asked for paths
    /// from cloudlets, one source after the other (it needs to hold one
    /// source's shortest-path tree at a time, and there are far fewer
    /// cloudlets than access points in a large layout).
    pub fn build<N: Copy + Eq + std::hash::Hash>(
        aps: &[(String, ApAttachment<N>)],
        cloudlet_nodes: &[(String, N)],
        link_latency_ns: impl Fn(DirectedLink) -> u64,
        mut route: impl FnMut(N, N, bool, &mut Vec<DirectedLink>) -> Option<u64>,
    ) -> Result<Self, PathTableError> {
        // One row per distinct node access points attach to, in the order
        // the access points name them; a row is named by its first access
        // point (the one an error names).
        let mut row_of_node = std::collections::HashMap::new();
        let mut rows: Vec<(&str, N)> = Vec::new();
        let mut paths = Paths {
            cloudlets: cloudlet_nodes.len(),
            ..Paths::default()
        };
        for (name, attachment) in aps {
            let row = *row_of_node.entry(attachment.node).or_insert_with(|| {
                rows.push((name.as_str(), attachment.node));
                rows.len() as u32 - 1
            });
            paths.ap_row.push(row);
            paths.ap_hop.push(attachment.hop.unwrap_or(NO_HOP));
            paths
                .ap_hop_ns
                .push(attachment.hop.map_or(0, &link_latency_ns));
        }
        paths.rows = rows.len();
        let pairs = rows.len() * cloudlet_nodes.len();
        paths.row_down = vec![(0, 0); pairs];
        paths.row_latency_ns = vec![0; pairs];
        let mut hops: Vec<DirectedLink> = Vec::new();
        let mut push = |list: &[DirectedLink]| {
            let start = hops.len();
            hops.extend_from_slice(list);
            match (u32::try_from(start), u32::try_from(hops.len())) {
                (Ok(start), Ok(end)) => Ok((start, end)),
                _ => Err(PathTableError::TooLarge),
            }
        };
        let unreachable = |from: &str, to: &str| Unreachable {
            from: from.to_string(),
            to: to.to_string(),
        };
        let mut between = Vec::with_capacity(cloudlet_nodes.len() * cloudlet_nodes.len());
        let mut links = Vec::new();
        for (c, (from_name, from)) in cloudlet_nodes.iter().enumerate() {
            for (r, (ap_name, node)) in rows.iter().enumerate() {
                links.clear();
                route(*from, *node, true, &mut links)
                    .ok_or_else(|| unreachable(from_name, ap_name))?;
                let pair = r * cloudlet_nodes.len() + c;
                paths.row_down[pair] = push(&links)?;
                paths.row_latency_ns[pair] = links.iter().map(|&hop| link_latency_ns(hop)).sum();
            }
            for (to_name, to) in cloudlet_nodes {
                links.clear();
                let latency = route(*from, *to, false, &mut links)
                    .ok_or_else(|| unreachable(from_name, to_name))?;
                between.push((push(&links)?, latency));
            }
        }
        (paths.between, paths.between_latency_ns) = between.into_iter().unzip();
        paths.hops = hops;
        Ok(paths)
    }

    fn slice(&self, range: Option<&(u32, u32)>) -> &[DirectedLink] {
        range
            .and_then(|&(start, end)| self.hops.get(start as usize..end as usize))
            .unwrap_or(&[])
    }

    /// The way down from `cloudlet` to access point `ap`'s row node, and
    /// `ap`'s own hop beyond it.
    fn row_route(&self, ap: u32, cloudlet: u32, up: bool) -> Route<'_> {
        let body = match self.ap_row.get(ap as usize) {
            Some(&row) => self.row_down(row, cloudlet).iter(),
            None => [].iter(),
        };
        let hop = self.ap_hop(ap);
        Route {
            first: if up { hop.map(reversed) } else { None },
            body,
            up,
            last: if up { None } else { hop },
        }
    }

    /// The link from access point `ap`'s row node to it (`None` when the
    /// access point is its row's node).
    pub fn ap_hop(&self, ap: u32) -> Option<DirectedLink> {
        self.ap_hop
            .get(ap as usize)
            .copied()
            .filter(|&hop| hop != NO_HOP)
    }

    /// Links from cloudlet `cloudlet` to row `row`'s node.
    pub fn row_down(&self, row: u32, cloudlet: u32) -> &[DirectedLink] {
        self.slice(
            self.row_down
                .get(row as usize * self.cloudlets + cloudlet as usize),
        )
    }

    /// Links from access point `ap` to cloudlet `cloudlet`.
    pub fn up(&self, ap: u32, cloudlet: u32) -> Route<'_> {
        self.row_route(ap, cloudlet, true)
    }

    /// Links from cloudlet `cloudlet` back to access point `ap`.
    pub fn down(&self, ap: u32, cloudlet: u32) -> Route<'_> {
        self.row_route(ap, cloudlet, false)
    }

    /// Links from cloudlet `from` to cloudlet `to`.
    pub fn between(&self, from: u32, to: u32) -> &[DirectedLink] {
        self.slice(
            self.between
                .get(from as usize * self.cloudlets + to as usize),
        )
    }

    /// One-way propagation latency from access point `ap` to cloudlet
    /// `cloudlet` (`u64::MAX` for indices out of range).
    pub fn ap_latency_ns(&self, ap: u32, cloudlet: u32) -> u64 {
        match (
            self.ap_row.get(ap as usize),
            self.ap_hop_ns.get(ap as usize),
        ) {
            (Some(&row), Some(&hop_ns)) => self
                .row_latency_ns
                .get(row as usize * self.cloudlets + cloudlet as usize)
                .map_or(u64::MAX, |&row_ns| row_ns + hop_ns),
            _ => u64::MAX,
        }
    }

    /// One-way propagation latency between two cloudlets.
    pub fn between_latency_ns(&self, from: u32, to: u32) -> u64 {
        self.between_latency_ns
            .get(from as usize * self.cloudlets + to as usize)
            .copied()
            .unwrap_or(u64::MAX)
    }

    /// Each access point's row (see [`Paths`]).
    pub fn ap_rows(&self) -> &[u32] {
        &self.ap_row
    }

    /// The latency each access point adds to its row's: its own hop's, in
    /// nanoseconds (0 for an access point that is its row's node).
    pub fn ap_hop_latency_ns(&self) -> &[u64] {
        &self.ap_hop_ns
    }

    /// Number of rows (the distinct nodes access points attach to).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// One-way propagation latency from each row's node to each cloudlet,
    /// by `row * cloudlets + cloudlet`.
    pub fn row_latency_table_ns(&self) -> &[u64] {
        &self.row_latency_ns
    }

    /// One-way propagation latency between cloudlets, by `from * cloudlets + to`.
    pub fn between_latency_table_ns(&self) -> &[u64] {
        &self.between_latency_ns
    }

    /// The lowest capacity along the path from cloudlet `from` to `to`, in
    /// bit/s, with `links` the table the paths index into; `None` when the
    /// path crosses no link (both cloudlets on one node).
    pub fn between_bottleneck_bps(&self, from: u32, to: u32, links: &[LinkSpec]) -> Option<f64> {
        self.between(from, to)
            .iter()
            .filter_map(|&hop| links.get((hop / 2) as usize))
            .map(|l| l.capacity_bps)
            .reduce(f64::min)
    }

    /// Number of access points the table covers.
    pub fn access_points(&self) -> usize {
        self.ap_row.len()
    }

    /// Number of cloudlets the table covers.
    pub fn cloudlets(&self) -> usize {
        self.cloudlets
    }
}

/// How devices send requests.
pub use mcc_mobile_client::Arrivals;
pub use mcc_mobile_client::workload::{Dist, RequestSizes};

/// An application profile: what a device asks of its VM, and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// The profile's name (`workload` for the scenario's `[workload]` table).
    pub name: String,
    /// Requests per second per device.
    pub rate_hz: f64,
    /// How requests are spaced.
    pub arrivals: Arrivals,
    /// Request and answer sizes, and CPU time per request on one core, in
    /// nanoseconds: each drawn per request from its distribution.
    pub sizes: RequestSizes,
}

impl Workload {
    /// A profile whose every request is the same.
    pub fn fixed(
        rate_hz: f64,
        arrivals: Arrivals,
        request_bytes: u64,
        response_bytes: u64,
        cpu_ns: u64,
    ) -> Self {
        Self {
            name: "workload".into(),
            rate_hz,
            arrivals,
            sizes: RequestSizes {
                request_bytes: Dist::Fixed(request_bytes as f64),
                response_bytes: Dist::Fixed(response_bytes as f64),
                cpu_ns: Dist::Fixed(cpu_ns as f64),
            },
        }
    }

    /// Mean CPU time of a request, in nanoseconds (rounded).
    pub fn mean_cpu_ns(&self) -> u64 {
        self.sizes.cpu_ns.mean().round() as u64
    }
}

/// Everything the engine needs to run an experiment.
#[derive(Debug, Clone)]
pub struct World {
    /// Access points, by index.
    pub access_points: Vec<AccessPoint>,
    /// Cloudlets, by index.
    pub cloudlets: Vec<Cloudlet>,
    /// Backbone links, by index (the indices [`Paths`] refers to).
    pub links: Vec<LinkSpec>,
    /// Paths between access points and cloudlets, and between cloudlets.
    pub paths: Paths,
    /// Devices, by index; device `i` owns VM `i`.
    pub devices: Vec<Device>,
    /// The application profiles devices follow (each device names one by
    /// index; the scenario's `[workload]` table is the first).
    pub workloads: Vec<Workload>,
    /// The radio access model; `None`: each access point's fixed wireless
    /// hop (`wireless_latency_ns`, `wireless_rate_bps`).
    pub radio: Option<crate::radio::RadioModel>,
}

/// The name of device `device`'s VM, in the output files and on the nodes.
pub fn vm_name(device: &str) -> String {
    format!("vm-{device}")
}

impl World {
    /// The profile device `device` follows.
    pub fn workload_of(&self, device: usize) -> &Workload {
        let index = self.devices.get(device).map_or(0, |d| d.workload as usize);
        &self.workloads[index.min(self.workloads.len().saturating_sub(1))]
    }

    /// Mean CPU time of a request over the devices (each weighted by its
    /// request rate), in nanoseconds: what an average request in a
    /// cloudlet's queue costs.
    pub fn mean_cpu_ns(&self) -> u64 {
        let (mut work, mut rate) = (0.0, 0.0);
        for d in 0..self.devices.len() {
            let w = self.workload_of(d);
            work += w.rate_hz * w.sizes.cpu_ns.mean();
            rate += w.rate_hz;
        }
        if rate > 0.0 {
            (work / rate).round() as u64
        } else {
            self.workloads.first().map_or(0, Workload::mean_cpu_ns)
        }
    }

    /// The names the output files show: cloudlets and access points, and the
    /// devices (device `i` owns VM [`vm_name`]) when `with_devices` (a run
    /// whose devices join later names them as they do).
    pub fn output_names(&self, with_devices: bool) -> crate::output::Names {
        let devices: Vec<String> = if with_devices {
            self.devices.iter().map(|d| d.name.clone()).collect()
        } else {
            Vec::new()
        };
        crate::output::Names {
            vms: devices.iter().map(|d| vm_name(d)).collect(),
            devices,
            hosts: self.cloudlets.iter().map(|c| c.name.clone()).collect(),
            access_points: self.access_points.iter().map(|a| a.name.clone()).collect(),
        }
    }

    /// The attachment index over the access points (the same for both
    /// clocks, so devices hand over at the same positions).
    pub fn ap_index(
        &self,
    ) -> Result<mcc_mobile_client::ApIndex, mcc_mobile_client::attach::AttachError> {
        mcc_mobile_client::ApIndex::new(
            self.access_points
                .iter()
                .map(|ap| mcc_mobile_client::AccessPoint {
                    pos: ap.position,
                    coverage_radius_m: ap.coverage_radius_m,
                })
                .collect(),
        )
    }
}
