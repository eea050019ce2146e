//! `mcc-emu run`: run an experiment on the virtual clock (or, with
//! `--clock real`, on the wall clock: [`crate::realclock`]) and write its
//! results.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::nodes::NodeArgs;
use crate::engine::Engine;
use crate::output::{AgainstNever, RequestRows, RunFiles, Summary};
use crate::placement;
use crate::scenario::{self, Scenario};

/// Arguments of `mcc-emu run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML); the embedded default scenario when omitted.
    pub scenario: Option<PathBuf>,
    /// Folder for the outputs (default: the scenario's `output`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's placement policy (never, nearest, threshold,
    /// least-loaded, ga, optimal).
    #[arg(long)]
    pub policy: Option<String>,
    /// Override the scenario's migration technique (stop-and-copy, pre-copy,
    /// post-copy, soft, hybrid); its other migration settings stay.
    #[arg(long)]
    pub technique: Option<String>,
    /// Which clock drives the run: `virtual` (a discrete-event loop, as
    /// fast as it goes, deterministic) or `real` (gRPC cloudlet nodes,
    /// emulated links on the wall clock, delays measured; docs/real-clock.md).
    #[arg(long, value_enum, default_value_t = Clock::Virtual)]
    pub clock: Clock,
    /// Real clock: scenario seconds per wall second (movement, request
    /// schedule and placement timer run this much faster; network delays
    /// and CPU costs are not scaled). Virtual clock with --ui: the pace of
    /// the replay. Default 1.
    #[arg(long)]
    pub speed: Option<f64>,
    /// Real clock only: where the cloudlet nodes run.
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// Virtual clock: do not run the `never` baseline beside the policy
    /// (the summary's `against_never`, what the policy saved against
    /// leaving every VM where it started).
    #[arg(long)]
    pub no_baseline: bool,
    /// Virtual clock: write no requests.csv (about 124 bytes a request);
    /// summary.json still covers every request, and handovers.csv and
    /// migrations.csv are written. For runs too large to keep a row per
    /// request.
    #[arg(long)]
    pub no_requests: bool,
    /// The live view (docs/live-view.md): on the real clock it watches the
    /// run; on the virtual clock the run goes as fast as ever and its
    /// output folder is then replayed at --speed.
    #[command(flatten)]
    pub ui: super::replay::UiArgs,
    /// Real clock only: serve Prometheus metrics at `/metrics` on this
    /// address (docs/serve.md, "Metrics"); port 0 picks a free one
    /// (printed on stderr). An address other than loopback needs --token
    /// (or --token-file), which every scrape must then carry.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// With --metrics-listen: keep serving /metrics this many seconds
    /// after the run's outputs are written (at most 3,600), so that a last
    /// scrape reads the final figures; Ctrl-C ends the wait. Default 0.
    #[arg(long, value_name = "SECONDS", requires = "metrics_listen")]
    pub metrics_linger_s: Option<f64>,
}

/// Longest `--metrics-linger-s`: an hour.
const MAX_METRICS_LINGER_S: f64 = 3_600.0;

/// `run --clock real --metrics-listen`: where the endpoint listens, the
/// token it wants, and how long it stays after the run.
#[derive(Debug, Clone)]
pub struct MetricsEndpoint {
    /// The address to listen on.
    pub address: std::net::SocketAddr,
    /// The bearer token every scrape must carry, if any.
    pub token: Option<String>,
    /// How long the endpoint serves after the outputs are written.
    pub linger: std::time::Duration,
}

/// The clock of `mcc-emu run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Clock {
    /// The discrete-event engine.
    Virtual,
    /// The wall clock with real cloudlet nodes.
    Real,
}

/// Loads the scenario `path`, or the embedded default.
pub fn load_scenario(path: Option<&std::path::Path>) -> anyhow::Result<Scenario> {
    Ok(match path {
        Some(path) => scenario::load_file(path)?,
        None => scenario::default_scenario()?,
    })
}

