//! `--metrics-listen`: serve's Prometheus endpoint counts what was sent, and
//! follows serve's token rule.

mod common;

use common::http_get;
use common::metrics::{family_sum, sample};
use common::serve::{Served, phone_in_limerick};
use mcc_proto::v1::DeviceRequest;

const SCENARIO: &str = "topologies/small-real.toml";

#[test]
fn the_counters_match_the_requests_sent() {
    let served = Served::start(&[SCENARIO, "--metrics-listen", "127.0.0.1:0"]);
    let metrics = served.metrics_address();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sent = 7u64;
    runtime.block_on(async {
        let mut client = mcc_mobile_client::fleet::connect(&served.url(), None)
            .await
            .unwrap();
        client.register_device(phone_in_limerick()).await.unwrap();
        for n in 0..sent {
            let answer = client
                .send_request(DeviceRequest {
                    device_id: "phone".into(),
                    request_id: n,
                    payload: vec![1; 100],
                    cpu_cost_us: 500,
                    response_bytes: 100,
                })
                .await
                .unwrap()
                .into_inner();
            assert!(!answer.host_id.is_empty());
        }
        // Refused before the edge: no request of the edge.
        let unknown = client
            .send_request(DeviceRequest {
                device_id: "nobody".into(),
                ..DeviceRequest::default()
            })
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::NotFound);
    });
    let (status, headers, text) = http_get(metrics, "/metrics", "");
    assert_eq!(status, 200, "{text}");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/plain")),
        "{headers:?}"
    );
    let n = sent as f64;
    assert_eq!(
        sample(&text, "mcc_edge_requests_total{outcome=\"ok\"}"),
        Some(n),
        "{text}"
    );
    assert_eq!(family_sum(&text, "mcc_edge_requests_total"), n, "{text}");
    for histogram in [
        "mcc_edge_request_delay_seconds",
        "mcc_edge_request_added_delay_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {histogram} histogram")),
            "{text}"
        );
        assert_eq!(
            sample(&text, &format!("{histogram}_count")),
            Some(n),
            "{text}"
        );
        // Every answer took at least its 0.5 ms of CPU and the path.
        let sum = sample(&text, &format!("{histogram}_sum")).unwrap();
        assert!(sum >= 0.0, "{text}");
    }
    let delay_sum = sample(&text, "mcc_edge_request_delay_seconds_sum").unwrap();
    assert!(delay_sum >= n * 0.0005, "{text}");
    assert_eq!(sample(&text, "mcc_edge_requests_in_flight"), Some(0.0));
    // The in-process node that served them says so too.
    assert_eq!(
        family_sum(&text, "mcc_cloudlet_requests_served_total"),
        n,
        "{text}"
    );
    assert_eq!(family_sum(&text, "mcc_cloudlet_vms"), 1.0, "{text}");
    assert_eq!(
        family_sum(&text, "mcc_edge_cloudlet_requests_in_flight"),
        0.0
    );
    assert_eq!(http_get(metrics, "/other", "").0, 404);
}

#[test]
fn the_endpoint_follows_serves_token_rule() {
    let refused = common::mcc_emu(&["serve", SCENARIO, "--metrics-listen", "0.0.0.0:0"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--metrics-listen 0.0.0.0:0") && stderr.contains("--token"),
        "{stderr}"
    );
    let served = Served::start(&[
        SCENARIO,
        "--token",
        "s3cret",
        "--metrics-listen",
        "127.0.0.1:0",
    ]);
    let metrics = served.metrics_address();
    assert_eq!(http_get(metrics, "/metrics", "").0, 401);
    assert_eq!(
        http_get(metrics, "/metrics", "Authorization: Bearer wrong\r\n").0,
        401
    );
    let (status, _, text) = http_get(metrics, "/metrics", "Authorization: Bearer s3cret\r\n");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("mcc_cloudlet_cpu_cores"), "{text}");
    // On the virtual clock there is nothing to scrape.
    let virtual_clock = common::mcc_emu(&["run", SCENARIO, "--metrics-listen", "127.0.0.1:0"]);
    assert!(!virtual_clock.status.success());
    assert!(
        String::from_utf8_lossy(&virtual_clock.stderr).contains("--clock real"),
        "{}",
        String::from_utf8_lossy(&virtual_clock.stderr)
    );
}
