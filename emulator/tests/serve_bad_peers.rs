//! Bad peers and limits against a `mcc-emu serve` process: wrong or
//! missing tokens, malformed fields, unknown ids, a second registration,
//! oversized messages, a client that disconnects mid-request. Every call
//! gets a status that says what was wrong, and the process serves the next
//! call.

mod common;

use std::time::Duration;

use common::serve::Served;
use mcc_mobile_client::fleet::{Client, connect};
use mcc_proto::v1::{
    DeviceRequest, GeoPoint, GetSummaryRequest, RegisterDeviceRequest, ReportPositionRequest,
    StopRequest, StreamEventsRequest, register_device_request::Movement,
};
use tonic::Code;

const SCENARIO: &str = "topologies/small-real.toml";
const CITY: GeoPoint = GeoPoint {
    latitude_deg: 52.6610,
    longitude_deg: -8.6285,
};

fn registration(id: &str, movement: Option<Movement>) -> RegisterDeviceRequest {
    RegisterDeviceRequest {
        device_id: id.into(),
        movement,
    }
}

fn request(id: &str, payload_bytes: usize, cpu_cost_us: u64) -> DeviceRequest {
    DeviceRequest {
        device_id: id.into(),
        request_id: 0,
        payload: vec![1; payload_bytes],
        cpu_cost_us,
        response_bytes: 64,
    }
}

/// The server still answers: a summary comes back.
async fn still_serves(client: &mut Client) {
    client
        .get_summary(GetSummaryRequest {})
        .await
        .expect("the server answers the next call");
}

fn expect(result: Result<impl std::fmt::Debug, tonic::Status>, code: Code, needle: &str) {
    let status = result.expect_err("the call must be refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(needle),
        "{needle:?} not in {status:?}"
    );
}

#[test]
fn a_token_from_a_file_is_required_like_one_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "fil3-token\n").unwrap();
    let mut served = Served::start(&[SCENARIO, "--token-file", file.to_str().unwrap()]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // The line break is not part of the token.
        for token in [None, Some("fil3-token\n"), Some("fil3-tokem")] {
            let Ok(mut client) = connect(&served.url(), token).await else {
                // A token with a line break cannot even be metadata.
                continue;
            };
            expect(
                client.get_summary(GetSummaryRequest {}).await,
                Code::Unauthenticated,
                "authorization",
            );
        }
        let mut client = connect(&served.url(), Some("fil3-token")).await.unwrap();
        client.get_summary(GetSummaryRequest {}).await.unwrap();
    });
    assert!(served.is_running());
    // An empty or missing file stops serve at start-up, naming the file.
    let refused = |token_file: &str| {
        let output = common::mcc_emu(&[
            "serve",
            SCENARIO,
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            token_file,
        ]);
        assert!(!output.status.success());
        let err = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(err.contains(token_file), "{err}");
        err
    };
    std::fs::write(&file, "").unwrap();
    let err = refused(file.to_str().unwrap());
    assert!(err.contains("empty"), "{err}");
    let err = refused("no/such/file");
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn calls_without_the_token_or_with_a_wrong_one_are_unauthenticated() {
    let mut served = Served::start(&[SCENARIO, "--token", "s3cret-token"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for token in [None, Some("s3cret-tokem"), Some("s3cret-token-and-more")] {
            let mut client = connect(&served.url(), token).await.unwrap();
            expect(
                client.get_summary(GetSummaryRequest {}).await,
                Code::Unauthenticated,
                "authorization",
            );
            expect(
                client
                    .register_device(registration("p", Some(Movement::Position(CITY))))
                    .await,
                Code::Unauthenticated,
                "authorization",
            );
            expect(
                client.stream_events(StreamEventsRequest {}).await,
                Code::Unauthenticated,
                "authorization",
            );
            expect(
                client.stop(StopRequest {}).await,
                Code::Unauthenticated,
                "authorization",
            );
        }
        let mut client = connect(&served.url(), Some("s3cret-token")).await.unwrap();
        client
            .register_device(registration("p", Some(Movement::Position(CITY))))
            .await
            .unwrap();
        // The refused Stop above changed nothing: the edge still runs.
        client.send_request(request("p", 16, 100)).await.unwrap();
    });
    assert!(served.is_running());
}

