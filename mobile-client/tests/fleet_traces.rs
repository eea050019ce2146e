//! Real bus fleets: one trace per vehicle, fixes sorted, gaps handled.

use std::path::Path;

use mcc_mobile_client::readers::csv::parse_csv;
use mcc_mobile_client::readers::{CsvPreset, ReadOptions};
use mcc_mobile_client::trace::fleet::{self, FleetOptions, GapRule};
use mcc_mobile_client::{Trace, read_trace_file};

const DUBLIN: &str = "../topologies/traces/dublin-bus-siri-20130131-sample.csv";
const AUSTIN: &str = "../topologies/traces/austin-capmetro-20160322.csv";

fn read(path: &str) -> Vec<Trace> {
    read_trace_file(Path::new(path), &ReadOptions::default()).unwrap()
}

fn sorted(trace: &Trace) -> bool {
    trace.points().windows(2).all(|w| w[0].t_s < w[1].t_s)
}

#[test]
fn the_headerless_dublin_file_is_recognised_by_its_shape() {
    let text = std::fs::read_to_string(DUBLIN).unwrap();
    let first = text.lines().next().unwrap();
    assert_eq!(CsvPreset::detect(first), None);
    assert_eq!(
        CsvPreset::detect_headerless(first),
        Some(CsvPreset::DublinSiri)
    );
    assert_eq!(
        CsvPreset::from_name("dublin-siri"),
        Ok(CsvPreset::DublinSiri)
    );
    assert!(
        CsvPreset::from_name("dublin")
            .unwrap_err()
            .contains("capmetro")
    );
    // A row that is one field short is not taken for one.
    let short = first.rsplit_once(',').unwrap().0;
    assert_eq!(CsvPreset::detect_headerless(short), None);
}

#[test]
fn dublin_becomes_one_trace_per_bus() {
    let traces = read(DUBLIN);
    // 259 distinct vehicle_id values in the 10,000 rows (counted with a
    // separate script); every trace named by its vehicle.
    assert_eq!(traces.len(), 259);
    assert!(traces.iter().all(sorted));
    assert!(traces[0].name().ends_with("#33608"), "{}", traces[0].name());
    let points: usize = traces.iter().map(|t| t.cleaning().points_read).sum();
    assert_eq!(points, 10_000);
    // 2013-01-31T00:00:01Z is the first fix.
    assert_eq!(traces[0].start_unix_ms(), Some(1_359_590_401_000));
    // The explicit preset reads the same.
    let text = std::fs::read_to_string(DUBLIN).unwrap();
    let options = ReadOptions {
        csv: Some(CsvPreset::DublinSiri.options()),
        ..ReadOptions::default()
    };
    assert_eq!(
        parse_csv(Path::new(DUBLIN), &text, &options).unwrap(),
        traces
    );
}

#[test]
fn the_dublin_night_hour_holds_144_buses_131_with_ten_fixes() {
    let window = [1_359_590_400.0, 1_359_594_000.0]; // 00:00 to 01:00 UTC
    let options = FleetOptions {
        window_unix_s: Some(window),
        ..FleetOptions::default()
    };
    let (hour, report) = fleet::apply(read(DUBLIN), &options).unwrap();
    assert_eq!(hour.len(), 144);
    assert_eq!(report.traces_outside_window, 259 - 144);
    let options = FleetOptions {
        min_fixes: 10,
        ..options
    };
    let (busy, report) = fleet::apply(read(DUBLIN), &options).unwrap();
    assert_eq!(busy.len(), 131);
    assert_eq!(report.traces_too_few_fixes, 13);
}

#[test]
fn dublin_buses_that_stop_reporting_are_held_or_split_not_driven_across() {
    let traces = read(DUBLIN);
    let gappy = traces
        .iter()
        .filter(|t| fleet::longest_gap_s(t) > 3_600.0)
        .count();
    assert!(gappy > 0, "the excerpt thins out after 01:00");
    let options = FleetOptions {
        max_gap_s: Some(600.0),
        gap: GapRule::Split,
        ..FleetOptions::default()
    };
    let (pieces, report) = fleet::apply(traces.clone(), &options).unwrap();
    assert_eq!(pieces.len(), traces.len() + report.gaps);
    assert!(pieces.iter().all(|t| fleet::longest_gap_s(t) <= 600.0));
    let options = FleetOptions {
        max_gap_s: Some(600.0),
        ..FleetOptions::default()
    };
    let (held, _) = fleet::apply(traces.clone(), &options).unwrap();
    assert_eq!(held.len(), traces.len());
    for (before, after) in traces.iter().zip(&held) {
        // Every gap is now at most 600 s of movement; the vehicle sits still
        // for the rest.
        for w in after.points().windows(2) {
            let moved = w[0].pos.distance_m(w[1].pos);
            assert!(w[1].t_s - w[0].t_s <= 600.0 || moved == 0.0);
        }
        assert_eq!(after.duration_s(), before.duration_s());
    }
}

#[test]
fn austin_becomes_one_trace_per_vehicle_with_its_fixes_sorted() {
    let traces = read(AUSTIN);
    // 195 distinct vehicle_id values in the 34,030 rows.
    assert_eq!(traces.len(), 195);
    assert!(traces.iter().all(sorted));
    let out_of_order: usize = traces.iter().map(|t| t.cleaning().out_of_order).sum();
    let repeated: usize = traces
        .iter()
        .map(|t| t.cleaning().duplicate_times_dropped)
        .sum();
    assert!(
        out_of_order > 0 && repeated > 0,
        "{out_of_order} {repeated}"
    );
    // 19:24-24:00 local time (UTC-5): every fix within the evening.
    let first = traces
        .iter()
        .filter_map(Trace::start_unix_ms)
        .min()
        .unwrap();
    assert!(
        (1_458_692_640_000..1_458_692_700_000).contains(&first),
        "{first}"
    );
}
