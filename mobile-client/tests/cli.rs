//! The `mobile-client` command line refuses what it cannot use with one
//! clear line and writes nothing: bad flags, bad trace files (file, line,
//! reason), an emulator that is not there.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Runs `mobile-client ARGS --out OUT` (OUT in a fresh folder), expects a
/// failure, and returns its stderr; checks no output file appeared.
fn fails(args: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!(
        "mcc-mobile-cli-{}-{}",
        std::process::id(),
        args.join("_").replace(['/', ':', '.'], "")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("rows.csv");
    let output = Command::new(env!("CARGO_BIN_EXE_mobile-client"))
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{args:?} succeeded");
    assert!(!out.exists(), "{args:?} left an output file");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "{args:?} left a temporary file"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn an_emulator_that_is_not_there_is_one_clear_line() {
    // Port 1 on loopback: nothing listens there.
    let err = fails(&["--emulator", "http://127.0.0.1:1", "--duration-s", "1"]);
    assert!(
        err.starts_with("mobile-client: cannot reach the emulator at http://127.0.0.1:1: "),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn bad_trace_files_name_the_file_the_line_and_the_reason() {
    for (file, needle) in [
        ("trace-lat-123.gpx", ":7: latitude 123 is outside [-90, 90]"),
        ("trace-short-row.csv", ":3: 3 fields, expected at least 4"),
        ("trace-garbage.plt", "not UTF-8 text"),
        ("trace-empty.gpx", "trace-empty.gpx"),
    ] {
        let path = repo("tests/data/bad").join(file);
        let err = fails(&[
            "--emulator",
            "http://127.0.0.1:1",
            "--duration-s",
            "1",
            "--trace",
            path.to_str().unwrap(),
        ]);
        assert!(err.contains(file) && err.contains(needle), "{file}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

#[test]
fn bad_flags_are_refused_before_anything_is_sent() {
    let base = ["--emulator", "http://127.0.0.1:1"];
    for (extra, needle) in [
        (
            &["--duration-s", "0"][..],
            "--duration-s 0 is out of range; it must be > 0 and at most 604800",
        ),
        (
            &["--duration-s", "1", "--devices", "0"],
            "--devices 0 is out of range; it must be from 1 to 10000",
        ),
        (
            &["--duration-s", "1", "--rate", "0"],
            "--rate 0 is out of range",
        ),
        (
            &["--duration-s", "1", "--rate", "NaN"],
            "--rate NaN is out of range",
        ),
        (
            &["--duration-s", "1", "--arrivals", "bursty"],
            "unknown arrivals \"bursty\"",
        ),
        (
            &["--duration-s", "1", "--speed", "0"],
            "--speed 0 is out of range; it must be from 0.001 to 1000",
        ),
        (
            &["--duration-s", "1e30"],
            "--duration-s 1000000000000000000000000000000 is out of range",
        ),
        (
            &["--duration-s", "1", "--speed", "1e300"],
            "--speed 1000000000000000000000000000000000000",
        ),
        (
            &[
                "--duration-s",
                "600000",
                "--devices",
                "1000",
                "--rate",
                "100",
            ],
            "request rows",
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let err = fails(&args);
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    let err = fails(&["--emulator", "localhost:50051", "--duration-s", "1"]);
    assert!(err.contains("expected a URL like http://"), "{err}");
}

#[test]
fn an_output_folder_that_does_not_exist_is_refused_before_the_run() {
    let output = Command::new(env!("CARGO_BIN_EXE_mobile-client"))
        .args(["--emulator", "http://127.0.0.1:1", "--duration-s", "1"])
        .args(["--out", "/nonexistent-mcc-folder/rows.csv"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(
        err.contains("the folder /nonexistent-mcc-folder does not exist"),
        "{err}"
    );
}
