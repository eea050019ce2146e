//! Generates the Rust code for `proto/mcc/v1/*.proto` without a `protoc`
//! binary: `protox` parses the files into a descriptor set and
//! `tonic-prost-build` turns it into messages, clients and servers.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "proto/mcc/v1/common.proto",
    "proto/mcc/v1/cloudlet.proto",
    "proto/mcc/v1/control.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // Kept for gRPC reflection; `compile_fds` does not write it itself.
    std::fs::write(
        out_dir.join("mcc_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
