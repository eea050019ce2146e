//! `mcc-emu sweep` and `mcc-emu merge` end to end: a plan without axes
//! writes what `compare` writes; three shards merged are byte-identical to
//! one machine's sweep; a missing or duplicated shard or run is named; a
//! killed sweep resumes losing only the run it was in; bad plans are
//! refused naming the file, the axis and what was wrong.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{json_of, mcc_emu};

use serde_json::Value;

fn plan(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sweeps")
        .join(name)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `mcc-emu ARGS`, which must succeed; returns its stderr.
fn ok(args: &[&str]) -> String {
    let output = mcc_emu(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{args:?}: {stderr}");
    stderr
}

/// `mcc-emu ARGS`, which must fail; returns its stderr.
fn fails(args: &[&str]) -> String {
    let output = mcc_emu(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{args:?} succeeded");
    stderr
}

/// Every file under `dir` (relative path → bytes), markers and run files
/// left out when `comparison_only`.
fn files(dir: &Path, comparison_only: bool) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.retain(|(name, _)| {
        !comparison_only || name.starts_with("comparison.") || name.ends_with(".svg")
    });
    out.sort();
    out
}

fn names(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn a_plan_without_axes_writes_what_compare_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (by_compare, by_sweep) = (dir.path().join("compare"), dir.path().join("sweep"));
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scenarios/compare-small.toml");
    let compare = json_of(&[
        "compare",
        s(&scenario),
        "--policies",
        "never,nearest",
        "--techniques",
        "soft,pre-copy",
        "--runs",
        "2",
        "--out",
        s(&by_compare),
        "--json",
    ]);
    let sweep = json_of(&[
        "sweep",
        s(&plan("small-plain.toml")),
        "--out",
        s(&by_sweep),
        "--json",
    ]);
    // The same rows and figures; only the wall clock differs.
    let strip = |mut v: Value| {
        for row in v["policies"].as_array_mut().unwrap() {
            let row = row.as_object_mut().unwrap();
            row.remove("wall_s");
            row.remove("sim_requests_per_s");
            for run in row["per_run"].as_array_mut().unwrap() {
                let run = run.as_object_mut().unwrap();
                run.remove("wall_s");
                run.remove("sim_requests_per_s");
            }
        }
        v
    };
    assert_eq!(strip(compare), strip(sweep));
    let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(
        common::without_wall_clock(&read(&by_compare, "comparison.csv")),
        common::without_wall_clock(&read(&by_sweep, "comparison.csv"))
    );
    // The plots, drawn from the figures each run's marker carries, are the
    // plots compare draws from the CSV files it reads back.
    for svg in [
        "delay_cdf.svg",
        "migrations_over_time.svg",
        "map.svg",
        "delay_energy.svg",
    ] {
        assert_eq!(read(&by_compare, svg), read(&by_sweep, svg), "{svg}");
    }
    // The same run folders, with the same records, and a marker each.
    let a = files(&by_compare, false);
    let b: Vec<_> = files(&by_sweep, false)
        .into_iter()
        .filter(|(n, _)| !n.ends_with("sweep-run.json"))
        .collect();
    assert_eq!(names(&a), names(&b));
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        if name.ends_with(".csv") && !name.starts_with("comparison") {
            assert!(x == y, "{name} differs");
        }
    }
    assert!(by_sweep.join("nearest-soft-run1/sweep-run.json").is_file());
}

#[test]
fn three_shards_merged_are_byte_identical_to_one_machine() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan("small-axes.toml");
    let one = dir.path().join("one");
    ok(&["sweep", s(&plan), "--out", s(&one), "--reproducible"]);

    // Three shards into one folder (a shared file system), then merged there.
    let shared = dir.path().join("shared");
    for i in 0..3 {
        let shard = format!("{i}/3");
        ok(&[
            "sweep",
            s(&plan),
            "--shard",
            &shard,
            "--out",
            s(&shared),
            "--threads",
            "1",
        ]);
        // No comparison until the merge.
        assert!(!shared.join("comparison.json").exists());
    }
    ok(&["merge", s(&shared), "--reproducible"]);
    let expected = files(&one, true);
    assert_eq!(files(&shared, true), expected);
    // Every point's plots and the table across points.
    assert_eq!(expected.len(), 2 + 4 * 4, "{:?}", names(&expected));

    // Three shards into three folders, merged into a fourth.
    let dirs: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("s{i}"))).collect();
    for (i, d) in dirs.iter().enumerate() {
        ok(&[
            "sweep",
            s(&plan),
            "--shard",
            &format!("{i}/3"),
            "--out",
            s(d),
        ]);
    }
    let merged = dir.path().join("merged");
    let mut args = vec!["merge"];
    args.extend(dirs.iter().map(|d| s(d)));
    args.extend(["--out", s(&merged), "--reproducible"]);
    ok(&args);
    assert_eq!(files(&merged, true), expected);

    // The rows carry the point and its axis values, and the axes change
    // what happens: twice the rate, about twice the requests.
    let json: Value =
        serde_json::from_slice(&std::fs::read(merged.join("comparison.json")).unwrap()).unwrap();
    assert_eq!(
        json["axes"],
        serde_json::json!({"workload.rate_hz": [1, 2], "vm.dirty_rate_pps": [1000, 8000]})
    );
    let rows = json["policies"].as_array().unwrap();
    assert_eq!(rows.len(), 4 * 4);
    assert_eq!(rows[0]["point"], 0);
    assert_eq!(
        rows[0]["axes"],
        serde_json::json!({"workload.rate_hz": 1, "vm.dirty_rate_pps": 1000})
    );
    assert_eq!(rows[15]["axes"]["workload.rate_hz"], 2);
    assert_eq!(rows[0]["wall_s"]["max"], 0.0, "--reproducible");
    let requests = |row: &Value| row["requests"]["mean"].as_f64().unwrap();
    let ratio = requests(&rows[8]) / requests(&rows[0]);
    assert!((1.8..2.2).contains(&ratio), "{ratio}");
    // More dirtied pages, more bytes moved by pre-copy.
    let moved = |row: &Value| row["bytes_migrated"]["mean"].as_f64().unwrap();
    assert_eq!(rows[4]["axes"]["vm.dirty_rate_pps"], 8000);
    assert_eq!(rows[4]["policy"], "nearest");
    assert!(moved(&rows[4]) > moved(&rows[0]));
    let csv = std::fs::read_to_string(merged.join("comparison.csv")).unwrap();
    assert!(
        csv.starts_with(
            "point,axes_workload.rate_hz,axes_vm.dirty_rate_pps,policy,technique,runs,seeds,"
        ),
        "{}",
        csv.lines().next().unwrap()
    );
}

