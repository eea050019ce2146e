//! The `cloudlet` binary: one cloudlet node serving the `Cloudlet` gRPC
//! service; see [`mcc_cloudlet::node`].

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use mcc_cloudlet::node::{self, CloudletNode, NodeConfig};
use mcc_cloudlet::node_list;

/// A cloudlet node of mcc-emu: hosts VMs, serves device requests, migrates VMs.
#[derive(Debug, Parser)]
#[command(name = "cloudlet", version, about, long_about = None)]
struct Args {
    /// Address to serve gRPC on (port 0: any free port; default
    /// 127.0.0.1:50051, or every interface at the port of this node's line
    /// with --node-list). The address served is printed on stdout as
    /// `http://IP:PORT`.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The node's host id: the cloudlet's name in the topology.
    #[arg(
        long,
        required_unless_present = "node_list",
        conflicts_with = "node_list"
    )]
    id: Option<String>,
    /// A node list file (`NAME http://HOST:PORT` a line, as `mcc-emu run
    /// --spawn remote --nodes` reads): this node is line --index of it, and
    /// takes its name as host id and serves on its port.
    #[arg(long, requires = "index", value_name = "FILE")]
    node_list: Option<PathBuf>,
    /// With --node-list: which node this is, from 0 (blank and comment
    /// lines not counted), e.g. a Slurm task's SLURM_PROCID or a
    /// StatefulSet pod's index.
    #[arg(long, requires = "node_list")]
    index: Option<usize>,
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

/// The host id and listen address: given, or this node's line of the node list.
fn identity(args: &Args) -> anyhow::Result<(String, SocketAddr)> {
    let default_listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 50051));
    let (Some(path), Some(index)) = (&args.node_list, args.index) else {
        let id = args.id.clone().context("give --id or --node-list")?;
        return Ok((id, args.listen.unwrap_or(default_listen)));
    };
    let entries = node_list::read(path)?;
    let entry = entries.get(index).with_context(|| {
        format!(
            "--index {index}: node list {} has {} node(s), numbered 0..={}",
            path.display(),
            entries.len(),
            entries.len() - 1
        )
    })?;
    let listen = args
        .listen
        .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, entry.port)));
    Ok((entry.name.clone(), listen))
}

fn run(args: Args) -> anyhow::Result<()> {
    let (id, listen) = identity(&args)?;
    let memory_bytes = args
        .memory_mib
        .checked_mul(1 << 20)
        .with_context(|| format!("--memory-mib {} is too large", args.memory_mib))?;
    let node = CloudletNode::new(NodeConfig {
        host_id: id.clone(),
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
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {}", listen))?;
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
            eprintln!("cloudlet {}: metrics on http://{addr}/metrics", id);
        }
        let bound = listener.local_addr().context("reading the bound address")?;
        eprintln!("cloudlet {}: serving on {bound}", id);
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
        eprintln!("cloudlet {}: stopped", id);
        Ok(())
    })
}
