//! The `Cloudlet` gRPC service of a node.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use mcc_proto::v1::cloudlet_client::CloudletClient;
use mcc_proto::v1::cloudlet_server::Cloudlet;
use mcc_proto::v1::vm_transfer::Kind;
use mcc_proto::v1::{
    AbortHandoverRequest, AbortHandoverResponse, CommitHandoverRequest, CommitHandoverResponse,
    ExecuteRequest, ExecuteResponse, FetchPageRequest, FetchPageResponse, HostVmRequest,
    HostVmResponse, MigrateVmProgress, MigrateVmRequest, MigrateVmResponse, Outcome,
    PrepareHandoverRequest, PrepareHandoverResponse, ReceiveVmSummary, ReleaseVmRequest,
    ReleaseVmResponse, StatusRequest, StatusResponse, VmTransfer,
};
use prost::Message;
use tokio::sync::Notify;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};

use super::error::{NodeError, Peer};
use super::state::{Admission, NodeState};
use super::transfer::{IncomingTransfer, memory_from_header};
use crate::realtime::{EmulatedPath, Timer};
use mcc_proto::v1::Technique as WireTechnique;

/// Largest `ExecuteRequest.payload` a node accepts: 1 MiB.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// Largest `ExecuteRequest.response_bytes` a node accepts: 1 MiB.
pub const MAX_RESPONSE_BYTES: u64 = 1 << 20;
/// Largest `ExecuteRequest.cpu_cost_us` a node accepts: 60 s.
pub const MAX_CPU_COST_US: u64 = 60_000_000;
/// Longest a request waits for a suspended VM, or for a pushed page when
/// the target cannot pull, and a target's commit for its last page.
pub const MAX_MIGRATION_WAIT: Duration = Duration::from_secs(60);

/// Shared by every clone of a [`super::CloudletNode`].
pub(super) struct Inner {
    pub(super) state: Mutex<NodeState>,
    /// When each core is free in the emulated world: the end of the CPU
    /// time of the last request booked on it.
    pub(super) cores_free_at: Mutex<Vec<Instant>>,
    pub(super) timer: Timer,
    pub(super) host_id: String,
    /// Woken whenever a VM's migration state changes (suspend, switch,
    /// pages arriving, commit, abort): requests waiting on it look again.
    pub(super) changed: Notify,
    /// Clients of other nodes (sources to pull from, targets to forward
    /// to), by address; connected lazily.
    pub(super) peers: Mutex<BTreeMap<String, CloudletClient<Channel>>>,
    /// Emulated paths towards other nodes, by their address: the way there
    /// and the way back.
    pub(super) links: Mutex<BTreeMap<String, (EmulatedPath, EmulatedPath)>>,
}

impl Inner {
    pub(super) fn lock(&self) -> MutexGuard<'_, NodeState> {
        // Every change to the state is made whole under the lock, so a
        // panic elsewhere cannot leave it half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Books the core free earliest for a request ready at `ready` that
    /// costs `cost`: it starts at `ready` or when that core is free,
    /// whichever is later (a FIFO queue with one server per core: requests
    /// booked while every core is busy start as the earlier ones end).
    pub(super) fn book_core(&self, ready: Instant, cost: Duration) -> Instant {
        let mut cores = self
            .cores_free_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(free) = cores.iter_mut().min() else {
            return ready;
        };
        let start = ready.max(*free);
        *free = start + cost;
        start
    }

    /// Cores booked past `now`.
    pub(super) fn busy_cores(&self, now: Instant) -> u32 {
        let cores = self
            .cores_free_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cores.iter().filter(|&&free| free > now).count() as u32
    }

    /// CPU time booked on the cores past `now`, summed over the cores.
    pub(super) fn cpu_backlog(&self, now: Instant) -> Duration {
        let cores = self
            .cores_free_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cores
            .iter()
            .map(|free| free.saturating_duration_since(now))
            .sum()
    }

