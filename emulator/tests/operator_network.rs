//! The operator's network between cell and cloudlet: backbone positions from
//! the scenario, the generated access network, the user-plane breakout and
//! the remote cloud, on HEAnet with its Dublin points of presence.

mod common;
use common::repo;

use mcc_emu::engine::placement_tables::PlacementTables;
use mcc_emu::engine::{Engine, RunSettings};
use mcc_emu::output::MemorySink;
use mcc_emu::scenario::{self, Scenario, ScenarioError};

/// Loads `text` as if it were a file next to the shipped topologies.
fn load(text: &str) -> Result<Scenario, ScenarioError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opnet.toml");
    let text = text.replace("TOPO", &repo("topologies").display().to_string());
    std::fs::write(&path, text).unwrap();
    scenario::load_file(&path)
}

/// HEAnet with its Dublin PoPs moved, and an operator network over a
/// 16 km × 11 km box around Dublin's centre (RMa spacing).
const DUBLIN: &str = r#"
duration_s = 60
[topology]
file = "TOPO/Heanet.graphml"
[topology.positions]
"TDC (Trinity College Dublin)" = { lat = 53.3444, lon = -6.2577 }
"DCU (Dublin City University" = { lat = 53.38495, lon = -6.25654 }
CityWest = { lat = 53.28772, lon = -6.43079 }
Kilcarbery = { lat = 53.3445, lon = -6.3889 }
[operator]
region = { south = 53.30, west = -6.38, north = 53.40, east = -6.14 }
EXTRA
[[devices]]
random_waypoint = { center = { lat = 53.3498, lon = -6.2603 }, radius_m = 3000 }
count = DEVICES
"#;

fn dublin(extra: &str, devices: u32) -> Scenario {
    load(
        &DUBLIN
            .replace("EXTRA", extra)
            .replace("DEVICES", &devices.to_string()),
    )
    .unwrap()
}

fn ap_index(s: &Scenario, name: &str) -> u32 {
    s.world
        .access_points
        .iter()
        .position(|a| a.name == name)
        .unwrap() as u32
}

/// The cloudlet with the lowest latency from `ap` (the one at its own
/// aggregation site) and one with the most hops.
fn local_and_far(s: &Scenario, ap: u32) -> (u32, u32) {
    let n = s.world.cloudlets.len() as u32;
    let local = (0..n)
        .min_by_key(|&c| (s.world.paths.ap_latency_ns(ap, c), c))
        .unwrap();
    let far = (0..n)
        .max_by_key(|&c| (s.world.paths.up(ap, c).len(), c))
        .unwrap();
    (local, far)
}

#[test]
fn a_cloudlet_beside_another_aggregation_site_is_more_hops_and_more_latency_away() {
    let s = dublin("", 1);
    let tiers = s.network.operator.as_ref().unwrap();
    assert_eq!(s.world.access_points.len(), tiers.cell_sites);
    assert_eq!(s.world.cloudlets.len(), tiers.aggregation_sites);
    let ap = ap_index(&s, "cell-1");
    let (local, far) = local_and_far(&s, ap);
    // Cell site → aggregation router → its cloudlet.
    assert_eq!(s.world.paths.up(ap, local).len(), 2);
    // Up to a metro PoP, across, and down another aggregation site.
    assert!(s.world.paths.up(ap, far).len() >= 4);
    assert!(s.world.paths.ap_latency_ns(ap, far) > s.world.paths.ap_latency_ns(ap, local));
    // Every other cloudlet: more hops than the local one, and more latency.
    for c in 0..s.world.cloudlets.len() as u32 {
        if c != local {
            assert!(s.world.paths.up(ap, c).len() > 2, "cloudlet {c}");
            assert!(
                s.world.paths.ap_latency_ns(ap, c) > s.world.paths.ap_latency_ns(ap, local),
                "cloudlet {c}"
            );
        }
    }
    // The four Dublin PoPs now stand apart: the metro core spreads over them.
    assert!(tiers.metro_pops.len() >= 3, "{:?}", tiers.metro_pops);
    assert_eq!(s.network.moved_nodes.len(), 4);
}

#[test]
fn central_breakout_adds_the_core_detour_to_every_request_path() {
    let edge = dublin("", 1);
    let central = dublin(
        "[user_plane]\nbreakout = \"central\"\ncore = \"TDC (Trinity College Dublin)\"",
        1,
    );
    assert_eq!(
        central.network.breakout,
        "central at TDC (Trinity College Dublin)"
    );
    assert_eq!(edge.network.breakout, "edge");
    let ap = ap_index(&edge, "cell-1");
    let (local, _) = local_and_far(&edge, ap);
    let e = edge.world.paths.ap_latency_ns(ap, local);
    let c = central.world.paths.ap_latency_ns(ap, local);
    // Up to the core (≥ 2 hops) and back down (≥ 2 more).
    assert!(central.world.paths.up(ap, local).len() >= 4);
    assert!(c > e, "{c} vs {e}");
    for cl in 0..edge.world.cloudlets.len() as u32 {
        assert!(
            central.world.paths.ap_latency_ns(ap, cl) >= edge.world.paths.ap_latency_ns(ap, cl)
        );
    }
    // Migration paths are the same.
    assert_eq!(
        central.world.paths.between_latency_table_ns(),
        edge.world.paths.between_latency_table_ns()
    );
}

