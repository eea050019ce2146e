//! Issue #15's reproductions against `serve`'s control service: a remote
//! caller cannot choose what serve reads (only names inside `--scenarios`,
//! no escape, capped sizes, no file contents in errors) nor where it writes
//! (only under serve's own `--out`), and a speed that would wedge or panic
//! the clock is refused while serve keeps answering.

mod common;

use std::path::Path;

use common::repo;
use mcc_emu::serve::sandbox::Sandbox;
use mcc_emu::serve::{ControlService, ServeConfig};
use mcc_mobile_client::fleet::Client;
use mcc_proto::v1::{
    GeoPoint, GetSummaryRequest, LoadScenarioRequest, RegisterDeviceRequest, StartRequest,
    StopRequest, register_device_request::Movement,
};
use tonic::Code;

/// A scenario naming `topology` and, for its one device group, `devices`.
fn scenario(output: &str, topology: &str, devices: &str) -> String {
    format!(
        "name = \"hostile\"\nduration_s = 60\noutput = \"{output}\"\n\
         [topology]\nfile = \"{topology}\"\n[[devices]]\n{devices}\n"
    )
}

const WAYPOINT: &str =
    "random_waypoint = { center = { lat = 52.6610, lon = -8.6285 }, radius_m = 500 }";

/// A served ControlService on a free port, and a client of it.
async fn served(config: ServeConfig) -> (ControlService, Client, tokio::sync::oneshot::Sender<()>) {
    let scenario = mcc_emu::scenario::load_file(&repo("topologies/small-real.toml")).unwrap();
    let service = ControlService::start(scenario, config).await.unwrap();
    let (client, stop) = common::serve::serve_in_process(&service).await;
    (service, client, stop)
}

/// [`served`] with its outputs in `out` and every other setting default.
async fn served_into(out: &Path) -> (ControlService, Client, tokio::sync::oneshot::Sender<()>) {
    served(ServeConfig {
        out: Some(out.to_path_buf()),
        ..ServeConfig::default()
    })
    .await
}

async fn load(client: &mut Client, text: String) -> Result<(), tonic::Status> {
    client
        .load_scenario(LoadScenarioRequest {
            scenario_toml: text,
            name: "hostile.toml".into(),
        })
        .await
        .map(|_| ())
}

