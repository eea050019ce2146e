//! mcc-emu: an edge-cloudlet mobility emulator.
//!
//! This crate holds the world the devices move through, the experiment
//! engine, the placement policies, and the command-line interface that ties
//! the crates together (`mcc-emu`, in `main.rs` and [`cli`]). Data flows one
//! way: a [`scenario`] file is resolved into a world (a [`topology`], device
//! traces from the mobile-client crate), the [`engine`] runs it, and records
//! stream to the [`output`] files.
//!
//! - [`topology`] is the network: nodes of four kinds (cloud, cloudlet, access
//!   point, router) and links with latency and capacity, loaded from the
//!   native TOML format, Topology Zoo GraphML or site CSVs (which can be hung
//!   off a backbone), with cached shortest-path delays.
//! - [`scenario`] reads a scenario file (or the embedded default), checks
//!   every key and file, and builds the engine's world and settings.
//! - [`engine`] runs experiments on the virtual clock: devices move and
//!   attach, requests cross shared links and queue for CPU, and at the times
//!   the scenario sets a [`placement`] policy (never, nearest, threshold,
//!   least-loaded, a genetic algorithm, or the exhaustive optimum) decides
//!   which VMs to move, seeing each device's look-ahead, latencies, loads and
//!   per-pair migration cost estimates; the migration models of the cloudlet
//!   crate decide what each move costs.
//! - [`output`] writes per-request, per-migration and per-handover CSV files
//!   and the summary, atomically.
//! - `mcc-emu inspect topology|trace|scenario` ([`cli::inspect`]) shows what
//!   the inputs hold, including the handovers of a trace between a
//!   topology's access points.
//! - The real-clock foundations (a precise wall-clock timer, emulated
//!   links and paths) live in `mcc_cloudlet::realtime`, since the cloudlet
//!   node uses them too; `mcc-emu bench delay` ([`cli`]) measures them on
//!   the user's machine. [`realclock`] runs the same scenario on the wall
//!   clock: real gRPC cloudlet nodes, emulated links, real migrations,
//!   delays measured by the clock (`mcc-emu run --clock real`), and is the
//!   edge `mcc-emu serve` exposes; nodes in other processes or on other
//!   hosts talk to each other through its relay, over the same emulated
//!   links.
//! - [`energy`] works out what a run cost in joules (cloudlet servers,
//!   network bytes by link class, device radios, migrations) from the
//!   records either clock writes.
//! - `mcc-emu compare` ([`cli::compare`]) runs several policies and migration
//!   techniques on identical traces and seeds, in parallel, each through the
//!   same code as `mcc-emu run`, and writes a comparison table, JSON, CSV and
//!   SVG plots (delay CDF, migrations over time, a map).
//! - [`ui`] is the live view (`--ui ADDR`): a web page compiled into the
//!   binary, fed by server-sent events from the events `StreamEvents`
//!   sends (a running edge) or from a run's output folder (a replay).

pub mod cli;
pub mod energy;
pub mod engine;
pub mod metrics_http;
pub mod output;
pub mod placement;
pub mod radio;
pub mod realclock;
pub mod scenario;
pub mod serve;
pub mod topology;
pub mod ui;
