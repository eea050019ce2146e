//! mcc-emu: an edge-cloudlet mobility emulator.
//!
//! This crate holds the world the devices move through (the network topology
//! with its cloudlets and access points) and the command-line interface that
//! ties the crates together (`mcc-emu`, in `main.rs` and [`cli`]).
//!
//! [`topology`] is the network: nodes of four kinds (cloud, cloudlet, access
//! point, router) and links with latency and capacity, loaded from the native
//! TOML format, Topology Zoo GraphML or site CSVs (which can be hung off a
//! backbone), with cached shortest-path delays that the experiment engine
//! queries per request by dense node index.
//!
//! The real-clock foundations (a precise wall-clock timer and emulated
//! links) live in `mcc_cloudlet::realtime`, since the cloudlet node uses them
//! too; `mcc-emu bench delay` ([`cli`]) measures them on the user's machine.

pub mod cli;
pub mod engine;
pub mod output;
pub mod placement;
pub mod topology;
