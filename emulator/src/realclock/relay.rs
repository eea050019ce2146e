//! The edge's relay: node-to-node calls between cloudlet nodes that run
//! outside this process (`--spawn processes`, `--spawn remote`) cross the
//! edge's emulated backbone, the same link queues requests use.
//!
//! A node talks to another node only during a migration, and only at the
//! addresses the migration names: the source streams the VM
//! (`ReceiveVm`), prepares, polls (`Status`), commits or aborts at
//! `target_address` and forwards requests there after the switch
//! (`Execute`); the target pulls faulted pages (`FetchPage`) from
//! `source_address`. The edge gives both as relay addresses, so every such
//! call reaches the relay, which makes each message cross the emulated path
//! between the two cloudlets and hands it to the real node.
//!
//! Routing is by port: one listener per ordered pair of cloudlets (a
//! *route*), opened on the first migration between them and kept until the
//! edge stops. It listens on the local address the edge reaches the
//! calling node from (loopback for nodes on loopback; the interface
//! towards a remote host otherwise), so the node can reach it. Every call on route (A, B) comes from A's node and goes
//! to B's: its request crosses the backbone path A→B, its answer (or error)
//! the path B→A. Nodes need no change and no metadata, and a route is
//! correct for any call on it, whatever its content (the alternative,
//! routing by the migration or VM id each message names, fails for
//! `Status`, which names nothing). At most one listener per ordered pair
//! that ever migrated, and nodes keep one client per address, so neither
//! grows with the number of migrations.
//!
//! A `ReceiveVm` stream is paced as the in-process driver paces it: each
//! message books every hop of the path by its encoded size when it is taken
//! from the source, the next one is taken when the busiest hop is free
//! again, and each is handed to the target when the path says it arrives.
//! At most [`IN_FLIGHT`] messages are on the emulated path and
//! [`STREAM_BUFFER`] waiting for the target's stream, so the source feels
//! the path's rate through HTTP/2 flow control (no unbounded queue). A
//! source that cuts its stream cuts the target's (the target then drops its
//! side, as without the relay).
//!
//! Every socket has `TCP_NODELAY`: the listeners' accepted ones and the
//! clients' to the nodes.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use mcc_cloudlet::node::MAX_MESSAGE_BYTES;
use mcc_cloudlet::realtime::{EmulatedPath, Timer};
use mcc_proto::v1::cloudlet_client::CloudletClient;
use mcc_proto::v1::cloudlet_server::{Cloudlet, CloudletServer};
use mcc_proto::v1::{
    AbortHandoverRequest, AbortHandoverResponse, CommitHandoverRequest, CommitHandoverResponse,
    ExecuteRequest, ExecuteResponse, FetchPageRequest, FetchPageResponse, HostVmRequest,
    HostVmResponse, MigrateVmProgress, MigrateVmRequest, MigrateVmResponse, PrepareHandoverRequest,
    PrepareHandoverResponse, ReceiveVmSummary, ReleaseVmRequest, ReleaseVmResponse, StatusRequest,
    StatusResponse, VmTransfer,
};
use prost::Message;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status, Streaming};

use super::error::RealClockError;
use super::locks::{lock, take_all};

/// Messages of one `ReceiveVm` stream on the emulated path at once (booked,
/// not arrived yet). A migration chunk is up to 1 MiB; the source waits
/// once this many are in flight.
pub const IN_FLIGHT: usize = 16;
/// Arrived messages of one stream waiting for the target to take them.
pub const STREAM_BUFFER: usize = 2;

/// How long calls in progress may take to finish when the relay stops.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// One route's gRPC server task.
type ServerTask = JoinHandle<Result<(), tonic::transport::Error>>;

/// The relay: one listener per route opened so far.
#[derive(Debug)]
pub struct Relay {
    /// Route (from, to) → the address nodes call it at.
    routes: tokio::sync::Mutex<BTreeMap<(u32, u32), String>>,
    servers: std::sync::Mutex<Vec<ServerTask>>,
    stop: watch::Sender<bool>,
}