    /// Changes the state with `change`, then wakes the waiting requests.
    pub(super) fn change<T>(&self, change: impl FnOnce(&mut NodeState) -> T) -> T {
        let result = change(&mut self.lock());
        self.changed.notify_waiters();
        result
    }

    /// A client of the node at `address` (one channel per address).
    fn peer(&self, address: &str) -> Result<CloudletClient<Channel>, Status> {
        let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = peers.get(address) {
            return Ok(client.clone());
        }
        let endpoint = Endpoint::from_shared(address.to_owned()).map_err(|e| {
            Status::failed_precondition(format!("the peer address {address:?} is not a URI: {e}"))
        })?;
        let client = CloudletClient::new(endpoint.tcp_nodelay(true).connect_lazy())
            .max_decoding_message_size(super::MAX_MESSAGE_BYTES);
        peers.insert(address.to_owned(), client.clone());
        Ok(client)
    }

    /// Carries a message of `bytes` to (`outbound`) or from the node at
    /// `address` over the emulated link towards it, if one was set:
    /// completes when the link says it arrived.
    async fn cross(&self, address: &str, outbound: bool, bytes: u64) {
        let link = self
            .links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(address)
            .cloned();
        if let Some((there, back)) = link {
            let path = if outbound { there } else { back };
            path.transmit(bytes).await;
        }
    }

    /// Waits until `ready` holds or [`MAX_MIGRATION_WAIT`] passed (false).
    async fn wait_for(&self, mut ready: impl FnMut(&NodeState) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + MAX_MIGRATION_WAIT;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if ready(&self.lock()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    /// Pulls the `missing` pages a request touches from the source of
    /// `migration_id` at `address` (or waits for the push when there is no
    /// address), one after the other; returns the faults taken.
    async fn pull(
        &self,
        vm_id: &str,
        migration_id: &str,
        address: &str,
        missing: &[u64],
    ) -> Result<u32, Status> {
        let mut faults = 0u32;
        for &index in missing {
            if self.lock().holds(vm_id, index) {
                continue; // pushed (or pulled by another request) meanwhile
            }
            faults += 1;
            if address.is_empty() {
                if !self.wait_for(|state| state.holds(vm_id, index)).await {
                    return Err(Status::unavailable(format!(
                        "page {index} of VM {vm_id:?} did not arrive within {MAX_MIGRATION_WAIT:?}"
                    )));
                }
                continue;
            }
            let fetch = FetchPageRequest {
                migration_id: migration_id.to_owned(),
                vm_id: vm_id.to_owned(),
                page_index: index,
            };
            self.cross(address, true, fetch.encoded_len() as u64).await;
            let answer = self
                .peer(address)?
                .fetch_page(fetch)
                .await
                .map_err(|e| {
                    Status::unavailable(format!(
                        "page {index} of VM {vm_id:?} could not be pulled from the source at {address}: {}",
                        e.message()
                    ))
                })?
                .into_inner();
            let bytes = answer.encoded_len() as u64;
            self.cross(address, false, bytes).await;
            if answer.page.as_ref().map(|p| p.index) != Some(index) {
                return Err(Status::internal(format!(
                    "the source answered a fault on page {index} with another page"
                )));
            }
            self.change(|state| {
                state.fill(vm_id, [index]);
                state.record_pull(migration_id, 1, bytes, Duration::ZERO);
            });
        }
        Ok(faults)
    }
}

/// The service handle tonic clones per connection.
#[derive(Clone)]
pub(super) struct Service(pub(super) Arc<Inner>);

/// Drops the target's side of a hand-over when a transfer stream ends
/// without completing (error, early end, or the call being cancelled).
struct AbandonOnDrop<'a> {
    inner: &'a Inner,
    migration_id: String,
    armed: bool,
}

impl Drop for AbandonOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.inner
                .change(|state| state.abandon_receive(&self.migration_id));
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn check_execute(request: &ExecuteRequest) -> Result<(), NodeError> {
    if request.vm_id.is_empty() {
        return Err(NodeError::invalid("ExecuteRequest.vm_id is empty"));
    }
    if request.payload.len() > MAX_PAYLOAD_BYTES {
        return Err(NodeError::invalid(format!(
            "ExecuteRequest.payload is {} bytes; at most {MAX_PAYLOAD_BYTES} are accepted",
            request.payload.len()
        )));
    }
    if request.response_bytes > MAX_RESPONSE_BYTES {
        return Err(NodeError::invalid(format!(
            "ExecuteRequest.response_bytes is {}; at most {MAX_RESPONSE_BYTES} are accepted",
            request.response_bytes
        )));
    }
    if request.cpu_cost_us > MAX_CPU_COST_US {
        return Err(NodeError::invalid(format!(
            "ExecuteRequest.cpu_cost_us is {}; at most {MAX_CPU_COST_US} (60 s) is accepted",
            request.cpu_cost_us
        )));
    }
    Ok(())
}

/// A request's wait for a VM suspended on this source, counted by the
/// source until the suspension ends ([`NodeState::begin_source_wait`]);
/// dropping it before then (the request was cancelled or gave up) ends the
/// wait there.
struct SourceWait<'a> {
    inner: &'a Inner,
    migration_id: String,
    suspended_at: Instant,
    began: Instant,
}

