//! The live view's HTTP side (`--ui`): content types, 404, the token rule,
//! server-sent events from a running edge, from `serve` and from a
//! replayed run, and the drop counter under a reader that stalls.

mod common;

use common::http_get as get;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use mcc_emu::realclock::{RealEdge, RealOptions};
use mcc_emu::ui::{self, Feed, UiServer, messages, replay::Replay};

const SCENARIO: &str = "topologies/small-real.toml";

fn small_real() -> mcc_emu::scenario::Scenario {
    mcc_emu::scenario::load_file(&common::repo(SCENARIO)).expect("small-real loads")
}

fn info(mode: &str) -> messages::RunInfo {
    messages::RunInfo {
        scenario: "small-real".into(),
        mode: mode.into(),
        policy: "nearest".into(),
        technique: "pre-copy".into(),
        speed: 1.0,
        duration_s: 240.0,
        series: Vec::new(),
    }
}

/// One plain HTTP/1.1 GET: the status, the headers (lower-case names) and
/// the body.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// An open `/events` stream, read line by line.
struct Events {
    reader: BufReader<TcpStream>,
}

impl Events {
    fn open(addr: SocketAddr, query: &str) -> Events {
        let mut stream = TcpStream::connect(addr).expect("connects");
        write!(
            stream,
            "GET /events{query} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        // A hang guard, not a measurement.
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        let mut content_type = None;
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-type: ") {
                content_type = Some(v.trim().to_owned());
            }
        }
        assert_eq!(content_type.as_deref(), Some("text/event-stream"));
        Events { reader }
    }

    /// The next message's JSON (chunked framing and keep-alive comments skipped).
    fn next(&mut self) -> serde_json::Value {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self
                .reader
                .read_line(&mut line)
                .expect("the stream goes on");
            assert!(n > 0, "the stream ended");
            if let Some(data) = line.trim_end().strip_prefix("data: ") {
                return serde_json::from_str(data).expect("each message is JSON");
            }
        }
    }

    /// Reads until `wanted` holds for a message, which it returns.
    fn until(
        &mut self,
        what: &str,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(Instant::now() < deadline, "no message with {what} in 120 s");
            let message = self.next();
            if wanted(&message) {
                return message;
            }
        }
    }
}

/// Reads until a migration completes; returns its phases as they came,
/// each with its round (a migration that aborted is skipped).
fn one_migration(events: &mut Events) -> Vec<(String, u64)> {
    loop {
        let start = events.until("a migration started", |m| {
            m["kind"] == "migration" && m["phase"] == "start"
        });
        let id = start["id"].clone();
        let mut phases = vec![("start".to_owned(), 0)];
        loop {
            let m = events.until("that migration's next phase", |m| {
                m["kind"] == "migration" && m["id"] == id
            });
            let phase = m["phase"].as_str().unwrap().to_owned();
            phases.push((phase.clone(), m["round"].as_u64().unwrap()));
            if phase == "done" {
                return phases;
            }
            if phase == "aborted" {
                break;
            }
        }
    }
}

