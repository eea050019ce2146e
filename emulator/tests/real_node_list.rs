//! Cloudlet nodes on other hosts, tried on loopback: one node list file
//! (`NAME http://HOST:PORT` a line) names every cloudlet's node; each
//! `cloudlet --node-list FILE --index I` takes its name and port from it,
//! and `mcc-emu run --clock real --spawn remote --node-list FILE` reaches
//! them, measures the real round trip to each at the start (recorded in the
//! summary, subtracted from the emulated delays) and tells the virtual
//! clock's story. A node that answers as another cloudlet, and a real round
//! trip longer than the emulated latency, are refused with what is wrong.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The cloudlets of topologies/small-real-topology.toml.
const CLOUDLETS: [&str; 4] = ["cl-south", "cl-city", "cl-east", "cl-ul"];

/// `cloudlet` processes, killed when dropped.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Ports free on loopback now (held together, so all different).
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("bound").port())
        .collect()
}

/// Writes a node list for `names` on free loopback ports and starts one
/// `cloudlet --node-list FILE --index I` per line; returns the file and
/// the nodes once each printed the address it serves.
fn start_nodes(dir: &Path, names: &[&str]) -> (std::path::PathBuf, Nodes) {
    let binary = common::cloudlet_binary();
    let ports = free_ports(names.len());
    let list = dir.join("nodes.txt");
    let mut text = String::from("# cloudlet  address\n\n");
    for (name, port) in names.iter().zip(&ports) {
        text.push_str(&format!("{name}  http://127.0.0.1:{port}  # loopback\n"));
    }
    std::fs::write(&list, text).expect("node list written");
    let mut nodes = Nodes(Vec::new());
    for (i, port) in ports.iter().enumerate() {
        let mut command = Command::new(&binary);
        command.args([
            "--node-list",
            list.to_str().unwrap(),
            "--index",
            &i.to_string(),
        ]);
        // The first node listens where its line says (every interface, at
        // the line's port); the others on loopback only.
        let serving = if i == 0 {
            format!("http://0.0.0.0:{port}")
        } else {
            command.args(["--listen", &format!("127.0.0.1:{port}")]);
            format!("http://127.0.0.1:{port}")
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cloudlet starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("its address");
        nodes.0.push(child);
        assert_eq!(line.trim(), serving);
    }
    (list, nodes)
}

fn run_remote(scenario: &Path, list: &Path, out: &Path) -> std::process::Output {
    common::mcc_emu(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--clock",
        "real",
        "--speed",
        "20",
        "--spawn",
        "remote",
        "--node-list",
        list.to_str().unwrap(),
    ])
}

#[test]
fn a_node_list_runs_the_scenario_on_remote_nodes_with_their_round_trips_measured() {
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = dir.path().join("agree.toml");
    // No [cloudlets.addresses]: the node list gives them.
    std::fs::write(&scenario, common::agreement_scenario("")).expect("scenario written");
    let (list, _nodes) = start_nodes(dir.path(), &CLOUDLETS);
    let virtual_out = dir.path().join("virtual");
    let real_out = dir.path().join("real");
    common::json_of(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        virtual_out.to_str().unwrap(),
        "--json",
    ]);
    let output = run_remote(&scenario, &list, &real_out);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let real = &summary["real_clock"];
    assert_eq!(real["nodes"], "remote");
    assert_eq!(real["migrations_failed"], 0, "{summary}");
    let rtts = real["node_rtt_ms"]
        .as_object()
        .expect("a round trip per node");
    let names: Vec<&str> = rtts.keys().map(String::as_str).collect();
    let mut want = CLOUDLETS.to_vec();
    want.sort();
    assert_eq!(names, want);
    for (name, rtt) in rtts {
        let rtt = rtt.as_f64().expect("ms");
        assert!(rtt > 0.0, "{name}: {rtt}");
    }
    let handovers = |d: &Path| std::fs::read_to_string(d.join("handovers.csv")).expect("file");
    assert_eq!(handovers(&virtual_out), handovers(&real_out));
    let moves = |d: &Path| {
        let mut moves: Vec<_> = common::rows(d, "migrations.csv")
            .into_iter()
            .map(|r| ["time_s", "vm", "from", "to"].map(|k| r[k].clone()))
            .collect();
        moves.sort();
        moves
    };
    assert!(!moves(&virtual_out).is_empty(), "the scenario migrates");
    assert_eq!(moves(&virtual_out), moves(&real_out));
}

