//! mcc-emu: an edge-cloudlet mobility emulator.
//!
//! This crate holds the world the devices move through (the network topology
//! with its cloudlets and access points) and the command-line interface that
//! ties the crates together (`mcc-emu`, in `main.rs` and [`cli`]).

pub mod cli;
pub mod engine;
pub mod output;
