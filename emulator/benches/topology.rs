//! Topology benchmarks: GraphML load time, and path-delay queries on
//! Geant2012 with the Melbourne EUA sites relocated to Amsterdam (the
//! experiment engine's hot path: cached, by dense node index).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcc_emu::topology::combine::attach_sites;
use mcc_emu::topology::graphml::load_graphml;
use mcc_emu::topology::sites::load_sites;
use mcc_emu::topology::{LinkDefaults, NodeIx, Topology};

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../topologies")
        .join(name)
}

fn world() -> Topology {
    let defaults = LinkDefaults::default();
    let backbone = load_graphml(&shipped("Geant2012.graphml"), &defaults).expect("Geant2012 loads");
    let amsterdam = backbone
        .topology
        .node_by_id("NL")
        .and_then(|n| n.position)
        .expect("NL has coordinates");
    let sites = load_sites(&shipped("sites/site-optus-melbCBD.csv"))
        .expect("sites load")
        .relocated(amsterdam)
        .expect("relocation stays on the globe");
    attach_sites(backbone, &sites, None, &defaults)
        .expect("sites attach")
        .topology
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    for name in ["Heanet.graphml", "Geant2012.graphml"] {
        let file = shipped(name);
        group.bench_function(name, |b| {
            b.iter(|| load_graphml(black_box(&file), &LinkDefaults::default()).expect("loads"))
        });
    }
    group.finish();
}

fn queries(c: &mut Criterion) {
    let topology = world();
    let aps: Vec<NodeIx> = topology.access_points().map(|(ix, _, _)| ix).collect();
    let cloudlets: Vec<NodeIx> = topology.cloudlets().map(|(ix, _, _)| ix).collect();
    // Every access point to every cloudlet: 125 × 125 pairs.
    let pairs: Vec<(NodeIx, NodeIx)> = aps
        .iter()
        .flat_map(|&a| cloudlets.iter().map(move |&c| (a, c)))
        .collect();
    println!(
        "world: {} nodes, {} links, {} query pairs",
        topology.node_count(),
        topology.link_count(),
        pairs.len()
    );
    let mut group = c.benchmark_group("path_delay");
    group.throughput(Throughput::Elements(pairs.len() as u64));
    group.bench_function("one_way_delay_ms cached (AP x cloudlet)", |b| {
        // Warm the cache once; the benchmark measures cached queries.
        for &(a, c) in &pairs {
            black_box(topology.one_way_delay_ms(a, c, 4096));
        }
        b.iter(|| {
            let mut sum = 0.0;
            for &(a, c) in &pairs {
                sum += topology.one_way_delay_ms(a, c, 4096).unwrap_or(0.0);
            }
            black_box(sum)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("path_tree");
    group.bench_function("cold: 125 Dijkstra trees (one per AP)", |b| {
        b.iter_batched(
            || {
                let mut t = topology.clone();
                t.clear_path_cache();
                t
            },
            |t| {
                for &a in &aps {
                    black_box(t.latency_ms(a, cloudlets[0]));
                }
                t
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = load, queries
}
criterion_main!(benches);