#[test]
fn a_node_of_another_cloudlet_and_a_round_trip_beyond_the_emulated_latency_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Two lines swapped: each node answers as the cloudlet of its line,
    // which the run's list gives to another.
    let (list, _nodes) = start_nodes(dir.path(), &CLOUDLETS);
    let text = std::fs::read_to_string(&list).unwrap();
    let swapped = text
        .replace("cl-south ", "cl-tmp ")
        .replace("cl-city ", "cl-south ")
        .replace("cl-tmp ", "cl-city ");
    let swapped_list = dir.path().join("swapped.txt");
    std::fs::write(&swapped_list, swapped).unwrap();
    let scenario = dir.path().join("agree.toml");
    std::fs::write(&scenario, common::agreement_scenario("")).unwrap();
    let output = run_remote(&scenario, &swapped_list, &dir.path().join("o1"));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        err.contains("is cloudlet \"cl-city\", but it is listed for cloudlet cl-south"),
        "{err}"
    );

    // The same nodes, a world without latency: no real round trip fits.
    let topology = std::fs::read_to_string(common::repo("topologies/small-real-topology.toml"))
        .unwrap()
        .replace(
            "fibre_latency_us_per_km = 5.0",
            "fibre_latency_us_per_km = 0.0",
        )
        .replace("per_hop_latency_ms = 0.1", "per_hop_latency_ms = 0.0")
        .replace("wireless_latency_ms = 8.0", "wireless_latency_ms = 0.0")
        .replace("latency_ms = 0.05", "latency_ms = 0.0");
    assert!(
        !topology.contains("latency_ms = 8") && !topology.contains("latency_ms = 0.05"),
        "every latency of the copy is 0"
    );
    let fast_topology = dir.path().join("fast-topology.toml");
    std::fs::write(&fast_topology, topology).unwrap();
    let fast = common::agreement_scenario("").replace(
        &common::repo("topologies/small-real-topology.toml")
            .display()
            .to_string(),
        fast_topology.to_str().unwrap(),
    );
    std::fs::write(&scenario, fast).unwrap();
    let output = run_remote(&scenario, &list, &dir.path().join("o2"));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{err}");
    assert!(
        err.contains("--spawn remote: the real round trip to the node of cloudlet cl-")
            && err.contains("more than the emulated latency from access point"),
        "{err}"
    );
    assert!(!dir.path().join("o2").exists(), "nothing written");
}

#[test]
fn bad_node_lists_are_refused_naming_the_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = dir.path().join("agree.toml");
    std::fs::write(&scenario, common::agreement_scenario("")).unwrap();
    let refused = |text: &str, want: &str| {
        let list = dir.path().join("list.txt");
        std::fs::write(&list, text).unwrap();
        let output = run_remote(&scenario, &list, &dir.path().join("out"));
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(err.contains("list.txt") && err.contains(want), "{err}");
    };
    let mut four: String = CLOUDLETS
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{n} http://127.0.0.1:{}\n", 1000 + i))
        .collect();
    refused(
        &four.replace("cl-ul ", "cl-moon "),
        "line 4: the topology has no cloudlet \"cl-moon\"",
    );
    refused(
        &four.replace("cl-ul http://127.0.0.1:1003\n", ""),
        "no line for cloudlet cl-ul",
    );
    four.push_str("cl-city http://127.0.0.1:2000\n");
    refused(
        &four,
        "line 5: cloudlet cl-city is listed twice (line 2 too)",
    );
    // Only with --spawn remote.
    let list = dir.path().join("list.txt");
    let output = common::mcc_emu(&[
        "run",
        scenario.to_str().unwrap(),
        "--clock",
        "real",
        "--node-list",
        list.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("--node-list applies to --spawn remote only"),
        "{err}"
    );
}