#[test]
fn merge_names_a_missing_or_duplicated_shard_or_run() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan("small-axes.toml");
    let d: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("s{i}"))).collect();
    for (i, out) in d.iter().enumerate() {
        ok(&[
            "sweep",
            s(&plan),
            "--shard",
            &format!("{i}/3"),
            "--out",
            s(out),
        ]);
    }
    let out = dir.path().join("merged");
    let merge = |dirs: &[&PathBuf]| {
        let mut args = vec!["merge"];
        args.extend(dirs.iter().map(|d| s(d)));
        args.extend(["--out", s(&out)]);
        fails(&args)
    };
    let err = merge(&[&d[0], &d[1]]);
    assert!(
        err.contains("shard 2/3 is missing: no sweep-shard-2-of-3.json in"),
        "{err}"
    );
    let err = merge(&[&d[0], &d[1], &d[1]]);
    assert!(err.contains("is given twice"), "{err}");

    // A run folder left over in another shard's folder.
    let copy = |from: &Path, to: &Path| {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    };
    let run1 = "point0/nearest-pre-copy-run1";
    copy(&d[1].join(run1), &d[0].join(run1));
    let err = merge(&[&d[0], &d[1], &d[2]]);
    assert!(
        err.contains(&format!("run 1 ({run1}) is complete twice")),
        "{err}"
    );
    std::fs::remove_dir_all(d[0].join(run1)).unwrap();

    // A run whose marker is gone is not complete.
    let run4 = "point0/never-pre-copy-run0";
    std::fs::remove_file(d[1].join(run4).join("sweep-run.json")).unwrap();
    let err = merge(&[&d[0], &d[1], &d[2]]);
    assert!(
        err.contains(&format!("run 4 ({run4}) is not complete in")),
        "{err}"
    );

    // The same shard twice, and shards of two splittings.
    std::fs::copy(
        d[2].join("sweep-shard-2-of-3.json"),
        d[0].join("sweep-shard-2-of-3.json"),
    )
    .unwrap();
    let err = merge(&[&d[0], &d[1], &d[2]]);
    assert!(err.contains("shard 2/3 is there twice"), "{err}");
    std::fs::remove_file(d[0].join("sweep-shard-2-of-3.json")).unwrap();
    ok(&["sweep", s(&plan), "--shard", "0/2", "--out", s(&d[2])]);
    let err = merge(&[&d[0], &d[1], &d[2]]);
    assert!(err.contains("a sweep is split one way"), "{err}");
    assert!(!out.join("comparison.json").exists());
}

