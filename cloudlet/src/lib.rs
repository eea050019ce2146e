//! A cloudlet node of mcc-emu.
//!
//! A cloudlet hosts VMs for mobile devices, serves their requests, and sends
//! or receives VMs when a placement policy moves them. Everything here is a
//! plain state machine: it is handed the current time and events and answers
//! what should happen next, so that the virtual-clock engine and the real gRPC
//! node drive the same code.
//!
//! # VM memory and live migration
//!
//! [`memory`] describes a VM's memory: pages (4 KiB), a writable working set
//! W, a dirty rate d in pages/s and a zero-page fraction (a zero page costs a
//! 9-byte header on the wire, as in QEMU). A dirty model says how many
//! distinct pages a window of length t dirties: `linear` (min(d·t, W), the
//! SimGrid model), `uniform` (W·(1 − e^(−d·t/W))) or `hot-cold` (20 % of W
//! takes 80 % of the writes). Memory is a few regions of page *counts*, never
//! a walk over pages.
//!
//! [`migration`] moves a VM with one of five techniques (`stop-and-copy`,
//! `pre-copy`, `post-copy`, `soft`, `hybrid`) as a state machine in the quinn-proto
//! style: [`migration::Migration`] asks for transfers (`poll_transmit`), is
//! told of deliveries (`on_delivered`), has its own timer (`poll_timeout`,
//! `handle_timeout`), answers which host serves a request that arrives
//! during the migration (`on_request`), and produces a
//! [`migration::MigrationReport`] when done. Time is a `Duration` since the
//! start of the experiment, passed in by the driver; randomness comes from
//! the caller's seeded RNG. [`migration::single_link`] is a virtual-clock
//! driver over one serial link; the experiment engine and the gRPC cloudlet
//! drive the same machine over their own paths.
//!
//! Pre-copy decides convergence with the bandwidth it measured from delivery
//! times. Soft-migration assumes that a request executed by both hosts during
//! the handoff is idempotent (the target's execution is authoritative, the
//! source's writes after the switch are dropped); see [`migration::soft`].
//!
//! # The real node
//!
//! [`node`] is a cloudlet on the wall clock: the `Cloudlet` gRPC service of
//! `mcc-proto` over tonic (binary `cloudlet`). It runs requests on core
//! slots, receives VMs as page streams (VM memory is generated from a seed,
//! never stored), answers page faults and takes part in two-phase
//! hand-overs. [`realtime`] holds what the real-clock drivers share: a
//! precise wall-clock [`realtime::Timer`] and [`realtime::EmulatedLink`]
//! (latency, serialisation and FIFO queueing per direction), since the
//! kernel has no `netem` and delay is injected in-process.
//! `CloudletNode::migrate_to` ([`node::migrate`]) runs the same
//! [`migration::Migration`] machine on the wall clock between two nodes, for
//! all five techniques: the source suspends, forwards or dual-serves the VM
//! as the machine's events say, and a post-copy, hybrid or soft target pulls the
//! pages its requests touch from the source.

pub mod memory;
pub mod migration;
pub mod node;
pub mod node_list;
pub mod realtime;
