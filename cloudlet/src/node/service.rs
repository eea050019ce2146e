//! The `Cloudlet` gRPC service of a node.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use mcc_proto::v1::cloudlet_server::Cloudlet;
use mcc_proto::v1::vm_transfer::Kind;
use mcc_proto::v1::{
    AbortHandoverRequest, AbortHandoverResponse, CommitHandoverRequest, CommitHandoverResponse,
    ExecuteRequest, ExecuteResponse, FetchPageRequest, FetchPageResponse, Outcome,
    PrepareHandoverRequest, PrepareHandoverResponse, ReceiveVmSummary, StatusRequest,
    StatusResponse, VmTransfer,
};
use prost::Message;
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status, Streaming};

use super::error::NodeError;
use super::state::NodeState;
use super::transfer::{IncomingTransfer, memory_from_header};
use crate::realtime::Timer;

/// Largest `ExecuteRequest.payload` a node accepts: 1 MiB.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// Largest `ExecuteRequest.response_bytes` a node accepts: 1 MiB.
pub const MAX_RESPONSE_BYTES: u64 = 1 << 20;
/// Largest `ExecuteRequest.cpu_cost_us` a node accepts: 60 s.
pub const MAX_CPU_COST_US: u64 = 60_000_000;

/// Shared by every clone of a [`super::CloudletNode`].
pub(super) struct Inner {
    pub(super) state: Mutex<NodeState>,
    /// One permit per core: a request holds one while it executes.
    pub(super) cpu: Semaphore,
    pub(super) timer: Timer,
    pub(super) host_id: String,
}

impl Inner {
    pub(super) fn lock(&self) -> MutexGuard<'_, NodeState> {
        // Every change to the state is made whole under the lock, so a
        // panic elsewhere cannot leave it half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
            self.inner.lock().abandon_receive(&self.migration_id);
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
        let arrived = Instant::now();
        let request = request.into_inner();
        check_execute(&request)?;
        self.0.lock().vm(&request.vm_id)?;
        let permit = self
            .0
            .cpu
            .acquire()
            .await
            .map_err(|_| Status::unavailable("the node is shutting down"))?;
        let started = Instant::now();
        if request.cpu_cost_us > 0 {
            self.0
                .timer
                .sleep_until(started + Duration::from_micros(request.cpu_cost_us))
                .await;
        }
        let finished = Instant::now();
        drop(permit);
        self.0.lock().record_served(&request.vm_id);
        Ok(Response::new(ExecuteResponse {
            request_id: request.request_id,
            host_id: self.0.host_id.clone(),
            payload: vec![0; request.response_bytes as usize],
            outcome: Outcome::Ok as i32,
            queue_us: micros(started - arrived),
            service_us: micros(finished - started),
            migration_stall_us: 0,
            ..Default::default()
        }))
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
        self.0
            .lock()
            .begin_receive(&header.migration_id, &header.vm_id, &memory)?;
        let mut guard = AbandonOnDrop {
            inner: &self.0,
            migration_id: header.migration_id.clone(),
            armed: true,
        };
        let mut incoming = IncomingTransfer::new(memory, header_bytes);
        loop {
            let Some(message) = stream.message().await? else {
                return Err(NodeError::invalid(
                    "the VM transfer stream ended before the execution state; the VM was not taken",
                )
                .into());
            };
            let bytes = message.encoded_len() as u64;
            match message.kind {
                None => return Err(NodeError::invalid("a VmTransfer carries nothing").into()),
                Some(Kind::Header(_)) => {
                    return Err(
                        NodeError::invalid("a VM transfer stream has one header only").into(),
                    );
                }
                Some(Kind::Pages(batch)) => incoming.on_pages(&batch, bytes)?,
                Some(Kind::State(state)) => {
                    let received = incoming.on_state(&state, bytes)?;
                    if stream.message().await?.is_some() {
                        return Err(NodeError::invalid(
                            "a VM transfer stream ends with its execution state; a message followed it",
                        )
                        .into());
                    }
                    let summary = ReceiveVmSummary {
                        migration_id: header.migration_id.clone(),
                        pages_received: received.pages_received,
                        bytes_received: received.bytes_received,
                        rounds: received.rounds,
                        pages_pushed: 0,
                    };
                    self.0
                        .lock()
                        .complete_receive(&header.migration_id, received)?;
                    guard.armed = false;
                    return Ok(Response::new(summary));
                }
            }
        }
    }

    async fn fetch_page(
        &self,
        request: Request<FetchPageRequest>,
    ) -> Result<Response<FetchPageResponse>, Status> {
        let request = request.into_inner();
        let page =
            self.0
                .lock()
                .fetch_page(&request.migration_id, &request.vm_id, request.page_index)?;
        Ok(Response::new(FetchPageResponse { page: Some(page) }))
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
        let figures = self
            .0
            .lock()
            .commit(&request.get_ref().migration_id, Instant::now())?;
        Ok(Response::new(CommitHandoverResponse {
            total_us: figures.total_us,
            downtime_us: figures.downtime_us,
            bytes_sent: figures.bytes,
            ..Default::default()
        }))
    }

    async fn abort_handover(
        &self,
        request: Request<AbortHandoverRequest>,
    ) -> Result<Response<AbortHandoverResponse>, Status> {
        self.0.lock().abort(&request.get_ref().migration_id);
        Ok(Response::new(AbortHandoverResponse {}))
    }

    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        Ok(Response::new(self.0.lock().status()))
    }
}

/// A boxed future, for [`super::serve`]'s shutdown signal.
pub(super) type ShutdownSignal = Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
