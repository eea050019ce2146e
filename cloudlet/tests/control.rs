//! The `cloudlet` binary driven by a controller over gRPC, as
//! `mcc-emu run --clock real --spawn processes` drives it: it prints the
//! address it serves, takes a VM (`HostVm`), moves it to another node
//! (`MigrateVm`) and refuses malformed controller calls with a message
//! naming the field.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use mcc_cloudlet::migration::MigrationReport;
use mcc_proto::v1::cloudlet_client::CloudletClient;
use mcc_proto::v1::{
    ExecuteRequest, HostVmRequest, MigrateVmRequest, PathHop, StatusRequest, VmProfile,
};
use tonic::Code;
use tonic::transport::Channel;

const VM_BYTES: u64 = 4 << 20;

/// A `cloudlet` process, killed when dropped.
struct Process {
    child: Child,
    address: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(id: &str) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudlet"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--id",
            id,
            "--cores",
            "2",
            "--memory-mib",
            "64",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cloudlet starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the address line");
    let address = line.trim().to_owned();
    let process = Process { child, address };
    let port = process
        .address
        .strip_prefix("http://127.0.0.1:")
        .and_then(|p| p.parse::<u16>().ok());
    assert!(
        port.is_some_and(|p| p > 0),
        "prints the address it serves: {:?}",
        process.address
    );
    process
}

async fn client(address: &str) -> CloudletClient<Channel> {
    CloudletClient::connect(address.to_owned())
        .await
        .expect("connects")
}

fn profile() -> VmProfile {
    VmProfile {
        memory_bytes: VM_BYTES,
        working_set_bytes: 1 << 20,
        dirty_rate_pps: 100.0,
        zero_page_fraction: 0.0,
        page_size_bytes: 4096,
    }
}

fn execute(id: u64) -> ExecuteRequest {
    ExecuteRequest {
        vm_id: "vm-1".into(),
        device_id: "phone".into(),
        request_id: id,
        payload: vec![1; 100],
        cpu_cost_us: 100,
        response_bytes: 100,
        sent_unix_time_ns: 0,
    }
}

fn migrate(a: &Process, b: &Process) -> MigrateVmRequest {
    MigrateVmRequest {
        migration_id: "m-1".into(),
        vm_id: "vm-1".into(),
        target_host_id: "b".into(),
        target_address: b.address.clone(),
        source_address: a.address.clone(),
        profile: Some(profile()),
        dirty_model: "linear".into(),
        technique: "pre-copy".into(),
        max_rounds: 5,
        downtime_target_us: 30_000,
        cpu_state_bytes: 64 << 10,
        pages_per_request: 4,
        // 1 ms and 100 Mbit/s: 4 MiB take about 340 ms.
        path: vec![PathHop {
            latency_us: 1_000,
            bandwidth_bps: 100e6,
        }],
        ..Default::default()
    }
}

