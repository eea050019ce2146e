//! How many requests from outside (`serve`'s SendRequest) the edge carries
//! at once: at most [`MAX_IN_FLIGHT_PER_DEVICE`] per device and
//! [`MAX_IN_FLIGHT`] in all. A request over either limit is refused at once
//! with [`ErrorKind::ResourceExhausted`](super::ErrorKind) and a retry hint
//! ([`RETRY_AFTER`]), before anything is allocated or spawned for it, and
//! counted (`refused_overload` in `summary.json`'s `real_clock`). So the
//! memory the edge holds for requests stays bounded under any offered load,
//! and the requests it admits are answered.
//!
//! The counters are atomics (the per-device one is fetched under the lock
//! the request takes anyway to find its device): admission adds no lock and
//! no channel to the request path.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::error::{ErrorKind, RealClockError};

/// Most requests of one device in flight: 100, the number of concurrent
/// streams RFC 9113 (HTTP/2), §6.5.2, recommends a peer allow at least
/// (`SETTINGS_MAX_CONCURRENT_STREAMS` "no smaller than 100").
pub const MAX_IN_FLIGHT_PER_DEVICE: u32 = 100;

/// Most requests in flight in all: 1,024. Each holds its payload and then
/// its answer (each at most 1 MiB, the cloudlet node's limit) while it
/// lives, so this bounds what requests can hold to 2 GiB at the largest
/// sizes and a few MB at typical ones (1 KiB payloads).
pub const MAX_IN_FLIGHT: usize = 1_024;

/// The retry hint of a refusal: 100 ms, the `initialBackoff` of the retry
/// policy example of gRPC's client-retry design (gRFC A6, "0.1s"); `serve`
/// sends it as the `grpc-retry-pushback-ms` metadata A6 defines.
pub const RETRY_AFTER: Duration = Duration::from_millis(100);

/// The edge's counters of requests in flight and refused.
#[derive(Debug, Default)]
pub struct InFlight {
    all: AtomicUsize,
    refused: AtomicU64,
}

impl InFlight {
    /// Requests refused so far for overload.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Takes one of the global slots, or refuses.
    pub(super) fn admit_global(self: &Arc<Self>) -> Result<GlobalSlot, RealClockError> {
        if self.all.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            self.all.fetch_sub(1, Ordering::AcqRel);
            return Err(self.refuse(format!(
                "the emulator carries {MAX_IN_FLIGHT} requests already"
            )));
        }
        Ok(GlobalSlot(self.clone()))
    }

    /// Takes one of device `name`'s slots (its counter `device`), or refuses.
    pub(super) fn admit_device(
        &self,
        name: &str,
        device: &Arc<AtomicU32>,
    ) -> Result<DeviceSlot, RealClockError> {
        if device.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT_PER_DEVICE {
            device.fetch_sub(1, Ordering::AcqRel);
            return Err(self.refuse(format!(
                "device {name:?} has {MAX_IN_FLIGHT_PER_DEVICE} requests in flight already"
            )));
        }
        Ok(DeviceSlot(device.clone()))
    }

    fn refuse(&self, why: String) -> RealClockError {
        self.refused.fetch_add(1, Ordering::Relaxed);
        RealClockError::new(
            ErrorKind::ResourceExhausted,
            format!(
                "{why}; retry in {} ms (or send fewer requests at once)",
                RETRY_AFTER.as_millis()
            ),
        )
    }
}

/// One global slot, given back on drop.
#[derive(Debug)]
pub(super) struct GlobalSlot(Arc<InFlight>);

impl Drop for GlobalSlot {
    fn drop(&mut self) {
        self.0.all.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One slot of a device, given back on drop.
#[derive(Debug)]
pub(super) struct DeviceSlot(Arc<AtomicU32>);

impl Drop for DeviceSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_given_back_and_refusals_counted() {
        let in_flight = Arc::new(InFlight::default());
        let device = Arc::new(AtomicU32::new(0));
        let mut held = Vec::new();
        for _ in 0..MAX_IN_FLIGHT_PER_DEVICE {
            held.push(in_flight.admit_device("d", &device).unwrap());
        }
        let refused = in_flight.admit_device("d", &device).unwrap_err();
        assert_eq!(refused.kind, ErrorKind::ResourceExhausted);
        assert!(refused.message.contains("retry in 100 ms"), "{refused}");
        held.pop();
        assert!(in_flight.admit_device("d", &device).is_ok());
        let mut global = Vec::new();
        for _ in 0..MAX_IN_FLIGHT {
            global.push(in_flight.admit_global().unwrap());
        }
        assert!(in_flight.admit_global().is_err());
        global.clear();
        assert!(in_flight.admit_global().is_ok());
        assert_eq!(in_flight.refused(), 2);
    }
}
