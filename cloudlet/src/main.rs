//! The `cloudlet` binary: one cloudlet node serving the `Cloudlet` gRPC
//! service; see [`mcc_cloudlet::node`].

use std::net::SocketAddr;

use anyhow::{Context, bail};
use clap::Parser;
use mcc_cloudlet::node::{self, CloudletNode, NodeConfig};

/// A cloudlet node of mcc-emu: hosts VMs, serves device requests, migrates VMs.
#[derive(Debug, Parser)]
#[command(name = "cloudlet", version, about, long_about = None)]
struct Args {
    /// Address to serve gRPC on (loopback by default; port 0: any free
    /// port). The address served is printed on stdout as `http://IP:PORT`.
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// The node's host id.
    #[arg(long)]
    id: String,
    /// Core slots (requests executing at once).
    #[arg(long, default_value_t = 4)]
    cores: u32,
    /// Memory for VMs, in MiB.
    #[arg(long, default_value_t = 16384)]
    memory_mib: u64,
    /// A VM to host from the start, as ID=MEMORY_MIB (repeatable).
    #[arg(long = "vm", value_name = "ID=MEMORY_MIB")]
    vms: Vec<String>,
    /// Address to serve Prometheus metrics on (`/metrics`), if any.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cloudlet: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let memory_bytes = args
        .memory_mib
        .checked_mul(1 << 20)
        .with_context(|| format!("--memory-mib {} is too large", args.memory_mib))?;
    let node = CloudletNode::new(NodeConfig {
        host_id: args.id.clone(),
        cores: args.cores,
        memory_bytes,
    })?;
    for vm in &args.vms {
        let Some((id, mib)) = vm.split_once('=') else {
            bail!("--vm {vm:?}: expected ID=MEMORY_MIB, e.g. vm-1=512");
        };
        let mib: u64 = mib
            .parse()
            .with_context(|| format!("--vm {vm:?}: {mib:?} is not a whole number of MiB"))?;
        let bytes = mib
            .checked_mul(1 << 20)
            .with_context(|| format!("--vm {vm:?}: too large"))?;
        node.host_vm(id, bytes, 0.0)
            .with_context(|| format!("--vm {vm:?}"))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        if let Some(addr) = args.metrics_listen {
            let metrics = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for metrics on {addr}"))?;
            let addr = metrics
                .local_addr()
                .context("reading the metrics address")?;
            let mut stop = stop_rx.clone();
            tokio::spawn(node::metrics::serve_metrics(
                node.clone(),
                metrics,
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            ));
            eprintln!("cloudlet {}: metrics on http://{addr}/metrics", args.id);
        }
        let bound = listener.local_addr().context("reading the bound address")?;
        eprintln!("cloudlet {}: serving on {bound}", args.id);
        // A parent that started us with `--listen 127.0.0.1:0` reads the
        // port from this line.
        {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "http://{bound}").context("writing the bound address")?;
            stdout.flush().context("writing the bound address")?;
        }
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop_tx.send(true);
        });
        let mut stop = stop_rx;
        node::serve(node, listener, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
        .context("serving gRPC")?;
        eprintln!("cloudlet {}: stopped", args.id);
        Ok(())
    })
}
