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

/// The `cloudlet` processes whose parent is `parent`, with their `--id`.
fn children_of(parent: u32, binary: &Path) -> Vec<(u32, String)> {
    let binary = binary.canonicalize().expect("binary");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if !std::fs::read_link(entry.path().join("exe")).is_ok_and(|exe| exe == binary) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(parent) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let id = args
            .iter()
            .position(|a| a == "--id")
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_default();
        found.push((pid, id));
    }
    found.sort();
    found
}

/// Issue #15, reproduction 8: a `cloudlet` process killed mid-run is found
/// and reported once (one stderr line naming it and its VMs, not one line
/// per failed request; `nodes_lost` and `vms_lost` in summary.json), and
/// `migrations` counts only completed migrations, as many as
/// migrations.csv has rows.
#[test]
fn a_cloudlet_process_killed_mid_run_is_reported_once_with_its_vms() {
    let _alone = one_at_a_time();
    let binary = common::cloudlet_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("real");
    let stderr_path = dir.path().join("stderr.txt");
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
        .current_dir(common::repo(""))
        .args(["run", "topologies/small-real.toml", "--clock", "real"])
        .args(["--speed", "20", "--spawn", "processes", "--cloudlet-bin"])
        .arg(&binary)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("mcc-emu runs");
    // Once the nodes run and the buses have sent for a while, kill the
    // node of cl-city (where the buses' VMs start).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let victim = loop {
        let children = children_of(run.id(), &binary);
        if let Some((pid, _)) = children.iter().find(|(_, id)| id == "cl-city") {
            break *pid;
        }
        assert!(std::time::Instant::now() < deadline, "no cl-city process");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    std::thread::sleep(std::time::Duration::from_secs(3));
    let killed = std::process::Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = run.wait().expect("mcc-emu ends");
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(status.success(), "{stderr}");
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("cloudlet cl-city lost"))
        .collect();
    assert_eq!(reports.len(), 1, "reported once: {stderr}");
    let failed_lines = stderr.lines().filter(|l| l.contains("failed:")).count();
    assert!(failed_lines < 20, "a line per failed request: {stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary"))
            .expect("JSON");
    let real = &summary["real_clock"];
    assert_eq!(real["nodes_lost"][0]["id"], "cl-city", "{summary}");
    let vms_lost = real["vms_lost"].as_array().expect("vms_lost");
    assert!(!vms_lost.is_empty(), "{summary}");
    for vm in vms_lost {
        assert_eq!(vm["node"], "cl-city");
        assert!(reports[0].contains(vm["vm"].as_str().unwrap()), "{stderr}");
    }
    // A row per migration; the failed ones say why.
    let rows = common::rows(&out, "migrations.csv");
    let failed = rows.iter().filter(|r| !r["failure"].is_empty()).count() as u64;
    let completed = rows.len() as u64 - failed;
    assert_eq!(summary["migrations"].as_u64(), Some(completed), "{summary}");
    assert_eq!(
        real["migrations_failed"].as_u64(),
        Some(failed),
        "{summary}"
    );
}
