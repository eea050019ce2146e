//! The cloudlet node over real gRPC on loopback: every RPC through a tonic
//! client against a node served in-process on 127.0.0.1:0.

use std::time::{Duration, Instant};

use mcc_cloudlet::node::pages::VmMemory;
use mcc_cloudlet::node::{self, CloudletNode, NodeConfig};
use mcc_proto::v1::cloudlet_client::CloudletClient;
use mcc_proto::v1::vm_transfer::Kind;
use mcc_proto::v1::{
    AbortHandoverRequest, CommitHandoverRequest, ExecuteRequest, ExecutionState, FetchPageRequest,
    PageBatch, PrepareHandoverRequest, StatusRequest, Technique, VmHeader, VmProfile, VmTransfer,
};
use tokio::sync::oneshot;
use tonic::Code;
use tonic::transport::Channel;

mod common;
use common::{Running, request, start};

const MIB: u64 = 1 << 20;
/// Pages of the test VM (256 KiB).
const VM_PAGES: u64 = 64;
const VM_BYTES: u64 = VM_PAGES * 4096;

fn profile() -> VmProfile {
    VmProfile {
        memory_bytes: VM_BYTES,
        working_set_bytes: 0,
        dirty_rate_pps: 0.0,
        zero_page_fraction: 0.25,
        page_size_bytes: 4096,
    }
}

fn prepare(migration_id: &str, source: &str) -> PrepareHandoverRequest {
    PrepareHandoverRequest {
        migration_id: migration_id.to_owned(),
        vm_id: "vm-1".to_owned(),
        source_host_id: source.to_owned(),
        technique: Technique::PreCopy as i32,
        profile: Some(profile()),
        ..Default::default()
    }
}

fn header(migration_id: &str) -> VmTransfer {
    VmTransfer {
        kind: Some(Kind::Header(VmHeader {
            migration_id: migration_id.to_owned(),
            vm_id: "vm-1".to_owned(),
            source_host_id: "a".to_owned(),
            technique: Technique::PreCopy as i32,
            profile: Some(profile()),
            ..Default::default()
        })),
    }
}

fn pages(round: u32, range: std::ops::Range<u64>) -> VmTransfer {
    let memory = VmMemory::for_vm("vm-1", VM_BYTES, 4096, 0.25);
    VmTransfer {
        kind: Some(Kind::Pages(PageBatch {
            round,
            pages: range.map(|i| memory.page(i)).collect(),
        })),
    }
}

fn state(pages_missing: u64) -> VmTransfer {
    VmTransfer {
        kind: Some(Kind::State(ExecutionState {
            cpu_state: vec![7; 1024],
            pages_missing,
            ..Default::default()
        })),
    }
}

/// Two nodes, `a` hosting `vm-1`, both prepared for migration `m`.
async fn prepared_pair() -> (Running, Running) {
    let mut a = start("a", 2, 64 * MIB).await;
    let mut b = start("b", 2, 64 * MIB).await;
    a.node.host_vm("vm-1", VM_BYTES, 0.25).expect("host");
    for side in [&mut a, &mut b] {
        let answer = side
            .client
            .prepare_handover(prepare("m", "a"))
            .await
            .expect("prepare")
            .into_inner();
        assert!(answer.accepted, "{}", answer.reason);
    }
    (a, b)
}