/// Runs `mcc-emu run`.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    args.ui.refuse_unused_token(args.metrics_listen.is_some())?;
    let mut scenario = load_scenario(args.scenario.as_deref())?;
    if let Some(seed) = args.seed {
        scenario.settings.seed = seed;
    }
    if let Some(policy) = args.policy {
        scenario.policy = policy;
    }
    if let Some(technique) = args.technique {
        scenario.settings.migration.config.technique =
            mcc_cloudlet::migration::Technique::from_name(&technique)
                .map_err(|e| anyhow::anyhow!("--technique: {e}"))?;
    }
    for warning in &scenario.warnings {
        eprintln!("mcc-emu: warning: {warning}");
    }
    let out = args.out.unwrap_or_else(|| scenario.output.clone());
    let progress = !args.json && std::io::stderr().is_terminal();
    let summary = match args.clock {
        Clock::Virtual => {
            if args.speed.is_some() && args.ui.ui.is_none() {
                anyhow::bail!("--speed applies to --clock real only, or to the replay of --ui");
            }
            if let Some(speed) = args.speed {
                super::replay::check_replay_speed(speed)?;
            }
            args.nodes.refuse_without_real_clock()?;
            if args.metrics_listen.is_some() {
                anyhow::bail!(
                    "--metrics-listen applies to --clock real only (the virtual clock runs \
                     faster than anyone could scrape it)"
                );
            }
            if args.no_requests && args.ui.ui.is_some() {
                anyhow::bail!(
                    "--no-requests and --ui do not go together on the virtual clock: the \
                     replay --ui shows reads requests.csv"
                );
            }
            let rows = if args.no_requests {
                RequestRows::Skip
            } else {
                RequestRows::Write
            };
            if args.no_baseline || scenario.policy == "never" {
                run_scenario(&scenario, &out, progress, rows)?
            } else {
                run_against_never(&scenario, &out, progress, rows)?
            }
        }
        Clock::Real => {
            if args.no_baseline {
                anyhow::bail!("--no-baseline applies to the virtual clock only");
            }
            if args.no_requests {
                anyhow::bail!(
                    "--no-requests applies to the virtual clock only (the real clock keeps a \
                     row for every request it sent)"
                );
            }
            let speed = args.speed.unwrap_or(1.0);
            crate::realclock::clock::check_speed(
                "--speed",
                speed,
                scenario.settings.mobility_step_ns,
            )
            .map_err(anyhow::Error::msg)?;
            args.nodes.apply_node_list(&mut scenario)?;
            let nodes = args.nodes.launch()?;
            let token = args.ui.token()?;
            let ui = args.ui.ui.map(|address| (address, token.clone()));
            let linger = args.metrics_linger_s.unwrap_or(0.0);
            if !(0.0..=MAX_METRICS_LINGER_S).contains(&linger) {
                anyhow::bail!(
                    "--metrics-linger-s {linger} is out of range; it must be from 0 to \
                     {MAX_METRICS_LINGER_S}"
                );
            }
            let metrics = args.metrics_listen.map(|address| MetricsEndpoint {
                address,
                token,
                linger: std::time::Duration::from_secs_f64(linger),
            });
            run_real(scenario.clone(), &out, speed, nodes, progress, ui, metrics)?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&scenario, &summary, &out);
    }
    if let (Clock::Virtual, Some(address)) = (args.clock, args.ui.ui) {
        super::replay::replay_folder(
            &scenario,
            &out,
            address,
            args.ui.token()?.as_deref(),
            args.speed.unwrap_or(1.0),
            "run",
        )?;
    }
    Ok(())
}

/// Runs `scenario` and writes its outputs into `out` (all or nothing),
/// with or without `requests.csv` as `rows` says.
pub fn run_scenario(
    scenario: &Scenario,
    out: &std::path::Path,
    progress: bool,
    rows: RequestRows,
) -> anyhow::Result<Summary> {
    run_scenario_then(scenario, out, progress, rows, |_| Ok(()))
}

/// Runs `scenario` and, beside it on another thread, the same scenario and
/// seed with the `never` policy (records discarded); the summary written
/// to `out` carries what the policy saved against it (`against_never`).
pub fn run_against_never(
    scenario: &Scenario,
    out: &std::path::Path,
    progress: bool,
    rows: RequestRows,
) -> anyhow::Result<Summary> {
    std::thread::scope(|scope| {
        let never = scope.spawn(|| never_summary(scenario));
        run_scenario_then(scenario, out, progress, rows, |summary| {
            let never = never
                .join()
                .map_err(|_| anyhow::anyhow!("the `never` baseline run panicked"))??;
            summary.against_never = Some(AgainstNever::new(summary, &never));
            Ok(())
        })
    })
}

/// The summary of `scenario` under `never`, its records discarded.
fn never_summary(scenario: &Scenario) -> anyhow::Result<Summary> {
    let policy = placement::build("never", &scenario.policy_configs).map_err(anyhow::Error::msg)?;
    // Its records are discarded once the energy meter has read them.
    let engine = Engine::new(
        &scenario.world,
        scenario.settings.clone(),
        policy,
        scenario.energy_meter(),
    )
    .with_context(|| format!("scenario {} under `never`", scenario.name))?
    .with_cloudlet_sleep(scenario.energy.sleep);
    let (mut summary, meter) = engine.run(|_| {});
    summary.energy_j = Some(meter.summary(scenario.settings.duration_ns));
    summary.cloudlet_sleep = meter.sleep_summary(scenario.settings.duration_ns);
    Ok(summary)
}

