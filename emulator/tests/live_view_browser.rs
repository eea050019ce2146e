//! The live view in a real browser: headless Chromium (Debian's package
//! `chromium`) loads the page against `mcc-emu replay` of a run, and the
//! test checks what the DOM shows (devices, cloudlets, a migration drawn)
//! and that the screenshot is not blank (its distinct colours, counted by
//! `scripts/png_colours.py`), the page opened with a token as
//! `--token` prints it; a comparison's replay (a delay line per
//! combination); and `serve`'s page reloading itself with the map of a
//! scenario loaded over gRPC.
//!
//! Without `chromium` on the PATH the test says so and passes, unless
//! `MCC_REQUIRE_CHROMIUM` is set (`.ci/run` installs Chromium and sets it).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the replay when the test ends, however it ends.
struct Replaying(Child);

impl Drop for Replaying {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Longest one headless Chromium run may take: a run that loads, draws and
/// exits takes a few seconds; a rare one hangs after its work (seen once
/// in CI, nine minutes in a `--screenshot` run), and is killed.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs headless Chromium on `url` with a profile of its own, `args` added;
/// a run that has not exited within [`CHROMIUM_TIMEOUT`] is killed with its
/// process group and tried once more on a fresh profile.
fn chromium(profile: &Path, args: &[&str], url: &str) -> std::process::Output {
    for attempt in 1..=2 {
        if let Some(output) = chromium_once(profile, args, url) {
            return output;
        }
        eprintln!(
            "chromium {args:?} on {url}: no exit within {CHROMIUM_TIMEOUT:?} (attempt {attempt}), killed"
        );
        let _ = std::fs::remove_dir_all(profile);
    }
    panic!("chromium {args:?} on {url}: twice no exit within {CHROMIUM_TIMEOUT:?}");
}

/// One Chromium run; `None` when it had to be killed.
fn chromium_once(profile: &Path, args: &[&str], url: &str) -> Option<std::process::Output> {
    use std::os::unix::process::CommandExt;
    let stdout_path = profile.with_extension("stdout");
    let stderr_path = profile.with_extension("stderr");
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Virtual time runs while no fetch is pending: the page closes
            // its event stream after `?frames=N`, then 3 s pass at once.
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("chromium's stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("chromium's stderr file"))
        // Its own group: a kill reaches the renderer and GPU processes too.
        .process_group(0)
        .spawn()
        .expect("chromium runs");
    let deadline = Instant::now() + CHROMIUM_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for chromium") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }?;
    Some(std::process::Output {
        status,
        stdout: std::fs::read(&stdout_path).unwrap_or_default(),
        stderr: std::fs::read(&stderr_path).unwrap_or_default(),
    })
}

/// Whether Chromium runs here; without it the test is skipped, unless
/// `MCC_REQUIRE_CHROMIUM` is set.
fn has_chromium() -> bool {
    if Command::new("chromium").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("MCC_REQUIRE_CHROMIUM").is_none(),
            "MCC_REQUIRE_CHROMIUM is set and chromium does not run"
        );
        eprintln!("skipped: no `chromium` on the PATH (apt-get install chromium)");
        return false;
    }
    true
}

