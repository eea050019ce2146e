//! Links as the traffic sees them: request messages queue on them, and bulk
//! migration flows share their capacity with each other and with requests.
//!
//! The model, per direction of each link:
//! - A request message is serialised at the link's capacity divided by one
//!   more than the number of migration flows crossing it (fair sharing, as
//!   TCP flows share a bottleneck), after the messages booked before it
//!   (first come, first served), then propagates for the link's latency.
//!   A message books every link of its path when it is sent, a simplification
//!   that keeps a request's cost at one step per hop.
//! - A migration flow gets what request traffic leaves of the capacity (the
//!   request load measured over the last full second), shared equally among
//!   the migration flows on the link, and never less than a tenth of the
//!   capacity between them; its rate is the lowest share along its path.

/// One direction of one link: `link * 2 + direction`.
pub type DirectedLink = u32;

/// The direction index of a link traversed from `from` to `to`, given the
/// order the link stores its ends in.
pub fn directed(link: u32, forward: bool) -> DirectedLink {
    link * 2 + u32::from(!forward)
}

/// The same link crossed the other way.
pub fn reversed(hop: DirectedLink) -> DirectedLink {
    hop ^ 1
}

/// Length of the window over which request load is measured.
const LOAD_WINDOW_NS: u64 = 1_000_000_000;
/// The least share of a link that migration flows keep between them.
const MIN_BULK_SHARE: f64 = 0.1;

#[derive(Debug, Clone)]
struct Direction {
    busy_until_ns: u64,
    bulk_flows: u32,
    window_start_ns: u64,
    bytes_this_window: u64,
    bytes_last_window: u64,
    /// The last two serialisation times computed here, as
    /// `(bytes, bulk_flows, ns)`: a direction mostly carries messages of
    /// one or two sizes (requests, answers), so this spares two divisions
    /// and a rounding per hop.
    recent_serial: [Option<(u64, u32, u64)>; 2],
}

impl Direction {
    fn new() -> Self {
        Self {
            busy_until_ns: 0,
            bulk_flows: 0,
            window_start_ns: 0,
            bytes_this_window: 0,
            bytes_last_window: 0,
            recent_serial: [None; 2],
        }
    }

    /// Time for a message of `bytes` to cross this direction of a link of
    /// `capacity_bps` shared with its migration flows.
    fn message_serial_ns(&mut self, bytes: u64, capacity_bps: f64) -> u64 {
        let key = (bytes, self.bulk_flows);
        for &(b, flows, ns) in self.recent_serial.iter().flatten() {
            if (b, flows) == key {
                return ns;
            }
        }
        let share = capacity_bps / f64::from(1 + self.bulk_flows);
        let ns = serialisation_ns(bytes, share);
        self.recent_serial = [Some((bytes, self.bulk_flows, ns)), self.recent_serial[0]];
        ns
    }

    fn count_bytes(&mut self, now_ns: u64, bytes: u64) {
        self.roll_window(now_ns);
        self.bytes_this_window += bytes;
    }

    fn roll_window(&mut self, now_ns: u64) {
        if now_ns < self.window_start_ns + LOAD_WINDOW_NS {
            return;
        }
        let windows = (now_ns - self.window_start_ns) / LOAD_WINDOW_NS;
        self.bytes_last_window = if windows == 1 {
            self.bytes_this_window
        } else {
            0
        };
        self.bytes_this_window = 0;
        self.window_start_ns += windows * LOAD_WINDOW_NS;
    }

    fn request_load_bps(&mut self, now_ns: u64) -> f64 {
        self.roll_window(now_ns);
        self.bytes_last_window as f64 * 8.0 * 1e9 / LOAD_WINDOW_NS as f64
    }
}

/// A link's fixed properties.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkSpec {
    /// Capacity in bit/s, each way.
    pub capacity_bps: f64,
    /// Propagation latency in nanoseconds.
    pub latency_ns: u64,
}

/// The state of every link's two directions.
#[derive(Debug, Clone)]
pub struct LinkTable {
    specs: Vec<LinkSpec>,
    directions: Vec<Direction>,
}

/// Time for `bytes` to cross a link at `rate_bps`, in nanoseconds.
pub fn serialisation_ns(bytes: u64, rate_bps: f64) -> u64 {
    if rate_bps <= 0.0 {
        return u64::MAX / 4;
    }
    round_to_u64(bytes as f64 * 8.0 * 1e9 / rate_bps)
}

pub use mcc_mobile_client::workload::round_to_u64;

impl LinkTable {
    /// Links with these properties, all idle.
    pub fn new(specs: Vec<LinkSpec>) -> Self {
        let directions = vec![Direction::new(); specs.len() * 2];
        Self { specs, directions }
    }

