//! Scenario files: the embedded default, the shipped example, and the errors
//! a person gets for a bad one.

mod common;
use common::repo;

use mcc_emu::scenario::{self, ScenarioError};

#[test]
fn the_default_scenario_is_of_a_useful_size() {
    let s = scenario::default_scenario().unwrap();
    // 153 aggregation cloudlets and the remote cloud.
    assert_eq!(s.world.cloudlets.len(), 154);
    assert!(
        s.world
            .cloudlets
            .iter()
            .any(|c| c.name == "cloud-west-europe")
    );
    // 131 buses of the Dublin fleet, three devices (applications) each.
    assert_eq!(s.world.devices.len(), 3 * 131);
    assert!(s.settings.duration_ns >= 3_600_000_000_000);
    assert_eq!(s.world.access_points.len(), 1223);
    assert!(s.world.radio.is_some(), "the radio model is on");
    assert_eq!(s.policy, "ga");
    assert_eq!(s.settings.migration.config.technique.name(), "soft");
    let profiles: std::collections::BTreeSet<&str> = s
        .world
        .devices
        .iter()
        .map(|d| s.world.workloads[d.workload as usize].name.as_str())
        .collect();
    assert_eq!(
        profiles.into_iter().collect::<Vec<_>>(),
        [
            "ar-cognitive-assistance",
            "iot-telemetry",
            "video-analytics"
        ]
    );
}

#[test]
fn devices_of_one_trace_in_several_groups_get_distinct_names() {
    let s = scenario::default_scenario().unwrap();
    let names: std::collections::BTreeSet<&str> =
        s.world.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names.len(), s.world.devices.len(), "every name once");
    // The first group keeps the plain name; the others say their profile.
    let bus = "dublin-bus-siri-20130131-sample.33608#0";
    for name in [
        bus.to_owned(),
        format!("{bus}~iot-telemetry"),
        format!("{bus}~ar-cognitive-assistance"),
    ] {
        assert!(names.contains(name.as_str()), "{name}");
    }
    // Without a profile, the group's index.
    let twice = "duration_s = 60\n[topology]\nfile = \"TOPO/example-topology.toml\"\n\
         [[devices]]\ntrace = \"TOPO/traces/bus-304-limerick.gpx\"\n\
         [[devices]]\ntrace = \"TOPO/traces/bus-304-limerick.gpx\"\n";
    let s = load(twice).unwrap();
    let names: Vec<&str> = s.world.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["bus-304-limerick#0", "bus-304-limerick#0~g1"]);
}

#[test]
fn the_example_scenario_loads_from_disk() {
    let s = scenario::load_file(&repo("topologies/example-scenario.toml")).unwrap();
    assert_eq!(s.world.devices.len(), 10);
    assert_eq!(s.world.cloudlets.len(), 2);
    assert_eq!(s.settings.migration.config.technique.name(), "soft");
    assert_eq!(s.world.devices[3].name, "bus-304-limerick#3");
}

/// Loads `text` as if it were a file next to the shipped topologies.
fn load(text: &str) -> Result<scenario::Scenario, ScenarioError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = text.replace("TOPO", &repo("topologies").display().to_string());
    std::fs::write(&path, text).unwrap();
    scenario::load_file(&path)
}

const GOOD: &str = r#"
duration_s = 60
[topology]
file = "TOPO/example-topology.toml"
[[devices]]
trace = "TOPO/traces/bus-304-limerick.gpx"
"#;

fn error_of(text: &str) -> String {
    let err = load(text).expect_err("the scenario must be refused");
    let message = err.to_string();
    assert!(message.contains("bad.toml"), "names the file: {message}");
    assert!(!message.contains('\n'), "one line: {message}");
    message
}

#[test]
fn a_minimal_scenario_is_valid() {
    let s = load(GOOD).unwrap();
    assert_eq!(s.world.devices.len(), 1);
    assert_eq!(s.policy, "nearest");
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let message = error_of(&format!(
        "{GOOD}\n[workload]\nrate_hz = 2\nrate_hertz = 3\n"
    ));
    assert!(message.contains("rate_hertz"), "{message}");
    assert!(
        message.contains("bad.toml:10:1: "),
        "line of the key: {message}"
    );
}

#[test]
fn a_wrong_type_is_named() {
    let message = error_of(&GOOD.replace("duration_s = 60", "duration_s = \"an hour\""));
    assert!(
        message.contains("duration_s") || message.contains("invalid type"),
        "{message}"
    );
}