impl<'a> SourceWait<'a> {
    /// The wait of a request that met `migration_id`'s suspension at
    /// `began`; `None` if the VM is no longer suspended by it.
    fn begin(inner: &'a Inner, migration_id: &str, began: Instant) -> Option<Self> {
        let suspended_at = inner.lock().begin_source_wait(migration_id, began)?;
        Some(Self {
            inner,
            migration_id: migration_id.to_owned(),
            suspended_at,
            began,
        })
    }
}

impl Drop for SourceWait<'_> {
    fn drop(&mut self) {
        self.inner.lock().end_source_wait(
            &self.migration_id,
            self.suspended_at,
            self.began,
            Instant::now(),
        );
    }
}

/// Who waits out a request's CPU time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cpu {
    /// The node, before it answers (the `Execute` RPC).
    Wait,
    /// The caller, until the instant the node returns with the answer
    /// (a caller in this process that waits for the answer's way back
    /// anyway: one wait instead of two).
    Booked,
}

impl Service {
    /// How `request` is taken now. A request that waited here for the
    /// suspension of `waited_for` goes where the VM went even when the
    /// hand-over committed before the request ran again (the switch woke
    /// it, the commit followed before it was scheduled): it is forwarded,
    /// as it would have been a moment earlier, rather than redirected,
    /// which would drop its wait from its answer.
    fn admission(
        &self,
        request: &ExecuteRequest,
        waited_for: Option<&str>,
    ) -> Result<Admission, Status> {
        let state = self.0.lock();
        match state.admit(&request.vm_id, request.request_id) {
            Ok(admission) => Ok(admission),
            Err(error) => match (waited_for, state.moved_to(&request.vm_id)) {
                (Some(migration_id), Some(peer)) => {
                    Ok(Admission::Forward(peer.clone(), migration_id.to_owned()))
                }
                _ => Err(error.into()),
            },
        }
    }