#[test]
fn the_remote_cloud_takes_the_vms_the_cloudlets_have_no_room_for() {
    // Each cloudlet holds one 1 GiB VM; more devices than cloudlets.
    let extra = "cloudlet_memory_mib = 1024\n[cloud]\nattach_to = \"TDC (Trinity College Dublin)\"";
    let s = dublin(extra, 60);
    let n = s.world.cloudlets.len();
    assert!(n - 1 < 60, "{n} hosts");
    let cloud = s
        .world
        .cloudlets
        .iter()
        .position(|c| c.name == "cloud-region")
        .unwrap();
    assert_eq!(cloud, n - 1, "the cloud is the last host");
    let report = s.network.cloud.as_ref().unwrap();
    assert_eq!((report.cpu_cores, report.memory_mib), (60, 60 * 1024));
    assert!(s.world.cloudlets[cloud].position.is_none());
    // The farthest host from every cell site: 9.5 ms one way behind TCD.
    for ap in 0..s.world.access_points.len() as u32 {
        let to_cloud = s.world.paths.ap_latency_ns(ap, cloud as u32);
        assert!(to_cloud >= 9_500_000);
        assert!((0..n as u32).all(|c| s.world.paths.ap_latency_ns(ap, c) <= to_cloud));
    }
    // With every cloudlet full, the initial placement picks the cloud...
    let tables = PlacementTables::new(&s.world, &s.settings.migration);
    let vm = s.settings.migration.vm_memory_bytes();
    let mut used: Vec<u64> = s.world.cloudlets.iter().map(|c| c.memory_bytes).collect();
    used[cloud] = 0;
    let centre = s.world.access_points[0].position;
    assert_eq!(
        tables.initial_host(&s.world, Some(0), centre, &used, vm),
        Some(cloud as u32)
    );
    // ...and not before.
    let empty = vec![0; n];
    assert_ne!(
        tables.initial_host(&s.world, Some(0), centre, &empty, vm),
        Some(cloud as u32)
    );
    // The run places all 60 VMs (the cloudlets alone hold fewer) and some
    // requests are served by the cloud.
    let settings = RunSettings {
        duration_ns: 20_000_000_000,
        ..s.settings.clone()
    };
    let policy = mcc_emu::placement::build(&s.policy, &s.policy_configs).unwrap();
    let engine = Engine::new(&s.world, settings, policy, MemorySink::default()).unwrap();
    let (_, sink) = engine.run(|_| {});
    assert!(
        sink.requests.iter().any(|r| r.host == cloud as u32),
        "no request reached the cloud"
    );
    // Without the cloud the same world cannot start.
    let without = dublin("cloudlet_memory_mib = 1024", 60);
    let policy = mcc_emu::placement::build(&without.policy, &without.policy_configs).unwrap();
    assert!(
        Engine::new(
            &without.world,
            without.settings.clone(),
            policy,
            MemorySink::default()
        )
        .is_err()
    );
}

#[test]
fn bad_network_tables_are_clear_errors() {
    let err = |text: &str| load(text).unwrap_err().to_string();
    let base = DUBLIN.replace("EXTRA", "").replace("DEVICES", "1");
    let e = err(&base.replace("CityWest = {", "Citywest = {"));
    assert!(
        e.contains(
            "key `topology.positions.\"Citywest\"`: no node has the id or label \"Citywest\""
        ),
        "{e}"
    );
    let e = err(&base.replace("lat = 53.3445", "lat = 95"));
    assert!(e.contains("key `topology.positions.\"Kilcarbery\"`"), "{e}");
    let e = err(&DUBLIN
        .replace("EXTRA", "[user_plane]\nbreakout = \"central\"")
        .replace("DEVICES", "1"));
    assert!(
        e.contains("key `user_plane.core`: a `central` breakout needs"),
        "{e}"
    );
    let e = err(&DUBLIN
        .replace("EXTRA", "[user_plane]\nbreakout = \"middle\"")
        .replace("DEVICES", "1"));
    assert!(e.contains("\"middle\" is not one of edge, central"), "{e}");
    let e = err(&DUBLIN
        .replace("EXTRA", "route_factor = 0.9")
        .replace("DEVICES", "1"));
    assert!(
        e.contains("key `operator`: route_factor must be a number >= 1"),
        "{e}"
    );
    let e = err(&DUBLIN
        .replace("EXTRA", "[cloud]\nattach_to = \"Belfast\"")
        .replace("DEVICES", "1"));
    assert!(
        e.contains("key `cloud.attach_to`: no node has the id or label"),
        "{e}"
    );
    let e = err(&base.replace("Heanet.graphml", "example-topology.toml"));
    assert!(
        e.contains("key `topology.positions`: only for a GraphML"),
        "{e}"
    );
}