#[test]
fn a_killed_sweep_resumes_and_loses_only_the_run_it_was_in() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan("small-axes.toml");
    let whole = dir.path().join("whole");
    ok(&["sweep", s(&plan), "--out", s(&whole), "--reproducible"]);

    // Kill a sweep (one thread) once some of its runs are complete.
    let out = dir.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
        .args(["sweep", s(&plan), "--out", s(&out), "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The run markers under `out`, listed while a sweep may be writing.
    let markers = |out: &Path| -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut stack = vec![out.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.file_name().is_some_and(|n| n == "sweep-run.json") {
                    found.insert(path.strip_prefix(out).unwrap().display().to_string());
                }
            }
        }
        found
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !out.exists() || markers(&out).len() < 3 {
        assert!(Instant::now() < deadline, "no run completed in 2 minutes");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = markers(&out);
    assert!(
        !out.join("comparison.json").exists(),
        "killed before the end"
    );
    assert!(done.len() < 32, "killed before the end");
    let modified = |name: &str| {
        std::fs::metadata(out.join(name))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before: Vec<_> = done.iter().map(|n| modified(n)).collect();

    // A run whose files were damaged after it completed, marker lost too.
    let damaged = done.iter().next().unwrap().clone();
    std::fs::remove_file(out.join(&damaged)).unwrap();
    let folder = Path::new(&damaged).parent().unwrap();
    std::fs::write(out.join(folder).join("requests.csv"), "cut short").unwrap();

    let stderr = ok(&[
        "sweep",
        s(&plan),
        "--out",
        s(&out),
        "--resume",
        "--reproducible",
    ]);
    let skipped = done.len() - 1;
    assert!(
        stderr.contains(&format!(
            "32 run(s), {skipped} already complete, running {}",
            32 - skipped
        )),
        "{stderr}"
    );
    // The complete runs were not run again; the damaged one was.
    for (name, at) in done.iter().zip(&before).skip(1) {
        assert_eq!(modified(name), *at, "{name} was run again");
    }
    assert_ne!(
        std::fs::read(out.join(folder).join("requests.csv")).unwrap(),
        b"cut short"
    );
    assert_eq!(files(&out, true), files(&whole, true));
    assert_eq!(markers(&out).len(), 32);
}

#[test]
fn the_run_list_is_numbered_and_the_shards_split_it() {
    let plan = plan("small-axes.toml");
    let list = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec!["sweep", s(&plan), "--list", "--json"];
        args.extend_from_slice(extra);
        json_of(&args).as_array().unwrap().clone()
    };
    let all = list(&[]);
    assert_eq!(all.len(), 32);
    for (i, run) in all.iter().enumerate() {
        assert_eq!(run["run"], i);
    }
    // First axis outermost, then policies, techniques, runs (compare's order).
    assert_eq!(all[0]["folder"], "point0/nearest-pre-copy-run0");
    assert_eq!(all[1]["seed"], 8);
    assert_eq!(all[3]["folder"], "point0/nearest-soft-run1");
    assert_eq!(all[8]["axes"]["vm.dirty_rate_pps"], 8000);
    assert_eq!(all[16]["axes"]["workload.rate_hz"], 2);
    let mut seen = Vec::new();
    for i in 0..5 {
        for run in list(&["--shard", &format!("{i}/5")]) {
            assert_eq!(run["shard"], i);
            assert_eq!(run["run"].as_u64().unwrap() % 5, i);
            seen.push(run["run"].as_u64().unwrap());
        }
    }
    seen.sort();
    assert_eq!(seen, (0..32).collect::<Vec<u64>>());
    let table = String::from_utf8(mcc_emu(&["sweep", s(&plan), "--list"]).stdout).unwrap();
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("run  folder"));
    assert_eq!(lines.count(), 32);
}

