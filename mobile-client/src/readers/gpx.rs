//! GPX 1.0 and 1.1, read with quick-xml's pull parser.
//!
//! Rules:
//! - each track (`trk`) becomes one trace; its segments (`trkseg`) are
//!   concatenated in file order (the device is interpolated in a straight
//!   line across the gap between segments); empty segments are skipped and
//!   counted;
//! - a track or route with no point at all (GPSBabel writes an empty
//!   `ACTIVE LOG` track, say) is skipped, and counted on the file's first
//!   trace ([`crate::trace::clean::CleaningReport::empty_traces_skipped`])
//!   for the caller to warn about; its number is not reused (the next
//!   track keeps `trk2`);
//! - each route (`rte`, points `rtept`) becomes one trace;
//! - waypoints (`wpt`) and metadata are ignored;
//! - a point's time is its `<time>` child, if any (see
//!   [`crate::trace::clean`] for untimed and partly timed tracks);
//! - traces are named `file#trkN` and `file#rteN` (1-based, in file order);
//! - namespaces and prefixes are ignored (elements match by local name), so
//!   both GPX versions and files without a namespace read alike.
//!
//! Errors carry the line of the element at fault: malformed XML, a point
//! without `lat`/`lon`, a non-numeric or out-of-range coordinate, a bad
//! `<time>`, an element left open at the end of the file (truncated), a file
//! with no track or route, a file whose tracks and routes hold no point.

use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::{ReadOptions, parse_position};
use crate::trace::clean::build_trace;
use crate::trace::error::LineCounter;
use crate::trace::timefmt::parse_datetime;
use crate::trace::{RawPoint, Trace, TraceError, TraceErrorKind};

/// Reads a GPX file.
pub fn read_gpx(path: &Path, options: &ReadOptions) -> Result<Vec<Trace>, TraceError> {
    let text = super::read_text(path)?;
    parse_gpx(path, &text, options)
}

/// A track or route being read.
struct Collecting {
    name: String,
    line: u64,
    points: Vec<RawPoint>,
    empty_segments: usize,
    segment_points: usize,
}

