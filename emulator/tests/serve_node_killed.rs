//! A cloudlet node that dies while serve runs: mid-migration the VM keeps
//! running where it was; a dead host's VM answers UNAVAILABLE naming the
//! node; the service stays up and serves every next call.

mod common;

use std::time::Duration;

use common::repo;
use mcc_emu::serve::{self, ControlService, ServeConfig};
use mcc_mobile_client::fleet::connect;
use mcc_proto::v1::{
    DeviceRequest, GeoPoint, GetSummaryRequest, Outcome, RegisterDeviceRequest,
    ReportPositionRequest, StopRequest, StreamEventsRequest, event::Kind,
    register_device_request::Movement,
};
use tokio_stream::StreamExt;

const CITY: GeoPoint = GeoPoint {
    latitude_deg: 52.6610,
    longitude_deg: -8.6285,
};
const UL: GeoPoint = GeoPoint {
    latitude_deg: 52.6725,
    longitude_deg: -8.5715,
};

fn request(n: u64) -> DeviceRequest {
    DeviceRequest {
        device_id: "phone".into(),
        request_id: n,
        payload: vec![0; 256],
        cpu_cost_us: 500,
        response_bytes: 256,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_killed_mid_migration_leaves_the_vm_at_its_source_and_serve_up() {
    let out = tempfile::tempdir().unwrap();
    let scenario = mcc_emu::scenario::load_file(&repo("topologies/small-real.toml")).unwrap();
    let service = ControlService::start(
        scenario,
        ServeConfig {
            speed: 1.0,
            scenarios: Some(mcc_emu::serve::sandbox::Sandbox::new(&repo("topologies")).unwrap()),
            out: Some(out.path().to_path_buf()),
            ..ServeConfig::default()
        },
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve(service.clone(), listener, None, async move {
        let _ = stop_rx.await;
    }));

    let mut client = connect(&url, None).await.unwrap();
    let mut events = client
        .stream_events(StreamEventsRequest {})
        .await
        .unwrap()
        .into_inner();
    let registered = client
        .register_device(RegisterDeviceRequest {
            device_id: "phone".into(),
            movement: Some(Movement::Position(CITY)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(registered.host_id, "cl-city");
    client
        .report_position(ReportPositionRequest {
            device_id: "phone".into(),
            position: Some(UL),
        })
        .await
        .unwrap();

    // Kill the target as soon as the migration starts (32 MiB take a few
    // hundred milliseconds to copy), then wait for the migration's end.
    let edge = service.running_edge().await.expect("the edge runs");
    let mut killed = None;
    let mut ending = None;
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(event) = events.next().await {
            if let Some(Kind::MigrationPhase(phase)) = event.unwrap().kind {
                match phase.phase.as_str() {
                    "start" => {
                        edge.kill_node(&phase.to_host_id).unwrap();
                        killed = Some(phase.to_host_id.clone());
                    }
                    "done" | "aborted" => {
                        ending = Some(phase);
                        break;
                    }
                    _ => {}
                }
            }
        }
    })
    .await
    .expect("the migration ends within 30 s");
    let killed = killed.expect("a migration started");
    let ending = ending.unwrap();
    assert_eq!(ending.phase, "aborted", "{ending:?}");
    assert!(!ending.error.is_empty(), "{ending:?}");
    assert_eq!(ending.to_host_id, killed);

    // The VM runs where it was.
    let answer = client.send_request(request(0)).await.unwrap().into_inner();
    assert_eq!(
        (answer.outcome, answer.host_id.as_str()),
        (Outcome::Ok as i32, "cl-city")
    );

    // Its host dies too: the request fails with a status naming why, and
    // the service answers the next call.
    edge.kill_node("cl-city").unwrap();
    let status = client.send_request(request(1)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    let summary = client
        .get_summary(GetSummaryRequest {})
        .await
        .unwrap()
        .into_inner();
    // Only completed migrations count (issue #15): the aborted one does not.
    assert_eq!(summary.migrations, 0);
    client
        .register_device(RegisterDeviceRequest {
            device_id: "second".into(),
            movement: Some(Movement::Position(UL)),
        })
        .await
        .unwrap();
    client.stop(StopRequest {}).await.unwrap();
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    // The aborted migration is a row, with why it failed.
    let rows = common::rows(out.path(), "migrations.csv");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["to"], killed);
    assert!(!rows[0]["failure"].is_empty(), "{rows:?}");
    assert_eq!(rows[0]["total_ms"], "", "no figures for a failed one");
}
