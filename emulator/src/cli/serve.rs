//! `mcc-emu serve`: the emulated edge on the wall clock, waiting for
//! external devices over gRPC (see [`crate::serve`] and docs/serve.md).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use super::nodes::NodeArgs;
use crate::serve::{self, ControlService, ServeConfig, auth};

/// Arguments of `mcc-emu serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Scenario file (TOML); the embedded default scenario when omitted.
    /// Its topology and cloudlets run; its own devices do not (devices come
    /// over gRPC).
    pub scenario: Option<PathBuf>,
    /// Address to serve gRPC on; port 0 picks a free port. The bound address
    /// is printed on stdout (`listening on ADDR`). An address other than
    /// loopback needs --token (or --token-file).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Every call must then carry the metadata `authorization: Bearer TOKEN`.
    #[arg(long)]
    pub token: Option<String>,
    /// Like --token, with the token read from this file (its text without
    /// the last line break), so it does not show in the process list.
    #[arg(long, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// Trace seconds per wall-clock second (Start may set another).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Folder for the outputs, written when the edge stops (default: the
    /// `output` of the scenario serve starts with; a scenario loaded over
    /// gRPC never moves it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The only folder whose files callers may name (LoadScenario's
    /// topology and traces, RegisterDevice's trace_path); without it they
    /// may name none.
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// Where the cloudlet nodes run.
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// Serve the live view (a web page, docs/live-view.md) on this address
    /// too; port 0 picks a free one (printed on stderr). The token rule of
    /// --listen applies to it, with the same --token.
    #[arg(long, value_name = "ADDR")]
    pub ui: Option<SocketAddr>,
    /// Serve Prometheus metrics at `/metrics` on this address (docs/serve.md,
    /// "Metrics"); port 0 picks a free one (printed on stderr). The token
    /// rule of --listen applies to it, with the same --token.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

/// Runs `mcc-emu serve` until Ctrl-C (or SIGTERM), then stops the edge and
/// writes its outputs.
pub fn run(mut args: ServeArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.token_file {
        args.token =
            Some(mcc_mobile_client::fleet::token_from_file(path).map_err(anyhow::Error::msg)?);
    }
    auth::check_listen_address(args.listen, args.token.as_deref())?;
    if let Some(ui) = args.ui {
        auth::check_listen_address(ui, args.token.as_deref())
            .map_err(|e| anyhow::anyhow!("--ui {ui}: {e}"))?;
    }
    if let Some(address) = args.metrics_listen {
        auth::check_listen_address(address, args.token.as_deref())
            .map_err(|e| anyhow::anyhow!("--metrics-listen {address}: {e}"))?;
    }
    // Before any edge or node starts: their handles are taken then.
    let recorder = args
        .metrics_listen
        .map(|_| crate::metrics_http::install("--metrics-listen"))
        .transpose()?;
    let mut scenario = super::run::load_scenario(args.scenario.as_deref())?;
    crate::realclock::clock::check_speed("--speed", args.speed, scenario.settings.mobility_step_ns)
        .map_err(anyhow::Error::msg)?;
    args.nodes.apply_node_list(&mut scenario)?;
    let nodes = args.nodes.clone().launch()?;
    for warning in &scenario.warnings {
        eprintln!("mcc-emu: warning: {warning}");
    }
    let scenarios = args
        .scenarios
        .as_deref()
        .map(serve::sandbox::Sandbox::new)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        let name = scenario.name.clone();
        let cloudlets = scenario.world.cloudlets.len();
        let world = args.ui.map(|_| {
            let info = crate::ui::messages::RunInfo::live(&scenario, "serve", args.speed);
            crate::ui::messages::world_json(&scenario.world, &info)
        });
        let service = ControlService::start(
            scenario,
            ServeConfig {
                speed: args.speed,
                scenarios,
                out: args.out.clone(),
                nodes,
            },
        )
        .await
        .map_err(|s| anyhow::anyhow!("cannot start the edge: {}", s.message()))?;
        let view = match (args.ui, world) {
            (Some(address), Some(world)) => {
                let (server, feed) = crate::ui::open(address, args.token.as_deref(), world).await?;
                let watcher = tokio::spawn(crate::ui::live::watch_service(
                    service.clone(),
                    feed.clone(),
                ));
                Some((server, feed, watcher))
            }
            _ => None,
        };
        let metrics = match (args.metrics_listen, recorder) {
            (Some(address), Some(recorder)) => {
                let service = service.clone();
                let refresh: crate::metrics_http::Refresh = std::sync::Arc::new(move || {
                    let service = service.clone();
                    Box::pin(async move {
                        if let Some(edge) = service.running_edge().await {
                            edge.publish_metrics();
                        }
                    })
                });
                let server = crate::metrics_http::MetricsServer::start(
                    address,
                    args.token.as_deref(),
                    recorder,
                    refresh,
                )
                .await?;
                eprintln!(
                    "mcc-emu serve: metrics on http://{}/metrics",
                    server.address
                );
                Some(server)
            }
            _ => None,
        };
        // Scripts and tests read this line to find the port.
        println!("listening on {bound}");
        std::io::stdout().flush().context("writing to stdout")?;
        eprintln!(
            "mcc-emu serve: scenario {name}, {cloudlets} cloudlets, speed {}; {}",
            args.speed,
            if args.token.is_some() {
                "token required"
            } else {
                "no token (loopback only)"
            }
        );
        // On the signal the edge stops first (requests in flight finish,
        // outputs are written, event streams end), then the server lets the
        // remaining calls finish: an open event stream cannot hold it up.
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel();
        let stopping = service.clone();
        let signal = async move {
            shutdown_signal().await;
            eprintln!("mcc-emu serve: stopping");
            let _ = stopped_tx.send(stopping.shutdown().await);
        };
        serve::serve(service.clone(), listener, args.token.as_deref(), signal)
            .await
            .context("serving gRPC")?;
        let summary = match stopped_rx.await {
            Ok(result) => result,
            // The server ended without the signal: stop the edge now.
            Err(_) => service.shutdown().await,
        }
        .map_err(|s| anyhow::anyhow!("stopping the edge: {}", s.message()))?;
        if let Some((server, feed, watcher)) = view {
            watcher.abort();
            feed.close();
            server.stop();
        }
        if let Some(server) = metrics {
            server.stop();
        }
        if let Some(s) = summary {
            eprintln!(
                "mcc-emu serve: stopped; {} requests ({} failed), {} migrations",
                s.requests, s.failed, s.migrations
            );
        } else {
            eprintln!("mcc-emu serve: stopped");
        }
        Ok(())
    })
}

/// Completes on Ctrl-C or (on Unix) SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