#[test]
fn values_out_of_range_are_named_by_key() {
    for (text, key) in [
        (
            GOOD.replace("duration_s = 60", "duration_s = 0"),
            "duration_s",
        ),
        (
            format!("{GOOD}[workload]\nrate_hz = -1\n"),
            "workload.rate_hz",
        ),
        (
            format!("{GOOD}[workload]\narrival = \"bursty\"\n"),
            "workload.arrival",
        ),
        (
            format!("{GOOD}[vm]\nmemory_mib = 64\nworking_set_mib = 128\n"),
            "vm",
        ),
        (
            format!("{GOOD}[migration]\ntechnique = \"teleport\"\n"),
            "migration.technique",
        ),
        (
            format!("{GOOD}[migration]\nfault_channel = \"carrier-pigeon\"\n"),
            "migration.fault_channel",
        ),
        (
            format!("{GOOD}[migration]\nrate_cap_mbps = 0\n"),
            "migration.rate_cap_mbps",
        ),
        (
            format!("{GOOD}[migration]\ncap_scope = \"some\"\n"),
            "migration.cap_scope",
        ),
        (
            format!("{GOOD}[migration]\npass_end = \"soon\"\n"),
            "migration.pass_end",
        ),
        (
            format!("{GOOD}[migration]\nexec_data_write_rate_pps = -2\n"),
            "migration.exec_data_write_rate_pps",
        ),
        (
            format!("{GOOD}[migration]\ntop_data_mib = -1\n"),
            "migration.top_data_mib",
        ),
        (
            format!("{GOOD}[migration]\ntop_data_mib = 1e9\n"),
            "migration.top_data_mib` (within the [vm] memory): top_data_bytes must be at most the idle data",
        ),
        (
            format!("{GOOD}[migration]\nqueue_kib = 0\n"),
            "migration.queue_kib",
        ),
        (
            format!("{GOOD}[migration]\ncap_window_ms = 0\n"),
            "migration.cap_window_ms",
        ),
        (
            format!("{GOOD}[migration]\ncap_window_ms = 20000\n"),
            "migration.cap_window_ms",
        ),
        (
            format!("{GOOD}[migration]\nsetup_ms = -1\n"),
            "migration.setup_ms",
        ),
        (
            format!("{GOOD}[placement]\npolicy = \"psychic\"\n"),
            "placement.policy",
        ),
        (
            format!("{GOOD}[placement]\npolicy = \"ga\"\n[placement.ga]\npopulation = 1\n"),
            "placement.ga",
        ),
        (
            format!("{GOOD}[placement]\nhorizon_s = -5\n"),
            "placement.horizon_s",
        ),
        (
            format!("{GOOD}[cloudlets]\ncpu_cores = 0\n"),
            "cloudlets.cpu_cores",
        ),
        (
            GOOD.replace(
                "bus-304-limerick.gpx\"",
                "bus-304-limerick.gpx\"\ncount = 0",
            ),
            "devices[0].count",
        ),
        (
            GOOD.replace(
                "bus-304-limerick.gpx\"",
                "bus-304-limerick.gpx\"\nend = \"bounce\"",
            ),
            "devices[0].end",
        ),
        (
            GOOD.replace(
                "bus-304-limerick.gpx\"",
                "bus-304-limerick.gpx\"\ntraces = [2]",
            ),
            "devices[0].traces",
        ),
    ] {
        let message = error_of(&text);
        assert!(message.contains(&format!("`{key}")), "{key}: {message}");
    }
}

#[test]
fn missing_and_broken_files_are_named() {
    let message = error_of(&GOOD.replace("example-topology.toml", "no-such-topology.toml"));
    assert!(
        message.contains("topology.file") && message.contains("no-such-topology"),
        "{message}"
    );
    let message = error_of(&GOOD.replace("traces/bus-304-limerick.gpx", "traces/*.nothing"));
    assert!(message.contains("devices[0].trace"), "{message}");
    let bad_trace = repo("tests/data/bad/trace-truncated.gpx");
    let message = error_of(&GOOD.replace(
        "TOPO/traces/bus-304-limerick.gpx",
        &bad_trace.display().to_string(),
    ));
    assert!(message.contains("trace-truncated.gpx"), "{message}");
}

#[test]
fn a_scenario_with_no_cloudlet_is_refused() {
    let sites = repo("topologies/sites/site-optus-melbCBD.csv");
    let text = format!(
        "duration_s = 60\n[topology]\n[[topology.sites]]\nfile = \"{}\"\nrole = \"access-point\"\n[[devices]]\ntrace = \"TOPO/traces/bus-304-limerick.gpx\"\n",
        sites.display()
    );
    let message = error_of(&text);
    assert!(message.contains("cloudlet"), "{message}");
}

