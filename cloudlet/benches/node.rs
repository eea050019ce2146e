//! Benchmarks of the real cloudlet node over loopback gRPC.
//!
//! - `execute`: requests/s one node serves when its runtime has one worker
//!   thread (one core), `Execute` with zero CPU cost, from 4 concurrent
//!   clients on their own connections (and their own runtime thread).
//! - `transfer`: a 64 MiB VM streamed to a node with `ReceiveVm` (1 MiB
//!   page batches, no zero pages, TCP_NODELAY, unshaped loopback), against
//!   a plain `memcpy` of the same 64 MiB.
//! - `transfer_shaped`: a 16 MiB VM moved by a real stop-and-copy migration
//!   (`migrate_to`) between two nodes over an emulated link of 100 Mbit/s
//!   and of 1 Gbit/s (1 ms each way), back and forth; the throughput is the
//!   VM's memory over the migration's wall time, to be read against the
//!   configured bandwidth (printed after the group as a ratio).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcc_cloudlet::memory::{DirtyModel, VmProfile as ModelProfile};
use mcc_cloudlet::migration::{MigrationConfig, PathEstimate, Technique};
use mcc_cloudlet::node::migrate::RealMigration;
use mcc_cloudlet::node::pages::VmMemory;
use mcc_cloudlet::node::{self, CloudletNode, NodeConfig};
use mcc_cloudlet::realtime::{EmulatedLink, LinkSpec, Timer};
use mcc_proto::v1::cloudlet_client::CloudletClient;
use mcc_proto::v1::vm_transfer::Kind;
use mcc_proto::v1::{
    AbortHandoverRequest, ExecuteRequest, ExecutionState, PageBatch, PrepareHandoverRequest,
    VmHeader, VmProfile, VmTransfer,
};
use tonic::transport::{Channel, Endpoint};

const CLIENTS: usize = 4;
const VM_BYTES: u64 = 64 << 20;
const PAGES_PER_BATCH: u64 = 256;

fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Starts a node on its own one-worker runtime; returns its address.
fn start_node(server_rt: &tokio::runtime::Runtime, id: &str) -> (CloudletNode, String) {
    let node = CloudletNode::new(NodeConfig {
        host_id: id.to_owned(),
        cores: 64,
        memory_bytes: 1 << 30,
    })
    .expect("node");
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let served = node.clone();
    server_rt.spawn(async move {
        let _ = node::serve(served, listener, std::future::pending()).await;
    });
    (node, format!("http://{addr}"))
}

async fn connect(url: &str) -> CloudletClient<Channel> {
    let channel = Endpoint::from_shared(url.to_owned())
        .expect("endpoint")
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect");
    CloudletClient::new(channel).max_decoding_message_size(8 << 20)
}

fn execute(c: &mut Criterion) {
    let server_rt = runtime(1);
    let client_rt = runtime(1);
    let (node, url) = start_node(&server_rt, "bench");
    node.host_vm("vm", 4096, 0.0).expect("host");
    let clients: Vec<_> = client_rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            clients.push(connect(&url).await);
        }
        clients
    });
    let mut group = c.benchmark_group("execute");
    group.throughput(Throughput::Elements(1));
    group.bench_function("zero_cost_4_clients_1_core", |b| {
        b.iter_custom(|iters| {
            client_rt.block_on(async {
                let per_client = iters.div_ceil(CLIENTS as u64);
                let start = Instant::now();
                let tasks: Vec<_> = clients
                    .iter()
                    .cloned()
                    .map(|mut client| {
                        tokio::spawn(async move {
                            for i in 0..per_client {
                                let answer = client
                                    .execute(ExecuteRequest {
                                        vm_id: "vm".to_owned(),
                                        request_id: i,
                                        payload: vec![0; 64],
                                        response_bytes: 64,
                                        ..Default::default()
                                    })
                                    .await
                                    .expect("execute");
                                black_box(answer);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("client task");
                }
                // Time per request, as if `iters` requests were served.
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per_client * CLIENTS as u64) as f64)
            })
        });
    });
    group.finish();
}

fn vm_stream(batches: &[PageBatch], migration_id: &str) -> Vec<VmTransfer> {
    let mut messages = vec![VmTransfer {
        kind: Some(Kind::Header(VmHeader {
            migration_id: migration_id.to_owned(),
            vm_id: "vm".to_owned(),
            source_host_id: "source".to_owned(),
            technique: 1,
            profile: Some(profile()),
            ..Default::default()
        })),
    }];
    messages.extend(batches.iter().cloned().map(|batch| VmTransfer {
        kind: Some(Kind::Pages(batch)),
    }));
    messages.push(VmTransfer {
        kind: Some(Kind::State(ExecutionState {
            cpu_state: vec![0; 4096],
            pages_missing: 0,
            ..Default::default()
        })),
    });
    messages
}

fn profile() -> VmProfile {
    VmProfile {
        memory_bytes: VM_BYTES,
        page_size_bytes: 4096,
        ..Default::default()
    }
}

fn transfer(c: &mut Criterion) {
    let server_rt = runtime(1);
    let client_rt = runtime(1);
    let (_node, url) = start_node(&server_rt, "target");
    let memory = VmMemory::for_vm("vm", VM_BYTES, 4096, 0.0);
    let batches: Vec<PageBatch> = (0..memory.pages())
        .step_by(PAGES_PER_BATCH as usize)
        .map(|first| PageBatch {
            round: 0,
            pages: (first..(first + PAGES_PER_BATCH).min(memory.pages()))
                .map(|i| memory.page(i))
                .collect(),
        })
        .collect();
    let mut client = client_rt.block_on(connect(&url));
    let mut group = c.benchmark_group("transfer");
    group.throughput(Throughput::Bytes(VM_BYTES));
    group.sample_size(10);
    let mut run = 0u64;
    group.bench_function("receive_vm_64MiB_loopback", |b| {
        b.iter_custom(|iters| {
            client_rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    run += 1;
                    let id = format!("m{run}");
                    let prepared = client
                        .prepare_handover(PrepareHandoverRequest {
                            migration_id: id.clone(),
                            vm_id: "vm".to_owned(),
                            source_host_id: "source".to_owned(),
                            technique: 1,
                            profile: Some(profile()),
                            ..Default::default()
                        })
                        .await
                        .expect("prepare")
                        .into_inner();
                    assert!(prepared.accepted, "{}", prepared.reason);
                    let messages = vm_stream(&batches, &id);
                    let start = Instant::now();
                    let summary = client
                        .receive_vm(tokio_stream::iter(messages))
                        .await
                        .expect("receive")
                        .into_inner();
                    total += start.elapsed();
                    black_box(summary);
                    client
                        .abort_handover(AbortHandoverRequest {
                            migration_id: id,
                            reason: String::new(),
                        })
                        .await
                        .expect("abort");
                }
                total
            })
        });
    });
    let source = vec![0x5Au8; VM_BYTES as usize];
    let mut target = vec![0u8; VM_BYTES as usize];
    group.bench_function("memcpy_64MiB", |b| {
        b.iter(|| {
            target.copy_from_slice(black_box(&source));
            black_box(&target);
        });
    });
    group.finish();
}

