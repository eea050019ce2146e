//! `mcc-emu serve` over gRPC: a device's whole call sequence, the event
//! stream, and the lifecycle (Stop, LoadScenario, Start).

mod common;

use std::time::{Duration, Instant};

use common::serve::Served;
use mcc_mobile_client::fleet::{Client, connect};
use mcc_proto::v1::{
    DeviceRequest, GeoPoint, GetSummaryRequest, LoadScenarioRequest, Outcome,
    RegisterDeviceRequest, ReportPositionRequest, StartRequest, StopRequest, StreamEventsRequest,
    event::Kind, register_device_request,
};
use tokio_stream::StreamExt;

const SCENARIO: &str = "topologies/small-real.toml";
/// Under ap-city, next to cloudlet cl-city.
const CITY: (f64, f64) = (52.6610, -8.6285);
/// Under ap-ul, next to cloudlet cl-ul.
const UL: (f64, f64) = (52.6725, -8.5715);

fn at((lat, lon): (f64, f64)) -> GeoPoint {
    GeoPoint {
        latitude_deg: lat,
        longitude_deg: lon,
    }
}

async fn register(
    client: &mut Client,
    id: &str,
    where_: (f64, f64),
) -> Result<mcc_proto::v1::RegisterDeviceResponse, tonic::Status> {
    client
        .register_device(RegisterDeviceRequest {
            device_id: id.into(),
            movement: Some(register_device_request::Movement::Position(at(where_))),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The code of a refused call.
fn code<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> tonic::Code {
    result.expect_err("the call must be refused").code()
}

fn request(id: &str, n: u64) -> DeviceRequest {
    DeviceRequest {
        device_id: id.into(),
        request_id: n,
        payload: vec![7; 1024],
        cpu_cost_us: 2_000,
        response_bytes: 512,
    }
}

#[test]
fn a_device_registers_moves_and_its_vm_follows_it_across_the_emulated_network() {
    let served = Served::start(&[SCENARIO]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = connect(&served.url(), None).await.unwrap();
        let mut events = client
            .stream_events(StreamEventsRequest {})
            .await
            .unwrap()
            .into_inner();
        let registered = register(&mut client, "phone-1", CITY).await.unwrap();
        assert_eq!(registered.host_id, "cl-city");
        assert_eq!(registered.access_point_id, "ap-city");
        assert!(!registered.vm_id.is_empty());

        let sent = Instant::now();
        let answer = client.send_request(request("phone-1", 0)).await.unwrap().into_inner();
        let measured_us = sent.elapsed().as_micros() as u64;
        assert_eq!(answer.outcome, Outcome::Ok as i32);
        assert_eq!(answer.request_id, 0);
        assert_eq!(answer.host_id, "cl-city");
        let delay = answer.delay.unwrap();
        assert!(delay.access_us > 0 && delay.processing_us >= 2_000, "{delay:?}");
        // The emulator's total lies inside the round trip this client saw.
        assert!(delay.total_us <= measured_us, "{delay:?} vs {measured_us} µs");

        let moved = client
            .report_position(ReportPositionRequest {
                device_id: "phone-1".into(),
                position: Some(at(UL)),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(moved.handed_over);
        assert_eq!(moved.access_point_id, "ap-ul");

        // The stream tells the hand-over, the decision and the migration's end.
        let mut seen = Vec::new();
        let deadline = Duration::from_secs(30);
        let done = tokio::time::timeout(deadline, async {
            while let Some(event) = events.next().await {
                let event = event.unwrap();
                let done = matches!(&event.kind, Some(Kind::MigrationPhase(p)) if p.phase == "done");
                seen.push(event.kind.unwrap());
                if done {
                    break;
                }
            }
        })
        .await;
        assert!(done.is_ok(), "no migration done within {deadline:?}: {seen:?}");
        assert!(
            seen.iter().any(|k| matches!(k, Kind::Handover(h)
                if h.device_id == "phone-1" && h.from_access_point_id == "ap-city" && h.to_access_point_id == "ap-ul")),
            "{seen:?}"
        );
        // The policy moved the VM away from cl-city, and the next request
        // is served where it went.
        let target = seen
            .iter()
            .find_map(|k| match k {
                Kind::Placement(p) => p.moves.iter().find(|m| m.vm_id == registered.vm_id),
                _ => None,
            })
            .map(|m| m.to_host_id.clone())
            .unwrap_or_else(|| panic!("no placement moved {}: {seen:?}", registered.vm_id));
        assert_ne!(target, "cl-city");
        assert!(
            seen.iter().any(|k| matches!(k, Kind::MigrationPhase(p)
                if p.phase == "done" && p.to_host_id == target && p.bytes >= 32 << 20)),
            "{seen:?}"
        );
        let answer = client.send_request(request("phone-1", 1)).await.unwrap().into_inner();
        assert_eq!((answer.outcome, answer.host_id.as_str()), (Outcome::Ok as i32, target.as_str()));

        let summary = client.get_summary(GetSummaryRequest {}).await.unwrap().into_inner();
        assert_eq!(summary.requests, 2);
        assert_eq!(summary.migrations, 1);
        assert!(summary.bytes_migrated >= 32 << 20, "{summary:?}");
    });
}

#[test]
fn the_lifecycle_stop_load_start_with_its_preconditions() {
    let served = Served::start(&[SCENARIO, "--scenarios", "topologies"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = connect(&served.url(), None).await.unwrap();
        register(&mut client, "phone-1", CITY).await.unwrap();
        client.send_request(request("phone-1", 0)).await.unwrap();
        let text = std::fs::read_to_string(common::repo(SCENARIO)).unwrap();
        let status = client
            .load_scenario(LoadScenarioRequest {
                scenario_toml: text.clone(),
                name: "small-real.toml".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");

        let stopped = client.stop(StopRequest {}).await.unwrap().into_inner();
        assert_eq!(stopped.summary.unwrap().requests, 1);
        assert_eq!(
            code(client.stop(StopRequest {}).await),
            tonic::Code::FailedPrecondition
        );
        let status = register(&mut client, "phone-2", CITY).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert!(status.message().contains("Start"), "{status:?}");
        assert_eq!(
            code(client.send_request(request("phone-1", 1)).await),
            tonic::Code::FailedPrecondition
        );
        // The last run's figures stay readable.
        let summary = client
            .get_summary(GetSummaryRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(summary.requests, 1);

        let status = client
            .load_scenario(LoadScenarioRequest {
                scenario_toml: "name = \"x\"\nduration_s = \"long\"\n".into(),
                name: "broken.toml".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("broken.toml:2"), "{status:?}");
        let loaded = client
            .load_scenario(LoadScenarioRequest {
                scenario_toml: text,
                name: "small-real.toml".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!((loaded.cloudlets, loaded.access_points), (4, 6));

        let status = client
            .start(StartRequest {
                technique: 9,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(
            status.message().contains("unknown technique 9"),
            "{status:?}"
        );
        let status = client
            .start(StartRequest {
                policy: "psychic".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("psychic"), "{status:?}");
        let status = client
            .start(StartRequest {
                speed: f64::NAN,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);

        client
            .start(StartRequest {
                speed: 2.0,
                technique: mcc_proto::v1::Technique::Soft as i32,
                policy: "never".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            code(client.start(StartRequest::default()).await),
            tonic::Code::FailedPrecondition
        );
        // A new run: the old device is gone, its id free again.
        register(&mut client, "phone-1", CITY).await.unwrap();
        let answer = client
            .send_request(request("phone-1", 0))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.outcome, Outcome::Ok as i32);
        let summary = client
            .get_summary(GetSummaryRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(summary.requests, 1);
    });
}

#[test]
fn a_subscriber_that_does_not_read_never_slows_the_edge_and_learns_what_it_missed() {
    let served = Served::start(&[SCENARIO]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = connect(&served.url(), None).await.unwrap();
        // No migrations: only hand-overs, one per move.
        client.stop(StopRequest {}).await.unwrap();
        client
            .start(StartRequest {
                policy: "never".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        // Its own connection, so its unread stream cannot stall our calls,
        // with a small HTTP/2 window (4 KiB, about 70 events) so that what
        // it does not read stays on the server side.
        let channel = tonic::transport::Endpoint::from_shared(served.url())
            .unwrap()
            .initial_stream_window_size(Some(4096))
            .initial_connection_window_size(Some(4096))
            .connect()
            .await
            .unwrap();
        let mut subscriber =
            mcc_proto::v1::emulator_control_client::EmulatorControlClient::new(channel);
        let mut events = subscriber
            .stream_events(StreamEventsRequest {})
            .await
            .unwrap()
            .into_inner();
        register(&mut client, "ping-pong", CITY).await.unwrap();
        // Far more hand-overs than the edge keeps for a subscriber (1024)
        // plus what the transport holds; every move must still answer promptly.
        const MOVES: u64 = 2_500;
        for n in 0..MOVES {
            let to = if n % 2 == 0 { UL } else { CITY };
            let moved = tokio::time::timeout(
                Duration::from_secs(5),
                client.report_position(ReportPositionRequest {
                    device_id: "ping-pong".into(),
                    position: Some(at(to)),
                }),
            )
            .await
            .expect("the edge waits for no subscriber")
            .unwrap()
            .into_inner();
            assert!(moved.handed_over, "move {n}");
        }
        // Now read: every hand-over was either delivered, in order, or counted as missed.
        let (mut delivered, mut missed, mut last_ns) = (0u64, 0u64, 0i64);
        let all = tokio::time::timeout(Duration::from_secs(30), async {
            while delivered + missed < MOVES {
                let event = events.next().await.expect("the stream goes on").unwrap();
                match event.kind.unwrap() {
                    Kind::Handover(h) => {
                        assert_eq!(h.device_id, "ping-pong");
                        assert!(event.emu_time_ns >= last_ns, "out of order");
                        last_ns = event.emu_time_ns;
                        delivered += 1;
                    }
                    Kind::Missed(m) => missed += m.events,
                    other => panic!("unexpected {other:?}"),
                }
            }
        })
        .await;
        assert!(
            all.is_ok(),
            "{delivered} delivered, {missed} missed of {MOVES}"
        );
        assert_eq!(delivered + missed, MOVES);
        assert!(
            missed > 0,
            "nothing was dropped: the test did not fill the queue"
        );
        assert!(delivered >= 1024, "the newest events are kept: {delivered}");
    });
}

/// `serve` on a scenario with `[radio]`: devices that push their positions
/// get the radio model's wireless hop (farther from the site, slower), and
/// one in range of a site but beyond its link budget gets no coverage.
#[test]
fn serve_runs_the_radio_model_for_pushed_devices() {
    let dir = tempfile::tempdir().unwrap();
    let file = common::small_real_with_radio(dir.path());
    let served = Served::start(&[file.to_str().unwrap()]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = connect(&served.url(), None).await.unwrap();
        let spots = common::radio_spots();
        let mut access_us = Vec::new();
        for (id, spot) in ["near", "far", "beyond"].iter().zip(spots) {
            let registered = register(&mut client, id, (spot.lat_deg, spot.lon_deg))
                .await
                .unwrap();
            assert_eq!(registered.access_point_id, "ap-raheen", "{id}");
            let answer = client
                .send_request(DeviceRequest {
                    payload: vec![7; 20_000],
                    response_bytes: 20_000,
                    ..request(id, 0)
                })
                .await
                .unwrap()
                .into_inner();
            access_us.push((answer.outcome, answer.delay.unwrap_or_default().access_us));
        }
        let ok = Outcome::Ok as i32;
        assert_eq!(access_us[0].0, ok, "{access_us:?}");
        assert_eq!(access_us[1].0, ok, "{access_us:?}");
        assert!(access_us[1].1 > access_us[0].1 + 10_000, "{access_us:?}");
        assert_eq!(access_us[2].0, Outcome::NoCoverage as i32, "{access_us:?}");
    });
}