/// Parses GPX `text`; `path` is used in names and errors.
pub fn parse_gpx(path: &Path, text: &str, options: &ReadOptions) -> Result<Vec<Trace>, TraceError> {
    let mut reader = Reader::from_str(text);
    let mut lines = LineCounter::default();
    let mut open: Vec<(String, u64)> = Vec::new();
    let mut traces = Vec::new();
    let (mut tracks, mut routes) = (0usize, 0usize);
    let mut current: Option<Collecting> = None;
    let mut point: Option<RawPoint> = None;
    let mut time_text: Option<(String, u64)> = None;
    // The line of the first track or route that held no point.
    let mut first_empty: Option<u64> = None;
    let err = |line: u64, kind: TraceErrorKind| TraceError::new(path, Some(line), kind);

    loop {
        let start = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            let line = crate::trace::error::line_of_offset(text, reader.error_position() as usize);
            err(line, TraceErrorKind::Xml(e.to_string()))
        })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                // The element starts after any white space the reader skipped.
                let offset = start
                    + text
                        .get(start..)
                        .map_or(0, |s| s.len() - s.trim_start().len());
                let line = lines.line_at(text, offset);
                let name = e.local_name().as_ref().to_string();
                if open.is_empty() && name != "gpx" {
                    return Err(err(
                        line,
                        TraceErrorKind::UnknownFormat(format!(
                            "root element is <{name}>, expected <gpx>"
                        )),
                    ));
                }
                match name.as_str() {
                    "trk" | "rte" if current.is_none() => {
                        let id = if name == "trk" {
                            tracks += 1;
                            format!("trk{tracks}")
                        } else {
                            routes += 1;
                            format!("rte{routes}")
                        };
                        current = Some(Collecting {
                            name: format!("{}#{id}", path.display()),
                            line,
                            points: Vec::new(),
                            empty_segments: 0,
                            segment_points: 0,
                        });
                        if is_empty {
                            finish(path, &mut current, &mut traces, options, &mut first_empty)?;
                        }
                    }
                    "trkseg" => {
                        if let Some(c) = current.as_mut() {
                            c.segment_points = 0;
                            if is_empty {
                                c.empty_segments += 1;
                            }
                        }
                    }
                    "trkpt" | "rtept" if current.is_some() => {
                        let pos = point_position(path, line, e)?;
                        let p = RawPoint {
                            line,
                            unix_s: None,
                            pos,
                        };
                        if is_empty {
                            push_point(&mut current, p);
                        } else {
                            point = Some(p);
                        }
                    }
                    "time" if point.is_some() && !is_empty => {
                        time_text = Some((String::new(), line))
                    }
                    _ => {}
                }
                if !is_empty {
                    open.push((name, line));
                }
            }
            Event::Text(ref t) => {
                if let Some((buf, _)) = time_text.as_mut() {
                    buf.push_str(&t.xml10_content());
                }
            }
            Event::CData(ref t) => {
                if let Some((buf, _)) = time_text.as_mut() {
                    buf.push_str(&t.xml10_content());
                }
            }
            Event::End(ref e) => {
                open.pop();
                match e.local_name().as_ref() {
                    "time" => {
                        if let (Some((buf, line)), Some(p)) = (time_text.take(), point.as_mut()) {
                            let unix_s = parse_datetime(&buf).ok_or_else(|| {
                                err(
                                    line,
                                    TraceErrorKind::BadTime {
                                        value: buf.trim().to_string(),
                                        expected:
                                            "an ISO 8601 / RFC 3339 time like 2019-02-18T07:45:50Z"
                                                .to_string(),
                                    },
                                )
                            })?;
                            p.unix_s = Some(unix_s);
                        }
                    }
                    "trkpt" | "rtept" => {
                        if let Some(p) = point.take() {
                            push_point(&mut current, p);
                        }
                    }
                    "trkseg" => {
                        if let Some(c) = current.as_mut()
                            && c.segment_points == 0
                        {
                            c.empty_segments += 1;
                        }
                    }
                    "trk" | "rte" => {
                        finish(path, &mut current, &mut traces, options, &mut first_empty)?
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some((element, opened_line)) = open.pop() {
        let line = crate::trace::error::line_of_offset(text, text.trim_end().len());
        return Err(err(
            line,
            TraceErrorKind::Truncated {
                element,
                opened_line,
            },
        ));
    }
    if tracks + routes == 0 {
        return Err(TraceError::new(
            path,
            None,
            TraceErrorKind::NoPoints("the file (no <trk> or <rte>)".to_string()),
        ));
    }
    let skipped = tracks + routes - traces.len();
    if traces.is_empty() {
        return Err(TraceError::new(
            path,
            first_empty,
            TraceErrorKind::NoPoints(format!(
                "the file ({skipped} track(s) and route(s), none with a point)"
            )),
        ));
    }
    if skipped > 0 {
        let first = &traces[0];
        let mut report = *first.cleaning();
        report.empty_traces_skipped = skipped;
        traces[0] = Trace::with_report(
            first.name(),
            first.start_unix_ms(),
            first.points().to_vec(),
            report,
        )
        .map_err(|e| TraceError::new(path, None, TraceErrorKind::NoPoints(e.to_string())))?;
    }
    Ok(traces)
}

fn push_point(current: &mut Option<Collecting>, p: RawPoint) {
    if let Some(c) = current.as_mut() {
        c.points.push(p);
        c.segment_points += 1;
    }
}

/// Cleans the track or route being read into a trace.
fn finish(
    path: &Path,
    current: &mut Option<Collecting>,
    traces: &mut Vec<Trace>,
    options: &ReadOptions,
    first_empty: &mut Option<u64>,
) -> Result<(), TraceError> {
    let Some(c) = current.take() else {
        return Ok(());
    };
    // A track or route with no point is skipped (and counted by the caller).
    if c.points.is_empty() {
        first_empty.get_or_insert(c.line);
        return Ok(());
    }
    traces.push(build_trace(
        path,
        Some(c.line),
        c.name,
        &c.points,
        c.empty_segments,
        &options.clean,
    )?);
    Ok(())
}

/// The `lat` and `lon` attributes of a `trkpt` or `rtept`.
fn point_position(
    path: &Path,
    line: u64,
    e: &BytesStart<'_>,
) -> Result<crate::position::LatLon, TraceError> {
    let (mut lat, mut lon) = (None, None);
    for attr in e.attributes() {
        let attr = attr.map_err(|a| {
            TraceError::new(
                path,
                Some(line),
                TraceErrorKind::Xml(format!("bad attribute: {a}")),
            )
        })?;
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|x| TraceError::new(path, Some(line), TraceErrorKind::Xml(x.to_string())))?;
        match attr.key.local_name().as_ref() {
            "lat" => lat = Some(value.into_owned()),
            "lon" => lon = Some(value.into_owned()),
            _ => {}
        }
    }
    let element = e.local_name().as_ref().to_string();
    let missing = |what: &str| {
        TraceError::new(
            path,
            Some(line),
            TraceErrorKind::Missing(format!("attribute {what} of <{element}>")),
        )
    };
    let lat = lat.ok_or_else(|| missing("lat"))?;
    let lon = lon.ok_or_else(|| missing("lon"))?;
    parse_position(path, line, &lat, &lon)
}