#[test]
fn node_addresses_are_checked_and_resolved_by_cloudlet() {
    let with = |table: &str| format!("{GOOD}[cloudlets]\naddresses = {{ {table} }}\n");
    let s = load(&with(r#"cl-ul = "http://10.0.0.2:50051""#)).unwrap();
    let ul = s
        .world
        .cloudlets
        .iter()
        .position(|c| c.name == "cl-ul")
        .unwrap();
    assert_eq!(
        s.node_addresses[ul].as_deref(),
        Some("http://10.0.0.2:50051")
    );
    assert_eq!(s.node_addresses.iter().flatten().count(), 1);
    let unknown = error_of(&with(r#"cl-mars = "http://10.0.0.2:50051""#));
    assert!(
        unknown.contains("cloudlets.addresses.cl-mars") && unknown.contains("no cloudlet"),
        "{unknown}"
    );
    for bad in [
        r#""10.0.0.2:50051""#,
        r#""http://10.0.0.2""#,
        r#""http://:80""#,
    ] {
        let message = error_of(&with(&format!("cl-ul = {bad}")));
        assert!(message.contains("cloudlets.addresses.cl-ul"), "{message}");
        assert!(
            message.contains("http://10.0.0.2:50051"),
            "says what is right: {message}"
        );
    }
}

#[test]
fn a_dublin_fleet_hour_gives_one_device_per_bus() {
    let fleet = r#"
duration_s = 60
[topology]
file = "TOPO/example-topology.toml"
[[devices]]
trace = "TOPO/traces/dublin-bus-siri-20130131-sample.csv"
format = "dublin-siri"
window = ["2013-01-31T00:00:00Z", "2013-01-31T01:00:00Z"]
min_fixes = 10
max_gap_s = 600
align = "file"
end = "hold"
"#;
    let s = load(fleet).unwrap();
    // 144 buses report in that hour, 131 of them 10 times or more.
    assert_eq!(s.world.devices.len(), 131);
    assert_eq!(
        s.world.devices[0].name,
        "dublin-bus-siri-20130131-sample.33608#0"
    );
    // Aligned on the window: the first bus's first fix (00:00:01) is at 1 s.
    assert_eq!(s.world.devices[0].trace.first().t_s, 1.0);
    // Without `format`, the headerless file is recognised by its rows.
    let detected = load(&fleet.replace("format = \"dublin-siri\"\n", "")).unwrap();
    assert_eq!(detected.world.devices.len(), 131);
    // The whole file, buses split where they stop reporting for 10 minutes:
    // the later pieces are devices of their own, named `@2`, `@3`, ...
    let split = fleet
        .replace(
            "window = [\"2013-01-31T00:00:00Z\", \"2013-01-31T01:00:00Z\"]\n",
            "",
        )
        .replace("max_gap_s = 600", "max_gap_s = 600\ngap = \"split\"");
    let s = load(&split).unwrap();
    assert!(s.world.devices.len() > 131);
    assert!(s.world.devices.iter().any(|d| d.name.contains("@2#0")));
    assert!(error_of(&fleet.replace("dublin-siri", "dublin")).contains("devices[0].format"));
    assert!(error_of(&fleet.replace("T01:00:00Z", "T25:00:00Z")).contains("devices[0].window"));
    assert!(error_of(&fleet.replace("max_gap_s = 600", "max_gap_s = 0")).contains("max_gap_s"));
    assert!(error_of(&fleet.replace("\"file\"", "\"fleet\"")).contains("devices[0].align"));
}

#[test]
fn device_groups_follow_their_own_profiles() {
    let mixed = format!(
        "{GOOD}profile = \"face-recognition\"\n\
         [[devices]]\ntrace = \"TOPO/traces/bus-304-limerick.gpx\"\nprofile = \"sensor\"\n\
         [[devices]]\ntrace = \"TOPO/traces/bus-304-limerick.gpx\"\n\
         [profiles.sensor]\nrate_hz = 0.5\narrival = \"poisson\"\n\
         request_bytes = {{ dist = \"uniform\", min = 20, max = 200 }}\n\
         response_bytes = 0\ncpu_ms = {{ dist = \"lognormal\", mean = 0.5, sd = 0.1 }}\n"
    );
    let s = load(&mixed).unwrap();
    let names: Vec<&str> = s.world.workloads.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["workload", "face-recognition", "sensor"]);
    let of = |d: usize| s.world.devices[d].workload;
    assert_eq!((of(0), of(1), of(2)), (1, 2, 0));
    let sensor = &s.world.workloads[2];
    assert_eq!(sensor.sizes.cpu_ns.mean(), 500_000.0);
    assert_eq!(sensor.sizes.request_bytes.mean(), 110.0);
    let bad = |from: &str, to: &str| error_of(&mixed.replace(from, to));
    assert!(bad("\"sensor\"\n[[", "\"sensr\"\n[[").contains("devices[1].profile"));
    assert!(
        bad("min = 20, max = 200", "min = 200, max = 20").contains("profiles.sensor.request_bytes")
    );
    assert!(bad("mean = 0.5, sd = 0.1", "mean = 0.5").contains("profiles.sensor.cpu_ms.sd"));
    assert!(
        bad("dist = \"uniform\"", "dist = \"normal\"")
            .contains("profiles.sensor.request_bytes.dist")
    );
    assert!(bad("max = 200 ", "max = 200, values = [1] ").contains("takes only min, max"));
}

#[test]
fn a_chosen_trace_keeps_its_number_in_the_file() {
    let s = load(
        "duration_s = 60\n[topology]\nfile = \"TOPO/example-topology.toml\"\n\
         [[devices]]\ntrace = \"TOPO/traces/geolife-demo.csv\"\ntraces = [4]\n",
    )
    .unwrap();
    assert_eq!(s.world.devices[0].name, "geolife-demo.4#0");
}

#[test]
fn a_radio_section_opts_in_and_sets_coverage_from_the_link_budget() {
    let s = load(GOOD).unwrap();
    assert!(
        s.world.radio.is_none(),
        "no [radio]: the fixed wireless hop"
    );
    let s = load(&format!(
        "{GOOD}\n[radio]\npreset = \"nr\"\nscheduler = \"equal-share\"\n"
    ))
    .unwrap();
    let model = s.world.radio.as_ref().expect("a radio model");
    let radius = model.config().coverage_radius_m().expect("coverage");
    assert_eq!(
        model.config().scheduler,
        mcc_emu::radio::Scheduler::EqualShare
    );
    assert!(
        s.world
            .access_points
            .iter()
            .all(|ap| ap.coverage_radius_m == radius),
        "every cell reaches as far as the link budget: {radius} m"
    );
    // A radius the scenario gives wins over the link budget.
    let s = load(&format!(
        "{GOOD}\n[access_points]\ncoverage_radius_m = 777\n[radio]\npreset = \"lte\"\n"
    ))
    .unwrap();
    assert!(
        s.world
            .access_points
            .iter()
            .all(|ap| ap.coverage_radius_m == 777.0)
    );
}

#[test]
fn radio_keys_out_of_range_are_named() {
    for (line, key) in [
        ("preset = \"wifi\"", "radio.preset"),
        ("preset = \"lte\"\ncarrier_ghz = 200", "radio.carrier_ghz"),
        (
            "preset = \"nr\"\ndownlink_load = -0.1",
            "radio.downlink_load",
        ),
        (
            "preset = \"nr\"\nuplink_fraction = 0",
            "radio.uplink_fraction",
        ),
        (
            "preset = \"nr\"\ndownlink_access_ms = -1",
            "radio.downlink_access_ms",
        ),
        ("preset = \"nr\"\nscheduler = \"fifo\"", "radio.scheduler"),
        (
            "preset = \"nr\"\nenvironment = \"indoor\"",
            "radio.environment",
        ),
        ("preset = \"lte\"\nue_height_m = 40", "radio.ue_height_m"),
        (
            "preset = \"lte\"\nbs_power_dbm = -100",
            "radio.bs_power_dbm",
        ),
    ] {
        let message = error_of(&format!("{GOOD}\n[radio]\n{line}\n"));
        assert!(message.contains(&format!("`{key}`")), "{key}: {message}");
    }
    let message = error_of(&format!(
        "{GOOD}\n[radio]\npreset = \"lte\"\nbandwith_mhz = 5\n"
    ));
    assert!(message.contains("bandwith_mhz"), "{message}");
    // A budget that reaches nobody is refused, not run with no coverage.
    let message = error_of(&format!(
        "{GOOD}\n[radio]\npreset = \"lte\"\nue_power_dbm = -40\nbs_power_dbm = -10\nbs_antenna_gain_dbi = -10\nue_antenna_gain_dbi = -20\n"
    ));
    assert!(message.contains("`radio`"), "{message}");
}

#[test]
fn energy_keys_are_optional_reach_the_model_and_are_checked_by_name() {
    // Absent: every sourced default.
    let s = load(GOOD).unwrap();
    assert_eq!(s.energy, mcc_emu::energy::EnergyConfig::default());
    // Given: each key overrides its value.
    let s = load(&format!(
        "{GOOD}\n[energy]\nserver_power_w = [60.0, 150.0]\nserver_threads = 16\nutilisation_window_s = 60\nradio_access_nj_per_bit = 1000\ndevice_tail_s = 5\nmigration_j_per_mib = 0.3\n"
    ))
    .unwrap();
    let e = &s.energy;
    assert_eq!(e.server_power_w, vec![60.0, 150.0]);
    assert_eq!(e.server_threads, 16);
    assert_eq!(e.utilisation_window_ns, 60_000_000_000);
    assert_eq!(e.per_bit_nj.radio_access, 1000.0);
    assert_eq!(e.device.tail_s, 5.0);
    assert_eq!(e.migration.j_per_mib, 0.3);
    // The example topology's links: those touching a cell site are
    // aggregation, the others metro/core.
    use mcc_emu::energy::LinkClass;
    assert!(s.link_classes.contains(&LinkClass::Aggregation));
    assert!(s.link_classes.contains(&LinkClass::MetroCore));
    assert_eq!(s.link_classes.len(), s.world.links.len());
    for (line, key, range) in [
        ("device_tail_s = -1", "energy.device_tail_s", "[0, 3600]"),
        (
            "server_power_w = [50.0]",
            "energy.server_power_w",
            "2 to 101",
        ),
        (
            "server_power_w = [50.0, -1.0]",
            "energy.server_power_w[1]",
            "[0, 1000000]",
        ),
        (
            "server_threads = 0",
            "energy.server_threads",
            "[1, 1000000]",
        ),
        (
            "utilisation_window_s = 0",
            "energy.utilisation_window_s",
            "[0.001, 86400]",
        ),
        (
            "metro_core_nj_per_bit = -2",
            "energy.metro_core_nj_per_bit",
            "[0, 1000000]",
        ),
        (
            "migration_fixed_j = nan",
            "energy.migration_fixed_j",
            "[0, 1000000000]",
        ),
    ] {
        let message = error_of(&format!("{GOOD}\n[energy]\n{line}\n"));
        assert!(message.contains(&format!("`{key}`")), "{key}: {message}");
        assert!(message.contains(range), "{key} gives its range: {message}");
    }
    let message = error_of(&format!("{GOOD}\n[energy]\nidle_w = 50\n"));
    assert!(message.contains("idle_w"), "{message}");
}

#[test]
fn the_migration_fidelity_keys_reach_the_model() {
    let s = load(&format!(
        "{GOOD}[migration]\ntechnique = \"hybrid\"\nfault_channel = \"preempt\"\n\
         queue_kib = 1024\nrate_cap_mbps = 250\ncap_scope = \"all\"\ncap_window_ms = 100\nsetup_ms = 330\n\
         sync_ms = 10\nresume_ms = 20\npage_header_bytes = 8\nexec_text_pages = 150\n\
         exec_data_pages = 50\npass_end = \"below-target\"\n\
         exec_data_write_rate_pps = 15\ntop_data_mib = 8\n"
    ))
    .unwrap();
    let c = &s.settings.migration.config;
    assert_eq!(c.technique, mcc_cloudlet::migration::Technique::Hybrid);
    assert_eq!(
        c.fault_channel,
        mcc_cloudlet::migration::FaultChannel::Preempt
    );
    assert_eq!(c.queue_bytes, 1 << 20);
    assert_eq!(c.rate_cap_bps, Some(250e6));
    assert_eq!(c.cap_scope, mcc_cloudlet::migration::CapScope::All);
    assert_eq!(c.cap_window, Some(std::time::Duration::from_millis(100)));
    assert_eq!(c.pass_end, mcc_cloudlet::migration::PassEnd::BelowTarget);
    assert_eq!(c.exec_data_write_rate_pps, Some(15.0));
    assert_eq!(c.top_data_bytes, 8 << 20);
    assert_eq!(c.setup, std::time::Duration::from_millis(330));
    assert_eq!(c.sync_cost, std::time::Duration::from_millis(10));
    assert_eq!(c.resume_cost, std::time::Duration::from_millis(20));
    assert_eq!(
        (c.page_header_bytes, c.exec_text_pages, c.exec_data_pages),
        (8, 150, 50)
    );
    // Absent keys keep the model's defaults.
    let plain = load(GOOD).unwrap();
    assert_eq!(
        plain.settings.migration.config,
        mcc_cloudlet::migration::MigrationConfig::new(plain.settings.migration.config.technique)
    );
}
