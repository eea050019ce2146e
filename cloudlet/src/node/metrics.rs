//! Prometheus metrics with the `metrics` crate: the process's recorder, a
//! node's figures, and the small HTTP endpoint of the `cloudlet` binary.
//!
//! [`install`] puts `metrics-exporter-prometheus`'s recorder in place once
//! per process (its default features, an HTTP server stack and a
//! push-gateway client with TLS, are left out: a node answers scrapes
//! with the few lines of [`serve_metrics`], and `mcc-emu` with the HTTP
//! server it has already). Until a process installs it every `metrics`
//! handle is a no-op, so a node that nobody scrapes pays nothing.
//!
//! A node's figures live in its state already (requests served, VMs,
//! cores, memory, the cores' booked schedule): [`publish`] copies them into
//! the registry when a scrape comes, so serving a request records nothing.
//! docs/serve.md ("Metrics") lists every metric with its unit.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::CloudletNode;

/// Longest a metrics client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the recorder's histogram samples are folded into their
/// buckets when nobody scrapes (each scrape does it too): what they hold
/// meanwhile stays bounded.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// Bucket bounds of every `*_seconds` histogram, in seconds: 50 µs to
/// 10 s, fine below a millisecond where the emulator's own added delay
/// lies, coarse where emulated delays and timeouts lie.
pub const SECONDS_BUCKETS: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1.0, 2.0, 5.0, 10.0,
];

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the Prometheus recorder for this process (once; later calls
/// give the same handle), or says why it could not (another recorder was
/// installed first). Call it before the nodes and edges whose metrics it
/// should see are made: their handles are taken when they start.
pub fn install() -> Result<PrometheusHandle, String> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| format!("cannot install the Prometheus recorder: {e}"))
        })
        .clone()
}

/// Folds `handle`'s histogram samples into their buckets every
/// [`UPKEEP_EVERY`] until the task is dropped.
pub async fn upkeep(handle: PrometheusHandle) {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}

/// Describes the node metrics (once per process is enough; again is harmless).
fn describe() {
    metrics::describe_counter!(
        "mcc_cloudlet_requests_served_total",
        Unit::Count,
        "Requests executed."
    );
    metrics::describe_counter!(
        "mcc_cloudlet_migrations_in_total",
        Unit::Count,
        "VMs received and committed."
    );
    metrics::describe_counter!(
        "mcc_cloudlet_migrations_out_total",
        Unit::Count,
        "VMs handed over to another node."
    );
    metrics::describe_gauge!("mcc_cloudlet_vms", Unit::Count, "VMs on the node.");
    metrics::describe_gauge!("mcc_cloudlet_cpu_cores", Unit::Count, "Core slots.");
    metrics::describe_gauge!(
        "mcc_cloudlet_cpu_cores_busy",
        Unit::Count,
        "Core slots booked by a request now."
    );
    metrics::describe_gauge!(
        "mcc_cloudlet_cpu_backlog_seconds",
        Unit::Seconds,
        "CPU time booked on the cores and not run yet, summed over the cores (the queue \
         in front of them, in seconds of work)."
    );
    metrics::describe_gauge!("mcc_cloudlet_memory_bytes", Unit::Bytes, "Memory for VMs.");
    metrics::describe_gauge!(
        "mcc_cloudlet_vm_memory_bytes",
        Unit::Bytes,
        "Memory of the VMs on the node."
    );
}

/// Copies `node`'s figures into the registry (labelled by its host id).
pub fn publish(node: &CloudletNode) {
    describe();
    let status = node.status();
    let host = status.host_id.clone();
    let label = |name: &'static str| (name, "host_id", host.clone());
    let counter = |name: &'static str, value: u64| {
        let (name, key, host) = label(name);
        metrics::counter!(name, key => host).absolute(value);
    };
    counter("mcc_cloudlet_requests_served_total", status.requests_served);
    counter("mcc_cloudlet_migrations_in_total", status.migrations_in);
    counter("mcc_cloudlet_migrations_out_total", status.migrations_out);
    let used: u64 = status.vms.iter().map(|vm| vm.memory_bytes).sum();
    for (name, value) in [
        ("mcc_cloudlet_vms", status.vms.len() as f64),
        ("mcc_cloudlet_cpu_cores", f64::from(status.cpu_cores)),
        ("mcc_cloudlet_cpu_cores_busy", f64::from(node.busy_cores())),
        (
            "mcc_cloudlet_cpu_backlog_seconds",
            node.cpu_backlog().as_secs_f64(),
        ),
        ("mcc_cloudlet_memory_bytes", status.memory_bytes as f64),
        ("mcc_cloudlet_vm_memory_bytes", used as f64),
    ] {
        let (name, key, host) = label(name);
        metrics::gauge!(name, key => host).set(value);
    }
}

/// Answers every HTTP request on `listener` with the Prometheus text of
/// the process's recorder ([`install`]ed here if it was not), `node`'s
/// figures [`publish`]ed first, until `shutdown`; keeps the histograms
/// folded meanwhile ([`upkeep`]). No token: like the node's gRPC port,
/// bind it where only the operator reaches it.
pub async fn serve_metrics(
    node: CloudletNode,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) {
    let handle = match install() {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("cloudlet {}: no metrics: {e}", node.status().host_id);
            return;
        }
    };
    let upkeep = tokio::spawn(upkeep(handle.clone()));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut socket, _)) = accepted else {
            continue;
        };
        let node = node.clone();
        let handle = handle.clone();
        tokio::spawn(async move {
            // Read the request head (its content does not matter), bounded in size and time.
            let mut head = [0u8; 4096];
            let _ = tokio::time::timeout(READ_TIMEOUT, socket.read(&mut head)).await;
            publish(&node);
            let body = handle.render();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
    upkeep.abort();
}