/// What a route needs to carry calls from one cloudlet's node to another's.
#[derive(Debug, Clone)]
pub struct RouteEnds {
    /// The gRPC address of the node that calls the route: the route listens
    /// on the local interface the edge reaches that node from.
    pub caller: String,
    /// A client of the node calls go to.
    pub target: CloudletClient<Channel>,
    /// The backbone path from the calling node's cloudlet to the target's.
    pub there: EmulatedPath,
    /// The way back.
    pub back: EmulatedPath,
}

impl Default for Relay {
    fn default() -> Self {
        Self::new()
    }
}

impl Relay {
    /// A relay with no route yet.
    pub fn new() -> Self {
        Self {
            routes: tokio::sync::Mutex::new(BTreeMap::new()),
            servers: std::sync::Mutex::new(Vec::new()),
            stop: watch::channel(false).0,
        }
    }

    /// The address of route (`from`, `to`), opened on first use with
    /// `ends()`: calls there go to `to`'s node over the emulated backbone.
    pub async fn route(
        &self,
        from: u32,
        to: u32,
        timer: &Timer,
        ends: impl FnOnce() -> Result<RouteEnds, RealClockError>,
    ) -> Result<String, RealClockError> {
        // Held across the bind only: routes open one at a time.
        let mut routes = self.routes.lock().await;
        if let Some(address) = routes.get(&(from, to)) {
            return Ok(address.clone());
        }
        let ends = ends()?;
        let ip = local_ip_towards(&ends.caller).await?;
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.map_err(|e| {
            RealClockError::unavailable(format!("the relay cannot listen on {ip}: {e}"))
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| RealClockError::unavailable(format!("the relay's listener: {e}")))?;
        let address = format!("http://{bound}");
        let service = Route {
            target: ends.target,
            there: ends.there,
            back: ends.back,
            timer: timer.clone(),
        };
        let mut stopped = self.stop.subscribe();
        let server = Server::builder()
            .add_service(CloudletServer::new(service).max_decoding_message_size(MAX_MESSAGE_BYTES))
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            );
        lock(&self.servers).push(tokio::spawn(server));
        routes.insert((from, to), address.clone());
        Ok(address)
    }

    /// Closes every route: calls in progress get [`STOP_GRACE`] to finish,
    /// then are cut.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        for mut server in take_all(&self.servers) {
            if tokio::time::timeout(STOP_GRACE, &mut server).await.is_err() {
                server.abort();
            }
        }
    }
}

/// The local address the edge reaches the node at `address` from: where
/// that node can reach a relay route (loopback for a node on loopback).
/// Connecting a UDP socket sends nothing: it only asks the kernel for the
/// route.
pub async fn local_ip_towards(address: &str) -> Result<IpAddr, RealClockError> {
    let wrong = |what: String| {
        RealClockError::unavailable(format!(
            "the relay cannot find its way to the node at {address:?}: {what}"
        ))
    };
    let uri: tonic::codegen::http::Uri = address
        .parse()
        .map_err(|e| wrong(format!("not a URI: {e}")))?;
    let host = uri.host().ok_or_else(|| wrong("no host".to_owned()))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    let node = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| wrong(e.to_string()))?
        .next()
        .ok_or_else(|| wrong("the name resolves to no address".to_owned()))?;
    let any: SocketAddr = if node.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = std::net::UdpSocket::bind(any).map_err(|e| wrong(e.to_string()))?;
    socket.connect(node).map_err(|e| wrong(e.to_string()))?;
    Ok(socket.local_addr().map_err(|e| wrong(e.to_string()))?.ip())
}

impl Drop for Relay {
    /// A relay dropped without [`stop`](Relay::stop) (an edge dropped
    /// without its shutdown) closes its routes at once.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for server in self
            .servers
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            server.abort();
        }
    }
}

/// The calls of one route.
#[derive(Clone)]
struct Route {
    target: CloudletClient<Channel>,
    there: EmulatedPath,
    back: EmulatedPath,
    timer: Timer,
}

/// The size an error answer takes on the way back.
fn status_bytes(status: &Status) -> u64 {
    status.message().len() as u64
}

