//! The emulated edge on the real (wall) clock: `mcc-emu run --clock real`
//! and the engine under `mcc-emu serve`.
//!
//! The same [`Scenario`](crate::scenario::Scenario) the virtual engine runs
//! is run with real parts: every cloudlet is a `mcc_cloudlet` gRPC node
//! ([`nodes`]), every topology link and wireless hop an emulated link on
//! the wall clock ([`network`]), devices move along their traces in
//! scenario time (wall time × speed, [`clock`]) and send real `Execute`
//! calls to their VMs ([`request`]), the placement policy runs at the
//! scenario's times on the engine's view ([`ticks`], [`placement`]; a gate
//! keeps ticks and requests in the engine's order), and
//! each move is a real migration between two nodes over the emulated
//! backbone (for nodes outside this process, through the [`relay`], which
//! carries their calls to each other over the same links). [`RealEdge`] ([`edge`]) ties them together: it starts
//! everything, lets outside code register devices, push positions and send
//! requests (what `serve` does), streams [`EdgeEvent`]s, and writes the
//! same records and files as the virtual clock through the same writer.
//! [`run`] is `mcc-emu run --clock real`: start, wait out the scenario (or
//! Ctrl-C), shut down.
//!
//! What is shared with the virtual engine rather than copied: the world,
//! the tick sequence ([`crate::engine::ticks`]),
//! the attachment rule ([`crate::engine::attachment`]), the request clocks
//! ([`crate::engine::workload`]), the placement tables and view
//! ([`crate::engine::placement_tables`]), the migration row
//! ([`crate::engine::migrations::metric_columns`]), the radio access model
//! ([`crate::radio`], its cells on the wall clock in [`radio`]) and the
//! outputs. Empty cloudlets may sleep (`sleep.rs`): the energy model's
//! state machine, a migration onto a sleeping cloudlet waiting for its
//! wake-up on the wall clock.
//! `docs/real-clock.md` says what the two clocks agree on and where they
//! differ.

pub mod admission;
pub mod clock;
pub mod counter;
pub mod edge;
pub mod error;
pub mod events;
mod locks;
pub mod metrics;
pub mod network;
pub mod node_loss;
pub mod nodes;
pub mod placement;
pub mod radio;
pub mod relay;
pub mod request;
pub mod run;
mod sleep;
pub mod tap;
mod tick_gate;
pub mod ticks;
pub mod unregister;

pub use edge::{
    DeviceMovement, DeviceView, EdgeView, PositionUpdate, REQUEST_TAP_CAPACITY, RealEdge,
    RealOptions, Registration,
};
pub use error::{ErrorKind, RealClockError};
pub use events::EdgeEvent;
pub use nodes::NodeLaunch;
pub use request::{DelayParts, EdgeAnswer, EdgeRequest};
pub use unregister::Unregistered;