const SHAPED_VM_BYTES: u64 = 16 << 20;

/// Two nodes on one runtime, each with its address and a client to it.
struct Pair {
    nodes: [CloudletNode; 2],
    addresses: [String; 2],
    clients: [CloudletClient<Channel>; 2],
}

fn start_pair(server_rt: &tokio::runtime::Runtime, client_rt: &tokio::runtime::Runtime) -> Pair {
    let (a, a_url) = start_node(server_rt, "a");
    let (b, b_url) = start_node(server_rt, "b");
    let clients = client_rt.block_on(async { [connect(&a_url).await, connect(&b_url).await] });
    Pair {
        nodes: [a, b],
        addresses: [a_url, b_url],
        clients,
    }
}

/// A stop-and-copy plan for moving the VM from node `from` to node `to`.
fn shaped_plan(pair: &Pair, from: usize, to: usize, run: u64, bandwidth_bps: f64) -> RealMigration {
    RealMigration {
        migration_id: format!("shaped-{run}"),
        vm_id: "vm".to_owned(),
        profile: ModelProfile::new(SHAPED_VM_BYTES, 0, 0.0, 0.0, DirtyModel::Linear)
            .expect("profile"),
        config: MigrationConfig::new(Technique::StopAndCopy),
        path: PathEstimate {
            one_way_latency: Duration::from_millis(1),
            bandwidth_bps,
        },
        target_host_id: pair.nodes[to].host_id().to_owned(),
        target_address: pair.addresses[to].clone(),
        source_address: pair.addresses[from].clone(),
    }
}

fn transfer_shaped(c: &mut Criterion) {
    let server_rt = runtime(2);
    let client_rt = runtime(1);
    let pair = start_pair(&server_rt, &client_rt);
    pair.nodes[0]
        .host_vm("vm", SHAPED_VM_BYTES, 0.0)
        .expect("host");
    let timer = Timer::precise().expect("timer");
    let mut group = c.benchmark_group("transfer_shaped");
    group.throughput(Throughput::Bytes(SHAPED_VM_BYTES));
    group.sample_size(10);
    let mut run = 0u64;
    let mut at = 0usize;
    let mut achieved = Vec::new();
    for bandwidth_bps in [100e6, 1e9] {
        let spec = LinkSpec::new(Duration::from_millis(1), bandwidth_bps).expect("spec");
        let link = Arc::new(EmulatedLink::symmetric(spec, timer.clone()));
        let mut memory_bytes = 0u64;
        let mut elapsed = Duration::ZERO;
        let name = format!("stop_and_copy_16MiB_{}Mbps", bandwidth_bps / 1e6);
        group.bench_function(name.as_str(), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    run += 1;
                    let (from, to) = (at, 1 - at);
                    let plan = shaped_plan(&pair, from, to, run, bandwidth_bps);
                    let source = pair.nodes[from].clone();
                    let mut target = pair.clients[to].clone();
                    let link = link.clone();
                    let start = Instant::now();
                    let report = client_rt
                        .block_on(
                            async move { source.migrate_to(&mut target, plan, Some(link)).await },
                        )
                        .expect("migration");
                    let took = start.elapsed();
                    total += took;
                    elapsed += took;
                    memory_bytes += SHAPED_VM_BYTES;
                    black_box(report);
                    at = to;
                }
                total
            })
        });
        achieved.push((
            bandwidth_bps,
            memory_bytes as f64 * 8.0 / elapsed.as_secs_f64(),
        ));
    }
    group.finish();
    for (configured, got) in achieved {
        println!(
            "transfer_shaped: {:.1} Mbit/s of VM memory moved over a {:.0} Mbit/s link: {:.1} % of the configured bandwidth",
            got / 1e6,
            configured / 1e6,
            100.0 * got / configured
        );
    }
}

criterion_group!(benches, execute, transfer, transfer_shaped);
criterion_main!(benches);