impl Route {
    /// One unary call: `request` crosses the path there, `call` makes it
    /// on the target's node, and the answer (or its error) crosses back.
    async fn unary<Q, A, F, Fut>(&self, request: Request<Q>, call: F) -> Result<Response<A>, Status>
    where
        Q: Message,
        A: Message,
        F: FnOnce(CloudletClient<Channel>, Q) -> Fut,
        Fut: Future<Output = Result<Response<A>, Status>>,
    {
        let request = request.into_inner();
        self.there.transmit(request.encoded_len() as u64).await;
        let answer = call(self.target.clone(), request).await;
        let bytes = match &answer {
            Ok(answer) => answer.get_ref().encoded_len() as u64,
            Err(status) => status_bytes(status),
        };
        self.back.transmit(bytes).await;
        answer.map(|answer| Response::new(answer.into_inner()))
    }
}

/// Takes messages from the source's stream, books each on `there` once
/// the busiest hop has taken the one before, and queues it with its
/// arrival time. The next message is read from the source while the last
/// one is still on the link, so reading it costs the link no idle time.
async fn pump(
    mut incoming: Streaming<VmTransfer>,
    there: EmulatedPath,
    timer: Timer,
    in_flight: mpsc::Sender<(Instant, VmTransfer)>,
) -> Result<(), Status> {
    let mut free = Instant::now();
    while let Some(message) = incoming.message().await? {
        timer.sleep_until(free).await;
        let delivery = there.reserve(message.encoded_len() as u64);
        free = delivery.offered + delivery.busy();
        if in_flight.send((delivery.arrive, message)).await.is_err() {
            // The target's call ended; its answer says why.
            return Ok(());
        }
    }
    Ok(())
}

/// Hands each queued message to the target's stream when it arrives.
async fn deliver(
    mut in_flight: mpsc::Receiver<(Instant, VmTransfer)>,
    timer: Timer,
    to_target: mpsc::Sender<VmTransfer>,
) {
    while let Some((arrive, message)) = in_flight.recv().await {
        timer.sleep_until(arrive).await;
        if to_target.send(message).await.is_err() {
            return;
        }
    }
}

const NOT_RELAYED: &str =
    "the edge's relay carries node-to-node calls only; a controller calls the node itself";

#[tonic::async_trait]
impl Cloudlet for Route {
    async fn execute(
        &self,
        request: Request<ExecuteRequest>,
    ) -> Result<Response<ExecuteResponse>, Status> {
        self.unary(request, |mut c, r| async move { c.execute(r).await })
            .await
    }

    async fn receive_vm(
        &self,
        request: Request<Streaming<VmTransfer>>,
    ) -> Result<Response<ReceiveVmSummary>, Status> {
        let (in_flight, queued) = mpsc::channel(IN_FLIGHT);
        let (to_target, outgoing) = mpsc::channel(STREAM_BUFFER);
        let mut target = self.target.clone();
        let forward = target.receive_vm(ReceiverStream::new(outgoing));
        tokio::pin!(forward);
        let relayed = async {
            let (pumped, ()) = tokio::join!(
                pump(
                    request.into_inner(),
                    self.there.clone(),
                    self.timer.clone(),
                    in_flight
                ),
                deliver(queued, self.timer.clone(), to_target),
            );
            pumped
        };
        tokio::pin!(relayed);
        let answer = tokio::select! {
            biased;
            answer = &mut forward => answer,
            // The source's stream failed: return its error, which drops
            // (cancels) the target's call, so the target drops its side.
            pumped = &mut relayed => match pumped {
                Ok(()) => forward.await,
                Err(status) => return Err(status),
            },
        };
        let bytes = match &answer {
            Ok(summary) => summary.get_ref().encoded_len() as u64,
            Err(status) => status_bytes(status),
        };
        self.back.transmit(bytes).await;
        answer.map(|summary| Response::new(summary.into_inner()))
    }

    async fn fetch_page(
        &self,
        request: Request<FetchPageRequest>,
    ) -> Result<Response<FetchPageResponse>, Status> {
        self.unary(request, |mut c, r| async move { c.fetch_page(r).await })
            .await
    }

