//! The container recipe (deploy/Containerfile) and the Kubernetes manifests
//! (deploy/k8s/*.json) against the code: no cluster and no container
//! engine run here (docs/cluster.md says what was and was not run), so this
//! test checks what can go wrong between them. The manifests parse; the
//! Indexed Job's completions and parallelism are the N of its `--shard`;
//! every shard's arguments, and the merge's, parse with mcc-emu's own clap
//! definitions into the shard and folder they must mean; the image the Jobs
//! name is the one the Containerfile builds, and their command is a binary
//! it installs; the plan, the volume and the mounts agree. Last, the Jobs'
//! exact command lines run here, with their mount paths mapped to temporary
//! folders, and the merge writes the comparison.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Parser;
use mcc_emu::cli::sweep::expand::Shard;
use mcc_emu::cli::{Cli, Command};
use serde_json::Value;

mod common;
use common::{json_of, mcc_emu, repo};

/// The binaries the image must hold, and the crate each comes from.
const BINARIES: [(&str, &str); 3] = [
    ("mcc-emu", "emulator"),
    ("cloudlet", "cloudlet"),
    ("mobile-client", "mobile-client"),
];

fn manifest(name: &str) -> Value {
    let path = repo("deploy/k8s").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    for key in ["apiVersion", "kind"] {
        assert!(doc[key].is_string(), "{name}: no {key}");
    }
    assert!(
        doc["metadata"]["name"].is_string(),
        "{name}: no metadata.name"
    );
    doc
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"))
}

fn strings(value: &Value, what: &str) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what} is not a list: {value}"))
        .iter()
        .map(|v| str_of(v, what).to_owned())
        .collect()
}

/// One instruction of a Containerfile: its keyword and the rest of it,
/// continuation lines joined.
struct Instruction {
    keyword: String,
    rest: String,
}

/// The stages of a Containerfile (each from its `FROM` on); comments and
/// blank lines dropped.
fn containerfile_stages(text: &str) -> Vec<Vec<Instruction>> {
    let mut stages: Vec<Vec<Instruction>> = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        let (keyword, rest) = full.split_once(' ').unwrap_or((&full, ""));
        let instruction = Instruction {
            keyword: keyword.to_ascii_uppercase(),
            rest: rest.trim().to_owned(),
        };
        if instruction.keyword == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("a Containerfile starts with FROM")
            .push(instruction);
    }
    stages
}

