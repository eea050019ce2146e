//! Cloudlet nodes served in-process on 127.0.0.1:0, shared by the tests.

#![allow(dead_code)] // Each test file uses its own part.

use std::time::Duration;

use mcc_cloudlet::node::{self, CloudletNode, NodeConfig};
use mcc_proto::v1::ExecuteRequest;
use mcc_proto::v1::cloudlet_client::CloudletClient;
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint};

pub struct Running {
    pub node: CloudletNode,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    pub client: CloudletClient<Channel>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the node as a crash would: its server task is aborted, so its
    /// listener closes and open connections (streams in flight) drop.
    pub fn kill(self) {
        // Aborted first: dropping `stop` afterwards starts no graceful
        // shutdown.
        self.server.abort();
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), self.server)
            .await
            .expect("the node stops within 5 s")
            .expect("server task");
    }
}

/// A new node `id` with `cores` and `memory_bytes`, served.
pub async fn start(id: &str, cores: u32, memory_bytes: u64) -> Running {
    let node = CloudletNode::new(NodeConfig {
        host_id: id.to_owned(),
        cores,
        memory_bytes,
    })
    .expect("node");
    serve(node).await
}

/// `node` served on a free loopback port, with a client of it.
pub async fn serve(node: CloudletNode) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let served = node.clone();
    let server = tokio::spawn(async move {
        node::serve(served, listener, async move {
            let _ = stopped.await;
        })
        .await
        .expect("serve");
    });
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect");
    Running {
        node,
        address: format!("http://{addr}"),
        client: CloudletClient::new(channel),
        stop: Some(stop),
        server,
    }
}

pub fn request(vm_id: &str, cpu_cost_us: u64) -> ExecuteRequest {
    ExecuteRequest {
        vm_id: vm_id.to_owned(),
        device_id: "dev-1".to_owned(),
        request_id: 7,
        payload: vec![1; 100],
        cpu_cost_us,
        response_bytes: 300,
        sent_unix_time_ns: 0,
    }
}
