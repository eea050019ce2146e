//! The radio access model: what the wireless hop between a device and its
//! cell costs, from where the device is and how crowded its cell is.
//!
//! Sans-IO, like the migration models: plain functions and state that the
//! virtual-clock engine calls (and the real clock can call); no clock, no
//! I/O. `docs/radio.md` gives every formula and every default's source.
//!
//! - [`pathloss`]: path loss by distance (3GPP TR 38.901 §7.4.1: UMa, UMi,
//!   RMa; line of sight or not; no random shadowing).
//! - [`efficiency`]: SINR to spectral efficiency (TR 36.942 Annex A
//!   attenuated, truncated Shannon, capped at the modulation table's top).
//! - [`config`]: every parameter, the `lte` and `nr` presets, ranges.
//! - [`budget`]: link budget, each direction's SINR and rate, the
//!   scheduler's share, and the coverage radius the budget implies.
//! - [`model`]: the budget over a world's sites (which cells interfere).
//! - [`cell`]: each cell direction as a shared resource transfers queue on.
//! - [`access`]: a run's radio hop: each device's link, the cells' queues.

pub mod access;
pub mod budget;
pub mod cell;
pub mod config;
pub mod efficiency;
pub mod model;
pub mod pathloss;

pub use access::{CachedLink, RadioAccess};
pub use budget::{Direction, DirectionQuality, LinkQuality};
pub use cell::{Cells, Transfer};
pub use config::{Preset, RadioConfig, Scheduler};
pub use model::RadioModel;