#[test]
fn the_dublin_experiment_loads_with_its_tiers() {
    let s = scenario::load_file(&repo("experiments/dublin/dublin.toml")).unwrap();
    let op = s.network.operator.as_ref().unwrap();
    assert_eq!(op.dense_isd_m, Some(500.0));
    assert_eq!(op.isd_m, 1732.0);
    // 37 km × 57 km: a few hundred UMa sites in the 5 km disc, several
    // hundred RMa sites around them.
    assert!(
        (300..450).contains(&op.cell_sites_dense),
        "{}",
        op.cell_sites_dense
    );
    assert!((900..1500).contains(&op.cell_sites), "{}", op.cell_sites);
    assert_eq!(s.world.cloudlets.len(), op.aggregation_sites + 1);
    assert_eq!(s.network.cloud.as_ref().unwrap().id, "cloud-west-europe");
}

#[test]
fn the_austin_experiment_hangs_every_aggregation_site_off_one_pop() {
    let s = scenario::load_file(&repo("experiments/austin/austin.toml")).unwrap();
    let op = s.network.operator.as_ref().unwrap();
    // Cogent's map has one PoP in the fleet's area: the whole metro core is
    // Austin's.
    assert_eq!(op.metro_pops.len(), 1, "{:?}", op.metro_pops);
    assert_eq!(op.metro_pops[0].0, "Austin");
    assert_eq!(op.metro_pops[0].1, op.aggregation_sites);
    // 50 km × 25 km: a few hundred UMa sites in the 5 km disc downtown.
    assert!(
        (300..450).contains(&op.cell_sites_dense),
        "{}",
        op.cell_sites_dense
    );
    assert!((700..1100).contains(&op.cell_sites), "{}", op.cell_sites);
    let cloud = s.network.cloud.as_ref().unwrap();
    assert_eq!(cloud.id, "cloud-south-central-us");
    assert_eq!(cloud.attached_to, "San Antonio");
    assert_eq!(cloud.rtt_ms, 2.0);
    // One trace per bus with ten fixes or more in the hour, three devices
    // (one per application profile) a bus.
    assert_eq!(s.world.devices.len() % 3, 0);
    assert!(
        (150 * 3..=170 * 3).contains(&s.world.devices.len()),
        "{}",
        s.world.devices.len()
    );
}

/// `[topology] per_hop_latency_ms` replaces the loaders' 0.1 ms on every
/// link of a GraphML file: the two PoPs at the same place are that far
/// apart, and one with a position-derived length keeps its fibre part.
#[test]
fn the_per_hop_latency_of_a_graphml_backbone_is_the_scenarios() {
    let latency = |extra: &str| {
        let text = r#"
duration_s = 60
[topology]
file = "TOPO/Heanet.graphml"
EXTRA
[[devices]]
random_waypoint = { center = { lat = 53.3498, lon = -6.2603 }, radius_m = 3000 }
"#
        .replace("EXTRA", extra)
        .replace("TOPO", &repo("topologies").display().to_string());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("per-hop.toml");
        std::fs::write(&path, text).unwrap();
        let (loaded, _) = scenario::load_topology_file(&path).unwrap();
        let t = &loaded.topology;
        let [tdc, kilcarbery] = ["TDC (Trinity College Dublin)", "Kilcarbery"].map(|label| {
            t.nodes()
                .find(|(_, n)| n.label == label)
                .unwrap_or_else(|| panic!("no node {label}"))
                .0
        });
        let link = t
            .link_between(tdc, kilcarbery)
            .expect("TDC-Kilcarbery link");
        t.link(link).unwrap().2.latency_ms
    };
    // The Zoo file puts both PoPs on one point: the latency is the per-hop part alone.
    assert!((latency("") - 0.1).abs() < 1e-12, "{}", latency(""));
    let set = latency("per_hop_latency_ms = 0.015");
    assert!((set - 0.015).abs() < 1e-12, "{set}");
    let e = load(
        &DUBLIN
            .replace("[topology]\n", "[topology]\nper_hop_latency_ms = -1\n")
            .replace("EXTRA", "")
            .replace("DEVICES", "1"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("key `topology.per_hop_latency_ms`: must be a number >= 0, got -1"),
        "{e}"
    );
}
