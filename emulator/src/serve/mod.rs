//! `mcc-emu serve`: the `EmulatorControl` gRPC service (package `mcc.v1`)
//! over the emulated edge on the wall clock.
//!
//! External devices (ours, the `mobile-client` binary; anyone's, generated
//! from `proto/`) register, move, send requests through the emulated
//! network and watch the event stream. The parts:
//! - [`auth`]: loopback by default, a bearer token (checked in constant
//!   time) everywhere else;
//! - [`input`]: the checks every field passes before it reaches the edge,
//!   and the size limits.

pub mod auth;
pub mod input;
pub mod wire;
