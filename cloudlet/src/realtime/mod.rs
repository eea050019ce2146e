//! Foundations of the real-clock driver: waiting precisely on the wall
//! clock ([`delay`]) and links that delay messages by latency, serialisation
//! and FIFO queueing ([`link`]), and paths of several such links crossed
//! in turn ([`path`]).
//!
//! The kernel of the target machines has no `netem`, so network delay is
//! injected in-process: a message reserves its slot on an [`link::EmulatedLink`]
//! direction and waits with a [`delay::Timer`] until it arrives.
//! `mcc-emu bench delay` measures the timers on the user's machine.

pub mod delay;
pub mod link;
pub mod path;

pub use delay::{Timer, TimerKind};
pub use link::{Delivery, Direction, EmulatedLink, FifoSchedule, LinkError, LinkSpec};
pub use path::{EmulatedPath, PathDelivery};