    /// Runs a request that arrived at `arrived` (at most now; the moment
    /// its last byte reached this node in the emulated network): it waits
    /// for a free core (`queue_us`), then holds it for `cpu_cost_us`
    /// (`service_us`). The cores are a FIFO schedule booked from `arrived`
    /// ([`Inner::book_core`]), so a caller that woke late for the arrival
    /// does not add its lateness to the request's; a core is held by a
    /// wall-clock wait, not by busy work: the node emulates its configured
    /// cores whatever the machine under it has, and the service time does
    /// not stretch with the machine's own load. With [`Cpu::Wait`] the node
    /// waits until the CPU time is over (`service_us` is then measured,
    /// never below the cost); with [`Cpu::Booked`] it answers at once and
    /// the caller waits (`service_us` is the cost). Returns the answer and
    /// the instant it leaves the node in the emulated world (the end of its
    /// CPU time; now for a forwarded request).
    pub(super) async fn execute_from(
        &self,
        request: ExecuteRequest,
        arrived: Instant,
        cpu: Cpu,
    ) -> Result<(ExecuteResponse, Instant), Status> {
        check_execute(&request)?;
        let mut waited = Duration::ZERO;
        // The migration whose suspension this request waited for, and the
        // wait as the source counts it.
        let mut waited_for: Option<String> = None;
        let mut source_wait = None;
        let (missing, pull, handoff) = loop {
            let admission = self.admission(&request, waited_for.as_deref())?;
            match admission {
                Admission::Serve {
                    missing,
                    pull,
                    handoff,
                } => break (missing, pull, handoff),
                Admission::Wait(migration_id) => {
                    // Register for the wake-up, then look again, so a change
                    // between the two is not missed.
                    let from = Instant::now();
                    let notified = self.0.changed.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    let still = self.admission(&request, waited_for.as_deref())?;
                    if still == Admission::Wait(migration_id.clone()) {
                        if source_wait.is_none() {
                            source_wait = SourceWait::begin(&self.0, &migration_id, from);
                        }
                        let woken = tokio::time::timeout(MAX_MIGRATION_WAIT, notified).await;
                        if woken.is_err() {
                            return Err(Status::unavailable(format!(
                                "VM {:?} stayed suspended for {MAX_MIGRATION_WAIT:?}",
                                request.vm_id
                            )));
                        }
                    }
                    waited += from.elapsed();
                    waited_for = Some(migration_id);
                }
                Admission::Forward(peer, _) => {
                    drop(source_wait);
                    let answer = self.forward(request, peer, waited).await?.into_inner();
                    return Ok((answer, Instant::now()));
                }
            }
        };
        drop(source_wait);
        let mut faults = 0;
        if let (false, Some((migration_id, address))) = (missing.is_empty(), &pull) {
            let from = Instant::now();
            faults = self
                .0
                .pull(&request.vm_id, migration_id, address, &missing)
                .await?;
            let stall = from.elapsed();
            if faults > 0 {
                waited += stall;
                self.0.lock().record_pull(migration_id, 0, 0, stall);
            }
        }
        // Ready for a core when it arrived, or now if it waited for the
        // migration here.
        let queued = if waited.is_zero() {
            arrived.min(Instant::now())
        } else {
            Instant::now()
        };
        let cost = Duration::from_micros(request.cpu_cost_us);
        let started = self.0.book_core(queued, cost);
        let due = started + cost;
        let finished = match cpu {
            Cpu::Wait => {
                if !cost.is_zero() {
                    self.0.timer.sleep_until(due).await;
                }
                Instant::now()
            }
            Cpu::Booked => due,
        };
        self.0.lock().record_served(&request.vm_id);
        let handoff = handoff.unwrap_or_default();
        let answer = ExecuteResponse {
            request_id: request.request_id,
            host_id: self.0.host_id.clone(),
            payload: vec![0; request.response_bytes as usize],
            outcome: Outcome::Ok as i32,
            queue_us: micros(started - queued),
            service_us: micros(finished - started),
            migration_stall_us: micros(waited),
            page_faults: faults,
            handoff_host_id: handoff.host_id,
            handoff_address: handoff.address,
        };
        Ok((answer, due))
    }
}

