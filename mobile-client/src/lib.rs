#![warn(missing_docs)]
//! Mobile devices of mcc-emu.
//!
//! Devices move along real GPS traces (or a seeded synthetic model) and
//! attach to the access points around them, and (as a [`fleet`] of gRPC
//! clients) send requests to their VMs through a running emulator.
//!
//! How the parts fit:
//! - [`position`]: `LatLon`, the validated position with great-circle
//!   arithmetic every other part uses;
//! - [`leg`]: the way between two positions prepared once (short legs in
//!   degrees, long ones with the great circle's trigonometry done once), for
//!   the many points a trace asks along each segment;
//! - [`readers`]: GPX, GeoLife PLT and CSV files to raw points, and
//!   [`readers::read_trace_file`] to pick a reader by file name;
//! - [`trace`]: cleaning raw points into a [`Trace`] (with a report of what was
//!   fixed), position at any time (binary search or a sequential cursor),
//!   transforms (speed-up, offset, transplant) and the [`TraceSummary`];
//! - [`random_waypoint`]: a seeded synthetic [`Trace`] when no real one fits;
//! - [`arrivals`]: when a device sends its requests (periodic or Poisson,
//!   seeded per device), the clock of the emulator's devices and the fleet's;
//! - [`attach`]: which access point a device at a position attaches to
//!   (nearest in range, with hysteresis, via a grid index), and the handovers
//!   along a trace;
//! - [`fleet`]: emulated devices that drive a running `mcc-emu serve` over
//!   gRPC (register, push positions, send requests, measure each delay on
//!   their own clock) and write one CSV row per request; the `mobile-client`
//!   binary is its command line.
//! - [`slack`]: the disc a device may move in before its attachment can
//!   change, tested without trigonometry in the usual case.

pub mod arrivals;
pub mod attach;
pub mod fleet;
pub mod leg;
pub mod position;
pub mod prefetch;
pub mod random_waypoint;
pub mod readers;
pub mod slack;
pub mod trace;
pub mod workload;

pub use arrivals::{Arrivals, RequestClock};
pub use attach::{AccessPoint, ApIndex, Handover, handovers_along};
pub use leg::{GreatCircleArc, Leg};
pub use position::{InvalidCoordinate, LatLon};
pub use random_waypoint::{RandomWaypoint, WaypointArea};
pub use readers::{ReadOptions, read_trace_file};
pub use slack::Slack;
pub use trace::{Edge, Trace, TraceCursor, TraceError, TracePoint, TraceSummary};
