//! What the command-line test files share: where the repository is, and how
//! to run the `mcc-emu` binary Cargo built for them.

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A path inside the repository (the workspace folder).
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Runs `mcc-emu ARGS`, which must succeed, and parses what it prints as JSON.
pub fn json_of(args: &[&str]) -> serde_json::Value {
    let output = mcc_emu(args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

/// Runs `mcc-emu ARGS` from the repository's folder and waits for it.
pub fn mcc_emu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
        .current_dir(repo(""))
        .args(args)
        .output()
        .expect("mcc-emu runs")
}

pub mod serve;
