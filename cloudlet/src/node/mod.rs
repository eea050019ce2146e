//! A real cloudlet node: the `Cloudlet` gRPC service (package `mcc.v1`)
//! over tonic.
//!
//! [`CloudletNode`] hosts VMs ([`state`]), runs device requests on a bounded
//! pool of core slots (one per configured core; a request waits for a free
//! slot, then holds it for its `cpu_cost_us` with a precise wall-clock wait),
//! receives VMs as `ReceiveVm` streams ([`transfer`] checks them), answers
//! page faults (`FetchPage`) and takes part in two-phase hand-overs; during
//! a hand-over it suspends, forwards or dual-serves the VM's requests
//! ([`state::OutPhase`]) and, as a post-copy, hybrid or soft target, pulls
//! the pages a request touches from the source before serving it. [`migrate`] drives
//! a whole migration from the source on the wall clock. VM
//! memory is generated from a seed, never stored ([`pages`]). [`control`]
//! lets a controller host and move VMs over gRPC (`HostVm`, `MigrateVm`). [`serve`] runs
//! the service on a TCP listener with `TCP_NODELAY` on every accepted socket.

use std::future::Future;
use std::sync::{Arc, Mutex};

use mcc_proto::v1::StatusResponse;
use mcc_proto::v1::cloudlet_server::CloudletServer;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

pub mod control;
pub mod error;
pub mod metrics;
pub mod migrate;
pub mod pages;
mod service;
pub mod state;
pub mod transfer;
mod waits;

pub use error::NodeError;
pub use service::{MAX_CPU_COST_US, MAX_MIGRATION_WAIT, MAX_PAYLOAD_BYTES, MAX_RESPONSE_BYTES};

/// Largest gRPC message a node decodes: 16 MiB. A request whose payload is
/// over [`MAX_PAYLOAD_BYTES`] but under this is refused by the node with
/// `INVALID_ARGUMENT`; a message over this is refused by tonic itself with
/// `OUT_OF_RANGE` before the node sees it.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

use crate::realtime::Timer;
use pages::VmMemory;
use service::{Inner, Service};

/// How a node is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// The node's host id (answers carry it).
    pub host_id: String,
    /// Core slots: requests executing at once.
    pub cores: u32,
    /// Memory for VMs, in bytes.
    pub memory_bytes: u64,
}

/// A cloudlet node. Cheap to clone; clones share the node.
#[derive(Clone)]
pub struct CloudletNode {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CloudletNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudletNode")
            .field("host_id", &self.inner.host_id)
            .finish_non_exhaustive()
    }
}

impl CloudletNode {
    /// A node with no VM and its own precise timer thread.
    pub fn new(config: NodeConfig) -> Result<Self, NodeError> {
        let timer = Timer::precise()
            .map_err(|e| NodeError::precondition(format!("cannot start the timer thread: {e}")))?;
        Self::with_timer(config, timer)
    }