fn refused(result: Result<(), tonic::Status>, needle: &str) -> String {
    let status = result.expect_err("must be refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains(needle), "{needle}: {status:?}");
    status.message().to_owned()
}

/// A sandbox folder with the small-real topology, a CSV trace whose bad
/// latitude is a secret, and a link to a file outside it.
fn sandbox_folder() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let inside = dir.path().join("scenarios");
    std::fs::create_dir(&inside).unwrap();
    std::fs::copy(
        repo("topologies/small-real-topology.toml"),
        inside.join("topology.toml"),
    )
    .unwrap();
    std::fs::write(
        inside.join("secret.csv"),
        "device_id,time,lat,lon\nd,2013-01-31T00:00:00Z,hunter2-secret,-8.6\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("outside.toml"), "x").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.path().join("outside.toml"), inside.join("link.toml"))
            .unwrap();
        std::os::unix::fs::symlink("/dev/zero", inside.join("zero.toml")).unwrap();
    }
    (dir, inside)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_scenarios_folder_callers_make_serve_read_no_file() {
    let out = tempfile::tempdir().unwrap();
    let (service, mut client, stop) = served_into(out.path()).await;
    client.stop(StopRequest {}).await.unwrap();
    for name in ["/etc/shadow", "small-real-topology.toml", "/dev/zero"] {
        refused(
            load(&mut client, scenario("out", name, WAYPOINT)).await,
            "--scenarios DIR",
        );
    }
    client.start(StartRequest::default()).await.unwrap();
    let status = client
        .register_device(RegisterDeviceRequest {
            device_id: "p".into(),
            movement: Some(Movement::TracePath("/etc/passwd".into())),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("--scenarios DIR"), "{status:?}");
    service.shutdown().await.unwrap();
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_stay_inside_the_folder_and_errors_never_quote_a_file() {
    let (dir, inside) = sandbox_folder();
    let out = dir.path().join("serve-out");
    let (service, mut client, stop) = served(ServeConfig {
        out: Some(out.clone()),
        scenarios: Some(Sandbox::new(&inside).unwrap()),
        ..ServeConfig::default()
    })
    .await;
    client.stop(StopRequest {}).await.unwrap();
    for (name, needle) in [
        ("/etc/shadow", "no absolute path"),
        ("../outside.toml", "no `..`"),
        ("link.toml", "leads out of the scenarios folder"),
        ("zero.toml", "leads out of the scenarios folder"),
        ("missing.toml", "no such file"),
    ] {
        refused(
            load(&mut client, scenario("out", name, WAYPOINT)).await,
            needle,
        );
    }
    let message = refused(
        load(
            &mut client,
            scenario("out", "topology.toml", "trace = \"secret.csv\""),
        )
        .await,
        "devices[0].trace",
    );
    assert!(!message.contains("hunter2"), "{message}");

    // A scenario that asks for its outputs elsewhere gets them under --out.
    let elsewhere = dir.path().join("chosen-by-caller");
    load(
        &mut client,
        scenario(elsewhere.to_str().unwrap(), "topology.toml", WAYPOINT),
    )
    .await
    .unwrap();
    client.start(StartRequest::default()).await.unwrap();
    client
        .register_device(RegisterDeviceRequest {
            device_id: "p".into(),
            movement: Some(Movement::Position(GeoPoint {
                latitude_deg: 52.6610,
                longitude_deg: -8.6285,
            })),
        })
        .await
        .unwrap();
    let status = client
        .register_device(RegisterDeviceRequest {
            device_id: "q".into(),
            movement: Some(Movement::TracePath("secret.csv".into())),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("line") && !status.message().contains("hunter2"),
        "{status:?}"
    );
    client.stop(StopRequest {}).await.unwrap();
    assert!(!elsewhere.exists(), "serve wrote where the caller said");
    assert!(Path::new(&out).join("summary.json").exists());
    service.shutdown().await.unwrap();
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speeds_that_would_wedge_or_panic_the_clock_are_refused_and_serve_answers_on() {
    let out = tempfile::tempdir().unwrap();
    let (service, mut client, stop) = served_into(out.path()).await;
    client.stop(StopRequest {}).await.unwrap();
    for speed in [1e12, 1e308, -1.0, 1e-9] {
        let status = client
            .start(StartRequest {
                speed,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{speed}: {status:?}");
        assert!(status.message().contains("0.001 to 1000"), "{status:?}");
        client.get_summary(GetSummaryRequest {}).await.unwrap();
    }
    client
        .start(StartRequest {
            speed: 1000.0,
            ..Default::default()
        })
        .await
        .unwrap();
    client.get_summary(GetSummaryRequest {}).await.unwrap();
    client.stop(StopRequest {}).await.unwrap();
    service.shutdown().await.unwrap();
    let _ = stop.send(());
}

#[test]
fn every_proto_path_the_guides_give_exists() {
    for doc in ["docs/serve.md", "README.md"] {
        let text = std::fs::read_to_string(repo(doc)).unwrap();
        let paths: Vec<&str> = text
            .split(|c: char| c == '`' || c.is_whitespace() || c == '(' || c == ')')
            .filter(|word| word.starts_with("proto/") && word.ends_with(".proto"))
            .collect();
        assert!(!paths.is_empty(), "{doc} names no .proto file");
        for path in paths {
            assert!(
                repo(path).is_file(),
                "{doc} names {path}, which does not exist"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_unregisters_frees_its_id_and_its_vm() {
    let out = tempfile::tempdir().unwrap();
    let (service, mut client, stop) = served_into(out.path()).await;
    let register = |id: &str| RegisterDeviceRequest {
        device_id: id.into(),
        movement: Some(Movement::Position(GeoPoint {
            latitude_deg: 52.6610,
            longitude_deg: -8.6285,
        })),
    };
    let first = client
        .register_device(register("phone"))
        .await
        .unwrap()
        .into_inner();
    let gone = client
        .unregister_device(mcc_proto::v1::UnregisterDeviceRequest {
            device_id: "phone".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (gone.vm_id.as_str(), gone.host_id.as_str()),
        (first.vm_id.as_str(), first.host_id.as_str())
    );
    let status = client
        .unregister_device(mcc_proto::v1::UnregisterDeviceRequest {
            device_id: "phone".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    // The same id registers again, and its VM is hosted anew on the node
    // (the node took the old one off: it would refuse a VM it holds).
    let second = client
        .register_device(register("phone"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.vm_id, first.vm_id);
    let edge = service.running_edge().await.unwrap();
    let summary = edge.summary();
    assert_eq!(summary.devices, 2, "both registrations are in the outputs");
    service.shutdown().await.unwrap();
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_device_is_refused_with_a_retry_hint_and_the_rest_answered() {
    use mcc_emu::realclock::admission::MAX_IN_FLIGHT_PER_DEVICE;
    let out = tempfile::tempdir().unwrap();
    let (service, mut client, stop) = served_into(out.path()).await;
    client
        .register_device(RegisterDeviceRequest {
            device_id: "flood".into(),
            movement: Some(Movement::Position(GeoPoint {
                latitude_deg: 52.6610,
                longitude_deg: -8.6285,
            })),
        })
        .await
        .unwrap();
    let sent = 3 * MAX_IN_FLIGHT_PER_DEVICE as u64;
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..sent {
        let mut client = client.clone();
        calls.spawn(async move {
            client
                .send_request(mcc_proto::v1::DeviceRequest {
                    device_id: "flood".into(),
                    request_id: n,
                    payload: vec![0; 512],
                    // Long enough that the first hundred are still running
                    // when the rest arrive.
                    cpu_cost_us: 50_000,
                    response_bytes: 256,
                })
                .await
        });
    }
    let (mut answered, mut refused) = (0u64, 0u64);
    while let Some(done) = calls.join_next().await {
        match done.unwrap() {
            Ok(_) => answered += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(status.message().contains("retry in 100 ms"), "{status:?}");
                assert_eq!(
                    status.metadata().get("grpc-retry-pushback-ms").unwrap(),
                    "100"
                );
                refused += 1;
            }
        }
    }
    assert_eq!(answered + refused, sent);
    assert!(refused > 0, "nothing was refused");
    assert!(
        answered >= u64::from(MAX_IN_FLIGHT_PER_DEVICE),
        "{answered}"
    );
    // Every request is accounted for: in the figures or counted as refused.
    let summary = service.running_edge().await.unwrap().summary();
    assert_eq!(summary.requests, answered);
    assert_eq!(summary.real_clock.unwrap().refused_overload, refused);
    service.shutdown().await.unwrap();
    let _ = stop.send(());
}