/// Starts `mcc-emu ARGS --ui 127.0.0.1:0` and returns it with the page's
/// address it printed.
fn start_ui(args: &[&std::ffi::OsStr], stderr_path: &Path) -> (Replaying, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
        .current_dir(common::repo(""))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr_path).unwrap())
        .spawn()
        .expect("mcc-emu starts");
    let running = Replaying(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(stderr_path).unwrap_or_default();
        if let Some(url) = common::live_view_url(&text) {
            return (running, url);
        }
        assert!(Instant::now() < deadline, "no live view: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `mcc-emu replay FOLDER` of a `topologies/small-real.toml` run (or
/// comparison) at 10× with the page on loopback and `extra` flags, and the
/// page's address.
fn replay_small_real(folder: &Path, extra: &[&str], stderr_path: &Path) -> (Replaying, String) {
    let flags = [
        "replay",
        "--scenario",
        "topologies/small-real.toml",
        "--speed",
        "10",
        "--ui",
        "127.0.0.1:0",
    ];
    let args: Vec<&std::ffi::OsStr> = flags
        .iter()
        .chain(extra)
        .map(std::ffi::OsStr::new)
        .chain([folder.as_os_str()])
        .collect();
    start_ui(&args, stderr_path)
}

/// The text of the first element after `marker` in `dom`, as a number.
fn number_after(dom: &str, marker: &str) -> Option<f64> {
    dom.split(marker)
        .nth(1)
        .and_then(|s| s.split('<').next())
        .and_then(|s| s.parse().ok())
}

#[test]
fn chromium_draws_one_delay_line_per_combination_of_a_replayed_comparison() {
    if !has_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let status = Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
        .current_dir(common::repo(""))
        .args(["compare", "topologies/small-real.toml"])
        .args(["--policies", "nearest,never", "--techniques", "pre-copy"])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("compare runs");
    assert!(status.success());
    let (_replaying, page) = replay_small_real(&out, &[], &dir.path().join("replay.txt"));
    let dom = chromium(
        &dir.path().join("profile"),
        &["--dump-dom"],
        &format!("{page}?frames=24"),
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    for label in ["nearest-pre-copy", "never-pre-copy"] {
        // Its p50 and p99 lines and its legend row.
        assert_eq!(
            dom.matches(&format!(r#"data-series="{label}""#)).count(),
            3,
            "{label}: {dom:.3000}"
        );
        let row = dom
            .split(&format!(r#"class="series" data-series="{label}""#))
            .nth(1)
            .unwrap_or("");
        assert!(
            number_after(row, r#"class="now-p50">"#).is_some_and(|p| p > 0.0),
            "{label} has a median: {row:.400}"
        );
    }
    assert!(dom.contains("nearest-pre-copy (map)"), "{dom:.3000}");
}

#[test]
fn chromium_draws_devices_cloudlets_and_a_migration_of_a_replayed_run() {
    if !has_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let scenario =
        mcc_emu::scenario::load_file(&common::repo("topologies/small-real.toml")).unwrap();
    mcc_emu::cli::run::run_scenario(&scenario, &out, false, mcc_emu::output::RequestRows::Write)
        .expect("virtual run");
    // With a token (on loopback, where none is needed) the page must
    // pass it on to every request it makes itself.
    let (_replaying, page) = replay_small_real(
        &out,
        &["--token", "t0k+en/="],
        &dir.path().join("replay.txt"),
    );
    assert!(page.ends_with("/?token=t0k%2Ben%2F%3D"), "{page}");
    // 24 frames: 6 s of wall time, a minute of scenario time at 10×.
    let url = format!("{page}&frames=24#cloudlet=cl-city");

    let dom = chromium(&dir.path().join("profile-dom"), &["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&dom.stdout);
    let count = |needle: &str| dom.matches(needle).count();
    assert_eq!(count("data-device="), 10, "the ten buses: {dom:.2000}");
    assert_eq!(count("data-cloudlet="), 4, "{dom:.2000}");
    assert_eq!(count("data-ap="), 6);
    assert!(
        count(r#"data-technique="pre-copy""#) >= 1,
        "a migration drawn: {dom:.4000}"
    );
    assert!(dom.contains(r#"id="devices-shown">10<"#), "{dom:.2000}");
    assert!(dom.contains("paused after 24 frames"), "{dom:.2000}");
    // The cloudlet the address selects shows its recent requests: rows
    // of the buses it served.
    let details = dom.split(r#"id="details""#).nth(1).unwrap_or("");
    assert!(details.contains("Cloudlet cl-city"), "{details:.1000}");
    assert!(
        details.matches("<td>bus-304-limerick#").count() >= 1,
        "{details:.2000}"
    );
    let p50 = number_after(&dom, r#"id="p50-now">"#);
    assert!(
        p50.is_some_and(|p| p > 0.0),
        "the delay chart has a median: {p50:?}"
    );

    let shot = dir.path().join("shot.png");
    let output = chromium(
        &dir.path().join("profile-shot"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,760",
        ],
        &url,
    );
    assert!(shot.exists(), "no screenshot: {output:?}");
    let colours = Command::new("python3")
        .arg(common::repo("scripts/png_colours.py"))
        .arg(&shot)
        .output()
        .expect("python3 runs");
    let colours: u32 = String::from_utf8_lossy(&colours.stdout)
        .trim()
        .parse()
        .expect("a count");
    // A blank page has one or two colours; the map, its labels and the
    // chart have hundreds once anti-aliased.
    assert!(colours >= 50, "{colours} distinct colours");
}

/// The number after `"readers":` in the live view's `/stats.json`.
fn readers(address: &str) -> u64 {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return 0;
    };
    let _ = write!(
        stream,
        "GET /stats.json HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.split("\"readers\":")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn chromium_reloads_serves_page_with_the_map_of_a_scenario_loaded_over_grpc() {
    use common::serve::Served;
    if !has_chromium() {
        return;
    }
    let served = Served::start(&[
        "topologies/small-real.toml",
        "--scenarios",
        "topologies",
        "--ui",
        "127.0.0.1:0",
    ]);
    let page = served.live_view_url();
    let ui = page
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    // 12 frames after the reload (3 s): the page stops there and is dumped.
    let url = format!("{page}?frames=12");
    let profile = dir.path().join("profile");
    let browser = std::thread::spawn(move || chromium(&profile, &["--dump-dom"], &url));
    // Once the page reads the feed, serve gets another scenario.
    let deadline = Instant::now() + Duration::from_secs(60);
    while readers(&ui) == 0 {
        assert!(Instant::now() < deadline, "the page never opened its feed");
        std::thread::sleep(Duration::from_millis(20));
    }
    served.swap_scenario("topologies/example-scenario.toml");
    let dom = browser.join().expect("chromium ran");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains(r#"id="scenario">limerick-example<"#),
        "the new scenario's name: {dom:.2000}"
    );
    assert_eq!(dom.matches("data-cloudlet=").count(), 2, "{dom:.2000}");
    assert!(dom.contains("paused after 12 frames"), "{dom:.2000}");
}