    /// How many links there are.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// Whether there is no link at all.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    fn spec(&self, hop: DirectedLink) -> LinkSpec {
        self.specs
            .get((hop / 2) as usize)
            .copied()
            .unwrap_or(LinkSpec {
                capacity_bps: 0.0,
                latency_ns: 0,
            })
    }

    /// Sends a message of `bytes` along `path` at `sent_ns` and returns when
    /// its last bit arrives at the end of the path.
    pub fn send_message(
        &mut self,
        path: impl IntoIterator<Item = DirectedLink>,
        bytes: u64,
        sent_ns: u64,
    ) -> u64 {
        let mut t = sent_ns;
        for hop in path {
            let spec = self.spec(hop);
            let Some(direction) = self.directions.get_mut(hop as usize) else {
                continue;
            };
            let serial = direction.message_serial_ns(bytes, spec.capacity_bps);
            let start = t.max(direction.busy_until_ns);
            direction.busy_until_ns = start + serial;
            direction.count_bytes(sent_ns, bytes);
            t = start + serial + spec.latency_ns;
        }
        t
    }

    /// Propagation latency along `path`, without any serialisation.
    pub fn latency_ns(&self, path: &[DirectedLink]) -> u64 {
        path.iter().map(|&hop| self.spec(hop).latency_ns).sum()
    }

    /// Registers a migration flow on every link of `path`.
    pub fn start_bulk(&mut self, path: &[DirectedLink]) {
        for &hop in path {
            if let Some(direction) = self.directions.get_mut(hop as usize) {
                direction.bulk_flows += 1;
            }
        }
    }

    /// Removes a migration flow registered with [`start_bulk`](Self::start_bulk).
    pub fn end_bulk(&mut self, path: &[DirectedLink]) {
        for &hop in path {
            if let Some(direction) = self.directions.get_mut(hop as usize) {
                direction.bulk_flows = direction.bulk_flows.saturating_sub(1);
            }
        }
    }

    /// The rate a migration flow registered on `path` gets now, in bit/s
    /// (infinite for an empty path: source and target are the same node).
    pub fn bulk_rate_bps(&mut self, path: &[DirectedLink], now_ns: u64) -> f64 {
        let mut rate = f64::INFINITY;
        for &hop in path {
            let spec = self.spec(hop);
            let Some(direction) = self.directions.get_mut(hop as usize) else {
                continue;
            };
            let load = direction.request_load_bps(now_ns);
            let free = (spec.capacity_bps - load).max(spec.capacity_bps * MIN_BULK_SHARE);
            rate = rate.min(free / f64::from(direction.bulk_flows.max(1)));
        }
        rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_hops() -> LinkTable {
        LinkTable::new(vec![
            LinkSpec {
                capacity_bps: 8e6, // 1 byte per µs
                latency_ns: 1_000_000,
            },
            LinkSpec {
                capacity_bps: 8e9,
                latency_ns: 2_000_000,
            },
        ])
    }

    #[test]
    fn a_lone_message_pays_serialisation_and_latency_on_each_hop() {
        let mut links = two_hops();
        let path = [directed(0, true), directed(1, true)];
        let arrival = links.send_message(path, 1_000, 0);
        // 1 ms serialisation + 1 ms latency, then 1 µs + 2 ms.
        assert_eq!(arrival, 1_000_000 + 1_000_000 + 1_000 + 2_000_000);
    }

    #[test]
    fn messages_queue_behind_each_other_but_not_across_directions() {
        let mut links = two_hops();
        let forward = [directed(0, true)];
        let backward = [directed(0, false)];
        let first = links.send_message(forward, 1_000, 0);
        let second = links.send_message(forward, 1_000, 0);
        assert_eq!(
            second - first,
            1_000_000,
            "waits for the first to serialise"
        );
        assert_eq!(links.send_message(backward, 1_000, 0), first);
    }

    #[test]
    fn a_migration_flow_halves_a_requests_share_and_requests_slow_migrations() {
        let mut links = two_hops();
        let path = [directed(0, true)];
        links.start_bulk(&path);
        assert_eq!(links.send_message(path, 1_000, 0), 2_000_000 + 1_000_000);
        assert_eq!(links.bulk_rate_bps(&path, 0), 8e6);
        // Half a second of full-rate request traffic in the first window...
        links.send_message(path, 500_000, 10);
        // ...counts as 4 Mbit/s of load in the next one.
        let rate = links.bulk_rate_bps(&path, 1_500_000_000);
        assert!((rate - (8e6 - 4.0e6 - 8_000.0)).abs() < 1.0, "{rate}");
        links.end_bulk(&path);
        assert_eq!(
            links.send_message(path, 1_000, 10_000_000_000),
            10_002_000_000
        );
    }
}