/// Runs `scenario`, lets `complete` add to the summary, then writes the
/// outputs into `out` (all or nothing).
fn run_scenario_then(
    scenario: &Scenario,
    out: &std::path::Path,
    progress: bool,
    rows: RequestRows,
    complete: impl FnOnce(&mut Summary) -> anyhow::Result<()>,
) -> anyhow::Result<Summary> {
    let policy =
        placement::build(&scenario.policy, &scenario.policy_configs).map_err(anyhow::Error::msg)?;
    let world = &scenario.world;
    let (writer, files) = RunFiles::open(
        out,
        world.output_names(true),
        rows,
        Some(scenario.energy_meter()),
    )?;
    let engine = Engine::new(world, scenario.settings.clone(), policy, writer)
        .with_context(|| format!("scenario {}", scenario.name))?
        .with_cloudlet_sleep(scenario.energy.sleep);
    let bar = progress.then(|| progress_bar(scenario.settings.duration_ns));
    let started = Instant::now();
    let (mut summary, writer) = engine.run(|now_ns| {
        if let Some(bar) = &bar {
            bar.set_position(now_ns / 1_000_000_000);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    summary.set_wall_time(started.elapsed().as_secs_f64());
    // The energy before `complete`, which compares it with `never`'s.
    summary.energy_j = writer.energy_summary(scenario.settings.duration_ns);
    complete(&mut summary)?;
    files.finish(writer, &mut summary)?;
    Ok(summary)
}

/// Runs `scenario` on the real clock and writes its outputs into `out`
/// (all or nothing; Ctrl-C stops the run early and the outputs cover what
/// ran until then).
pub fn run_real(
    scenario: Scenario,
    out: &std::path::Path,
    speed: f64,
    nodes: crate::realclock::NodeLaunch,
    progress: bool,
    ui: Option<(std::net::SocketAddr, Option<String>)>,
    metrics: Option<MetricsEndpoint>,
) -> anyhow::Result<Summary> {
    if let Some(MetricsEndpoint { address, token, .. }) = &metrics {
        crate::serve::auth::check_listen_address(*address, token.as_deref())
            .map_err(|e| anyhow::anyhow!("--metrics-listen {address}: {e}"))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    let bar = progress.then(|| progress_bar(scenario.settings.duration_ns));
    let options = crate::realclock::RealOptions {
        speed,
        nodes,
        scenario_devices: true,
        out: Some(out.to_path_buf()),
    };
    let name = scenario.name.clone();
    let view = match &ui {
        Some((address, token)) => {
            let info = crate::ui::messages::RunInfo::live(&scenario, "run --clock real", speed);
            let world = crate::ui::messages::world_json(&scenario.world, &info);
            Some(runtime.block_on(crate::ui::open(*address, token.as_deref(), world))?)
        }
        None => None,
    };
    // The recorder before the edge (its handles are taken when it starts);
    // the edge is handed to the endpoint once it runs.
    let running: std::sync::Arc<std::sync::Mutex<Option<crate::realclock::RealEdge>>> =
        Default::default();
    let metrics_server = match &metrics {
        Some(MetricsEndpoint { address, token, .. }) => {
            let recorder = crate::metrics_http::install("--metrics-listen")?;
            let running = running.clone();
            let refresh: crate::metrics_http::Refresh = std::sync::Arc::new(move || {
                let edge = running
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                Box::pin(async move {
                    if let Some(edge) = edge {
                        edge.publish_metrics();
                    }
                })
            });
            let server = runtime.block_on(crate::metrics_http::MetricsServer::start(
                *address,
                token.as_deref(),
                recorder,
                refresh,
            ))?;
            eprintln!("mcc-emu: metrics on http://{}/metrics", server.address);
            Some(server)
        }
        None => None,
    };
    let mut watcher = None;
    let summary = runtime.block_on(crate::realclock::run::run_scenario_watched(
        scenario,
        options,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
        |now_s| {
            if let Some(bar) = &bar {
                bar.set_position(now_s);
            }
        },
        |edge| {
            *running
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(edge.clone());
            if let Some((_, feed)) = &view {
                watcher = Some(tokio::spawn(crate::ui::live::watch_edge(
                    edge.clone(),
                    feed.clone(),
                )));
            }
        },
    ));
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    if let Some(server) = metrics_server {
        let linger = metrics.as_ref().map_or(Duration::ZERO, |m| m.linger);
        if summary.is_ok() && !linger.is_zero() {
            runtime.block_on(async {
                let interrupted = tokio::signal::ctrl_c();
                tokio::pin!(interrupted);
                // Listening before the line is printed, so that a Ctrl-C
                // sent once it is read ends the wait.
                tokio::select! {
                    biased;
                    _ = &mut interrupted => return,
                    () = std::future::ready(()) => {}
                }
                eprintln!(
                    "mcc-emu: outputs written; metrics stay on http://{}/metrics for {:.0} s \
                     (Ctrl-C ends the wait)",
                    server.address,
                    linger.as_secs_f64()
                );
                tokio::select! {
                    () = tokio::time::sleep(linger) => {}
                    _ = interrupted => {}
                }
            });
        }
        runtime.block_on(async move { server.stop() });
    }
    if let Some((server, feed)) = view {
        feed.close();
        runtime.block_on(async move { server.stop() });
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = summary.with_context(|| format!("scenario {name} on the real clock"))?;
    if summary
        .real_clock
        .as_ref()
        .is_some_and(|real| real.interrupted)
    {
        eprintln!(
            "mcc-emu: stopped early: the outputs cover the first {:.0} s of the scenario",
            summary.sim_duration_s
        );
    }
    Ok(summary)
}

fn progress_bar(duration_ns: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(duration_ns / 1_000_000_000);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} s emulated ({eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

fn print_summary(scenario: &Scenario, s: &Summary, out: &std::path::Path) {
    let technique = scenario.settings.migration.config.technique.name();
    println!(
        "{}: {} devices, {} cloudlets, {:.0} s emulated, policy {}, technique {}",
        scenario.name, s.devices, s.cloudlets, s.sim_duration_s, scenario.policy, technique
    );
    println!(
        "requests  {:>10}   failed {:>8}   SLA violations {:>8}",
        s.requests, s.failed, s.sla_violations
    );
    println!(
        "delay ms  mean {:.3}   p50 {:.3}   p95 {:.3}   p99 {:.3}   max {:.3}",
        s.delay_ms.mean, s.delay_ms.p50, s.delay_ms.p95, s.delay_ms.p99, s.delay_ms.max
    );
    if let Some(real) = &s.real_clock {
        let added = &real.added_delay_ms;
        println!(
            "added ms  p50 {:.3}   p99 {:.3}   max {:.3}   (measured minus the model's delay, answered requests)",
            added.p50, added.p99, added.max
        );
    }
    println!(
        "migrations {:>9}   downtime {:.3} ms in all   {} bytes moved",
        s.migrations, s.downtime_ms_total, s.bytes_migrated
    );
    if let Some(e) = &s.energy_j {
        println!(
            "energy kJ cloudlets {:.1}   network {:.1}   devices {:.1}   migrations {:.1}",
            e.cloudlets / 1e3,
            e.network / 1e3,
            e.devices / 1e3,
            e.migrations / 1e3
        );
    }
    if let Some(never) = &s.against_never {
        let saved = &never.delay_saved_ms;
        // Failures first: the delays are over answered requests, and a
        // policy whose slowest requests time out drops them from its own.
        println!(
            "against never (same seed, every VM left on its first host: {} failed, {} SLA violations)",
            never.never_failed, never.never_sla_violations
        );
        println!(
            "  failures avoided {}   SLA violations avoided {}",
            never.failures_avoided, never.sla_violations_avoided
        );
        println!(
            "  delay saved ms over answered requests  mean {:.3}   p50 {:.3}   p95 {:.3}   p99 {:.3}   (never's: mean {:.3}   p50 {:.3}   p95 {:.3}   p99 {:.3})",
            saved.mean,
            saved.p50,
            saved.p95,
            saved.p99,
            never.never_delay_ms.mean,
            never.never_delay_ms.p50,
            never.never_delay_ms.p95,
            never.never_delay_ms.p99
        );
        println!(
            "  at the cost of {} migrations: {:.1} GiB moved, {:.3} s of downtime in all",
            s.migrations,
            s.bytes_migrated as f64 / f64::from(1u32 << 30),
            s.downtime_ms_total / 1e3
        );
        if let Some(e) = &never.energy_added_j {
            println!(
                "  energy added kJ  cloudlets {:+.1}   network {:+.1}   devices {:+.1}   migrations {:+.1}   in all {:+.1}",
                e.cloudlets / 1e3,
                e.network / 1e3,
                e.devices / 1e3,
                e.migrations / 1e3,
                e.total() / 1e3
            );
        }
    }
    println!(
        "wall {:.3} s   {:.0} requests emulated per second",
        s.wall_s, s.sim_requests_per_s
    );
    println!("outputs in {}", out.display());
}