#[test]
fn bad_plans_and_shards_are_refused_naming_the_file_and_the_axis() {
    let dir = tempfile::tempdir().unwrap();
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scenarios/compare-small.toml");
    let write = |body: &str| {
        let path = dir.path().join("plan.toml");
        std::fs::write(
            &path,
            format!(
                "scenario = {:?}\npolicies = [\"nearest\"]\n{body}",
                s(&scenario)
            ),
        )
        .unwrap();
        path
    };
    let refused = |body: &str| {
        let path = write(body);
        fails(&["sweep", s(&path), "--out", s(&dir.path().join("out"))])
    };
    let err = refused("[axes]\nworkload.rate_hzz = [1, 2]\n");
    assert!(
        err.contains("plan.toml: axis `workload.rate_hzz` = 1: unknown field `rate_hzz`"),
        "{err}"
    );
    let err = refused("[axes]\nworkload.rate_hz = [1, -2]\n");
    assert!(
        err.contains("plan.toml: with workload.rate_hz = -2")
            && err.contains("workload.rate_hz")
            && err.contains("> 0"),
        "{err}"
    );
    let err = refused("[axes]\nworkload.rate_hz = 2\n");
    assert!(
        err.contains("plan.toml: axis `workload.rate_hz`: give a list of values"),
        "{err}"
    );
    let err = refused("[axes]\nworkload.rate_hz = [\"fast\"]\n");
    assert!(
        err.contains("plan.toml: axis `workload.rate_hz` = \"fast\""),
        "{err}"
    );
    let err = refused("[axes]\nplacement.policy = [\"ga\"]\n");
    assert!(
        err.contains("cannot be an axis: list the policies"),
        "{err}"
    );
    let err = refused("[axes]\ndevices.3.count = [1]\n");
    assert!(
        err.contains("axis `devices.3.count` = 1: `devices` is a list of 1"),
        "{err}"
    );
    let err = refused("[axes]\nseed = [1, 1]\n");
    assert!(
        err.contains("axis `seed`: the value 1 is listed twice"),
        "{err}"
    );
    let err = refused("runs = 0\n");
    assert!(
        err.contains("plan.toml: key `runs`: must be in 1..=1000"),
        "{err}"
    );
    let err = refused("techniques = [\"warp\"]\n");
    assert!(
        err.contains("plan.toml: key `techniques`: unknown technique `warp`"),
        "{err}"
    );
    let err = refused("flavour = 1\n");
    assert!(
        err.contains("plan.toml") && err.contains("unknown field `flavour`"),
        "{err}"
    );
    assert!(!dir.path().join("out").exists(), "nothing was written");

    let path = write("");
    let err = fails(&["sweep", s(&path), "--shard", "3/3", "--list"]);
    assert!(err.contains("I must be in 0..=2"), "{err}");
    let err = fails(&["sweep", s(&path), "--shard", "2", "--list"]);
    assert!(err.contains("is not I/N"), "{err}");
    // A shard writes no comparison, so --reproducible belongs to merge.
    let err = fails(&["sweep", s(&path), "--shard", "0/2", "--reproducible"]);
    assert!(
        err.contains("'--shard <I/N>' cannot be used with '--reproducible'"),
        "{err}"
    );
    // A seed axis is a scenario field like any other.
    let path = write("[axes]\nseed = [3, 5]\n");
    let runs = json_of(&["sweep", s(&path), "--list", "--json"]);
    assert_eq!(runs[1]["seed"], 5);
}

#[test]
fn a_reader_that_stops_early_ends_the_list_quietly() {
    // A list far longer than a pipe's buffer (64 KiB), whose reader is gone
    // before the first line: writing must fail, and the binary ends as a
    // Unix tool killed by SIGPIPE would (status 141), without a panic.
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("long.toml");
    std::fs::write(
        &plan,
        format!(
            "scenario = {:?}\npolicies = [\"never\", \"nearest\"]\ntechniques = [\"soft\", \"pre-copy\"]\nruns = 1000\n",
            common::repo("emulator/tests/data/scenarios/compare-small.toml")
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
        .args(["sweep", s(&plan), "--list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(141), "{stderr}");
}