/// The paths of the binaries the Containerfile's runtime stage installs,
/// after checking that it builds each of [`BINARIES`] and that each is a
/// binary of its crate; and the image's other checks.
fn installed_binaries() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo("deploy/Containerfile")).unwrap();
    let stages = containerfile_stages(&text);
    assert!(
        stages.len() >= 2,
        "a multi-stage build: {} stage(s)",
        stages.len()
    );
    let build = &stages[0];
    let (base, alias) = build[0]
        .rest
        .split_once(" AS ")
        .expect("the build stage is named: FROM ... AS build");
    assert_eq!(alias.trim(), "build");

    // The build stage's toolchain is at least the workspace's rust-version.
    let workspace: toml::Table = std::fs::read_to_string(repo("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let msrv = workspace["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    let version = |v: &str| -> (u32, u32) {
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap());
        (parts.next().unwrap(), parts.next().unwrap())
    };
    let tag = base
        .rsplit_once(':')
        .and_then(|(_, tag)| tag.split('-').next())
        .unwrap_or_else(|| panic!("the build image `{base}` names its Rust version"));
    assert!(
        version(tag) >= version(msrv),
        "the build stage's Rust {tag} is older than the workspace's rust-version {msrv}"
    );

    let runs: Vec<&str> = build
        .iter()
        .filter(|i| i.keyword == "RUN")
        .map(|i| i.rest.as_str())
        .collect();
    let cargo = runs
        .iter()
        .find(|r| r.contains("cargo build"))
        .expect("the build stage runs cargo build");
    let words: Vec<&str> = cargo.split_whitespace().collect();
    assert!(
        words.contains(&"--release") && words.contains(&"--locked"),
        "{cargo}"
    );
    let runtime = stages.last().unwrap();
    let mut installed = BTreeSet::new();
    let mut topologies = false;
    for copy in runtime.iter().filter(|i| i.keyword == "COPY") {
        let words: Vec<&str> = copy.rest.split_whitespace().collect();
        let (dest, sources) = words.split_last().unwrap();
        if words[0] == "--from=build" {
            for source in &sources[1..] {
                let name = source
                    .strip_prefix("/src/target/release/")
                    .unwrap_or_else(|| panic!("{source}: not a release binary"));
                installed.insert(format!("{}/{name}", dest.trim_end_matches('/')));
            }
        } else if sources == ["topologies"] && *dest == "/opt/mcc-emu/topologies" {
            topologies = true;
        }
    }
    assert!(topologies, "the image ships topologies/ at /opt/mcc-emu");
    assert_eq!(installed.len(), BINARIES.len(), "{installed:?}");
    for (bin, krate) in BINARIES {
        let built = words
            .windows(2)
            .any(|pair| pair[0] == "--bin" && pair[1] == bin);
        assert!(built, "the build stage builds --bin {bin}: {cargo}");
        assert!(
            installed.contains(&format!("/usr/local/bin/{bin}")),
            "the image installs {bin} on PATH: {installed:?}"
        );
        let manifest: toml::Table = std::fs::read_to_string(repo(krate).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let bins = manifest["bin"].as_array().expect("[[bin]]");
        assert!(
            bins.iter().any(|b| b["name"].as_str() == Some(bin)),
            "{krate}/Cargo.toml has no binary {bin}"
        );
    }
    let ignore = std::fs::read_to_string(repo(".dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l.trim() == "target"),
        "target/ stays out of the build context"
    );
    installed
}

/// The one container of a Job's or Pod's pod spec.
fn container(pod_spec: &Value) -> &Value {
    let containers = pod_spec["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    &containers[0]
}

/// `(mountPath, volume)` of each mount of a pod spec's container.
fn mounts(pod_spec: &Value) -> Vec<(String, Value)> {
    let volumes = pod_spec["volumes"].as_array().unwrap();
    container(pod_spec)["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = str_of(&m["name"], "volumeMounts.name");
            let volume = volumes
                .iter()
                .find(|v| v["name"] == name)
                .unwrap_or_else(|| panic!("no volume {name}"));
            let mut volume = volume.clone();
            volume.as_object_mut().unwrap().remove("name");
            (str_of(&m["mountPath"], "mountPath").to_owned(), volume)
        })
        .collect()
}

/// The mount of `pod_spec` under which `path` lies, and the rest of `path`.
fn mount_of(pod_spec: &Value, path: &Path) -> (Value, PathBuf) {
    mounts(pod_spec)
        .into_iter()
        .find_map(|(at, volume)| {
            path.strip_prefix(&at)
                .ok()
                .map(|rest| (volume, rest.to_path_buf()))
        })
        .unwrap_or_else(|| panic!("{path:?} is on no volume"))
}

/// A container's arguments with each `$(VAR)` replaced by `values[VAR]`;
/// every variable must be one the container defines.
fn expand(container: &Value, values: &[(&str, String)]) -> Vec<String> {
    let defined: Vec<&str> = container["env"]
        .as_array()
        .map(|env| env.iter().map(|e| str_of(&e["name"], "env.name")).collect())
        .unwrap_or_default();
    let mut args = vec!["mcc-emu".to_owned()];
    for arg in strings(&container["args"], "args") {
        let mut arg = arg;
        for (name, value) in values {
            let reference = format!("$({name})");
            if arg.contains(&reference) {
                assert!(defined.contains(name), "$({name}) is not in the env");
                arg = arg.replace(&reference, value);
            }
        }
        assert!(!arg.contains("$("), "an unexpanded variable in `{arg}`");
        args.push(arg);
    }
    args
}

struct Jobs {
    shards: Value,
    merge: Value,
    count: usize,
}

fn check_jobs() -> Jobs {
    let installed = installed_binaries();
    let image = format!("mcc-emu:{}", env!("CARGO_PKG_VERSION"));
    let shards = manifest("shards.json");
    let merge = manifest("merge.json");
    for (name, job) in [("shards.json", &shards), ("merge.json", &merge)] {
        assert_eq!(job["apiVersion"], "batch/v1", "{name}");
        assert_eq!(job["kind"], "Job", "{name}");
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never", "{name}");
        let c = container(pod);
        assert_eq!(
            c["image"], image,
            "{name}: the image deploy/Containerfile is tagged with"
        );
        let command = strings(&c["command"], "command");
        assert_eq!(command.len(), 1, "{name}: {command:?}");
        assert!(
            installed.contains(&command[0]),
            "{name}: {} is not a binary the image installs ({installed:?})",
            command[0]
        );
        assert!(command[0].ends_with("/mcc-emu"), "{name}");
    }

    let spec = &shards["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let count = spec["completions"].as_u64().unwrap() as usize;
    assert_eq!(
        spec["parallelism"].as_u64(),
        Some(count as u64),
        "every shard at once"
    );
    let pod = &spec["template"]["spec"];
    let c = container(pod);
    let env = c["env"].as_array().unwrap();
    let index = env.iter().find(|e| e["name"] == "SHARD_INDEX").unwrap();
    assert_eq!(
        index["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']",
        "SHARD_INDEX is the Indexed Job's completion index"
    );
    let cpus: u32 = str_of(&c["resources"]["requests"]["cpu"], "cpu")
        .parse()
        .expect("whole cores");
    let mut shard_out = None;
    for i in 0..count {
        let args = expand(c, &[("SHARD_INDEX", i.to_string())]);
        let cli = Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let Command::Sweep(sweep) = cli.command else {
            panic!("{args:?} is not `mcc-emu sweep`")
        };
        assert_eq!(sweep.shard, Some(Shard { index: i, count }), "{args:?}");
        assert!(sweep.resume, "a retried shard resumes");
        assert!(!sweep.list && !sweep.reproducible);
        assert_eq!(
            sweep.threads,
            Some(cpus),
            "as many threads as requested cores"
        );
        let (plan_volume, plan_file) = mount_of(pod, &sweep.plan);
        let config_map = manifest("plan.json");
        assert_eq!(config_map["kind"], "ConfigMap");
        assert_eq!(
            plan_volume["configMap"]["name"],
            config_map["metadata"]["name"]
        );
        assert!(
            config_map["data"][plan_file.to_str().unwrap()].is_string(),
            "the ConfigMap holds {plan_file:?}"
        );
        let out = sweep.out.expect("--out on the shared volume");
        let (data, _) = mount_of(pod, &out);
        let claim = manifest("volume.json");
        assert_eq!(claim["kind"], "PersistentVolumeClaim");
        assert_eq!(
            data["persistentVolumeClaim"]["claimName"],
            claim["metadata"]["name"]
        );
        assert_eq!(
            strings(&claim["spec"]["accessModes"], "accessModes"),
            ["ReadWriteMany"],
            "shards on several nodes write the same volume"
        );
        shard_out = Some(out);
    }
    let shard_out = shard_out.expect("at least one shard");

    let merge_pod = &merge["spec"]["template"]["spec"];
    let args = expand(container(merge_pod), &[]);
    let cli = Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let Command::Merge(merge_args) = cli.command else {
        panic!("{args:?} is not `mcc-emu merge`")
    };
    assert_eq!(
        merge_args.dirs,
        [shard_out],
        "the merge reads the shards' folder"
    );
    assert_eq!(
        mounts(merge_pod),
        mounts(pod),
        "the merge mounts the plan (it reloads it by the path the shards recorded) and the volume where the shards do"
    );
    let reader = manifest("reader.json");
    let reader_pod = &reader["spec"];
    let (volume, _) = mount_of(reader_pod, &merge_args.dirs[0]);
    assert_eq!(
        volume["persistentVolumeClaim"]["claimName"],
        "mcc-sweep-data"
    );
    Jobs {
        shards,
        merge,
        count,
    }
}

#[test]
fn the_manifests_agree_with_the_cli_and_the_image() {
    let jobs = check_jobs();
    assert!(jobs.count >= 1);
}

#[test]
fn the_jobs_command_lines_run_here_and_merge() {
    let jobs = check_jobs();
    let tmp = tempfile::tempdir().unwrap();
    // The ConfigMap's plan, its image paths mapped to the repository.
    let plan_dir = tmp.path().join("plan");
    let data_dir = tmp.path().join("data");
    std::fs::create_dir_all(&plan_dir).unwrap();
    std::fs::create_dir_all(&data_dir).unwrap();
    let plan = manifest("plan.json")["data"]["plan.toml"]
        .as_str()
        .unwrap()
        .replace(
            "/opt/mcc-emu/",
            &format!("{}/", repo("").canonicalize().unwrap().display()),
        );
    std::fs::write(plan_dir.join("plan.toml"), plan).unwrap();
    let map = |arg: String| -> String {
        for (at, local) in [("/plan", &plan_dir), ("/data", &data_dir)] {
            if let Some(rest) = arg.strip_prefix(at).filter(|r| r.starts_with('/')) {
                return format!("{}{rest}", local.display());
            }
        }
        arg
    };
    let list = json_of(&[
        "sweep",
        plan_dir.join("plan.toml").to_str().unwrap(),
        "--list",
        "--json",
    ]);
    let runs = list.as_array().unwrap();
    assert!(
        runs.len() >= jobs.count,
        "every shard has a run: {} runs, {} shards",
        runs.len(),
        jobs.count
    );
    let combos: BTreeSet<(u64, String, String)> = runs
        .iter()
        .map(|r| {
            (
                r["point"].as_u64().unwrap_or(0),
                r["policy"].to_string(),
                r["technique"].to_string(),
            )
        })
        .collect();

    let shard = container(&jobs.shards["spec"]["template"]["spec"]);
    for i in 0..jobs.count {
        let args: Vec<String> = expand(shard, &[("SHARD_INDEX", i.to_string())])
            .into_iter()
            .skip(1)
            .map(map)
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = mcc_emu(&args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let merge = container(&jobs.merge["spec"]["template"]["spec"]);
    let args: Vec<String> = expand(merge, &[]).into_iter().skip(1).map(map).collect();
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push("--json");
    let comparison = json_of(&args);
    let rows = comparison["policies"].as_array().unwrap();
    assert_eq!(rows.len(), combos.len(), "a row per point and combination");
    let out = Path::new(args[1]);
    for file in ["comparison.json", "comparison.csv"] {
        assert!(out.join(file).is_file(), "the merge wrote {file}");
    }
}

/// The item of kind `kind` in a `List` manifest.
fn item<'a>(list: &'a Value, kind: &str) -> &'a Value {
    list["items"]
        .as_array()
        .expect("a List has items")
        .iter()
        .find(|i| i["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in the List"))
}

#[test]
fn the_cloudlet_statefulset_serves_the_node_list_the_real_run_reads() {
    use mcc_emu::cli::nodes::Spawn;
    use mcc_emu::cli::run::Clock;

    let installed = installed_binaries();
    let image = format!("mcc-emu:{}", env!("CARGO_PKG_VERSION"));
    let path = repo("deploy/k8s/cloudlets.json");
    let list: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(list["kind"], "List");
    let config_map = item(&list, "ConfigMap");
    let service = item(&list, "Service");
    let set = item(&list, "StatefulSet");
    assert_eq!(set["apiVersion"], "apps/v1");
    let service_name = str_of(&service["metadata"]["name"], "Service name");
    let set_name = str_of(&set["metadata"]["name"], "StatefulSet name");
    assert_eq!(service["spec"]["clusterIP"], "None", "a headless Service");
    assert_eq!(set["spec"]["serviceName"], service_name);
    let pod = &set["spec"]["template"];
    assert_eq!(
        service["spec"]["selector"], pod["metadata"]["labels"],
        "the Service selects the StatefulSet's pods"
    );
    assert_eq!(
        set["spec"]["selector"]["matchLabels"],
        pod["metadata"]["labels"]
    );
    let c = container(&pod["spec"]);
    assert_eq!(c["image"], image);
    let command = strings(&c["command"], "command");
    assert_eq!(command, ["/usr/local/bin/cloudlet"]);
    assert!(installed.contains(&command[0]));
    let port = c["ports"][0]["containerPort"].as_u64().expect("a port");
    assert_eq!(service["spec"]["ports"][0]["port"].as_u64(), Some(port));
    let index = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "POD_INDEX")
        .expect("POD_INDEX");
    assert_eq!(
        index["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.labels['apps.kubernetes.io/pod-index']"
    );

    // The node list: pod i's stable DNS name and port on line i.
    let text = str_of(&config_map["data"]["nodes.txt"], "nodes.txt");
    let entries = mcc_cloudlet::node_list::parse(text).expect("a node list");
    assert_eq!(
        set["spec"]["replicas"].as_u64(),
        Some(entries.len() as u64),
        "a pod per node"
    );
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(
            entry.address,
            format!("http://{set_name}-{i}.{service_name}:{port}")
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let (nodes_volume, nodes_file) = mount_of(&pod["spec"], Path::new("/nodes/nodes.txt"));
    assert_eq!(
        nodes_volume["configMap"]["name"],
        config_map["metadata"]["name"]
    );
    let local_list = tmp.path().join(&nodes_file);
    std::fs::write(&local_list, text).unwrap();

    // Each pod's arguments, run here: the node takes its line's name.
    let cloudlet = common::cloudlet_binary();
    let mut cores_memory = None;
    for (i, entry) in entries.iter().enumerate() {
        let args: Vec<String> = expand(c, &[("POD_INDEX", i.to_string())])
            .into_iter()
            .skip(1)
            .map(|a| {
                if a == "/nodes/nodes.txt" {
                    local_list.display().to_string()
                } else {
                    a
                }
            })
            .collect();
        let flag = |name: &str| -> u64 {
            let at = args.iter().position(|a| a == name).expect(name);
            args[at + 1].parse().unwrap()
        };
        cores_memory = Some((flag("--cores"), flag("--memory-mib")));
        // On loopback and any free port, not the pod's 0.0.0.0:PORT.
        let mut child = std::process::Command::new(&cloudlet)
            .args(&args)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("cloudlet starts");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        child.kill().unwrap();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            line.starts_with("http://127.0.0.1:"),
            "{args:?}: {line}{stderr}"
        );
        assert!(
            stderr.contains(&format!("cloudlet {}: serving on", entry.name)),
            "{args:?}: {stderr}"
        );
    }

    // The edge's Job: a real-clock run on those nodes.
    let job = manifest("real-run.json");
    assert_eq!(job["kind"], "Job");
    let edge_pod = &job["spec"]["template"]["spec"];
    let edge = container(edge_pod);
    assert_eq!(edge["image"], image);
    assert_eq!(
        strings(&edge["command"], "command"),
        ["/usr/local/bin/mcc-emu"]
    );
    let args = expand(edge, &[]);
    let cli = Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let Command::Run(mut run) = cli.command else {
        panic!("{args:?} is not `mcc-emu run`")
    };
    assert!(matches!(run.clock, Clock::Real));
    assert_eq!(run.nodes.spawn, Some(Spawn::Remote));
    let list_path = run.nodes.node_list.clone().expect("--node-list");
    let (volume, file) = mount_of(edge_pod, &list_path);
    assert_eq!(volume["configMap"]["name"], config_map["metadata"]["name"]);
    assert_eq!(file, nodes_file);
    let (data, _) = mount_of(edge_pod, &run.out.clone().expect("--out"));
    assert_eq!(
        data["persistentVolumeClaim"]["claimName"],
        manifest("volume.json")["metadata"]["name"]
    );
    let scenario_path = run.scenario.clone().expect("a scenario");
    let in_repo = scenario_path
        .strip_prefix("/opt/mcc-emu")
        .expect("a scenario the image ships");
    let mut scenario = mcc_emu::scenario::load_file(&repo("").join(in_repo)).unwrap();
    run.nodes.node_list = Some(local_list);
    run.nodes
        .apply_node_list(&mut scenario)
        .expect("the node list names every cloudlet of the scenario");
    let (cores, memory_mib) = cores_memory.unwrap();
    for cloudlet in &scenario.world.cloudlets {
        assert_eq!(
            (cloudlet.cpu_cores as u64, cloudlet.memory_bytes >> 20),
            (cores, memory_mib),
            "the nodes are sized as the topology's cloudlet {}",
            cloudlet.name
        );
    }
}
