//! `mcc-emu run --clock real --spawn processes`: one `cloudlet` process per
//! cloudlet, driven over gRPC only; the run tells the same story as the
//! virtual clock (hand-overs, migrations) and leaves no process behind;
//! and `mcc-emu serve --spawn processes`.

mod common;

use std::path::Path;

/// The tests here count `cloudlet` processes: one test at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many processes run `binary` now (Linux: /proc/PID/exe).
fn running(binary: &Path) -> usize {
    let Ok(binary) = binary.canonicalize() else {
        return 0;
    };
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .filter(|e| std::fs::read_link(e.path().join("exe")).is_ok_and(|exe| exe == binary))
                .count()
        })
        .unwrap_or(0)
}

fn sorted_moves(dir: &Path) -> Vec<[String; 5]> {
    let mut moves: Vec<_> = common::rows(dir, "migrations.csv")
        .into_iter()
        .map(|r| ["time_s", "vm", "from", "to", "reason"].map(|k| r[k].clone()))
        .collect();
    moves.sort();
    moves
}

#[test]
fn cloudlet_processes_run_the_scenario_and_are_gone_afterwards() {
    let _alone = one_at_a_time();
    let binary = common::cloudlet_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("agree.toml");
    std::fs::write(&file, common::agreement_scenario("")).expect("scenario written");
    let file = file.to_str().expect("utf-8 path");
    let virtual_out = dir.path().join("virtual");
    let real_out = dir.path().join("real");
    let out = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    common::json_of(&["run", file, "--out", &out(&virtual_out), "--json"]);
    let before = running(&binary);
    let summary = common::json_of(&[
        "run",
        file,
        "--out",
        &out(&real_out),
        "--json",
        "--clock",
        "real",
        "--speed",
        "20",
        "--spawn",
        "processes",
        "--cloudlet-bin",
        binary.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(summary["real_clock"]["nodes"], "processes", "{summary}");
    assert_eq!(summary["real_clock"]["migrations_failed"], 0, "{summary}");
    assert_eq!(
        running(&binary),
        before,
        "a cloudlet process outlived the run"
    );
    let handovers = |d: &Path| std::fs::read_to_string(d.join("handovers.csv")).expect("file");
    assert_eq!(handovers(&virtual_out), handovers(&real_out));
    let moves = sorted_moves(&virtual_out);
    assert!(!moves.is_empty(), "the scenario migrates");
    assert_eq!(moves, sorted_moves(&real_out));
}

/// `mcc-emu serve --spawn processes`: a device registered over gRPC gets
/// its VM hosted on a `cloudlet` process (over `HostVm`) and its request
/// answered there; the processes are gone after Ctrl-C.
#[test]
fn serve_runs_its_cloudlets_as_processes() {
    use mcc_mobile_client::fleet::connect;
    use mcc_proto::v1::DeviceRequest;

    let _alone = one_at_a_time();
    let binary = common::cloudlet_binary();
    let before = running(&binary);
    let mut served = common::serve::Served::start(&[
        "topologies/small-real.toml",
        "--spawn",
        "processes",
        "--cloudlet-bin",
        binary.to_str().expect("utf-8 path"),
    ]);
    let small_real_cloudlets = 4;
    assert_eq!(
        running(&binary),
        before + small_real_cloudlets,
        "{}",
        served.stderr()
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let answer = runtime.block_on(async {
        let mut client = connect(&served.url(), None).await.expect("connects");
        let registered = client
            .register_device(common::serve::phone_in_limerick())
            .await
            .expect("registered on a node process")
            .into_inner();
        let answer = client
            .send_request(DeviceRequest {
                device_id: "phone".into(),
                request_id: 1,
                payload: vec![0; 256],
                cpu_cost_us: 1_000,
                response_bytes: 256,
            })
            .await
            .expect("answered")
            .into_inner();
        (registered.host_id, answer)
    });
    let (host, answer) = answer;
    assert!(!host.is_empty());
    assert_eq!(answer.host_id, host, "the VM's host answers");
    let status = served.interrupt();
    assert!(status.success(), "{status:?}: {}", served.stderr());
    assert_eq!(
        running(&binary),
        before,
        "a cloudlet process outlived serve: {}",
        served.stderr()
    );
}
