//! The cloudlet nodes of a real-clock run, one per cloudlet of the world,
//! and a gRPC client for each: `CloudletNode`s served by tonic on loopback
//! listeners in this process (the default), one `cloudlet` OS process per
//! cloudlet (started with `--listen 127.0.0.1:0`; the parent reads the
//! address it prints and kills it at the end, on error and on drop), or
//! nodes already running at the scenario's `[cloudlets.addresses]`.
//!
//! Every message between two nodes crosses the emulated backbone path
//! between their cloudlets, in the same link queues as requests. In
//! process, the source node drives the migration over the edge's links and
//! each node is told the paths to the others (`shape_route_to`). Outside
//! the process, the nodes call each other through the edge's
//! relay ([`super::relay`]), which makes every message (the
//! migration stream, forwarded requests, fault pulls, the hand-over calls)
//! cross those links on its way.
//!
//! Remote nodes are probed at the start ([`Nodes::probe_remote`]): each must
//! answer as the cloudlet it is listed for, and the real round trip to it is
//! measured, so that the network can subtract the real part from the
//! emulated delays ([`Network::subtract_real`]).

use mcc_cloudlet::node::{self, CloudletNode, NodeConfig};
use mcc_cloudlet::realtime::Timer;
use mcc_proto::v1::StatusRequest;
use mcc_proto::v1::cloudlet_client::CloudletClient;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

use super::error::RealClockError;
use super::locks::{lock, take_all};
use super::network::Network;
use super::relay::Relay;
use crate::engine::World;

/// How the cloudlet nodes run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NodeLaunch {
    /// One node per cloudlet as tasks of this process, each on its own
    /// loopback listener (all nodes share one precise timer).
    #[default]
    InProcess,
    /// One `cloudlet` OS process per cloudlet, started from this binary.
    Processes {
        /// The `cloudlet` executable.
        cloudlet_binary: PathBuf,
    },
    /// Nodes already running at the addresses the scenario gives
    /// (`[cloudlets.addresses]`, every cloudlet).
    Remote,
}

impl NodeLaunch {
    /// The word the summary and the CLI use.
    pub fn name(&self) -> &'static str {
        match self {
            NodeLaunch::InProcess => "in-process",
            NodeLaunch::Processes { .. } => "processes",
            NodeLaunch::Remote => "remote",
        }
    }
}

/// Round trips timed to each remote node at the start; the least is taken
/// as the real network's delay (the floor under queueing noise, as TCP BBR's
/// `min_rtt` estimates a path's propagation delay: Cardwell et al., "BBR:
/// Congestion-Based Congestion Control", ACM Queue 14(5), 2016).
pub const RTT_PROBES: usize = 10;

/// Longest a remote node may take to answer one probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest a `cloudlet` process may take to print its address.
pub const SPAWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

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
    /// driven from the source node directly, over the shared links).
    pub local: Option<CloudletNode>,
    /// When the node was killed ([`Nodes::kill`]), once it was: requests
    /// run on a node in this process without gRPC
    /// ([`CloudletNode::execute_at`]) whose answer had not left it by then
    /// fail, as calls on its dropped connections do.
    pub killed: watch::Receiver<Option<Instant>>,
}

/// A node's gRPC server task.
type ServerTask = JoinHandle<Result<(), tonic::transport::Error>>;

/// Every node of the run.
#[derive(Debug)]
pub(super) struct Nodes {
    pub nodes: Vec<Node>,
    stop: watch::Sender<bool>,
    /// Each node's kill signal (see [`Node::killed`]), by cloudlet.
    killed: Vec<watch::Sender<Option<Instant>>>,
    /// Each node's server task; `None` once killed.
    servers: std::sync::Mutex<Vec<Option<ServerTask>>>,
    /// Each node's process (`--spawn processes`); `None` once killed.
    children: std::sync::Mutex<Vec<Option<Child>>>,
    /// What node-to-node calls cross when the nodes run outside this
    /// process; `None` in process.
    pub relay: Option<Relay>,
    /// The least round trip measured to each node, by cloudlet
    /// (`--spawn remote` only; empty otherwise).
    pub round_trips: Vec<Duration>,
}

