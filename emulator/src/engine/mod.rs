//! The experiment engine on the virtual clock.
//!
//! A [`World`] (everything resolved to dense indices) and [`RunSettings`] go
//! in; [`Engine::run`] drives a discrete-event loop ([`queue`]) in which
//! devices move and attach at every mobility step ([`mobility`], worked out
//! ahead on a thread of its own) and the placement policy runs on its timer
//! ([`ticks`], which both clocks follow), devices send
//! requests on their own clocks ([`workload`]), requests cross links shared
//! with migration traffic ([`links`]) and queue for the cores of their VM's
//! host ([`cpu`]), the policy moves VMs, and the migration models of the
//! cloudlet crate decide what each move costs ([`migrations`]). The policy
//! sees the world through tables prepared once per run and buffers refilled
//! per decision ([`placement_tables`]). Records stream to a
//! [`RecordSink`](crate::output::RecordSink) as they happen.

pub mod attachment;
pub mod cpu;
pub mod example;
pub mod from_topology;
pub mod links;
pub mod migrations;
pub mod mobility;
pub mod placement_tables;
pub mod profiles;
pub mod queue;
pub mod run;
pub mod ticks;
pub mod workload;
pub mod world;

pub use migrations::MigrationSettings;
pub use run::{DEFAULT_PLACEMENT_HORIZON_NS, Engine, EngineError, RunSettings};
pub use world::{
    AccessPoint, ApAttachment, Arrivals, Cloudlet, Device, Paths, Route, Workload, World,
};