    /// A node with no VM that waits with `timer`. Nodes that run in one
    /// process should share one timer: each timer thread spins near its
    /// deadlines, and many spinning threads would crowd the cores.
    pub fn with_timer(config: NodeConfig, timer: Timer) -> Result<Self, NodeError> {
        if config.host_id.is_empty() {
            return Err(NodeError::invalid("a node's host id must not be empty"));
        }
        if config.cores == 0 {
            return Err(NodeError::invalid("a node needs at least one core"));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state::NodeState::new(
                    config.host_id.clone(),
                    config.cores,
                    config.memory_bytes,
                )),
                cores_free_at: Mutex::new(vec![std::time::Instant::now(); config.cores as usize]),
                timer,
                host_id: config.host_id,
                changed: tokio::sync::Notify::new(),
                peers: Mutex::new(std::collections::BTreeMap::new()),
                links: Mutex::new(std::collections::BTreeMap::new()),
            }),
        })
    }

    /// Shapes what this node sends to and receives from the node at
    /// `peer_address` (fault pulls, forwarded requests) with `link`, whose
    /// `outbound` direction leads from this node to the peer. A migration
    /// driver given the same link (its A→B carrying the VM from source A
    /// to target B) shares the link's queues with these messages: a page
    /// pulled on fault waits behind the push chunk in flight.
    pub fn shape_path_to(
        &self,
        peer_address: &str,
        link: Arc<crate::realtime::EmulatedLink>,
        outbound: crate::realtime::Direction,
    ) {
        self.shape_route_to(
            peer_address,
            crate::realtime::EmulatedPath::single(link, outbound),
        );
    }

    /// Shapes what this node sends to the node at `peer_address` with
    /// `path` (from this node to the peer) and what it receives from there
    /// with the reversed path, as [`shape_path_to`](Self::shape_path_to)
    /// does for one link.
    pub fn shape_route_to(&self, peer_address: &str, path: crate::realtime::EmulatedPath) {
        let back = path.reversed();
        self.inner
            .links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(peer_address.to_owned(), (path, back));
    }

    /// The node's host id.
    pub fn host_id(&self) -> &str {
        &self.inner.host_id
    }

    /// Places VM `vm_id` of `memory_bytes` (4 KiB pages, `zero_fraction`
    /// of them zero) on this node.
    pub fn host_vm(
        &self,
        vm_id: &str,
        memory_bytes: u64,
        zero_fraction: f64,
    ) -> Result<(), NodeError> {
        let profile = mcc_proto::v1::VmProfile {
            memory_bytes,
            zero_page_fraction: zero_fraction,
            page_size_bytes: pages::DEFAULT_PAGE_BYTES,
            ..Default::default()
        };
        let memory: VmMemory = transfer::memory_from_profile(vm_id, &profile, "VM")?;
        self.inner.lock().host_vm(vm_id, memory)
    }

    /// What `Status` would answer now.
    pub fn status(&self) -> StatusResponse {
        self.inner.lock().status()
    }

    /// Core slots in use now (booked past now).
    pub fn busy_cores(&self) -> u32 {
        self.inner.busy_cores(std::time::Instant::now())
    }

    /// CPU time booked on the node's cores and not run yet, summed over
    /// the cores (the queue in front of them, in work).
    pub fn cpu_backlog(&self) -> std::time::Duration {
        self.inner.cpu_backlog(std::time::Instant::now())
    }

    /// Runs `request` as the `Execute` RPC does, for a caller in this
    /// process (no gRPC hop, no encoding): the request reached the node at
    /// `arrived` in the emulated world (at most now; a caller that woke
    /// late for it passes the instant it was due, and the node books its
    /// core from there). The node books the CPU time and answers without
    /// waiting it out: the answer carries the modelled `queue_us` and
    /// `service_us`, and it exists only from the instant returned with it,
    /// when it leaves the node in the emulated world (the end of its CPU
    /// time; now for a request forwarded to the host its VM moved to).
    /// The caller must not deliver it before then; waiting for its way
    /// back from there waits for both.
    pub async fn execute_at(
        &self,
        request: mcc_proto::v1::ExecuteRequest,
        arrived: std::time::Instant,
    ) -> Result<(mcc_proto::v1::ExecuteResponse, std::time::Instant), tonic::Status> {
        Service(self.inner.clone())
            .execute_from(request, arrived, service::Cpu::Booked)
            .await
    }

    /// The tonic service.
    pub fn into_service(self) -> CloudletServer<impl mcc_proto::v1::cloudlet_server::Cloudlet> {
        CloudletServer::new(Service(self.inner)).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
}

/// Serves `node` on `listener` (TCP_NODELAY on every accepted socket) until
/// `shutdown` completes, then finishes the calls in progress.
pub async fn serve(
    node: CloudletNode,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let signal: service::ShutdownSignal = Box::pin(shutdown);
    Server::builder()
        .add_service(node.into_service())
        .serve_with_incoming_shutdown(incoming, signal)
        .await
}
