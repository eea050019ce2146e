//! A Prometheus text endpoint for a node, hand-written over Tokio.
//!
//! `metrics-exporter-prometheus` would bring an HTTP server stack (and, with
//! its default features, a push-gateway client with TLS) for a handful of
//! counters; a node's figures already live in its state, so this module
//! renders them in the Prometheus text format (version 0.0.4) and answers
//! every HTTP request on the metrics port with them.

use std::fmt::Write as _;
use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::CloudletNode;

/// Longest a metrics client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// The node's figures in the Prometheus text format.
pub fn render(node: &CloudletNode) -> String {
    let status = node.status();
    let busy = node.busy_cores();
    let host = escape(&status.host_id);
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        let _ = writeln!(out, "{name}{{host_id=\"{host}\"}} {value}");
    };
    metric(
        "mcc_cloudlet_requests_served_total",
        "counter",
        "Requests executed.",
        status.requests_served,
    );
    metric(
        "mcc_cloudlet_migrations_in_total",
        "counter",
        "VMs received and committed.",
        status.migrations_in,
    );
    metric(
        "mcc_cloudlet_migrations_out_total",
        "counter",
        "VMs handed over to another node.",
        status.migrations_out,
    );
    metric(
        "mcc_cloudlet_vms",
        "gauge",
        "VMs on the node.",
        status.vms.len() as u64,
    );
    metric(
        "mcc_cloudlet_cpu_cores",
        "gauge",
        "Core slots.",
        u64::from(status.cpu_cores),
    );
    metric(
        "mcc_cloudlet_cpu_cores_busy",
        "gauge",
        "Core slots executing a request now.",
        u64::from(busy),
    );
    metric(
        "mcc_cloudlet_memory_bytes",
        "gauge",
        "Memory for VMs.",
        status.memory_bytes,
    );
    let used: u64 = status.vms.iter().map(|vm| vm.memory_bytes).sum();
    metric(
        "mcc_cloudlet_vm_memory_bytes",
        "gauge",
        "Memory of the VMs on the node.",
        used,
    );
    out
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Answers every HTTP request on `listener` with [`render`] until `shutdown`.
pub async fn serve_metrics(
    node: CloudletNode,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut socket, _)) = accepted else {
            continue;
        };
        let node = node.clone();
        tokio::spawn(async move {
            // Read the request head (its content does not matter), bounded in size and time.
            let mut head = [0u8; 4096];
            let _ = tokio::time::timeout(READ_TIMEOUT, socket.read(&mut head)).await;
            let body = render(&node);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}
