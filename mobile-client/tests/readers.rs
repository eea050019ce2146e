//! Readers against the real traces the project ships and crafted bad files.

use std::path::{Path, PathBuf};

use mcc_mobile_client::readers::{CsvPreset, ReadOptions, read_trace_file};
use mcc_mobile_client::trace::{TraceError, TraceErrorKind};
use mcc_mobile_client::{LatLon, Trace};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn read(path: &str) -> Result<Vec<Trace>, TraceError> {
    read_trace_file(&repo(path), &ReadOptions::default())
}

fn read_one(path: &str) -> Trace {
    let mut traces = read(path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(traces.len(), 1, "{path}");
    traces.remove(0)
}

fn bad(name: &str) -> TraceError {
    match read(&format!("tests/data/bad/{name}")) {
        Ok(t) => panic!("{name} was accepted: {} traces", t.len()),
        Err(e) => e,
    }
}

#[test]
fn bus_trace_is_a_limerick_bus_ride() {
    let t = read_one("topologies/traces/bus-304-limerick.gpx");
    assert!(
        t.name().ends_with("bus-304-limerick.gpx#trk1"),
        "{}",
        t.name()
    );
    assert_eq!(t.points().len(), 2144);
    // 2019-02-18T07:45:50Z to 09:00:26Z.
    assert_eq!(t.start_unix_ms(), Some(1_550_475_950_000));
    assert_eq!(t.duration_s(), 4476.0);
    let c = t.cleaning();
    assert_eq!(
        (c.points_read, c.out_of_order, c.duplicate_times_dropped),
        (2144, 0, 0)
    );
    assert_eq!(c.times_interpolated + c.times_from_assumed_speed, 0);
    // Every fix is within 5 km of Limerick city centre.
    let limerick = LatLon::new(52.6638, -8.6267).unwrap();
    assert!(
        t.points()
            .iter()
            .all(|p| p.pos.distance_m(limerick) < 5000.0)
    );
    let s = t.summary();
    assert_eq!(s.points, 2144);
    assert_eq!(s.bbox, [-8.661812, 52.624051, -8.570741, 52.672777]);
    assert!((14.0..14.4).contains(&s.length_km), "{}", s.length_km);
    assert!(
        (3.0..3.4).contains(&s.mean_speed_mps),
        "{}",
        s.mean_speed_mps
    );
    assert!(s.max_speed_mps > s.mean_speed_mps);
    let json = serde_json::to_value(&s).unwrap();
    for key in [
        "file",
        "points",
        "duration_s",
        "length_km",
        "mean_speed_mps",
        "max_speed_mps",
        "bbox",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
}

#[test]
fn geolife_plt_files_are_beijing_trajectories() {
    let a = read_one("topologies/traces/geolife-000-20081024020959.plt");
    assert_eq!(a.points().len(), 244);
    assert_eq!(a.start_unix_ms(), Some(1_224_814_199_000)); // 2008-10-24 02:09:59
    assert_eq!(a.duration_s(), 2227.0); // to 02:47:06
    let b = read_one("topologies/traces/geolife-020-20111130151807.plt");
    assert_eq!(b.points().len(), 327);
    assert_eq!(b.start_unix_ms(), Some(1_322_666_287_000)); // 2011-11-30 15:18:07
    assert_eq!(b.duration_s(), 326.0);
    let beijing = LatLon::new(39.99, 116.32).unwrap();
    for t in [&a, &b] {
        assert!(
            t.points()
                .iter()
                .all(|p| p.pos.distance_m(beijing) < 5000.0)
        );
    }
}

#[test]
fn geolife_demo_csv_gives_one_trace_per_trajectory() {
    let text = std::fs::read_to_string(repo("topologies/traces/geolife-demo.csv")).unwrap();
    assert_eq!(
        CsvPreset::detect(text.lines().next().unwrap()),
        Some(CsvPreset::MovingPandasGeolife)
    );
    let traces = read("topologies/traces/geolife-demo.csv").unwrap();
    let ids: Vec<&str> = traces
        .iter()
        .map(|t| t.name().rsplit('#').next().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    let counts: Vec<usize> = traces.iter().map(|t| t.points().len()).collect();
    assert_eq!(counts, [466, 897, 1810, 1864, 871]);
    assert_eq!(traces[0].start_unix_ms(), Some(1_228_970_534_000)); // 2008-12-11 04:42:14+00
    assert_eq!(traces[0].duration_s(), 2012.0);
    // X is the longitude and Y the latitude: Beijing, not the Indian Ocean.
    assert!((traces[0].first().pos.lat_deg - 39.898573).abs() < 1e-9);
    assert!((traces[0].first().pos.lon_deg - 116.391305).abs() < 1e-9);
}

#[test]
fn out_of_order_and_repeated_times_are_fixed_and_counted() {
    let t = read_one("tests/data/bad/trace-out-of-order.gpx");
    let times: Vec<f64> = t.points().iter().map(|p| p.t_s).collect();
    assert_eq!(times, [0.0, 2.0, 4.0, 6.0]);
    assert_eq!(t.cleaning().out_of_order, 1);
    assert_eq!(t.cleaning().duplicate_times_dropped, 2);
    // Of the two points at 07:45:54 the first in the file is kept.
    assert_eq!(t.points()[2].pos.lat_deg, 52.629122);

    let traces = read("tests/data/bad/trace-out-of-order.csv").unwrap();
    let names: Vec<&str> = traces
        .iter()
        .map(|t| t.name().rsplit('#').next().unwrap())
        .collect();
    assert_eq!(names, ["b", "a"], "devices in order of first appearance");
    assert_eq!(traces[1].points().len(), 4);
    assert_eq!(traces[1].cleaning().out_of_order, 1);
    assert_eq!(traces[1].cleaning().duplicate_times_dropped, 1);
    assert_eq!(traces[0].duration_s(), 10.0);
}

#[test]
fn untimed_route_moves_at_the_assumed_speed() {
    let t = read_one("tests/data/bad/trace-untimed-route.gpx");
    assert!(t.name().ends_with("#rte1"));
    assert_eq!(t.points().len(), 3);
    assert_eq!(t.start_unix_ms(), None);
    assert_eq!(t.cleaning().times_from_assumed_speed, 3);
    assert!((t.duration_s() - t.length_m() / 1.4).abs() < 1e-6);
    let slow = ReadOptions {
        clean: mcc_mobile_client::trace::CleanOptions {
            assumed_speed_mps: 0.7,
        },
        csv: None,
    };
    let slow = read_trace_file(&repo("tests/data/bad/trace-untimed-route.gpx"), &slow).unwrap();
    assert!((slow[0].duration_s() - 2.0 * t.duration_s()).abs() < 1e-6);
}

#[test]
fn segments_are_concatenated_and_partial_times_interpolated() {
    let traces = read("tests/data/bad/trace-segments-partly-timed.gpx").unwrap();
    assert_eq!(traces.len(), 2, "two tracks; the waypoint is ignored");
    let t = &traces[0];
    assert_eq!(t.points().len(), 4);
    assert_eq!(t.start_unix_ms(), Some(1_550_476_800_000)); // 08:00:00Z
    let c = t.cleaning();
    assert_eq!(c.empty_segments_skipped, 2);
    assert_eq!(c.times_interpolated, 1);
    assert_eq!(c.times_from_assumed_speed, 1);
    // The untimed point is a third of the way (by distance) from 08:00:00 to 08:03:00.
    assert!(
        (t.points()[1].t_s - 60.0).abs() < 0.01,
        "{}",
        t.points()[1].t_s
    );
    let last_leg_m = t.points()[2].pos.distance_m(t.points()[3].pos);
    assert!((t.points()[3].t_s - (180.0 + last_leg_m / 1.4)).abs() < 1e-6);
    assert_eq!(traces[1].points().len(), 1);
    assert_eq!(traces[1].duration_s(), 0.0);
}

fn assert_error(e: &TraceError, line: Option<u64>, file: &str) {
    assert_eq!(e.line, line, "{e}");
    assert!(e.file.ends_with(file), "{e}");
    let shown = e.to_string();
    assert!(shown.contains(file), "{shown}");
    if let Some(line) = line {
        assert!(shown.contains(&format!(":{line}:")), "{shown}");
    }
}

#[test]
fn bad_gpx_files_are_refused_with_file_and_line() {
    let e = bad("trace-nonnumeric-lat.gpx");
    assert_error(&e, Some(6), "trace-nonnumeric-lat.gpx");
    assert!(
        matches!(&e.kind, TraceErrorKind::BadNumber { field, value } if field == "latitude" && value == "fifty-two")
    );

    let e = bad("trace-lat-123.gpx");
    assert_error(&e, Some(7), "trace-lat-123.gpx");
    assert!(e.to_string().contains("latitude 123"), "{e}");

    let e = bad("trace-truncated.gpx");
    assert_error(&e, Some(60), "trace-truncated.gpx");
    assert!(
        matches!(&e.kind, TraceErrorKind::Truncated { element, .. } if element == "trkpt"),
        "{e}"
    );

    let e = bad("trace-truncated-mid-tag.gpx");
    // The file stops at a lone `<` on line 65.
    assert_error(&e, Some(65), "trace-truncated-mid-tag.gpx");
    assert!(matches!(e.kind, TraceErrorKind::Xml(_)), "{e}");

    let e = bad("trace-bad-attribute.gpx");
    assert_error(&e, Some(6), "trace-bad-attribute.gpx");
    assert!(matches!(e.kind, TraceErrorKind::Xml(_)), "{e}");

    let e = bad("trace-missing-lon.gpx");
    assert_error(&e, Some(4), "trace-missing-lon.gpx");
    assert!(
        matches!(&e.kind, TraceErrorKind::Missing(m) if m.contains("lon") && m.contains("rtept")),
        "{e}"
    );

    let e = bad("trace-mismatched-tags.gpx");
    assert_error(&e, Some(5), "trace-mismatched-tags.gpx");
    assert!(matches!(e.kind, TraceErrorKind::Xml(_)), "{e}");

    let e = bad("trace-bad-time.gpx");
    assert_error(&e, Some(6), "trace-bad-time.gpx");
    assert!(matches!(e.kind, TraceErrorKind::BadTime { .. }), "{e}");

    let e = bad("trace-empty-track.gpx");
    assert_error(&e, Some(3), "trace-empty-track.gpx");
    assert!(matches!(e.kind, TraceErrorKind::NoPoints(_)), "{e}");

    let e = bad("trace-empty.gpx");
    assert_error(&e, None, "trace-empty.gpx");
    assert_eq!(e.kind, TraceErrorKind::Empty);

    let e = bad("trace-garbage.gpx");
    assert!(matches!(e.kind, TraceErrorKind::NotText { .. }), "{e}");
}

#[test]
fn bad_plt_and_csv_files_are_refused_with_file_and_line() {
    let e = bad("trace-short-line.plt");
    assert_error(&e, Some(9), "trace-short-line.plt");
    assert_eq!(
        e.kind,
        TraceErrorKind::ShortLine {
            expected: 7,
            found: 5
        }
    );

    let e = bad("trace-garbage.plt");
    assert_error(&e, Some(2), "trace-garbage.plt");
    assert!(
        matches!(e.kind, TraceErrorKind::NotText { byte_offset: 19 }),
        "{e}"
    );

    // Without its Y column the movingpandas layout fits no preset ...
    let e = bad("trace-missing-column.csv");
    assert_error(&e, Some(1), "trace-missing-column.csv");
    assert!(matches!(e.kind, TraceErrorKind::UnknownFormat(_)), "{e}");
    // ... and with the preset forced, the missing column is named.
    let forced = ReadOptions {
        csv: Some(CsvPreset::MovingPandasGeolife.options()),
        ..ReadOptions::default()
    };
    let e = read_trace_file(&repo("tests/data/bad/trace-missing-column.csv"), &forced).unwrap_err();
    assert_error(&e, Some(1), "trace-missing-column.csv");
    assert!(
        matches!(&e.kind, TraceErrorKind::Missing(m) if m.contains("\"Y\"")),
        "{e}"
    );

    let e = bad("trace-short-row.csv");
    assert_error(&e, Some(3), "trace-short-row.csv");
    assert_eq!(
        e.kind,
        TraceErrorKind::ShortLine {
            expected: 4,
            found: 3
        }
    );

    let e = read_trace_file(Path::new("no/such/trace.gpx"), &ReadOptions::default()).unwrap_err();
    assert!(matches!(e.kind, TraceErrorKind::Io(_)), "{e}");
    let e = read_trace_file(Path::new("trace.kml"), &ReadOptions::default()).unwrap_err();
    assert!(matches!(e.kind, TraceErrorKind::UnknownFormat(_)), "{e}");
}

#[test]
fn an_empty_track_is_skipped_and_counted_and_the_next_one_read() {
    // GPSBabel writes the `ACTIVE LOG` track even when it recorded nothing.
    let traces = read("tests/data/good/trace-gpsbabel-empty-active-log.gpx").unwrap();
    assert_eq!(traces.len(), 1);
    let trace = &traces[0];
    assert!(trace.name().ends_with("#trk2"), "{}", trace.name());
    assert_eq!(trace.points().len(), 2);
    assert_eq!(trace.cleaning().empty_traces_skipped, 1);
    assert_eq!(trace.cleaning().empty_segments_skipped, 0);
}
