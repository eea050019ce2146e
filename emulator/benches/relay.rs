//! What the edge's relay costs nodes that run outside its process.
//!
//! - `relay_execute`: one `Execute` (zero CPU cost) at a time from one
//!   client, to the node directly and through a relay route over an empty
//!   (unshaped) path: the extra loopback hop the relay adds to a forwarded
//!   request.
//! - `relay_migrate`: a 16 MiB VM moved by stop-and-copy (`MigrateVm`)
//!   between two nodes, back and forth: directly (unshaped loopback),
//!   through the relay unshaped, and through the relay over one emulated
//!   link of 1 ms and 1 Gbit/s. The last is printed as a share of the
//!   link's bandwidth, to be read against the in-process driver's 92.4 %
//!   (`cargo bench -p mcc-cloudlet --bench node`, `transfer_shaped`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcc_cloudlet::node::{self, CloudletNode, NodeConfig};
use mcc_cloudlet::realtime::{Direction, EmulatedLink, EmulatedPath, LinkSpec, Timer};
use mcc_emu::realclock::relay::{Relay, RouteEnds};
use mcc_proto::v1::cloudlet_client::CloudletClient;
use mcc_proto::v1::{ExecuteRequest, HostVmRequest, MigrateVmRequest, VmProfile};
use tonic::transport::{Channel, Endpoint};

const VM_BYTES: u64 = 16 << 20;
const LINK_BPS: f64 = 1e9;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn client(address: &str) -> CloudletClient<Channel> {
    let endpoint = Endpoint::from_shared(address.to_owned()).expect("endpoint");
    CloudletClient::new(endpoint.tcp_nodelay(true).connect_lazy())
        .max_decoding_message_size(node::MAX_MESSAGE_BYTES)
}

/// Serves a node on loopback; returns its address.
async fn serve(id: &str, timer: &Timer) -> String {
    let node = CloudletNode::with_timer(
        NodeConfig {
            host_id: id.to_owned(),
            cores: 64,
            memory_bytes: 1 << 30,
        },
        timer.clone(),
    )
    .expect("node");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(node::serve(node, listener, std::future::pending()));
    address
}

/// Routes a → b and b → a over `there` / `back`; returns their addresses.
async fn routes(
    relay: &Relay,
    timer: &Timer,
    (a, b): (&str, &str),
    there: &EmulatedPath,
    back: &EmulatedPath,
) -> (String, String) {
    let mut addresses = Vec::new();
    for (from, to, caller, target, path_there, path_back) in
        [(0, 1, a, b, there, back), (1, 0, b, a, back, there)]
    {
        let ends = RouteEnds {
            caller: caller.to_owned(),
            target: client(target),
            there: path_there.clone(),
            back: path_back.clone(),
        };
        addresses.push(
            relay
                .route(from, to, timer, || Ok(ends))
                .await
                .expect("route"),
        );
    }
    let b_to_a = addresses.pop().expect("route b → a");
    let a_to_b = addresses.pop().expect("route a → b");
    (a_to_b, b_to_a)
}

fn execute(id: u64) -> ExecuteRequest {
    ExecuteRequest {
        vm_id: "vm".into(),
        device_id: "bench".into(),
        request_id: id,
        payload: vec![0; 256],
        cpu_cost_us: 0,
        response_bytes: 256,
        sent_unix_time_ns: 0,
    }
}

fn profile() -> VmProfile {
    VmProfile {
        memory_bytes: VM_BYTES,
        working_set_bytes: 1 << 20,
        dirty_rate_pps: 0.0,
        zero_page_fraction: 0.0,
        page_size_bytes: 4096,
    }
}