fn vm_state(node: &CloudletNode, vm_id: &str) -> Option<String> {
    node.status()
        .vms
        .into_iter()
        .find(|vm| vm.vm_id == vm_id)
        .map(|vm| vm.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_served_by_its_host_for_at_least_its_cpu_cost() {
    let mut a = start("cloudlet-a", 2, 64 * MIB).await;
    a.node.host_vm("vm-1", VM_BYTES, 0.0).expect("host");
    let answer = a
        .client
        .execute(request("vm-1", 3_000))
        .await
        .expect("execute")
        .into_inner();
    assert_eq!(answer.host_id, "cloudlet-a");
    assert_eq!(answer.request_id, 7);
    assert_eq!(answer.payload.len(), 300);
    assert!(
        answer.service_us >= 3_000,
        "service {} µs",
        answer.service_us
    );
    let status = a
        .client
        .status(StatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.requests_served, 1);
    assert_eq!(status.cpu_cores, 2);
    assert_eq!(status.vms.len(), 1);
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_queue_when_every_core_is_busy() {
    let a = start("a", 1, 64 * MIB).await;
    a.node.host_vm("vm-1", VM_BYTES, 0.0).expect("host");
    let started = Instant::now();
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let mut client = a.client.clone();
            tokio::spawn(async move { client.execute(request("vm-1", 10_000)).await })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.expect("task").expect("execute").into_inner());
    }
    // One core: the three 10 ms executions cannot overlap.
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert!(answers.iter().all(|r| r.service_us >= 10_000));
    let waited: u64 = answers.iter().map(|r| r.queue_us).sum();
    assert!(waited >= 10_000, "queued {waited} µs in all");
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_vm_is_not_found() {
    let mut a = start("a", 1, 64 * MIB).await;
    let error = a
        .client
        .execute(request("ghost", 0))
        .await
        .expect_err("unknown VM");
    assert_eq!(error.code(), Code::NotFound);
    assert!(
        error.message().contains("ghost") && error.message().contains("\"a\""),
        "{}",
        error.message()
    );
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_invalid_arguments() {
    let mut a = start("a", 1, 64 * MIB).await;
    a.node.host_vm("vm-1", VM_BYTES, 0.0).expect("host");
    let mut oversized = request("vm-1", 0);
    oversized.payload = vec![0; node::MAX_PAYLOAD_BYTES + 1];
    let mut no_vm = request("", 0);
    no_vm.payload.clear();
    let mut huge_answer = request("vm-1", 0);
    huge_answer.response_bytes = u64::MAX;
    let endless = request("vm-1", u64::MAX);
    // Above tonic's default 4 MiB limit, still below the node's message limit.
    let mut huge = request("vm-1", 0);
    huge.payload = vec![0; 5 << 20];
    for bad in [oversized, no_vm, huge_answer, endless, huge] {
        let error = a.client.execute(bad).await.expect_err("malformed");
        assert_eq!(error.code(), Code::InvalidArgument, "{}", error.message());
    }
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_transfer_then_commit_moves_the_vm() {
    let (mut a, mut b) = prepared_pair().await;
    let stream = tokio_stream::iter(vec![
        header("m"),
        pages(0, 0..VM_PAGES),
        pages(1, 3..5),
        state(0),
    ]);
    let summary = b
        .client
        .receive_vm(stream)
        .await
        .expect("receive")
        .into_inner();
    assert_eq!(summary.migration_id, "m");
    assert_eq!(summary.pages_received, VM_PAGES + 2);
    assert_eq!(summary.rounds, 2);
    // A quarter of the pages are zero pages, so less than the full memory crosses.
    assert!(summary.bytes_received > VM_BYTES / 2 && summary.bytes_received < VM_BYTES + 4096);
    assert_eq!(vm_state(&b.node, "vm-1").as_deref(), Some("MIGRATING_IN"));
    assert_eq!(vm_state(&a.node, "vm-1").as_deref(), Some("MIGRATING_OUT"));
    // Both serve while the hand-over is open.
    let on_b = b
        .client
        .execute(request("vm-1", 0))
        .await
        .expect("on b")
        .into_inner();
    assert_eq!(on_b.host_id, "b");
    let on_a = a
        .client
        .execute(request("vm-1", 0))
        .await
        .expect("on a")
        .into_inner();
    assert_eq!(on_a.host_id, "a");

    let commit = CommitHandoverRequest {
        migration_id: "m".to_owned(),
    };
    let figures = b
        .client
        .commit_handover(commit.clone())
        .await
        .expect("commit b")
        .into_inner();
    assert_eq!(figures.bytes_sent, summary.bytes_received);
    a.client.commit_handover(commit).await.expect("commit a");
    assert_eq!(vm_state(&b.node, "vm-1").as_deref(), Some("RUNNING"));
    assert_eq!(vm_state(&a.node, "vm-1"), None);
    let gone = a
        .client
        .execute(request("vm-1", 0))
        .await
        .expect_err("moved away");
    assert_eq!(gone.code(), Code::NotFound);
    assert_eq!(a.node.status().migrations_out, 1);
    assert_eq!(b.node.status().migrations_in, 1);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_ends_early_leaves_no_vm_and_the_source_serving() {
    let (mut a, mut b) = prepared_pair().await;
    let cut = tokio_stream::iter(vec![header("m"), pages(0, 0..VM_PAGES / 2)]);
    let error = b.client.receive_vm(cut).await.expect_err("incomplete");
    assert_eq!(error.code(), Code::InvalidArgument, "{}", error.message());
    assert_eq!(vm_state(&b.node, "vm-1"), None);
    assert!(b.node.status().vms.is_empty());
    let served = a
        .client
        .execute(request("vm-1", 0))
        .await
        .expect("source serves")
        .into_inner();
    assert_eq!(served.host_id, "a");
    // The target dropped its side: committing there fails, and a retry must prepare again.
    let commit = CommitHandoverRequest {
        migration_id: "m".to_owned(),
    };
    assert_eq!(
        b.client
            .commit_handover(commit)
            .await
            .expect_err("no commit")
            .code(),
        Code::NotFound
    );
    let retry = tokio_stream::iter(vec![header("m"), pages(0, 0..VM_PAGES), state(0)]);
    assert_eq!(
        b.client
            .receive_vm(retry)
            .await
            .expect_err("not prepared")
            .code(),
        Code::FailedPrecondition
    );
    a.client
        .abort_handover(AbortHandoverRequest {
            migration_id: "m".to_owned(),
            reason: "cut".to_owned(),
        })
        .await
        .expect("abort a");
    assert_eq!(vm_state(&a.node, "vm-1").as_deref(), Some("RUNNING"));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_by_the_client_going_away_leaves_no_vm() {
    let (mut a, b) = prepared_pair().await;
    let (send, receive) = tokio::sync::mpsc::channel(8);
    send.send(header("m")).await.expect("send");
    send.send(pages(0, 0..16)).await.expect("send");
    let mut client = b.client.clone();
    let call = tokio::spawn(async move {
        client
            .receive_vm(tokio_stream::wrappers::ReceiverStream::new(receive))
            .await
    });
    // Wait (bounded) until the target has seen the stream, then drop the call mid-stream.
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if !send.is_closed() && send.capacity() == send.max_capacity() {
            break;
        }
    }
    call.abort();
    drop(send);
    let mut cleaned = false;
    for _ in 0..400 {
        let prepared = b.node.status().vms.is_empty();
        let retry = tokio_stream::iter(vec![header("m"), pages(0, 0..VM_PAGES), state(0)]);
        let refused = b
            .client
            .clone()
            .receive_vm(retry)
            .await
            .map(|_| ())
            .err()
            .map(|e| e.code());
        if prepared && refused == Some(Code::FailedPrecondition) {
            cleaned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(cleaned, "the target still holds the cut migration");
    let served = a
        .client
        .execute(request("vm-1", 0))
        .await
        .expect("source serves")
        .into_inner();
    assert_eq!(served.host_id, "a");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_streams_are_refused_without_leaving_a_vm() {
    let (a, mut b) = prepared_pair().await;
    let memory = VmMemory::for_vm("vm-1", VM_BYTES, 4096, 0.25);
    let data_page = (0..VM_PAGES).find(|&i| !memory.is_zero(i)).unwrap_or(0);
    let mut short = pages(0, data_page..data_page + 1);
    if let Some(Kind::Pages(batch)) = &mut short.kind {
        for page in &mut batch.pages {
            page.data.truncate(100);
        }
    }
    let cases: Vec<Vec<VmTransfer>> = vec![
        vec![pages(0, 0..1)],
        vec![header("m"), short],
        vec![header("m"), pages(1, 0..2), pages(0, 2..3)],
        vec![header("m"), pages(0, VM_PAGES..VM_PAGES + 1)],
        vec![header("m"), pages(0, 0..VM_PAGES), state(3)],
        vec![header("m"), header("m")],
    ];
    for (n, case) in cases.into_iter().enumerate() {
        // Each failure drops the target's side: prepare again.
        let _ = b
            .client
            .prepare_handover(prepare("m", "a"))
            .await
            .expect("prepare");
        let error = b
            .client
            .receive_vm(tokio_stream::iter(case))
            .await
            .expect_err("malformed");
        assert_eq!(
            error.code(),
            Code::InvalidArgument,
            "case {n}: {}",
            error.message()
        );
        assert!(b.node.status().vms.is_empty(), "case {n} left a VM");
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_copy_pages_are_fetched_from_the_source() {
    let (mut a, mut b) = prepared_pair().await;
    let stream = tokio_stream::iter(vec![header("m"), pages(0, 0..10), state(VM_PAGES - 10)]);
    b.client.receive_vm(stream).await.expect("receive");
    let memory = VmMemory::for_vm("vm-1", VM_BYTES, 4096, 0.25);
    for index in [10, 40, VM_PAGES - 1] {
        let fetched = a
            .client
            .fetch_page(FetchPageRequest {
                migration_id: "m".to_owned(),
                vm_id: "vm-1".to_owned(),
                page_index: index,
            })
            .await
            .expect("fetch")
            .into_inner()
            .page
            .expect("page");
        assert_eq!(fetched, memory.page(index));
    }
    let outside = FetchPageRequest {
        migration_id: "m".to_owned(),
        vm_id: "vm-1".to_owned(),
        page_index: VM_PAGES,
    };
    assert_eq!(
        a.client
            .fetch_page(outside)
            .await
            .expect_err("outside")
            .code(),
        Code::InvalidArgument
    );
    let wrong = FetchPageRequest {
        migration_id: "other".to_owned(),
        vm_id: "vm-1".to_owned(),
        page_index: 1,
    };
    assert_eq!(
        a.client
            .fetch_page(wrong)
            .await
            .expect_err("wrong id")
            .code(),
        Code::FailedPrecondition
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_leaves_the_vm_where_it_ran_and_commit_waits_for_the_vm() {
    let (mut a, mut b) = prepared_pair().await;
    let commit = CommitHandoverRequest {
        migration_id: "m".to_owned(),
    };
    let early = b
        .client
        .commit_handover(commit)
        .await
        .expect_err("nothing arrived yet");
    assert_eq!(early.code(), Code::FailedPrecondition);
    let stream = tokio_stream::iter(vec![header("m"), pages(0, 0..VM_PAGES), state(0)]);
    b.client.receive_vm(stream).await.expect("receive");
    for side in [&mut a, &mut b] {
        side.client
            .abort_handover(AbortHandoverRequest {
                migration_id: "m".to_owned(),
                reason: "test".to_owned(),
            })
            .await
            .expect("abort");
    }
    assert_eq!(vm_state(&a.node, "vm-1").as_deref(), Some("RUNNING"));
    assert_eq!(vm_state(&b.node, "vm-1"), None);
    assert_eq!(
        (
            a.node.status().migrations_out,
            b.node.status().migrations_in
        ),
        (0, 0)
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_refuses_what_cannot_work() {
    let mut a = start("a", 1, 64 * MIB).await;
    let mut small = start("small", 1, VM_BYTES / 2).await;
    let full = small
        .client
        .prepare_handover(prepare("m", "a"))
        .await
        .expect("prepare")
        .into_inner();
    assert!(
        !full.accepted && full.reason.contains("does not fit"),
        "{}",
        full.reason
    );
    let no_vm = a
        .client
        .prepare_handover(prepare("m", "a"))
        .await
        .expect("prepare")
        .into_inner();
    assert!(
        !no_vm.accepted && no_vm.reason.contains("vm-1"),
        "{}",
        no_vm.reason
    );
    let mut bad = prepare("m", "x");
    bad.profile = Some(VmProfile {
        memory_bytes: 1000,
        ..profile()
    });
    assert_eq!(
        a.client
            .prepare_handover(bad)
            .await
            .expect_err("bad profile")
            .code(),
        Code::InvalidArgument
    );
    a.stop().await;
    small.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_as_prometheus_text() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A host id of its own: other tests of this process run nodes too.
    let mut a = start("metrics-a", 1, 64 * MIB).await;
    a.node.host_vm("vm-1", VM_BYTES, 0.0).expect("host");
    for n in 0..3 {
        a.client.execute(request("vm-1", n)).await.expect("execute");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let metrics = tokio::spawn(node::metrics::serve_metrics(
        a.node.clone(),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), socket.read_to_string(&mut text))
        .await
        .expect("answer within 5 s")
        .expect("read");
    assert!(text.starts_with("HTTP/1.1 200 OK"));
    // Rendered by metrics-exporter-prometheus from what the node counted.
    assert!(
        text.contains("# TYPE mcc_cloudlet_requests_served_total counter"),
        "{text}"
    );
    assert!(
        text.contains("mcc_cloudlet_requests_served_total{host_id=\"metrics-a\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("mcc_cloudlet_vms{host_id=\"metrics-a\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("mcc_cloudlet_cpu_cores{host_id=\"metrics-a\"} 1"),
        "{text}"
    );
    let _ = stop.send(());
    metrics.await.expect("metrics task");
    a.stop().await;
}

mod real_migration {
    use std::sync::Arc;

    use mcc_cloudlet::memory::{DirtyModel, VmProfile as ModelProfile};
    use mcc_cloudlet::migration::{MigrationConfig, PathEstimate, Technique};
    use mcc_cloudlet::node::error::{MOVED_TO_ADDRESS_KEY, MOVED_TO_HOST_KEY};
    use mcc_cloudlet::node::migrate::{MigrateError, RealMigration, RealMigrationReport};
    use mcc_cloudlet::realtime::{Direction, EmulatedLink, LinkSpec, Timer};
    use mcc_proto::v1::ExecuteResponse;

    use super::*;

    const MODEL_VM_BYTES: u64 = 4 * MIB;

    /// Runs `plan` from `a` to `b`, over `link` when given.
    async fn migrate_a_to_b(
        a: &Running,
        b: &Running,
        plan: RealMigration,
        link: Option<Arc<EmulatedLink>>,
    ) -> Result<RealMigrationReport, MigrateError> {
        let mut to_b = b.client.clone();
        a.node.migrate_to(&mut to_b, plan, link).await
    }

    /// Nodes `a` and `b` (2 cores, 64 MiB each), `a` hosting `vm-1` of
    /// [`MODEL_VM_BYTES`].
    async fn source_hosting_the_vm_and_target() -> (Running, Running) {
        let a = start("a", 2, 64 * MIB).await;
        let b = start("b", 2, 64 * MIB).await;
        a.node.host_vm("vm-1", MODEL_VM_BYTES, 0.0).expect("host");
        (a, b)
    }

    fn plan(technique: Technique) -> RealMigration {
        RealMigration {
            migration_id: format!("real-{}", technique.name()),
            vm_id: "vm-1".to_owned(),
            profile: ModelProfile::new(MODEL_VM_BYTES, MIB, 2_000.0, 0.0, DirtyModel::Linear)
                .expect("profile"),
            config: MigrationConfig::new(technique),
            path: PathEstimate {
                one_way_latency: Duration::from_millis(1),
                bandwidth_bps: 1e9,
            },
            target_host_id: String::new(),
            target_address: String::new(),
            source_address: String::new(),
        }
    }

    /// `plan` between `a` and `b` with their real addresses.
    fn plan_between(technique: Technique, a: &Running, b: &Running) -> RealMigration {
        RealMigration {
            target_host_id: b.node.host_id().to_owned(),
            target_address: b.address.clone(),
            source_address: a.address.clone(),
            ..plan(technique)
        }
    }

    fn shaped_link(bandwidth_bps: f64) -> Arc<EmulatedLink> {
        let spec = LinkSpec::new(Duration::from_millis(1), bandwidth_bps).expect("spec");
        Arc::new(EmulatedLink::symmetric(
            spec,
            Timer::precise().expect("timer"),
        ))
    }

    /// Sends `request` to `client`; a `FAILED_PRECONDITION` naming the host
    /// the VM moved to is followed, as a device would.
    async fn send_following(
        client: &mut CloudletClient<Channel>,
        request: ExecuteRequest,
    ) -> Result<ExecuteResponse, tonic::Status> {
        match client.execute(request.clone()).await {
            Ok(answer) => Ok(answer.into_inner()),
            Err(status) if status.code() == Code::FailedPrecondition => {
                let Some(address) = status
                    .metadata()
                    .get(MOVED_TO_ADDRESS_KEY)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                else {
                    return Err(status);
                };
                let mut moved = CloudletClient::connect(address)
                    .await
                    .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
                Ok(moved.execute(request).await?.into_inner())
            }
            Err(status) => Err(status),
        }
    }

    /// A device sending requests in the background until [`Device::finish`].
    struct Device {
        stop: Arc<std::sync::atomic::AtomicBool>,
        task: tokio::task::JoinHandle<DeviceRun>,
    }

    /// What a device got: every answer, in order, and how long it lay idle.
    struct DeviceRun {
        answers: Vec<Result<ExecuteResponse, tonic::Status>>,
        /// The longest time from an answer to the device's next request,
        /// its period included: on an idle machine about the period; under
        /// load, as long as the device's task was kept from running. A
        /// suspension that began meanwhile met the device's next request
        /// only this late.
        longest_idle: Duration,
        /// The longest time one request spent outside any migration wait:
        /// its round trip less its `migration_stall_us` (transport, the
        /// nodes' scheduling, service). A few milliseconds at most; a
        /// wait missing from an answer shows here (a request redirected
        /// after waiting out a suspension once showed 383 ms).
        longest_overhead: Duration,
    }

    impl Device {
        /// Stops the device and returns every answer it got, in order.
        async fn finish(self) -> Vec<Result<ExecuteResponse, tonic::Status>> {
            self.finish_run().await.answers
        }

        /// Stops the device and returns its answers and its longest idle time.
        async fn finish_run(self) -> DeviceRun {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
            self.task.await.expect("device")
        }
    }

    /// A device sending a request every `period` to `source` until it is
    /// finished; during a soft handoff (an answer names a handoff host) it
    /// sends each request to both hosts and keeps both answers.
    fn device(source: CloudletClient<Channel>, period: Duration) -> Device {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let stop = flag;
            let mut source = source;
            let mut answers = Vec::new();
            let mut handoff: Option<CloudletClient<Channel>> = None;
            let mut id = 0u64;
            let mut longest_idle = Duration::ZERO;
            let mut longest_overhead = Duration::ZERO;
            let mut answered: Option<Instant> = None;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some(at) = answered {
                    longest_idle = longest_idle.max(at.elapsed());
                }
                id += 1;
                let mut one = request("vm-1", 200);
                one.request_id = id;
                let sent = Instant::now();
                let first = answers.len();
                if let Some(other) = &mut handoff {
                    let (x, y) = tokio::join!(
                        send_following(&mut source, one.clone()),
                        send_following(other, one)
                    );
                    answers.push(x);
                    answers.push(y);
                } else {
                    let answer = send_following(&mut source, one).await;
                    if let Ok(ok) = &answer
                        && !ok.handoff_address.is_empty()
                        && ok.host_id == "a"
                    {
                        handoff = CloudletClient::connect(ok.handoff_address.clone())
                            .await
                            .ok();
                    }
                    answers.push(answer);
                }
                let round_trip = sent.elapsed();
                for answer in answers[first..].iter().flatten() {
                    let waited = Duration::from_micros(answer.migration_stall_us);
                    longest_overhead = longest_overhead.max(round_trip.saturating_sub(waited));
                }
                answered = Some(Instant::now());
                tokio::time::sleep(period).await;
            }
            DeviceRun {
                answers,
                longest_idle,
                longest_overhead,
            }
        });
        Device { stop, task }
    }

    fn assert_counts_agree(report: &RealMigrationReport) {
        eprintln!(
            "{}: elapsed {:?}, wire {} B, pages {} (pushed {}), target {:?}, source {:?}",
            report.model.technique.name(),
            report.elapsed,
            report.wire_bytes,
            report.pages_sent,
            report.target_summary.pages_pushed,
            report.target_commit,
            report.source_commit
        );
        assert_eq!(report.target_summary.pages_received, report.pages_sent);
        assert_eq!(report.target_summary.bytes_received, report.wire_bytes);
        assert_eq!(report.target_commit.bytes_sent, report.wire_bytes);
        assert_eq!(
            (
                report.target_commit.pages_fetched,
                report.target_commit.fetch_bytes
            ),
            (
                report.source_commit.pages_fetched,
                report.source_commit.fetch_bytes
            ),
            "pulls counted differently on the two sides"
        );
    }

    fn vm_status(node: &CloudletNode) -> Option<mcc_proto::v1::VmStatus> {
        node.status().vms.into_iter().find(|vm| vm.vm_id == "vm-1")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn post_copy_runs_the_vm_at_the_target_while_faults_are_pulled() {
        let (a, b) = source_hosting_the_vm_and_target().await;
        let device = device(a.client.clone(), Duration::from_millis(2));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut to_b = b.client.clone();
        let report = a
            .node
            .migrate_to(
                &mut to_b,
                plan_between(Technique::PostCopy, &a, &b),
                Some(shaped_link(100e6)),
            )
            .await
            .expect("post-copy");
        let answers = device.finish().await;
        assert_counts_agree(&report);
        // Every page crossed, most of them pushed after the state.
        assert!(report.target_summary.pages_pushed > 0);
        assert!(
            report.target_summary.pages_received + report.target_commit.pages_fetched
                >= MODEL_VM_BYTES / 4096
        );
        let at_b = vm_status(&b.node).expect("the VM is at b");
        assert_eq!((at_b.state.as_str(), at_b.pages_missing), ("RUNNING", 0));
        assert!(vm_status(&a.node).is_none());
        // Every request was answered; some faulted at the target and waited.
        // (How many the device sent depends on the machine's load: one
        // failed run under heavy load had fewer than 20. The assertions
        // below need only one request on each side of the switch.)
        assert!(answers.len() >= 2, "{} requests", answers.len());
        let ok: Vec<&ExecuteResponse> = answers
            .iter()
            .map(|a| a.as_ref().expect("every request is answered"))
            .collect();
        let faults: u32 = ok.iter().map(|a| a.page_faults).sum();
        assert!(faults > 0, "no request faulted");
        assert!(
            ok.iter()
                .any(|a| a.page_faults > 0 && a.migration_stall_us > 0)
        );
        assert!(report.target_commit.pages_fetched > 0);
        assert!(report.target_commit.stall_us > 0);
        assert!(ok.iter().any(|a| a.host_id == "b"));
        // Post-copy suspends the VM until the target acknowledges the state.
        assert!(report.source_commit.downtime_us > 0);
        // The source now redirects: FAILED_PRECONDITION naming the new host.
        let mut to_a = a.client.clone();
        let moved = to_a
            .execute(request("vm-1", 0))
            .await
            .expect_err("the VM left a");
        assert_eq!(moved.code(), Code::FailedPrecondition);
        assert_eq!(
            moved
                .metadata()
                .get(MOVED_TO_HOST_KEY)
                .and_then(|v| v.to_str().ok()),
            Some("b")
        );
        assert_eq!(
            moved
                .metadata()
                .get(MOVED_TO_ADDRESS_KEY)
                .and_then(|v| v.to_str().ok()),
            Some(b.address.as_str())
        );
        a.stop().await;
        b.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fault_pulls_cross_the_shaped_link_behind_the_push() {
        let (a, b) = source_hosting_the_vm_and_target().await;
        let link = shaped_link(100e6);
        // b reaches a over the link's B→A direction; answers come back A→B,
        // behind the push.
        b.node
            .shape_path_to(&a.address, link.clone(), Direction::BToA);
        let device = device(b.client.clone(), Duration::from_millis(2));
        let mut migration = plan_between(Technique::PostCopy, &a, &b);
        migration.config.chunk_bytes = 256 * 1024;
        let report = migrate_a_to_b(&a, &b, migration, Some(link))
            .await
            .expect("post-copy");
        // The device talks to b directly: NOT_FOUND until the VM is there.
        let answers = device.finish().await;
        assert!(answers.iter().flatten().any(|a| a.page_faults > 0));
        assert_counts_agree(&report);
        let pulled = report.target_commit.pages_fetched;
        assert!(pulled > 0);
        // Each pull crosses the link twice (1 ms each way), one after the
        // other: the summed stall cannot be shorter.
        assert!(
            report.target_commit.stall_us >= pulled * 2_000,
            "{} µs for {pulled} pulls",
            report.target_commit.stall_us
        );
        a.stop().await;
        b.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn soft_migration_serves_from_both_hosts_without_downtime() {
        let (a, b) = source_hosting_the_vm_and_target().await;
        let device = device(a.client.clone(), Duration::from_millis(2));
        let mut to_b = b.client.clone();
        let report = a
            .node
            .migrate_to(
                &mut to_b,
                plan_between(Technique::Soft, &a, &b),
                Some(shaped_link(100e6)),
            )
            .await
            .expect("soft");
        let answers = device.finish().await;
        assert_counts_agree(&report);
        assert!(report.model.rounds >= 1);
        // The stale working set was pushed after the state.
        assert!(report.target_summary.pages_pushed > 0);
        let at_b = vm_status(&b.node).expect("the VM is at b");
        assert_eq!((at_b.state.as_str(), at_b.pages_missing), ("RUNNING", 0));
        assert!(vm_status(&a.node).is_none());
        assert_eq!(report.source_commit.downtime_us, 0, "soft never suspends");
        let ok: Vec<&ExecuteResponse> = answers
            .iter()
            .map(|a| a.as_ref().expect("every request is answered"))
            .collect();
        // The source never made a request wait; both hosts executed requests
        // during the handoff. Which of the two answers first is a race (the
        // target's faulted pages queue behind the push, so the source mostly
        // wins; one run in four under load had no request the target won),
        // so the answer may name either host as the one that answered.
        assert!(
            ok.iter()
                .filter(|a| a.host_id == "a")
                .all(|a| a.migration_stall_us == 0)
        );
        assert!(
            ok.iter().any(
                |a| (a.host_id.as_str(), a.handoff_host_id.as_str()) == ("a", "b")
                    || (a.host_id.as_str(), a.handoff_host_id.as_str()) == ("b", "a")
            ),
            "no request was executed by both hosts"
        );
        a.stop().await;
        b.stop().await;
    }

    /// The device's period in [`run_with_execution_set`].
    const EXECUTION_SET_DEVICE_PERIOD: Duration = Duration::from_millis(2);
    /// A request's overhead (see [`DeviceRun`]) on an idle machine, which
    /// the allowance in the queued-fault test already covers.
    const IDLE_MACHINE_OVERHEAD: Duration = Duration::from_millis(2);

    /// Runs `technique` between two nodes over a 100 Mbit/s link with a
    /// guest that needs 100 pages of its idle data before it runs again;
    /// a device sends a request every 2 ms meanwhile. Returns the report,
    /// the device's answers, and how late its first request after the
    /// suspend could reach the source beyond an idle machine's (see
    /// [`DeviceRun`]).
    async fn run_with_execution_set(
        technique: Technique,
    ) -> (RealMigrationReport, Vec<ExecuteResponse>, Duration) {
        let (a, b) = source_hosting_the_vm_and_target().await;
        let device = device(a.client.clone(), EXECUTION_SET_DEVICE_PERIOD);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut migration = plan_between(technique, &a, &b);
        migration.config.exec_text_pages = 100;
        migration.config.chunk_bytes = 256 * 1024;
        let report = migrate_a_to_b(&a, &b, migration, Some(shaped_link(100e6)))
            .await
            .expect("migration");
        let run = device.finish_run().await;
        // The request before the suspend took its overhead to come back,
        // the device then lay idle, and its next request took its overhead
        // to be admitted: all three beyond what an idle machine takes.
        let late = run.longest_idle.saturating_sub(EXECUTION_SET_DEVICE_PERIOD)
            + 2 * run.longest_overhead.saturating_sub(IDLE_MACHINE_OVERHEAD);
        let answers = run
            .answers
            .into_iter()
            .map(|a| a.expect("every request is answered"))
            .collect();
        a.stop().await;
        b.stop().await;
        (report, answers, late)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queued_fault_stall_shows_in_post_copy_s_requests_and_not_in_soft_s() {
        let (post, answers, late) = run_with_execution_set(Technique::PostCopy).await;
        // The model's stall: the suspension, then one fault after the other
        // behind the 256 KiB chunk queued on the stream until the guest has
        // its 100 pages. Each such fault takes at least two latencies and
        // the chunk and the page at 100 Mbit/s (23.3 ms), and the chain
        // needs several: after the CPU state arrived (the downtime) the
        // guest stays frozen for at least four of them (about 200 ms on an
        // idle machine). The emulated link paces every byte on the wall
        // clock, so a loaded machine only lengthens the chain; the
        // downtime, a few ms of CPU state, grows with the load too (one
        // run beside busy loops measured 234 ms), so it is no yardstick.
        let frozen_ms = post.model.stall_ms - 10.0;
        let queued_fault_ms = 2.0 + (256.0 + 4.0) * 1024.0 * 8.0 / 100e6 * 1e3;
        assert!(
            frozen_ms - post.model.downtime_ms >= 4.0 * queued_fault_ms,
            "frozen {frozen_ms} ms after a downtime of {} ms: {:?}",
            post.model.downtime_ms,
            post.model
        );
        // A request that arrived while the guest was frozen waited for most
        // of it (one run measured 208 ms against a modelled 229 ms: the
        // first held request reaches the source a little after the suspend,
        // and its stall is counted up to the switch, not to the first
        // answer; the device's requests are 2 ms apart). When a loaded
        // machine kept the device or the nodes from running, the first
        // request after the suspend reached the source that much later,
        // and waited that much less: one run beside busy loops measured
        // 194 ms against a modelled 319 ms with the device never idle for
        // more than 8 ms.
        let longest_ms = answers
            .iter()
            .map(|a| a.migration_stall_us as f64 / 1e3)
            .fold(0.0, f64::max);
        let late_ms = late.as_secs_f64() * 1e3;
        eprintln!(
            "post-copy: longest request stall {longest_ms} ms, model freeze {frozen_ms} ms \
             ({} ms after the downtime), first request after the suspend up to {late_ms} ms late",
            frozen_ms - post.model.downtime_ms
        );
        assert!(
            longest_ms >= 0.8 * frozen_ms - 3.0 - late_ms,
            "longest request stall {longest_ms} ms, model freeze {frozen_ms} ms, \
             the first request after the suspend up to {late_ms} ms late"
        );
        // Soft: the source answers throughout the handoff, none waits there.
        let (soft, answers, _) = run_with_execution_set(Technique::Soft).await;
        assert_eq!(soft.source_commit.downtime_us, 0);
        assert!(soft.model.stall_ms <= 10.0 + 1e-9, "{:?}", soft.model);
        assert!(
            answers
                .iter()
                .filter(|a| a.host_id == "a")
                .all(|a| a.migration_stall_us == 0)
        );
        let at_a = answers.iter().filter(|a| a.host_id == "a").count();
        assert!(at_a > 0, "the source answered during the migration");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rate_limit_windows_hold_the_cap_between_real_nodes() {
        let (a, b) = source_hosting_the_vm_and_target().await;
        let mut migration = plan_between(Technique::PostCopy, &a, &b);
        // 80 Mbit/s in QEMU's 100 ms windows: 1 MB a window, each sent as a
        // burst over a 1 Gbit/s link (8 ms) in 256 KiB chunks.
        migration.config.rate_cap_bps = Some(80e6);
        migration.config.cap_window = Some(mcc_cloudlet::migration::QEMU_CAP_WINDOW);
        migration.config.chunk_bytes = 256 * 1024;
        let report = migrate_a_to_b(&a, &b, migration, Some(shaped_link(1e9)))
            .await
            .expect("post-copy in windows");
        assert_counts_agree(&report);
        // The 4 MiB push needs five windows of 1 MB: its last burst starts
        // at least four windows after the first (uncapped: 35 ms).
        assert!(
            report.elapsed >= Duration::from_millis(400),
            "{:?}",
            report.elapsed
        );
        assert!(report.model.total_ms >= 400.0, "{:?}", report.model);
        let at_b = vm_status(&b.node).expect("the VM is at b");
        assert_eq!((at_b.state.as_str(), at_b.pages_missing), ("RUNNING", 0));
        a.stop().await;
        b.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hybrid_falls_back_to_post_copy_between_real_nodes() {
        let (a, b) = source_hosting_the_vm_and_target().await;
        let mut migration = plan_between(Technique::Hybrid, &a, &b);
        // One round, and a target no remainder meets: the switch is post-copy's.
        migration.config.max_rounds = 1;
        migration.config.downtime_target = Duration::from_micros(1);
        let report = migrate_a_to_b(&a, &b, migration, Some(shaped_link(100e6)))
            .await
            .expect("hybrid");
        assert_counts_agree(&report);
        assert!(!report.model.converged);
        assert_eq!(report.model.rounds, 1);
        assert!(report.model.bytes_postcopy > 0, "{:?}", report.model);
        assert!(report.source_commit.downtime_us > 0, "the source stops");
        let at_b = vm_status(&b.node).expect("the VM is at b");
        assert_eq!((at_b.state.as_str(), at_b.pages_missing), ("RUNNING", 0));
        a.stop().await;
        b.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_post_copy_that_fails_after_the_switch_says_what_was_lost() {
        let (a, b) = source_hosting_the_vm_and_target().await;
        let source = a.node.clone();
        let mut migration_plan = plan_between(Technique::PostCopy, &a, &b);
        // The push goes in 256 KiB chunks, so some are still to send when
        // the target calls it off.
        migration_plan.config.chunk_bytes = 256 * 1024;
        let id = migration_plan.migration_id.clone();
        let mut to_b = b.client.clone();
        // The push of 4 MiB at 20 Mbit/s takes 1.7 s; the target calls the
        // migration off while it runs.
        let task = tokio::spawn(async move {
            source
                .migrate_to(&mut to_b, migration_plan, Some(shaped_link(20e6)))
                .await
        });
        let mut switched = false;
        for _ in 0..300 {
            if vm_status(&b.node).is_some()
                && vm_status(&a.node).is_some_and(|vm| vm.state == "MOVED")
            {
                switched = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(switched, "the VM never switched to b");
        b.client
            .clone()
            .abort_handover(AbortHandoverRequest {
                migration_id: id,
                reason: "test".to_owned(),
            })
            .await
            .expect("abort");
        let result = task.await.expect("task");
        match result {
            Err(MigrateError::LostAfterSwitch {
                pages_not_pushed,
                pages,
                ..
            }) => {
                assert_eq!(pages, MODEL_VM_BYTES / 4096);
                assert!(
                    pages_not_pushed > 0 && pages_not_pushed < pages,
                    "{pages_not_pushed} of {pages}"
                );
            }
            other => panic!("expected LostAfterSwitch, got {other:?}"),
        }
        assert_eq!(
            vm_status(&a.node).map(|vm| vm.state).as_deref(),
            Some("RUNNING")
        );
        assert!(vm_status(&b.node).is_none());
        a.stop().await;
        b.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_migration_before_the_switch_leaves_the_vm_running_at_the_source() {
        let (a, b) = source_hosting_the_vm_and_target().await;
        let source = a.node.clone();
        let migration_plan = plan_between(Technique::PreCopy, &a, &b);
        let mut to_b = b.client.clone();
        // 4 MiB at 20 Mbit/s: round 0 alone takes 1.7 s.
        let task = tokio::spawn(async move {
            source
                .migrate_to(&mut to_b, migration_plan, Some(shaped_link(20e6)))
                .await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            vm_status(&a.node).map(|vm| vm.state).as_deref(),
            Some("MIGRATING_OUT")
        );
        task.abort();
        assert!(task.await.expect_err("aborted").is_cancelled());
        assert_eq!(
            vm_status(&a.node).map(|vm| vm.state).as_deref(),
            Some("RUNNING")
        );
        let mut client = a.client.clone();
        let answer = client
            .execute(request("vm-1", 0))
            .await
            .expect("the VM still serves at a")
            .into_inner();
        assert_eq!(answer.host_id, "a");
        // The cut stream drops the target's side: the same migration can
        // be prepared there again (it is refused while b still holds it).
        assert!(b.node.status().vms.is_empty());
        let mut left = true;
        for _ in 0..200 {
            let retry = a
                .node
                .migrate_to(
                    &mut b.client.clone(),
                    plan_between(Technique::PreCopy, &a, &b),
                    None,
                )
                .await;
            match retry {
                Ok(_) => {
                    left = false;
                    break;
                }
                Err(MigrateError::Refused(reason)) if reason.contains("already prepared") => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(other) => panic!("the retry failed: {other}"),
            }
        }
        assert!(!left, "b kept its side of the killed migration");
        a.stop().await;
        b.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pre_copy_moves_every_byte_it_counts_and_hands_the_vm_over() {
        let (a, b) = source_hosting_the_vm_and_target().await;
        let report = migrate_a_to_b(&a, &b, plan(Technique::PreCopy), None)
            .await
            .expect("migration");
        assert!(report.model.rounds >= 1);
        assert_eq!(report.target_summary.pages_received, report.pages_sent);
        assert_eq!(report.target_summary.bytes_received, report.wire_bytes);
        // Every page crossed at least once, with its 4 KiB of data.
        assert!(report.pages_sent >= MODEL_VM_BYTES / 4096);
        assert!(report.wire_bytes > MODEL_VM_BYTES);
        assert_eq!(vm_state(&b.node, "vm-1").as_deref(), Some("RUNNING"));
        assert_eq!(vm_state(&a.node, "vm-1"), None);
        assert_eq!(
            (
                a.node.status().migrations_out,
                b.node.status().migrations_in
            ),
            (1, 1)
        );
        a.stop().await;
        b.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_emulated_link_paces_the_transfer() {
        let (a, b) = source_hosting_the_vm_and_target().await;
        // 100 Mbit/s: the VM stays suspended for the 4 MiB's 0.36 s at
        // least, so the device (a request every 5 ms) meets it even when a
        // loaded machine keeps the device's task from running for a while.
        let rate_bps = 100e6;
        let spec = LinkSpec::new(Duration::from_millis(2), rate_bps).expect("spec");
        let link = Arc::new(EmulatedLink::symmetric(
            spec,
            Timer::precise().expect("timer"),
        ));
        let device = device(a.client.clone(), Duration::from_millis(5));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut to_b = b.client.clone();
        let report = a
            .node
            .migrate_to(
                &mut to_b,
                plan_between(Technique::StopAndCopy, &a, &b),
                Some(link),
            )
            .await
            .expect("migration");
        let run = device.finish_run().await;
        let answers = run.answers;
        // A request that reached the suspended VM waited, then was answered
        // by the target (forwarded by the source).
        let waited: Vec<&ExecuteResponse> = answers
            .iter()
            .map(|a| a.as_ref().expect("every request is answered"))
            .filter(|a| a.migration_stall_us > 0)
            .collect();
        // The device sends every 5 ms, so some request meets the
        // suspension, and its wait is in its answer even when the source
        // committed before that request was scheduled again (it is then
        // forwarded all the same, not redirected), and in the source's
        // figures.
        let suspended = Duration::from_micros(report.source_commit.downtime_us);
        assert!(
            !waited.is_empty(),
            "no request met the VM suspended for {suspended:?} (the device was idle for up \
             to {:?}, a request spent up to {:?} outside any migration wait; answers: {:?})",
            run.longest_idle,
            run.longest_overhead,
            answers
                .iter()
                .flatten()
                .map(|a| (a.host_id.as_str(), a.migration_stall_us))
                .collect::<Vec<_>>()
        );
        assert!(waited.iter().all(|a| a.host_id == "b"));
        assert!(report.source_commit.stall_us > 0);
        // The link cannot carry the bytes faster than its rate plus one latency.
        let floor = Duration::from_secs_f64(report.wire_bytes as f64 * 8.0 / rate_bps)
            + Duration::from_millis(2);
        assert!(
            report.elapsed >= floor,
            "{:?} < {:?}",
            report.elapsed,
            floor
        );
        assert!(report.model.downtime_ms * 1e-3 >= floor.as_secs_f64() * 0.99);
        // The measured downtime (suspend to the target's acknowledgement)
        // cannot be shorter than sending the memory at the shaped rate.
        let memory_floor_us = MODEL_VM_BYTES as f64 * 8.0 / rate_bps * 1e6;
        assert!(
            report.source_commit.downtime_us as f64 >= memory_floor_us,
            "{} µs < {memory_floor_us} µs",
            report.source_commit.downtime_us
        );
        assert_counts_agree(&report);
        assert_eq!(vm_state(&b.node, "vm-1").as_deref(), Some("RUNNING"));
        a.stop().await;
        b.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refusals_leave_the_vm_where_it_ran() {
        let a = start("a", 2, 64 * MIB).await;
        let small = start("small", 2, MIB).await;
        a.node.host_vm("vm-1", MODEL_VM_BYTES, 0.0).expect("host");
        let mut to_small = small.client.clone();
        let post = a
            .node
            .migrate_to(&mut to_small, plan(Technique::PostCopy), None)
            .await;
        assert!(matches!(post, Err(MigrateError::Refused(_))), "{post:?}");
        let full = a
            .node
            .migrate_to(&mut to_small, plan(Technique::PreCopy), None)
            .await;
        assert!(matches!(full, Err(MigrateError::Refused(_))), "{full:?}");
        assert_eq!(vm_state(&a.node, "vm-1").as_deref(), Some("RUNNING"));
        assert!(small.node.status().vms.is_empty());
        a.stop().await;
        small.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_can_share_one_timer_thread() {
    let timer = mcc_cloudlet::realtime::Timer::precise().expect("timer");
    let nodes: Vec<CloudletNode> = ["x", "y"]
        .into_iter()
        .map(|id| {
            let node = CloudletNode::with_timer(
                NodeConfig {
                    host_id: id.to_owned(),
                    cores: 1,
                    memory_bytes: 64 * MIB,
                },
                timer.clone(),
            )
            .expect("node");
            node.host_vm("vm-1", VM_BYTES, 0.0).expect("host");
            node
        })
        .collect();
    for node in nodes {
        let mut running = common::serve(node).await;
        let answer = running
            .client
            .execute(request("vm-1", 2_000))
            .await
            .expect("execute")
            .into_inner();
        assert_eq!(answer.host_id, running.node.host_id());
        assert!(answer.service_us >= 2_000);
        running.stop().await;
    }
}