/// The socket address of the node at `http://HOST:PORT`.
async fn socket_of(address: &str) -> Result<std::net::SocketAddr, String> {
    let uri: tonic::codegen::http::Uri = address.parse().map_err(|e| format!("not a URI: {e}"))?;
    let host = uri.host().ok_or("no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().ok_or("no port")?;
    tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))
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
        addresses: &[Option<String>],
        timer: &Timer,
        network: &Network,
    ) -> Result<Self, RealClockError> {
        let (stop, _) = watch::channel(false);
        let mut nodes = Self {
            nodes: Vec::with_capacity(world.cloudlets.len()),
            stop,
            killed: Vec::new(),
            servers: std::sync::Mutex::new(Vec::new()),
            children: std::sync::Mutex::new(Vec::new()),
            relay: match launch {
                NodeLaunch::InProcess => None,
                NodeLaunch::Processes { .. } | NodeLaunch::Remote => Some(Relay::new()),
            },
            round_trips: Vec::new(),
        };
        match launch {
            NodeLaunch::InProcess => nodes.start_in_process(world, timer, network).await?,
            NodeLaunch::Processes { cloudlet_binary } => {
                // On an error, dropping `nodes` kills the processes started.
                nodes.spawn_processes(world, cloudlet_binary).await?;
            }
            NodeLaunch::Remote => {
                for (i, cloudlet) in world.cloudlets.iter().enumerate() {
                    let address = addresses.get(i).cloned().flatten().ok_or_else(|| {
                        RealClockError::invalid(format!(
                            "--spawn remote: the scenario gives no address for cloudlet {} \
                             (key `cloudlets.addresses.{}`)",
                            cloudlet.name, cloudlet.name
                        ))
                    })?;
                    let killed = nodes.kill_signal();
                    nodes.nodes.push(Node {
                        name: cloudlet.name.clone(),
                        client: client(&address)?,
                        address,
                        local: None,
                        killed,
                    });
                }
            }
        }
        Ok(nodes)
    }

    async fn start_in_process(
        &mut self,
        world: &World,
        timer: &Timer,
        network: &Network,
    ) -> Result<(), RealClockError> {
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
            let mut stopped = self.stop.subscribe();
            servers.push(Some(tokio::spawn(node::serve(
                local.clone(),
                listener,
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            ))));
            let killed = self.kill_signal();
            self.nodes.push(Node {
                name: cloudlet.name.clone(),
                client: client(&address)?,
                address,
                local: Some(local),
                killed,
            });
        }
        *lock(&self.servers) = servers;
        for (from, source) in self.nodes.iter().enumerate() {
            for (to, target) in self.nodes.iter().enumerate() {
                if let (true, Some(local)) = (from != to, &source.local) {
                    let path = network.between(world, from as u32, to as u32);
                    local.shape_route_to(&target.address, path);
                }
            }
        }
        Ok(())
    }

    async fn spawn_processes(
        &mut self,
        world: &World,
        binary: &std::path::Path,
    ) -> Result<(), RealClockError> {
        for cloudlet in &world.cloudlets {
            let failed = |what: String| {
                RealClockError::unavailable(format!(
                    "cloudlet {}: {} {what}",
                    cloudlet.name,
                    binary.display()
                ))
            };
            let mut child = Command::new(binary)
                .args(["--listen", "127.0.0.1:0", "--id", &cloudlet.name])
                .args(["--cores", &cloudlet.cpu_cores.to_string()])
                .args(["--memory-mib", &(cloudlet.memory_bytes >> 20).to_string()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| failed(format!("cannot be started: {e}")))?;
            let stdout = child.stdout.take();
            lock(&self.children).push(Some(child));
            let stdout = stdout.ok_or_else(|| failed("gave no stdout".to_owned()))?;
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            let line = tokio::time::timeout(SPAWN_TIMEOUT, lines.next_line())
                .await
                .map_err(|_| failed(format!("printed no address within {SPAWN_TIMEOUT:?}")))?
                .map_err(|e| failed(format!("cannot be read: {e}")))?
                .ok_or_else(|| failed("exited before it printed its address".to_owned()))?;
            let address = line.trim().to_owned();
            if !address.starts_with("http://") {
                return Err(failed(format!("printed {address:?}, not an address")));
            }
            let killed = self.kill_signal();
            self.nodes.push(Node {
                name: cloudlet.name.clone(),
                client: client(&address)?,
                address,
                local: None,
                killed,
            });
        }
        Ok(())
    }

    /// Checks that each remote node answers `Status` as the cloudlet it is
    /// listed for, and measures the real network's round trip to it into
    /// `round_trips`: the least of [`RTT_PROBES`] TCP handshakes with its
    /// address (the kernels answer them, so this is the network's round trip
    /// and not the gRPC stack's: that one stays, as on loopback, a cost the
    /// model does not have; docs/real-clock.md).
    pub async fn probe_remote(&mut self) -> Result<(), RealClockError> {
        let mut round_trips = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let unreachable = |what: String| {
                RealClockError::unavailable(format!(
                    "--spawn remote: the node of cloudlet {} at {}: {what}",
                    node.name, node.address
                ))
            };
            let status =
                tokio::time::timeout(PROBE_TIMEOUT, node.client.clone().status(StatusRequest {}))
                    .await
                    .map_err(|_| unreachable(format!("no answer within {PROBE_TIMEOUT:?}")))?
                    .map_err(|e| unreachable(e.message().to_owned()))?
                    .into_inner();
            if status.host_id != node.name {
                return Err(RealClockError::invalid(format!(
                    "--spawn remote: the node at {} is cloudlet {:?}, but it is listed for \
                     cloudlet {} (start it with --id {})",
                    node.address, status.host_id, node.name, node.name
                )));
            }
            let socket = socket_of(&node.address).await.map_err(unreachable)?;
            let mut least = Duration::MAX;
            for _ in 0..RTT_PROBES {
                let sent = Instant::now();
                let stream =
                    tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(socket))
                        .await
                        .map_err(|_| {
                            unreachable(format!("no TCP handshake within {PROBE_TIMEOUT:?}"))
                        })?
                        .map_err(|e| unreachable(format!("TCP connect: {e}")))?;
                least = least.min(sent.elapsed());
                drop(stream);
            }
            round_trips.push(least);
        }
        self.round_trips = round_trips;
        Ok(())
    }

    /// The node of cloudlet `index`.
    pub fn get(&self, index: u32) -> Option<&Node> {
        self.nodes.get(index as usize)
    }

    /// A kill signal for the next node pushed.
    fn kill_signal(&mut self) -> watch::Receiver<Option<Instant>> {
        let (signal, killed) = watch::channel(None);
        self.killed.push(signal);
        killed
    }

    /// The index of the cloudlet named `name`.
    pub fn index_of(&self, name: &str) -> Option<u32> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| i as u32)
    }

    /// Stops the node of cloudlet `index` as a crash would: aborts its
    /// server task (in process: its listener closes, open connections
    /// drop, calls in flight fail) or kills its process. False if there is
    /// no such node, it was stopped already, or it is remote.
    pub fn kill(&self, index: u32) -> bool {
        if let Some(killed) = self.killed.get(index as usize) {
            killed.send_if_modified(|at| at.is_none() && at.replace(Instant::now()).is_none());
        }
        if let Some(server) = lock(&self.servers)
            .get_mut(index as usize)
            .and_then(Option::take)
        {
            server.abort();
            return true;
        }
        match lock(&self.children)
            .get_mut(index as usize)
            .and_then(Option::take)
        {
            Some(mut child) => child.start_kill().is_ok(),
            None => false,
        }
    }

    /// Stops every node (calls in progress finish first), then the relay.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        for server in take_all(&self.servers).into_iter().flatten() {
            let _ = server.await;
        }
        for mut child in take_all(&self.children).into_iter().flatten() {
            let _ = child.kill().await;
        }
        if let Some(relay) = &self.relay {
            relay.stop().await;
        }
    }
}