/// A pre-copy migration's phases, as its source node reached them: the
/// start, rounds 1, 2, ... in order, the stop, the switch, done.
fn assert_pre_copy_phases(phases: &[(String, u64)]) {
    let names: Vec<&str> = phases.iter().map(|(p, _)| p.as_str()).collect();
    let rounds: Vec<u64> = phases
        .iter()
        .filter(|(p, _)| p == "precopy")
        .map(|(_, r)| *r)
        .collect();
    assert!(!rounds.is_empty(), "no pre-copy round: {phases:?}");
    assert_eq!(
        rounds,
        (1..=rounds.len() as u64).collect::<Vec<_>>(),
        "{phases:?}"
    );
    let mut expected = vec!["start"];
    expected.extend(std::iter::repeat_n("precopy", rounds.len()));
    expected.extend(["stop", "switch", "done"]);
    assert_eq!(names, expected, "{phases:?}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn start_server(
    runtime: &tokio::runtime::Runtime,
    address: &str,
    token: Option<&str>,
) -> anyhow::Result<(UiServer, Arc<Feed>)> {
    let world = messages::world_json(&small_real().world, &info("test"));
    let feed = Feed::new(ui::FEED_CAPACITY);
    let server = runtime.block_on(UiServer::start(
        address.parse().unwrap(),
        token,
        world,
        feed.clone(),
    ))?;
    Ok((server, feed))
}

fn wait_for_readers(feed: &Feed, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while feed.readers() < n {
        assert!(Instant::now() < deadline, "the page's stream never opened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_assets_have_their_content_types_and_anything_else_is_404() {
    let rt = runtime();
    let (server, _feed) = start_server(&rt, "127.0.0.1:0", None).unwrap();
    for (path, content_type, needle) in [
        ("/", "text/html; charset=utf-8", r#"<script src="app.js">"#),
        ("/app.js", "text/javascript; charset=utf-8", "EventSource"),
        ("/style.css", "text/css; charset=utf-8", ".device"),
        ("/world.json", "application/json", "\"cl-city\""),
        ("/stats.json", "application/json", "\"dropped\":0"),
    ] {
        let (status, headers, body) = get(server.address, path, "");
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            header(&headers, "content-type"),
            Some(content_type),
            "{path}"
        );
        assert!(body.contains(needle), "{path}: {body:.200}");
    }
    let world: serde_json::Value =
        serde_json::from_str(&get(server.address, "/world.json", "").2).unwrap();
    assert_eq!(world["cloudlets"].as_array().unwrap().len(), 4);
    assert_eq!(world["access_points"].as_array().unwrap().len(), 6);
    for path in [
        "/index.html",
        "/app.js/x",
        "/favicon.ico",
        "/../Cargo.toml",
        "/events/1",
    ] {
        let (status, headers, _) = get(server.address, path, "");
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("text/plain; charset=utf-8")
        );
    }
    // The page names its assets relatively and loads nothing from elsewhere.
    let page = get(server.address, "/", "").2 + &get(server.address, "/app.js", "").2;
    assert!(!page.contains("https://"), "an external URL in the page");
    server.stop();
}

#[test]
fn loopback_needs_no_token_other_addresses_need_one_and_then_every_request_carries_it() {
    let rt = runtime();
    let refused = start_server(&rt, "0.0.0.0:0", None)
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("--token") && refused.contains("0.0.0.0:0"),
        "{refused}"
    );
    // With a token (on loopback here, so that the test reaches it), every
    // path needs it, in the header or the query.
    let (server, _feed) = start_server(&rt, "127.0.0.1:0", Some("s3cr+t")).unwrap();
    let a = server.address;
    for path in ["/", "/app.js", "/world.json", "/events", "/nope"] {
        assert_eq!(get(a, path, "").0, 401, "{path} without a token");
        assert_eq!(get(a, &format!("{path}?token=wrong"), "").0, 401, "{path}");
        assert_eq!(
            get(a, path, "Authorization: Bearer s3cr\r\n").0,
            401,
            "{path}"
        );
    }
    let (status, _, page) = get(a, "/?token=s3cr%2Bt", "");
    assert_eq!(status, 200);
    assert!(page.contains(r#"src="app.js?token=s3cr%2Bt""#), "{page}");
    assert!(
        page.contains(r#"href="style.css?token=s3cr%2Bt""#),
        "{page}"
    );
    assert_eq!(get(a, "/app.js?token=s3cr%2Bt", "").0, 200);
    assert_eq!(
        get(a, "/world.json", "Authorization: Bearer s3cr+t\r\n").0,
        200
    );
    assert_eq!(get(a, "/nope?token=s3cr%2Bt", "").0, 404);
    assert_eq!(
        server.url(Some("s3cr+t")),
        format!("http://{a}/?token=s3cr%2Bt")
    );
    server.stop();
    let (public, _) = start_server(&rt, "0.0.0.0:0", Some("t0ken")).unwrap();
    public.stop();
}

#[test]
fn a_reader_that_stalls_loses_messages_counted_and_the_publisher_never_waits() {
    let rt = runtime();
    let (server, feed) = start_server(&rt, "127.0.0.1:0", None).unwrap();
    let mut events = Events::open(server.address, "");
    wait_for_readers(&feed, 1);
    // The reader reads nothing while 2,000 messages of 64 KiB (125 MiB,
    // far more than the socket buffers and the feed's 256) are published.
    let filler = "x".repeat(64 * 1024);
    for i in 0..2000 {
        feed.publish(format!(r#"{{"n":{i},"pad":"{filler}"}}"#));
    }
    feed.publish(r#"{"n":"last"}"#.to_owned());
    let mut lost = None;
    let mut last_n = -1i64;
    loop {
        let message = events.next();
        if message["type"] == "dropped" {
            lost = message["count"].as_u64();
            continue;
        }
        if message["n"] == "last" {
            break;
        }
        let n = message["n"].as_i64().unwrap();
        assert!(n > last_n, "messages in order");
        last_n = n;
    }
    let lost = lost.expect("the page is told it lost messages");
    assert!(lost > 0 && lost < 2001, "{lost}");
    assert_eq!(feed.dropped(), lost, "the feed counts what the page lost");
    let stats: serde_json::Value =
        serde_json::from_str(&get(server.address, "/stats.json", "").2).unwrap();
    assert_eq!(stats["dropped"].as_u64(), Some(lost));
    assert_eq!(stats["published"].as_u64(), Some(2001));
    server.stop();
}

#[test]
fn a_running_edge_is_drawn_devices_cloudlets_and_migrations_from_the_stream_events_source() {
    let rt = runtime();
    let (server, feed) = start_server(&rt, "127.0.0.1:0", None).unwrap();
    let mut events = Events::open(server.address, "");
    wait_for_readers(&feed, 1);
    let options = RealOptions {
        speed: 20.0,
        ..RealOptions::default()
    };
    let edge: RealEdge = rt
        .block_on(RealEdge::start(small_real(), options))
        .expect("edge starts");
    let watcher = rt.spawn(ui::live::watch_edge(edge.clone(), feed.clone()));
    let frame = events.until("ten devices", |m| {
        m["type"] == "frame" && m["devices"].as_array().is_some_and(|d| d.len() == 10)
    });
    let device = &frame["devices"][0];
    assert!(
        device[0].as_str().unwrap().starts_with("bus-304"),
        "{device}"
    );
    assert!(
        (52.5..52.8).contains(&device[1].as_f64().unwrap()),
        "{device}"
    );
    assert!(
        device[4].as_u64().is_some_and(|h| h < 4),
        "a host: {device}"
    );
    assert_eq!(frame["in_flight"].as_array().unwrap().len(), 4);
    // Its phases come live from the source node, in order.
    let phases = one_migration(&mut events);
    assert_pre_copy_phases(&phases);
    let with_requests = events.until("requests", |m| {
        m["type"] == "frame" && m["requests"].as_array().is_some_and(|r| !r.is_empty())
    });
    let request = &with_requests["requests"][0];
    assert!(request[2].as_f64().unwrap() > 0.0, "a delay: {request}");
    watcher.abort();
    rt.block_on(edge.shutdown()).expect("the edge stops");
    server.stop();
}

#[test]
fn a_finished_run_replays_with_its_handovers_migrations_phases_and_requests() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = small_real();
    mcc_emu::cli::run::run_scenario(
        &scenario,
        dir.path(),
        false,
        mcc_emu::output::RequestRows::Write,
    )
    .expect("virtual run");
    let feed = Feed::new(100_000);
    let rt = runtime();
    let mut messages = Box::pin(feed.subscribe());
    let replay = Replay::load(dir.path(), &scenario.world, "replay", 1000.0).expect("loads");
    assert_eq!(replay.info.policy, "nearest");
    replay
        .play(&scenario.world, &feed, 1000.0, &AtomicBool::new(false))
        .expect("plays");
    feed.close();
    let all: Vec<serde_json::Value> = rt.block_on(async {
        use tokio_stream::StreamExt;
        let mut all = Vec::new();
        while let Some(m) = messages.next().await {
            all.push(serde_json::from_str(&m).unwrap());
        }
        all
    });
    let kinds = |k: &str| all.iter().filter(|m| m["kind"] == k).count();
    let phases = |p: &str| {
        all.iter()
            .filter(|m| m["kind"] == "migration" && m["phase"] == p)
            .count()
    };
    // The run's 31 migrations (docs/real-clock.md) and its hand-overs.
    let migrations = std::fs::read_to_string(dir.path().join("migrations.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let handovers = std::fs::read_to_string(dir.path().join("handovers.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(phases("start"), migrations);
    assert_eq!(phases("done"), migrations);
    assert_eq!(phases("precopy"), migrations, "pre-copy's rounds");
    assert_eq!(kinds("handover"), handovers);
    let frames: Vec<_> = all.iter().filter(|m| m["type"] == "frame").collect();
    assert!(
        frames
            .iter()
            .all(|f| f["devices"].as_array().unwrap().len() == 10)
    );
    let requests: usize = frames
        .iter()
        .map(|f| f["requests"].as_array().unwrap().len())
        .sum();
    let skipped: u64 = frames.iter().map(|f| f["skipped"].as_u64().unwrap()).sum();
    assert_eq!(requests as u64 + skipped, 4800, "every row of requests.csv");
    // Devices move: the first and last frames put a device in two places.
    assert_ne!(
        frames[0]["devices"][0][1],
        frames.last().unwrap()["devices"][0][1]
    );
    assert_eq!(all.last().unwrap()["type"], "end");

    // Against another scenario's world, the files' first unknown name is named.
    let other =
        mcc_emu::scenario::load_file(&common::repo("topologies/example-scenario.toml")).unwrap();
    let error = Replay::load(dir.path(), &other.world, "replay", 1.0)
        .err()
        .expect("refused");
    let text = format!("{error:#}");
    assert!(
        text.contains(".csv line ") && text.contains("is not in this scenario"),
        "{text}"
    );
    let error = Replay::load(&dir.path().join("nope"), &scenario.world, "replay", 1.0)
        .err()
        .unwrap();
    assert!(format!("{error:#}").contains("summary.json"), "{error:#}");
}

/// Every message a replay publishes, played at 1000x.
fn play_all(replay: Replay, world: &mcc_emu::engine::world::World) -> Vec<serde_json::Value> {
    let feed = Feed::new(100_000);
    let rt = runtime();
    let mut messages = Box::pin(feed.subscribe());
    replay
        .play(world, &feed, 1000.0, &AtomicBool::new(false))
        .expect("plays");
    feed.close();
    rt.block_on(async {
        use tokio_stream::StreamExt;
        let mut all = Vec::new();
        while let Some(m) = messages.next().await {
            all.push(serde_json::from_str(&m).unwrap());
        }
        all
    })
}

/// Rows of a requests.csv whose outcome the delay chart counts.
fn answered_rows(path: &std::path::Path) -> usize {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let outcome = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "outcome")
        .unwrap();
    reader
        .records()
        .filter(|r| matches!(&r.as_ref().unwrap()[outcome], "ok" | "timed_out"))
        .count()
}

#[test]
fn a_comparison_replays_its_combinations_together_one_chart_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
        .current_dir(common::repo(""))
        .args(["compare", SCENARIO, "--policies", "nearest,never"])
        .args(["--techniques", "pre-copy", "--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("compare runs");
    assert!(status.success());
    let scenario = small_real();
    let replay = Replay::load_comparison(&out, &scenario.world, "replay", 1000.0, None)
        .expect("loads the comparison");
    assert_eq!(replay.info.series, ["nearest-pre-copy", "never-pre-copy"]);
    let world = messages::world_json(&scenario.world, &replay.info);
    assert!(
        world.contains(r#""series":["nearest-pre-copy","never-pre-copy"]"#),
        "{world}"
    );
    let all = play_all(replay, &scenario.world);
    let frames: Vec<_> = all.iter().filter(|m| m["type"] == "frame").collect();
    assert!(
        frames
            .iter()
            .all(|f| f["others"].as_array().unwrap().len() == 1)
    );
    // The map is nearest's (it migrates), the chart has never's requests too.
    let starts = all
        .iter()
        .filter(|m| m["kind"] == "migration" && m["phase"] == "start")
        .count();
    assert!(starts > 0);
    let shown: usize = frames
        .iter()
        .map(|f| f["requests"].as_array().unwrap().len())
        .sum();
    let others: usize = frames
        .iter()
        .map(|f| f["others"][0].as_array().unwrap().len())
        .sum();
    let skipped: u64 = frames.iter().map(|f| f["skipped"].as_u64().unwrap()).sum();
    assert_eq!(
        shown as u64 + others as u64 + skipped,
        4800 + answered_rows(&out.join("never-pre-copy/requests.csv")) as u64,
        "every row of nearest's requests.csv and every answered row of never's, sent or counted"
    );
    assert!(others > 0);
    assert_eq!(all.last().unwrap()["type"], "end");

    // --show puts another combination on the map: never migrates nothing.
    let replay = Replay::load_comparison(
        &out,
        &scenario.world,
        "replay",
        1000.0,
        Some("never-pre-copy"),
    )
    .expect("loads");
    assert_eq!(replay.info.series, ["never-pre-copy", "nearest-pre-copy"]);
    let all = play_all(replay, &scenario.world);
    assert!(!all.iter().any(|m| m["kind"] == "migration"));
    // --show names a combination of a comparison's folder, not of a run's.
    let output = common::mcc_emu(&[
        "replay",
        out.join("never-pre-copy").to_str().unwrap(),
        "--show",
        "never-pre-copy",
        "--ui",
        "127.0.0.1:0",
    ]);
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("--show never-pre-copy") && err.contains("not a comparison's"),
        "{err}"
    );
    let error = Replay::load_comparison(&out, &scenario.world, "replay", 1.0, Some("ga-soft"))
        .err()
        .expect("refused");
    let text = format!("{error:#}");
    assert!(
        text.contains("--show ga-soft") && text.contains("nearest-pre-copy, never-pre-copy"),
        "{text}"
    );
}

#[test]
fn serve_with_ui_draws_a_device_registered_over_grpc() {
    use common::serve::Served;
    let served = Served::start(&[SCENARIO, "--ui", "127.0.0.1:0"]);
    let address: SocketAddr = common::address_of(&served.live_view_url()).expect("an address");
    let mut events = Events::open(address, "");
    let rt = runtime();
    rt.block_on(async {
        let mut client = mcc_mobile_client::fleet::connect(&served.url(), None)
            .await
            .unwrap();
        client
            .register_device(common::serve::phone_in_limerick())
            .await
            .unwrap();
    });
    let frame = events.until("the phone", |m| {
        m["type"] == "frame"
            && m["devices"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d[0] == "phone"))
    });
    assert_eq!(frame["in_flight"].as_array().unwrap().len(), 4);
    let refused = common::mcc_emu(&[
        "serve",
        SCENARIO,
        "--listen",
        "127.0.0.1:0",
        "--ui",
        "0.0.0.0:0",
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("--ui 0.0.0.0:0") && err.contains("--token"),
        "{err}"
    );
    let output = common::mcc_emu(&["replay", "/nonexistent"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("replay needs --ui"));
}

#[test]
fn serve_tells_the_page_of_a_loaded_scenario_and_serves_its_map() {
    use common::serve::Served;
    let served = Served::start(&[SCENARIO, "--scenarios", "topologies", "--ui", "127.0.0.1:0"]);
    let address: SocketAddr = common::address_of(&served.live_view_url()).expect("an address");
    let map = |text: &str| -> (usize, String) {
        let world: serde_json::Value = serde_json::from_str(text).unwrap();
        (
            world["cloudlets"].as_array().unwrap().len(),
            world["info"]["scenario"].as_str().unwrap().to_owned(),
        )
    };
    let (_, _, before) = get(address, "/world.json", "");
    assert_eq!(map(&before), (4, "small-real".to_owned()));
    let mut events = Events::open(address, "");
    events.until("the first edge", |m| m["type"] == "frame");
    served.swap_scenario("topologies/example-scenario.toml");
    // The page is told once the new map is served, before `started`.
    events.until("the world message", |m| m["type"] == "world");
    let (_, _, after) = get(address, "/world.json", "");
    assert_eq!(map(&after), (2, "limerick-example".to_owned()));
    let next = events.until("started or a frame", |m| {
        m["type"] == "started" || m["type"] == "frame"
    });
    assert_eq!(next["type"], "started", "{next}");
}

/// The address `mcc-emu` printed in `live view at http://ADDR/` on the
/// stderr it writes to `path`.
fn live_view_address(path: &std::path::Path) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(address) = common::live_view_address(&text) {
            return address;
        }
        assert!(Instant::now() < deadline, "no live view line: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `mcc-emu ARGS` from the repository, stderr to `stderr`.
fn spawn(args: &[&str], stderr: &std::path::Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
        .current_dir(common::repo(""))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .expect("mcc-emu starts")
}

fn wait(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not end within 300 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn run_on_the_real_clock_with_ui_is_watched_live_and_ends_with_its_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agree.toml");
    std::fs::write(&file, common::agreement_scenario("")).unwrap();
    let out = dir.path().join("out");
    let stderr = dir.path().join("stderr.txt");
    let (file, out_s) = (file.to_str().unwrap(), out.to_str().unwrap());
    let mut child = spawn(
        &[
            "run",
            file,
            "--clock",
            "real",
            "--speed",
            "20",
            "--spawn",
            "processes",
            "--out",
            out_s,
            "--ui",
            "127.0.0.1:0",
        ],
        &stderr,
    );
    let mut events = Events::open(live_view_address(&stderr), "");
    events.until("four devices", |m| {
        m["type"] == "frame" && m["devices"].as_array().is_some_and(|d| d.len() == 4)
    });
    events.until("a handover", |m| m["kind"] == "handover");
    // The nodes are processes: the phases came over `MigrateVmWatched`.
    let phases = one_migration(&mut events);
    assert_pre_copy_phases(&phases);
    let status = wait(&mut child, "run --clock real --ui");
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&stderr).unwrap()
    );
    assert!(out.join("requests.csv").exists());
}

#[test]
fn run_on_the_virtual_clock_with_ui_writes_its_outputs_then_replays_them_until_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let stderr = dir.path().join("stderr.txt");
    let mut child = spawn(
        &[
            "run",
            SCENARIO,
            "--no-baseline",
            "--out",
            out.to_str().unwrap(),
            "--ui",
            "127.0.0.1:0",
            "--speed",
            "2",
        ],
        &stderr,
    );
    let address = live_view_address(&stderr);
    // The outputs are complete before the replay starts.
    assert!(out.join("summary.json").exists());
    let mut events = Events::open(address, "");
    events.until("a replayed frame", |m| {
        m["type"] == "frame" && m["devices"].as_array().is_some_and(|d| d.len() == 10)
    });
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = wait(&mut child, "run --ui");
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&stderr).unwrap()
    );
    let refused = common::mcc_emu(&["run", SCENARIO, "--speed", "2"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("--speed applies to --clock real only, or to the replay of --ui"),
        "{refused:?}"
    );
}