    async fn prepare_handover(
        &self,
        request: Request<PrepareHandoverRequest>,
    ) -> Result<Response<PrepareHandoverResponse>, Status> {
        self.unary(
            request,
            |mut c, r| async move { c.prepare_handover(r).await },
        )
        .await
    }

    async fn commit_handover(
        &self,
        request: Request<CommitHandoverRequest>,
    ) -> Result<Response<CommitHandoverResponse>, Status> {
        self.unary(
            request,
            |mut c, r| async move { c.commit_handover(r).await },
        )
        .await
    }

    async fn abort_handover(
        &self,
        request: Request<AbortHandoverRequest>,
    ) -> Result<Response<AbortHandoverResponse>, Status> {
        self.unary(request, |mut c, r| async move { c.abort_handover(r).await })
            .await
    }

    async fn status(
        &self,
        request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        self.unary(request, |mut c, r| async move { c.status(r).await })
            .await
    }

    async fn host_vm(
        &self,
        _request: Request<HostVmRequest>,
    ) -> Result<Response<HostVmResponse>, Status> {
        Err(Status::failed_precondition(NOT_RELAYED))
    }

    async fn migrate_vm(
        &self,
        _request: Request<MigrateVmRequest>,
    ) -> Result<Response<MigrateVmResponse>, Status> {
        Err(Status::failed_precondition(NOT_RELAYED))
    }

    type MigrateVmWatchedStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<MigrateVmProgress, Status>> + Send>,
    >;

    async fn migrate_vm_watched(
        &self,
        _request: Request<MigrateVmRequest>,
    ) -> Result<Response<Self::MigrateVmWatchedStream>, Status> {
        Err(Status::failed_precondition(NOT_RELAYED))
    }