#[tonic::async_trait]
impl Cloudlet for Service {
    /// Runs a request: waits for a free core (`queue_us`), then holds it for
    /// `cpu_cost_us` (`service_us`, measured). The core is held by a precise
    /// wall-clock wait, not by busy work: the node emulates its configured
    /// cores whatever the machine under it has, and the service time does
    /// not stretch with the machine's own load.
    async fn execute(
        &self,
        request: Request<ExecuteRequest>,
    ) -> Result<Response<ExecuteResponse>, Status> {
        let (answer, _) = self
            .execute_from(request.into_inner(), Instant::now(), Cpu::Wait)
            .await?;
        Ok(Response::new(answer))
    }

    async fn receive_vm(
        &self,
        request: Request<Streaming<VmTransfer>>,
    ) -> Result<Response<ReceiveVmSummary>, Status> {
        let mut stream = request.into_inner();
        let Some(first) = stream.message().await? else {
            return Err(NodeError::invalid(
                "the VM transfer stream is empty; it must start with a header",
            )
            .into());
        };
        let header_bytes = first.encoded_len() as u64;
        let Some(Kind::Header(header)) = first.kind else {
            return Err(
                NodeError::invalid("the first VmTransfer of a stream must be a header").into(),
            );
        };
        let memory = memory_from_header(&header)?;
        let technique = WireTechnique::try_from(header.technique).ok();
        let push_allowed = matches!(
            technique,
            Some(WireTechnique::PostCopy | WireTechnique::Soft | WireTechnique::Hybrid)
        );
        let working_set_pages = header.profile.as_ref().map_or(0, |p| {
            p.working_set_bytes / u64::from(memory.page_bytes.max(1))
        });
        self.0.lock().begin_receive(
            &header.migration_id,
            &header.vm_id,
            &memory,
            &header.source_address,
        )?;
        let mut guard = AbandonOnDrop {
            inner: &self.0,
            migration_id: header.migration_id.clone(),
            armed: true,
        };
        let mut incoming = IncomingTransfer::new(memory, header_bytes, push_allowed);
        while let Some(message) = stream.message().await? {
            let bytes = message.encoded_len() as u64;
            match message.kind {
                None => return Err(NodeError::invalid("a VmTransfer carries nothing").into()),
                Some(Kind::Header(_)) => {
                    return Err(
                        NodeError::invalid("a VM transfer stream has one header only").into(),
                    );
                }
                Some(Kind::Pages(batch)) => {
                    incoming.on_pages(&batch, bytes)?;
                    if incoming.state_seen() {
                        self.0.change(|state| {
                            if !state.has_handover(&header.migration_id) {
                                return Err(NodeError::precondition(format!(
                                    "migration {:?} was aborted on this host during its push",
                                    header.migration_id
                                )));
                            }
                            state.fill(&header.vm_id, batch.pages.iter().map(|p| p.index));
                            Ok(())
                        })?;
                    }
                }
                Some(Kind::State(state)) => {
                    let received = incoming.on_state(&state, bytes)?;
                    self.0.change(|node| {
                        node.install(
                            &header.migration_id,
                            received,
                            header.pages_per_request,
                            working_set_pages,
                            technique == Some(WireTechnique::Soft),
                        )
                    })?;
                }
            }
        }
        if !incoming.state_seen() {
            return Err(NodeError::invalid(
                "the VM transfer stream ended before the execution state; the VM was not taken",
            )
            .into());
        }
        if push_allowed && self.0.lock().target_filling(&header.migration_id) {
            // A post-copy or soft stream (its pushes come on it) that ends
            // while pages are missing was cut short (its source died): the
            // VM cannot be completed, so it is lost; the guard drops it.
            let message = format!(
                "VM {:?} is lost: its transfer from {:?} ended after the switch with pages still \
                 missing",
                header.vm_id, header.source_host_id
            );
            eprintln!("cloudlet {}: {message}", self.0.host_id);
            return Err(NodeError::precondition(message).into());
        }
        self.0.change(|node| {
            node.end_receive(
                &header.migration_id,
                incoming.pages_received(),
                incoming.bytes_received(),
            );
        });
        guard.armed = false;
        Ok(Response::new(ReceiveVmSummary {
            migration_id: header.migration_id.clone(),
            pages_received: incoming.pages_received(),
            bytes_received: incoming.bytes_received(),
            rounds: incoming.rounds(),
            pages_pushed: incoming.pages_pushed(),
        }))
    }

