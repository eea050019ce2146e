//! Energy accounting: what a run's cloudlets, network, devices and
//! migrations cost in joules (`docs/energy.md`, which sources every
//! default).
//!
//! The models are plain code beside the engine, not inside it: an
//! [`EnergyMeter`] reads the records a run writes (requests and migrations,
//! the same on both clocks) and works out
//!
//! - per cloudlet, power against CPU utilisation ([`server`]: a
//!   piecewise-linear SPECpower curve), integrated over the run window by
//!   window;
//! - per bit, the network's energy by link class ([`network`]): radio
//!   access, aggregation, metro/core, data centre;
//! - per request, the device radio's energy ([`device`]: an LTE state
//!   machine with promotion and tail, the tail once per burst);
//! - per migration, its bytes on the network, the CPU both hosts spent
//!   copying, and the duplicated requests of a soft handoff, apart;
//! - optionally, empty cloudlets asleep ([`sleep`]: a state machine the
//!   engine asks when a VM heads for a cloudlet; the spans asleep and
//!   waking reach the meter at the end of the run).
//!
//! The output writer holds the meter, so `requests.csv`, `migrations.csv`
//! and `summary.json` carry its figures whichever clock wrote them.

pub mod config;
pub mod device;
pub mod meter;
pub mod network;
pub mod server;
pub mod sleep;

pub use config::EnergyConfig;
pub use meter::{EnergyMeter, EnergySummary, MigrationEnergy};
pub use network::LinkClass;
pub use sleep::{SleepConfig, SleepLog, SleepSummary, Sleepers};
