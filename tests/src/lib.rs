//! End-to-end tests of mcc-emu across its crates live in `tests/tests/`;
//! this library only holds what they share.

use std::path::PathBuf;

/// The root of the repository (the workspace folder).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
        .to_path_buf()
}

/// A file shipped with the repository, by its path from the root.
pub fn repo_file(relative: &str) -> PathBuf {
    repo_root().join(relative)
}