    async fn release_vm(
        &self,
        _request: Request<ReleaseVmRequest>,
    ) -> Result<Response<ReleaseVmResponse>, Status> {
        Err(Status::failed_precondition(NOT_RELAYED))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcc_cloudlet::node::{CloudletNode, NodeConfig};
    use mcc_cloudlet::realtime::{Direction, EmulatedLink, LinkSpec};
    use mcc_proto::v1::VmProfile;
    use std::sync::Arc;
    use std::time::Duration;

    const LATENCY: Duration = Duration::from_millis(20);

    async fn serve(name: &str) -> String {
        let node = CloudletNode::new(NodeConfig {
            host_id: name.to_owned(),
            cores: 4,
            memory_bytes: 1 << 30,
        })
        .expect("node");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(mcc_cloudlet::node::serve(
            node,
            listener,
            std::future::pending(),
        ));
        address
    }

    fn execute(request_id: u64) -> ExecuteRequest {
        ExecuteRequest {
            vm_id: "vm".into(),
            device_id: "d".into(),
            request_id,
            payload: vec![0; 256],
            cpu_cost_us: 100,
            response_bytes: 256,
            sent_unix_time_ns: 0,
        }
    }

    #[tokio::test]
    async fn a_route_listens_where_its_caller_can_reach_it() {
        let loopback = local_ip_towards("http://127.0.0.1:5")
            .await
            .expect("a route");
        assert_eq!(loopback, IpAddr::from(Ipv4Addr::LOCALHOST));
        let v6 = local_ip_towards("http://[::1]:5").await;
        // Hosts without IPv6 have no route there; with it, loopback again.
        if let Ok(ip) = v6 {
            assert_eq!(ip, IpAddr::from(Ipv6Addr::LOCALHOST));
        }
        for bad in ["not a uri at all", "http://", "/just/a/path"] {
            let error = local_ip_towards(bad).await.expect_err(bad);
            assert!(error.message.contains(bad), "{}", error.message);
        }
    }

    /// A post-copy migration between two nodes whose only way to each
    /// other is the relay, over one link of 20 ms and 100 Mbit/s: the
    /// stream is booked on the link, a request the source forwards crosses
    /// it both ways, and every page the target pulls on fault does too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forwarded_requests_and_fault_pulls_cross_the_routes_path() {
        let timer = Timer::precise().expect("timer");
        let spec = LinkSpec::new(LATENCY, 100e6).expect("spec");
        let link = Arc::new(EmulatedLink::symmetric(spec, timer.clone()));
        let a_to_b = EmulatedPath::single(link.clone(), Direction::AToB);
        let b_to_a = EmulatedPath::single(link.clone(), Direction::BToA);
        let (a, b) = (serve("a").await, serve("b").await);
        let client = |address: &str| super::super::nodes::client(address).expect("client");
        let relay = Relay::new();
        let to_b = relay
            .route(0, 1, &timer, || {
                Ok(RouteEnds {
                    caller: a.clone(),
                    target: client(&b),
                    there: a_to_b.clone(),
                    back: b_to_a.clone(),
                })
            })
            .await
            .expect("route a → b");
        let to_a = relay
            .route(1, 0, &timer, || {
                Ok(RouteEnds {
                    caller: b.clone(),
                    target: client(&a),
                    there: b_to_a.clone(),
                    back: a_to_b.clone(),
                })
            })
            .await
            .expect("route b → a");
        let again = relay
            .route(0, 1, &timer, || panic!("a route opens once"))
            .await
            .expect("route a → b again");
        assert_eq!(again, to_b);
        assert!(to_b.starts_with("http://127.0.0.1:"), "{to_b}");

        let mut source = client(&a);
        let profile = VmProfile {
            memory_bytes: 4 << 20,
            working_set_bytes: 1 << 20,
            dirty_rate_pps: 200.0,
            zero_page_fraction: 0.0,
            page_size_bytes: 4096,
        };
        source
            .host_vm(HostVmRequest {
                vm_id: "vm".into(),
                profile: Some(profile),
            })
            .await
            .expect("hosted");
        let migrate = MigrateVmRequest {
            migration_id: "m".into(),
            vm_id: "vm".into(),
            target_host_id: "b".into(),
            target_address: to_b,
            source_address: to_a,
            profile: Some(profile),
            dirty_model: "linear".into(),
            technique: "post-copy".into(),
            max_rounds: 5,
            downtime_target_us: 30_000,
            cpu_state_bytes: 64 << 10,
            pages_per_request: 8,
            estimate_latency_us: 20_000,
            estimate_bandwidth_bps: 100e6,
            ..Default::default()
        };
        let mut driver = source.clone();
        let migration = tokio::spawn(async move { driver.migrate_vm(migrate).await });
        let mut answers = Vec::new();
        let mut request_id = 0;
        while !migration.is_finished() {
            request_id += 1;
            let mut to_source = source.clone();
            answers.push(tokio::spawn(async move {
                let sent = Instant::now();
                let answer = to_source.execute(execute(request_id)).await;
                (sent.elapsed(), answer.map(Response::into_inner))
            }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let moved = migration
            .await
            .expect("driver task")
            .expect("migrated")
            .into_inner();
        assert!(
            link.booked_bytes(Direction::AToB) >= moved.wire_bytes,
            "the link booked {} bytes A→B; the stream was {}",
            link.booked_bytes(Direction::AToB),
            moved.wire_bytes
        );
        let mut forwarded = 0;
        let mut pulled = 0;
        for answer in answers {
            let (elapsed, answer) = answer.await.expect("request task");
            let Ok(answer) = answer else { continue };
            if answer.host_id != "b" {
                continue;
            }
            forwarded += 1;
            let stall = Duration::from_micros(answer.migration_stall_us);
            // There and back through the relay, besides what it waited.
            assert!(
                elapsed >= 2 * LATENCY + stall,
                "forwarded in {elapsed:?} with {stall:?} of stall"
            );
            // Each page pulled crossed b → a and back, one after the other.
            pulled += answer.page_faults;
            assert!(
                stall >= 2 * LATENCY * answer.page_faults,
                "{} pages pulled in {stall:?}",
                answer.page_faults
            );
        }
        eprintln!(
            "{forwarded} requests forwarded, {pulled} pages pulled, {} stream bytes",
            moved.wire_bytes
        );
        assert!(forwarded > 0, "no request was forwarded");
        assert!(pulled > 0, "no forwarded request pulled a page");
        relay.stop().await;
    }
}
