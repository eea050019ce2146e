//! The cloudlet nodes of a real-clock run: one `CloudletNode` per cloudlet
//! of the world, served by tonic on a loopback listener in this process,
//! and a gRPC client for each.

use mcc_cloudlet::node::{self, CloudletNode, NodeConfig};
use mcc_cloudlet::realtime::Timer;
use mcc_proto::v1::cloudlet_client::CloudletClient;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

use super::error::RealClockError;
use super::network::Network;
use crate::engine::World;

/// How the cloudlet nodes run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NodeLaunch {
    /// One node per cloudlet as tasks of this process, each on its own
    /// loopback listener (all nodes share one precise timer).
    #[default]
    InProcess,
}

impl NodeLaunch {
    /// The word the summary and the CLI use.
    pub fn name(&self) -> &'static str {
        match self {
            NodeLaunch::InProcess => "in-process",
        }
    }
}

/// One running node.
#[derive(Debug, Clone)]
pub(super) struct Node {
    /// The cloudlet's name (the node's host id).
    pub name: String,
    /// Its gRPC address, `http://127.0.0.1:PORT`.
    pub address: String,
    /// A client of it (one HTTP/2 connection, cloned per call).
    pub client: CloudletClient<Channel>,
    /// The node itself, when it runs in this process (migrations are
    /// driven from the source node).
    pub local: CloudletNode,
}

/// A node's gRPC server task.
type ServerTask = JoinHandle<Result<(), tonic::transport::Error>>;

/// Every node of the run.
#[derive(Debug)]
pub(super) struct Nodes {
    pub nodes: Vec<Node>,
    stop: watch::Sender<bool>,
    /// Each node's server task; `None` once killed.
    servers: std::sync::Mutex<Vec<Option<ServerTask>>>,
}

/// A client of the node at `address`, connected on first use.
pub(super) fn client(address: &str) -> Result<CloudletClient<Channel>, RealClockError> {
    let endpoint = Endpoint::from_shared(address.to_owned())
        .map_err(|e| RealClockError::invalid(format!("node address {address:?}: {e}")))?;
    Ok(
        CloudletClient::new(endpoint.tcp_nodelay(true).connect_lazy())
            .max_decoding_message_size(node::MAX_MESSAGE_BYTES),
    )
}

impl Nodes {
    /// Starts one node per cloudlet of `world` as `launch` says; forwarded
    /// requests and fault pulls between two nodes cross the backbone path
    /// between their cloudlets in `network`.
    pub async fn start(
        world: &World,
        launch: &NodeLaunch,
        timer: &Timer,
        network: &Network,
    ) -> Result<Self, RealClockError> {
        let NodeLaunch::InProcess = launch;
        let (stop, stopped) = watch::channel(false);
        let mut nodes = Vec::with_capacity(world.cloudlets.len());
        let mut servers = Vec::with_capacity(world.cloudlets.len());
        for cloudlet in &world.cloudlets {
            let local = CloudletNode::with_timer(
                NodeConfig {
                    host_id: cloudlet.name.clone(),
                    cores: cloudlet.cpu_cores,
                    memory_bytes: cloudlet.memory_bytes,
                },
                timer.clone(),
            )
            .map_err(|e| RealClockError::invalid(format!("cloudlet {}: {e}", cloudlet.name)))?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| {
                    RealClockError::unavailable(format!(
                        "cloudlet {}: cannot listen on loopback: {e}",
                        cloudlet.name
                    ))
                })?;
            let bound = listener.local_addr().map_err(|e| {
                RealClockError::unavailable(format!("cloudlet {}: {e}", cloudlet.name))
            })?;
            let address = format!("http://{bound}");
            let mut stopped = stopped.clone();
            servers.push(Some(tokio::spawn(node::serve(
                local.clone(),
                listener,
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            ))));
            nodes.push(Node {
                name: cloudlet.name.clone(),
                client: client(&address)?,
                address,
                local,
            });
        }
        for (from, source) in nodes.iter().enumerate() {
            for (to, target) in nodes.iter().enumerate() {
                if from != to {
                    let path = network.between(world, from as u32, to as u32);
                    source.local.shape_route_to(&target.address, path);
                }
            }
        }
        Ok(Self {
            nodes,
            stop,
            servers: std::sync::Mutex::new(servers),
        })
    }

    /// The node of cloudlet `index`.
    pub fn get(&self, index: u32) -> Option<&Node> {
        self.nodes.get(index as usize)
    }

    /// The index of the cloudlet named `name`.
    pub fn index_of(&self, name: &str) -> Option<u32> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| i as u32)
    }

    /// Aborts the server task of cloudlet `index`, as a crash would: its
    /// listener closes, open connections drop, calls in flight fail. False
    /// if there is no such node or it was stopped already.
    pub fn kill(&self, index: u32) -> bool {
        let mut servers = self
            .servers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match servers.get_mut(index as usize).and_then(Option::take) {
            Some(server) => {
                server.abort();
                true
            }
            None => false,
        }
    }

    /// Stops every node (calls in progress finish first).
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let servers = std::mem::take(
            &mut *self
                .servers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for server in servers.into_iter().flatten() {
            let _ = server.await;
        }
    }
}
