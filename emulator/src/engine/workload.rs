//! When each device sends its next request: the project's one request
//! clock ([`mcc_mobile_client::RequestClock`]), set up from a scenario's
//! workload.

pub use mcc_mobile_client::RequestClock;
pub use mcc_mobile_client::workload::{RequestSize, SizeStream};

use super::world::Workload;

/// The request clock of device `device` under `workload`, seeded from
/// `seed` (each device draws from its own stream, so adding a device never
/// changes another device's requests).
pub fn request_clock(workload: &Workload, seed: u64, device: u32) -> RequestClock {
    RequestClock::new(workload.arrivals, workload.rate_hz, seed, device)
}

/// The stream of request sizes of device `device`, seeded from `seed`
/// (separate from its request clock, so sizes never move requests in time).
pub fn size_stream(seed: u64, device: u32) -> SizeStream {
    SizeStream::new(seed, device)
}