#[test]
fn a_controller_hosts_and_moves_a_vm_between_two_cloudlet_processes() {
    let a = spawn("a");
    let b = spawn("b");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut to_a = client(&a.address).await;
        let mut to_b = client(&b.address).await;
        let missing = to_a
            .host_vm(HostVmRequest {
                vm_id: "vm-1".into(),
                profile: None,
            })
            .await
            .expect_err("no profile");
        assert_eq!(missing.code(), Code::InvalidArgument);
        assert!(
            missing.message().contains("profile"),
            "{}",
            missing.message()
        );
        to_a.host_vm(HostVmRequest {
            vm_id: "vm-1".into(),
            profile: Some(profile()),
        })
        .await
        .expect("hosted");
        let answer = to_a.execute(execute(1)).await.expect("served").into_inner();
        assert_eq!(answer.host_id, "a");

        let mut bad = migrate(&a, &b);
        bad.technique = "teleport".into();
        let refused = to_a.migrate_vm(bad).await.expect_err("unknown technique");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(
            refused.message().contains("technique"),
            "{}",
            refused.message()
        );
        let mut bad = migrate(&a, &b);
        bad.path[0].bandwidth_bps = -1.0;
        let refused = to_a.migrate_vm(bad).await.expect_err("negative bandwidth");
        assert!(
            refused.message().contains("path[0]"),
            "{}",
            refused.message()
        );
        let mut bad = migrate(&a, &b);
        bad.path.clear();
        bad.estimate_bandwidth_bps = f64::NAN;
        let refused = to_a.migrate_vm(bad).await.expect_err("NaN estimate");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(
            refused.message().contains("estimate_bandwidth_bps"),
            "{}",
            refused.message()
        );
        // Refused calls left the VM where it was.
        let answer = to_a.execute(execute(2)).await.expect("served").into_inner();
        assert_eq!(answer.host_id, "a");

        let moved = to_a
            .migrate_vm(migrate(&a, &b))
            .await
            .expect("migrated")
            .into_inner();
        assert!(moved.wire_bytes >= VM_BYTES, "{moved:?}");
        assert_eq!(
            moved.report_fields.len(),
            MigrationReport::FLAT_FIELDS.len()
        );
        let downtime_column = MigrationReport::FLAT_FIELDS
            .iter()
            .position(|f| *f == "downtime_ms")
            .expect("a downtime column");
        let downtime_ms: f64 = moved.report_fields[downtime_column].parse().expect("ms");
        assert!(
            (downtime_ms - moved.downtime_us as f64 / 1e3).abs() < 0.001,
            "the row carries the measured downtime: {moved:?}"
        );
        // 4 MiB over 100 Mbit/s cannot take less than 335 ms.
        assert!(moved.elapsed_us >= 335_000, "{moved:?}");
        let status = to_b
            .status(StatusRequest {})
            .await
            .expect("status")
            .into_inner();
        assert!(status.vms.iter().any(|vm| vm.vm_id == "vm-1"));
        let answer = to_b.execute(execute(3)).await.expect("served").into_inner();
        assert_eq!(answer.host_id, "b");
        let gone = to_a.execute(execute(4)).await.expect_err("moved away");
        assert_eq!(gone.code(), Code::FailedPrecondition);
        assert_eq!(
            gone.metadata()
                .get("mcc-moved-to-host")
                .and_then(|v| v.to_str().ok()),
            Some("b")
        );
    });
}

#[test]
fn a_watched_migration_streams_its_steps_in_order_then_the_answer() {
    let a = spawn("a");
    let b = spawn("b");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        use mcc_proto::v1::migrate_vm_progress::Kind;
        let mut to_a = client(&a.address).await;
        to_a.host_vm(HostVmRequest {
            vm_id: "vm-1".into(),
            profile: Some(profile()),
        })
        .await
        .expect("hosted");
        let mut bad = migrate(&a, &b);
        bad.technique = "teleport".into();
        let refused = to_a
            .migrate_vm_watched(bad)
            .await
            .expect_err("unknown technique");
        assert!(refused.message().contains("technique"), "{refused:?}");

        let mut soft = migrate(&a, &b);
        soft.technique = "soft".into();
        let mut stream = to_a
            .migrate_vm_watched(soft)
            .await
            .expect("watched")
            .into_inner();
        let mut steps = Vec::new();
        let answer = loop {
            match stream.message().await.expect("no error").map(|p| p.kind) {
                Some(Some(Kind::Step(step))) => steps.push(step),
                Some(Some(Kind::Done(answer))) => break answer,
                other => panic!("the stream ended without its answer: {other:?}"),
            }
        };
        assert!(
            stream.message().await.expect("closed").is_none(),
            "the answer is last"
        );
        assert!(answer.wire_bytes >= VM_BYTES, "{answer:?}");
        let names: Vec<&str> = steps.iter().map(|s| s.phase.as_str()).collect();
        let rounds = names.iter().filter(|n| **n == "precopy").count();
        assert!(rounds >= 1, "{steps:?}");
        // Soft-migration: rounds 1, 2, ..., the switch with no stop, the push.
        let mut expected = vec!["precopy"; rounds];
        expected.extend(["switch", "postcopy"]);
        assert_eq!(names, expected, "{steps:?}");
        for (i, step) in steps.iter().take(rounds).enumerate() {
            assert_eq!(step.round, i as u32 + 1, "{steps:?}");
        }
        assert!(
            steps.windows(2).all(|w| w[0].after_us <= w[1].after_us),
            "{steps:?}"
        );
        // The full copy of 4 MiB over 100 Mbit/s comes before the switch.
        assert!(steps[rounds].after_us >= 300_000, "{steps:?}");
        assert!(
            answer.elapsed_us >= steps[rounds + 1].after_us,
            "{answer:?}"
        );
    });
}
