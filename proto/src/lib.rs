//! The gRPC contract of mcc-emu, package `mcc.v1`.
//!
//! Two services live here:
//! - [`v1::cloudlet_server::Cloudlet`]: what every cloudlet node serves
//!   (execute device requests, receive VMs as page batches, answer page
//!   faults, two-phase hand-over, status);
//! - [`v1::emulator_control_server::EmulatorControl`]: what the emulator
//!   serves to scripts and devices (scenarios, devices, requests through the
//!   emulated network, the event stream, summary metrics).
//!
//! The `.proto` files under `proto/mcc/v1/` are the source of truth; clients in
//! other languages generate their code from them. The Rust code is generated at
//! build time by `build.rs` (no `protoc` needed).

/// Messages and services of package `mcc.v1`.
pub mod v1 {
    #![allow(missing_docs, clippy::all)]
    tonic::include_proto!("mcc.v1");

    /// The encoded descriptor set of package `mcc.v1`, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("mcc_v1_descriptor");
}