fn relay_execute(c: &mut Criterion) {
    let rt = runtime();
    let timer = Timer::precise().expect("timer");
    let (direct, relayed) = rt.block_on(async {
        let a = serve("a", &timer).await;
        let b = serve("b", &timer).await;
        let relay = Box::leak(Box::new(Relay::new()));
        let unshaped = EmulatedPath::new(Vec::new(), timer.clone());
        let (_, to_a) = routes(relay, &timer, (&a, &b), &unshaped, &unshaped).await;
        client(&a)
            .host_vm(HostVmRequest {
                vm_id: "vm".into(),
                profile: Some(VmProfile {
                    memory_bytes: 1 << 20,
                    ..profile()
                }),
            })
            .await
            .expect("hosted");
        (client(&a), client(&to_a))
    });
    let mut group = c.benchmark_group("relay_execute");
    group.throughput(Throughput::Elements(1));
    for (name, target) in [("direct", direct), ("relayed", relayed)] {
        group.bench_function(name, |b| {
            let mut id = 0;
            b.iter_custom(|iters| {
                let mut target = target.clone();
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        id += 1;
                        black_box(target.execute(execute(id)).await.expect("answer"));
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

fn relay_migrate(c: &mut Criterion) {
    let rt = runtime();
    let timer = Timer::precise().expect("timer");
    let spec = LinkSpec::new(Duration::from_millis(1), LINK_BPS).expect("spec");
    let link = Arc::new(EmulatedLink::symmetric(spec, timer.clone()));
    let shaped_there = EmulatedPath::single(link.clone(), Direction::AToB);
    let shaped_back = EmulatedPath::single(link, Direction::BToA);
    let unshaped = EmulatedPath::new(Vec::new(), timer.clone());
    // Three pairs of nodes, one per way of reaching each other.
    let cases = rt.block_on(async {
        let mut cases = Vec::new();
        for (name, paths) in [
            ("direct", None),
            ("relayed_unshaped", Some((&unshaped, &unshaped))),
            ("relayed_1gbit", Some((&shaped_there, &shaped_back))),
        ] {
            let a = serve(&format!("{name}-a"), &timer).await;
            let b = serve(&format!("{name}-b"), &timer).await;
            let (a_to_b, b_to_a) = match paths {
                None => (b.clone(), a.clone()),
                Some((there, back)) => {
                    let relay = Box::leak(Box::new(Relay::new()));
                    routes(relay, &timer, (&a, &b), there, back).await
                }
            };
            client(&a)
                .host_vm(HostVmRequest {
                    vm_id: "vm".into(),
                    profile: Some(profile()),
                })
                .await
                .expect("hosted");
            cases.push((name, [client(&a), client(&b)], [a_to_b, b_to_a]));
        }
        cases
    });
    let mut group = c.benchmark_group("relay_migrate");
    group.throughput(Throughput::Bytes(VM_BYTES));
    group.sample_size(10);
    let mut shaped_rate = None;
    for (name, nodes, addresses) in cases {
        let mut moves = 0u64;
        let mut total = Duration::ZERO;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut elapsed = Duration::ZERO;
                    for _ in 0..iters {
                        // Even moves go a → b, odd ones back.
                        let from = (moves % 2) as usize;
                        let to = 1 - from;
                        let request = MigrateVmRequest {
                            migration_id: format!("{name}-{moves}"),
                            vm_id: "vm".into(),
                            target_host_id: format!("{name}-{}", ["a", "b"][to]),
                            target_address: addresses[from].clone(),
                            source_address: addresses[to].clone(),
                            profile: Some(profile()),
                            dirty_model: "linear".into(),
                            technique: "stop-and-copy".into(),
                            max_rounds: 1,
                            downtime_target_us: 30_000,
                            cpu_state_bytes: 4096,
                            pages_per_request: 8,
                            estimate_latency_us: 1_000,
                            estimate_bandwidth_bps: LINK_BPS,
                            ..Default::default()
                        };
                        let start = Instant::now();
                        nodes[from]
                            .clone()
                            .migrate_vm(request)
                            .await
                            .expect("migrated");
                        elapsed += start.elapsed();
                        moves += 1;
                    }
                    total += elapsed;
                    elapsed
                })
            });
        });
        if name == "relayed_1gbit" && moves > 0 {
            shaped_rate = Some(VM_BYTES as f64 * 8.0 * moves as f64 / total.as_secs_f64());
        }
    }
    group.finish();
    if let Some(rate) = shaped_rate {
        println!(
            "relay_migrate/relayed_1gbit: VM memory moved at {:.1} Mbit/s, {:.1} % of the link's {:.0} Mbit/s",
            rate / 1e6,
            100.0 * rate / LINK_BPS,
            LINK_BPS / 1e6
        );
    }
}

criterion_group!(benches, relay_execute, relay_migrate);
criterion_main!(benches);
