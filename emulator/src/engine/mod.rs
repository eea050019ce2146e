//! The experiment engine on the virtual clock.

pub mod cpu;
pub mod links;
pub mod queue;
