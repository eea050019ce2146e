//! `mcc-emu replay DIR --ui ADDR`: a finished run's output folder, played
//! again in the live view ([`crate::ui`]), and the options every command
//! with a live view shares.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;

use crate::scenario::Scenario;
use crate::ui::{self, messages, replay::Replay};

/// The live view's options of `run` and `replay` (`serve` has its own
/// `--token`).
#[derive(Debug, Clone, clap::Args)]
pub struct UiArgs {
    /// Serve the live view (a web page) on this address; port 0 picks a
    /// free one (the address is printed on stderr). An address other than
    /// loopback needs --token (or --token-file).
    #[arg(long, value_name = "ADDR")]
    pub ui: Option<SocketAddr>,
    /// The live view (and `run`'s --metrics-listen) then needs
    /// `?token=TOKEN` (or `authorization: Bearer TOKEN`).
    #[arg(long)]
    pub token: Option<String>,
    /// Like --token, read from this file (its text without the last line
    /// break).
    #[arg(long, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
}

impl UiArgs {
    /// Refuses --token (or --token-file) with nothing to guard: neither
    /// --ui nor `other` (`run`'s --metrics-listen) given.
    pub fn refuse_unused_token(&self, other: bool) -> anyhow::Result<()> {
        if (self.token.is_some() || self.token_file.is_some()) && self.ui.is_none() && !other {
            anyhow::bail!("--token and --token-file apply to --ui (or run's --metrics-listen)");
        }
        Ok(())
    }

    /// The token, read from --token-file when given.
    pub fn token(&self) -> anyhow::Result<Option<String>> {
        match &self.token_file {
            Some(path) => Ok(Some(
                mcc_mobile_client::fleet::token_from_file(path).map_err(anyhow::Error::msg)?,
            )),
            None => Ok(self.token.clone()),
        }
    }
}

/// Arguments of `mcc-emu replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The output folder of a finished run (requests.csv, handovers.csv,
    /// migrations.csv, summary.json), or of `mcc-emu compare`
    /// (comparison.json and a folder per combination: all of them are
    /// replayed together, one delay chart line each).
    pub dir: PathBuf,
    /// For a comparison's folder: the combination drawn on the map, as
    /// `<policy>-<technique>` (the first of comparison.json without it).
    #[arg(long, value_name = "POLICY-TECHNIQUE")]
    pub show: Option<String>,
    /// The scenario the run used (for its map and traces); the embedded
    /// default scenario when omitted.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Scenario seconds per wall second.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Where to serve the page.
    #[command(flatten)]
    pub ui: UiArgs,
}

/// Runs `mcc-emu replay`.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let Some(address) = args.ui.ui else {
        anyhow::bail!("replay needs --ui ADDR (where to serve the live view, e.g. 127.0.0.1:8080)");
    };
    let comparison =
        args.dir.join(ui::replay::COMPARISON).is_file() && !args.dir.join("requests.csv").exists();
    if !comparison && let Some(show) = &args.show {
        anyhow::bail!(
            "--show {show}: {} is one run's folder, not a comparison's (no {})",
            args.dir.display(),
            ui::replay::COMPARISON
        );
    }
    check_replay_speed(args.speed)?;
    let scenario = super::run::load_scenario(args.scenario.as_deref())?;
    let replay = if comparison {
        Replay::load_comparison(
            &args.dir,
            &scenario.world,
            "replay",
            args.speed,
            args.show.as_deref(),
        )?
    } else {
        Replay::load(&args.dir, &scenario.world, "replay", args.speed)?
    };
    serve_replay(
        &scenario,
        replay,
        address,
        args.ui.token()?.as_deref(),
        args.speed,
    )
}

/// Checks a replay speed: scenario seconds per wall second, 0.001 to 10,000.
pub fn check_replay_speed(speed: f64) -> anyhow::Result<()> {
    if !(speed.is_finite() && (0.001..=10_000.0).contains(&speed)) {
        anyhow::bail!(
            "--speed {speed}: a replay runs at 0.001 to 10000 scenario seconds per wall second"
        );
    }
    Ok(())
}

/// Serves the live view on `address` and replays `dir` (a run of
/// `scenario`) on it at `speed`; then keeps the page up until Ctrl-C.
pub fn replay_folder(
    scenario: &Scenario,
    dir: &Path,
    address: SocketAddr,
    token: Option<&str>,
    speed: f64,
    mode: &str,
) -> anyhow::Result<()> {
    check_replay_speed(speed)?;
    let replay = Replay::load(dir, &scenario.world, mode, speed)?;
    serve_replay(scenario, replay, address, token, speed)
}

/// Serves the live view on `address` and plays `replay` (of `scenario`)
/// on it at `speed`; then keeps the page up until Ctrl-C.
fn serve_replay(
    scenario: &Scenario,
    mut replay: Replay,
    address: SocketAddr,
    token: Option<&str>,
    speed: f64,
) -> anyhow::Result<()> {
    replay.info.scenario = scenario.name.clone();
    let world_json = messages::world_json(&scenario.world, &replay.info);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    let (server, feed) = runtime.block_on(ui::open(address, token, world_json))?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    runtime.spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stopping.store(true, Ordering::Relaxed);
    });
    let played = replay.play(&scenario.world, &feed, speed, &stop);
    if played.is_ok() && !stop.load(Ordering::Relaxed) {
        eprintln!("mcc-emu: replay over; the page stays up until Ctrl-C");
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    feed.close();
    runtime.block_on(async move { server.stop() });
    played
}
