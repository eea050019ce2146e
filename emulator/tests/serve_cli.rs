//! `mcc-emu serve` as a process: the address rule, the printed address,
//! a clean stop on Ctrl-C with the outputs written.

mod common;

use common::mcc_emu;
use common::serve::Served;
use mcc_mobile_client::fleet::connect;
use mcc_proto::v1::{GetSummaryRequest, StreamEventsRequest};

const SCENARIO: &str = "topologies/small-real.toml";

#[test]
fn a_public_address_without_a_token_is_refused_at_start_up() {
    let output = mcc_emu(&["serve", SCENARIO, "--listen", "0.0.0.0:0"]);
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without --token"),
        "{err}"
    );
    assert!(
        output.stdout.is_empty(),
        "it printed an address: {output:?}"
    );
    let output = mcc_emu(&["serve", SCENARIO, "--listen", "127.0.0.1:0", "--token", ""]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--token must not be empty"));
    let output = mcc_emu(&["serve", SCENARIO, "--listen", "127.0.0.1:0", "--speed", "0"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("--speed 0 is out of range: it must be a number from 0.001 to 1000")
    );
}

#[test]
fn it_prints_the_port_it_got_serves_and_stops_cleanly_on_ctrl_c_with_the_outputs_written() {
    let mut served = Served::start(&[SCENARIO]);
    assert!(!served.addr.ends_with(":0"), "{}", served.addr);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let open_stream = runtime.block_on(async {
        let mut client = connect(&served.url(), None).await.unwrap();
        let summary = client
            .get_summary(GetSummaryRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(summary.scenario, "small-real");
        assert_eq!(summary.cloudlets, 4);
        let area = summary.area.unwrap();
        let sw = area.south_west.unwrap();
        let ne = area.north_east.unwrap();
        // Limerick.
        assert!(
            sw.latitude_deg < 52.66 && ne.latitude_deg > 52.66,
            "{sw:?} {ne:?}"
        );
        client
            .register_device(common::serve::phone_in_limerick())
            .await
            .unwrap();
        // A subscriber still listening when Ctrl-C comes must not hold the stop up.
        client
            .stream_events(StreamEventsRequest {})
            .await
            .unwrap()
            .into_inner()
    });
    let status = served.interrupt();
    drop(open_stream);
    assert!(status.success(), "{status:?}: {}", served.stderr());
    assert!(
        served.stderr().contains("mcc-emu serve: stopped"),
        "{}",
        served.stderr()
    );
    for file in [
        "requests.csv",
        "handovers.csv",
        "migrations.csv",
        "summary.json",
    ] {
        assert!(
            served.out.join(file).is_file(),
            "{file} missing: {}",
            served.stderr()
        );
    }
}