    async fn fetch_page(
        &self,
        request: Request<FetchPageRequest>,
    ) -> Result<Response<FetchPageResponse>, Status> {
        let request = request.into_inner();
        let mut state = self.0.lock();
        let page = state.fetch_page(&request.migration_id, &request.vm_id, request.page_index)?;
        let answer = FetchPageResponse { page: Some(page) };
        state.record_fetch_served(&request.migration_id, answer.encoded_len() as u64);
        Ok(Response::new(answer))
    }

    async fn prepare_handover(
        &self,
        request: Request<PrepareHandoverRequest>,
    ) -> Result<Response<PrepareHandoverResponse>, Status> {
        let refusal = self.0.lock().prepare(request.get_ref(), Instant::now())?;
        Ok(Response::new(PrepareHandoverResponse {
            accepted: refusal.is_none(),
            reason: refusal.unwrap_or_default(),
        }))
    }

    async fn commit_handover(
        &self,
        request: Request<CommitHandoverRequest>,
    ) -> Result<Response<CommitHandoverResponse>, Status> {
        let migration_id = &request.get_ref().migration_id;
        // A post-copy, hybrid or soft target commits once its last page arrived.
        let complete = self
            .0
            .wait_for(|state| !state.target_filling(migration_id))
            .await;
        if !complete {
            return Err(Status::deadline_exceeded(format!(
                "migration {migration_id:?}: pages were still missing after {MAX_MIGRATION_WAIT:?}"
            )));
        }
        let figures = self
            .0
            .change(|state| state.commit(migration_id, Instant::now()))?;
        Ok(Response::new(CommitHandoverResponse {
            total_us: figures.total_us,
            downtime_us: figures.downtime_us,
            bytes_sent: figures.bytes,
            pages_fetched: figures.pages_fetched,
            fetch_bytes: figures.fetch_bytes,
            stall_us: figures.stall_us,
        }))
    }