#[test]
fn malformed_fields_unknown_ids_and_a_second_registration_are_refused_by_name() {
    let mut served = Served::start(&[SCENARIO, "--scenarios", "topologies"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = connect(&served.url(), None).await.unwrap();
        let point = |lat: f64, lon: f64| {
            Some(Movement::Position(GeoPoint {
                latitude_deg: lat,
                longitude_deg: lon,
            }))
        };
        for (req, needle) in [
            (
                registration("", point(52.66, -8.63)),
                "device_id must not be empty",
            ),
            (registration("p", point(f64::NAN, -8.63)), "latitude NaN"),
            (
                registration("p", point(123.0, -8.63)),
                "latitude 123 is outside [-90, 90]",
            ),
            (registration("p", point(52.66, -181.0)), "longitude -181"),
            (registration("p", None), "movement is missing"),
            (
                registration("p", Some(Movement::TracePath(String::new()))),
                "trace_path must not be empty",
            ),
            (
                registration(
                    "p",
                    Some(Movement::TracePath(
                        "../tests/data/bad/trace-lat-123.gpx".into(),
                    )),
                ),
                "no `..`",
            ),
            (
                registration("p", Some(Movement::TracePath("/etc/shadow".into()))),
                "no absolute path",
            ),
            (
                registration("p", Some(Movement::TracePath("no-such-trace.gpx".into()))),
                "no-such-trace.gpx",
            ),
            (
                registration(&"x".repeat(200), point(52.66, -8.63)),
                "at most 128",
            ),
        ] {
            expect(
                client.register_device(req).await,
                Code::InvalidArgument,
                needle,
            );
            still_serves(&mut client).await;
        }

        client
            .register_device(registration("phone", point(52.6610, -8.6285)))
            .await
            .unwrap();
        expect(
            client
                .register_device(registration("phone", point(52.6610, -8.6285)))
                .await,
            Code::AlreadyExists,
            "phone",
        );
        expect(
            client
                .report_position(ReportPositionRequest {
                    device_id: "ghost-42".into(),
                    position: Some(CITY),
                })
                .await,
            Code::NotFound,
            "ghost-42",
        );
        expect(
            client.send_request(request("ghost-43", 16, 100)).await,
            Code::NotFound,
            "ghost-43",
        );
        expect(
            client
                .report_position(ReportPositionRequest {
                    device_id: "phone".into(),
                    position: None,
                })
                .await,
            Code::InvalidArgument,
            "position is missing",
        );
        expect(
            client.send_request(request("phone", 0, 61_000_000)).await,
            Code::InvalidArgument,
            "60 s",
        );
        // A registered device following a real trace file on the server.
        client
            .register_device(registration(
                "bus",
                Some(Movement::TracePath("traces/bus-304-limerick.gpx".into())),
            ))
            .await
            .unwrap();
        let answer = client
            .send_request(request("phone", 16, 100))
            .await
            .unwrap();
        assert_eq!(answer.into_inner().host_id, "cl-city");
    });
    assert!(served.is_running());
}

#[test]
fn oversized_messages_get_a_status_naming_the_limit() {
    let mut served = Served::start(&[SCENARIO]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = connect(&served.url(), None).await.unwrap();
        client
            .register_device(registration("phone", Some(Movement::Position(CITY))))
            .await
            .unwrap();
        // Over the payload limit, under the message limit: the service says.
        expect(
            client
                .send_request(request("phone", (1 << 20) + 1, 100))
                .await,
            Code::InvalidArgument,
            "the limit is 1048576 bytes",
        );
        still_serves(&mut client).await;
        // Over the message limit: tonic refuses it before the service.
        expect(
            client.send_request(request("phone", 5 << 20, 100)).await,
            Code::OutOfRange,
            "4194304",
        );
        still_serves(&mut client).await;
        let answer = client
            .send_request(request("phone", 1 << 20, 100))
            .await
            .unwrap();
        assert_eq!(answer.into_inner().host_id, "cl-city");
    });
    assert!(served.is_running());
}

#[test]
fn a_client_that_disconnects_mid_request_leaves_the_request_to_finish_and_be_counted() {
    let mut served = Served::start(&[SCENARIO]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = connect(&served.url(), None).await.unwrap();
        client
            .register_device(registration("phone", Some(Movement::Position(CITY))))
            .await
            .unwrap();
        {
            // Its own connection, dropped 200 ms into a 1.5 s request.
            let mut leaving = connect(&served.url(), None).await.unwrap();
            let call = leaving.send_request(request("phone", 64, 1_500_000));
            assert!(
                tokio::time::timeout(Duration::from_millis(200), call)
                    .await
                    .is_err(),
                "a 1.5 s request cannot answer in 200 ms"
            );
        }
        still_serves(&mut client).await;
        // It ran to its end inside the edge and is counted as it ended.
        let mut counted = 0;
        for _ in 0..100 {
            let summary = client
                .get_summary(GetSummaryRequest {})
                .await
                .unwrap()
                .into_inner();
            counted = summary.requests;
            if counted == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(counted, 1, "the abandoned request was not recorded");
        let answer = client
            .send_request(request("phone", 16, 100))
            .await
            .unwrap();
        assert_eq!(answer.into_inner().host_id, "cl-city");
        // Nothing is left hanging: the stop drains at once and counts both.
        let stopped = tokio::time::timeout(Duration::from_secs(10), client.stop(StopRequest {}))
            .await
            .expect("the stop does not wait for a lost client")
            .unwrap()
            .into_inner();
        assert_eq!(stopped.summary.unwrap().requests, 2);
    });
    assert!(served.is_running());
    let status = served.interrupt();
    assert!(status.success(), "{}", served.stderr());
    let rows = std::fs::read_to_string(served.out.join("requests.csv")).unwrap();
    assert_eq!(rows.lines().count(), 3, "header and two requests: {rows}");
}
