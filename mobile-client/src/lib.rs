//! Mobile devices of mcc-emu.
//!
//! Devices move along real GPS traces (or a seeded synthetic model) and
//! attach to the access points around them; later they also send requests to
//! their VMs as gRPC clients.

pub mod position;

pub use position::{InvalidCoordinate, LatLon};