    async fn abort_handover(
        &self,
        request: Request<AbortHandoverRequest>,
    ) -> Result<Response<AbortHandoverResponse>, Status> {
        self.0
            .change(|state| state.abort(&request.get_ref().migration_id));
        Ok(Response::new(AbortHandoverResponse {}))
    }

    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        Ok(Response::new(self.0.lock().status()))
    }

    async fn host_vm(
        &self,
        request: Request<HostVmRequest>,
    ) -> Result<Response<HostVmResponse>, Status> {
        let node = self.node();
        node.host_vm_request(request.get_ref())?;
        Ok(Response::new(HostVmResponse {}))
    }

    async fn release_vm(
        &self,
        request: Request<ReleaseVmRequest>,
    ) -> Result<Response<ReleaseVmResponse>, Status> {
        self.node().release_vm(&request.get_ref().vm_id)?;
        Ok(Response::new(ReleaseVmResponse {}))
    }

    async fn migrate_vm(
        &self,
        request: Request<MigrateVmRequest>,
    ) -> Result<Response<MigrateVmResponse>, Status> {
        let request = request.into_inner();
        let (plan, path) = super::control::migration_plan(&request, &self.0.timer)?;
        let mut target = self.0.peer(&request.target_address)?;
        let node = self.node();
        let report = node
            .migrate_over(&mut target, plan, path)
            .await
            .map_err(|e| Status::aborted(e.to_string()))?;
        Ok(Response::new(super::control::migrate_response(&report)))
    }

    type MigrateVmWatchedStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<MigrateVmProgress, Status>> + Send>>;

    /// `MigrateVm`, with each step on the stream as the driver reaches it
    /// (at most [`WATCH_BUFFER`] unread: a caller that reads slower loses
    /// steps, never the answer, and never slows the migration); the
    /// migration is aborted if the caller closes the stream.
    async fn migrate_vm_watched(
        &self,
        request: Request<MigrateVmRequest>,
    ) -> Result<Response<Self::MigrateVmWatchedStream>, Status> {
        use mcc_proto::v1::migrate_vm_progress::Kind as Progress;
        let request = request.into_inner();
        let (plan, path) = super::control::migration_plan(&request, &self.0.timer)?;
        let mut target = self.0.peer(&request.target_address)?;
        let node = self.node();
        let (sender, receiver) = tokio::sync::mpsc::channel(WATCH_BUFFER);
        tokio::spawn(async move {
            let steps = sender.clone();
            let watch = move |step, after| {
                let step = super::control::wire_step(step, after);
                let _ = steps.try_send(Ok(MigrateVmProgress {
                    kind: Some(Progress::Step(step)),
                }));
            };
            let answer = tokio::select! {
                result = node.migrate_watched(&mut target, plan, path, &watch) => result
                    .map(|report| MigrateVmProgress {
                        kind: Some(Progress::Done(super::control::migrate_response(&report))),
                    })
                    .map_err(|e| Status::aborted(e.to_string())),
                // The caller went away: dropping the driver aborts both sides.
                () = sender.closed() => return,
            };
            let _ = sender.send(answer).await;
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }
}

/// Steps a `MigrateVmWatched` caller may leave unread: more than a
/// migration has (its rounds, capped by `max_rounds`, and three more) for
/// any sensible round cap.
pub const WATCH_BUFFER: usize = 64;

impl Service {
    /// The node this service serves, as its public handle.
    fn node(&self) -> super::CloudletNode {
        super::CloudletNode {
            inner: self.0.clone(),
        }
    }

    /// Sends `request` to the host the VM moved to (`peer`) and returns its
    /// answer, with the time the request waited here added to its stall.
    /// Without the peer's address the client is told to redirect.
    async fn forward(
        &self,
        request: ExecuteRequest,
        peer: Peer,
        waited: Duration,
    ) -> Result<Response<ExecuteResponse>, Status> {
        if peer.address.is_empty() {
            return Err(NodeError::moved(
                format!(
                    "VM {:?} runs on host {:?} now; send its requests there",
                    request.vm_id, peer.host_id
                ),
                peer,
            )
            .into());
        }
        self.0
            .cross(&peer.address, true, request.encoded_len() as u64)
            .await;
        let mut answer = self
            .0
            .peer(&peer.address)?
            .execute(request)
            .await?
            .into_inner();
        self.0
            .cross(&peer.address, false, answer.encoded_len() as u64)
            .await;
        answer.migration_stall_us = answer.migration_stall_us.saturating_add(micros(waited));
        Ok(Response::new(answer))
    }
}

/// A boxed future, for [`super::serve`]'s shutdown signal.
pub(super) type ShutdownSignal = Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

#[cfg(test)]
mod tests {
    use mcc_proto::v1::PrepareHandoverRequest;

    use super::*;
    use crate::node::{CloudletNode, NodeConfig};

    fn node(host_id: &str) -> CloudletNode {
        CloudletNode::new(NodeConfig {
            host_id: host_id.to_owned(),
            cores: 1,
            memory_bytes: 1 << 30,
        })
        .expect("node")
    }

    /// Node `a` hosting `vm-1`, its hand-over `m` to `b` (at
    /// `target_address`, none if empty) prepared and the VM suspended.
    fn suspended_source(target_address: String) -> (CloudletNode, Arc<Inner>) {
        let a = node("a");
        a.host_vm("vm-1", 1 << 20, 0.0).expect("host at a");
        let prepare = PrepareHandoverRequest {
            migration_id: "m".to_owned(),
            vm_id: "vm-1".to_owned(),
            source_host_id: "a".to_owned(),
            target_host_id: "b".to_owned(),
            target_address,
            ..Default::default()
        };
        let inner = a.inner.clone();
        let refusal = inner
            .change(|state| state.prepare(&prepare, Instant::now()))
            .expect("prepare");
        assert_eq!(refusal, None);
        inner
            .change(|state| state.suspend("m", Instant::now()))
            .expect("suspend");
        (a, inner)
    }

    /// The hand-over `m` switches to the target and commits at once.
    fn switch_and_commit(inner: &Inner) -> crate::node::state::CommitFigures {
        inner
            .change(|state| state.switched("m", Instant::now(), false))
            .expect("switch");
        inner
            .change(|state| state.commit("m", Instant::now()))
            .expect("commit")
    }

    fn request() -> ExecuteRequest {
        ExecuteRequest {
            vm_id: "vm-1".to_owned(),
            request_id: 1,
            ..Default::default()
        }
    }

    // The order of events a loaded machine produced (a test's device lost
    // its wait this way about once in 40 runs): a request waits for the
    // suspended VM at the source; the switch wakes it, and the source
    // commits before the request is scheduled again. On one thread the
    // order is fixed: the request runs only when the test yields.
    #[tokio::test(flavor = "current_thread")]
    async fn a_request_woken_by_the_switch_after_the_commit_is_forwarded_with_its_wait() {
        // The target, already running the VM, on loopback.
        let b = node("b");
        b.host_vm("vm-1", 1 << 20, 0.0).expect("host at b");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let b_address = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(super::super::serve(b, listener, async move {
            let _ = stopped.await;
        }));

        let (a, inner) = suspended_source(b_address);

        let waiting = tokio::spawn({
            let a = a.clone();
            async move { a.execute_at(request(), Instant::now()).await }
        });
        // The request runs until it waits for the VM.
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        let suspended_for = Duration::from_millis(2);
        std::thread::sleep(suspended_for);
        // Switch and commit, with no chance for the request to run between.
        let figures = switch_and_commit(&inner);

        let (answer, _) = waiting
            .await
            .expect("request task")
            .expect("forwarded, not redirected");
        assert_eq!(answer.host_id, "b");
        assert!(
            answer.migration_stall_us >= micros(suspended_for),
            "{answer:?}"
        );
        assert!(
            figures.stall_us >= micros(suspended_for),
            "the commit missed the wait: {figures:?}"
        );
        // A request that never waited here is redirected as before.
        let redirected = a
            .execute_at(request(), Instant::now())
            .await
            .expect_err("moved");
        assert_eq!(redirected.code(), tonic::Code::FailedPrecondition);
        let _ = stop.send(());
        server.await.expect("server task").expect("server");
    }

    // A request that gives up its wait before the suspension ends counts
    // only until it left.
    #[tokio::test(flavor = "current_thread")]
    async fn a_cancelled_wait_counts_until_the_request_left() {
        let (a, inner) = suspended_source(String::new());
        let before = Instant::now();
        let waiting = tokio::spawn({
            let a = a.clone();
            async move { a.execute_at(request(), Instant::now()).await }
        });
        tokio::task::yield_now().await;
        let waited_at_least = Duration::from_millis(1);
        std::thread::sleep(waited_at_least);
        waiting.abort();
        assert!(waiting.await.expect_err("cancelled").is_cancelled());
        // The wait lay inside this span.
        let lasted = before.elapsed();
        // The suspension goes on well past the request's leaving.
        std::thread::sleep(Duration::from_millis(5));
        let figures = switch_and_commit(&inner);
        assert!(figures.stall_us >= micros(waited_at_least), "{figures:?}");
        assert!(
            figures.stall_us <= micros(lasted),
            "counted past the request's leaving: {figures:?} (left after {lasted:?})"
        );
    }
}
