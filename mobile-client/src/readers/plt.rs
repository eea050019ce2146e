//! GeoLife PLT trajectories.
//!
//! Six header lines, then one point per line:
//! `lat,lon,0,altitude_ft,days_since_1899-12-30,YYYY-MM-DD,HH:MM:SS` (UTC).
//! The time comes from the date and time fields; the fractional-day field
//! and the altitude (-777 = unknown) are not used. Blank lines are skipped.
//! One file is one trace, named after the file.

use std::path::Path;

use super::{ReadOptions, parse_position};
use crate::trace::clean::build_trace;
use crate::trace::timefmt::parse_datetime;
use crate::trace::{RawPoint, Trace, TraceError, TraceErrorKind};

/// Number of header lines before the first point.
pub const PLT_HEADER_LINES: usize = 6;

/// Fields every point line must have.
const PLT_FIELDS: usize = 7;

/// Reads a PLT file.
pub fn read_plt(path: &Path, options: &ReadOptions) -> Result<Vec<Trace>, TraceError> {
    let text = super::read_text(path)?;
    parse_plt(path, &text, options)
}

/// Parses PLT `text`; `path` is used in the name and errors.
pub fn parse_plt(path: &Path, text: &str, options: &ReadOptions) -> Result<Vec<Trace>, TraceError> {
    let mut first_line = text.lines().next().unwrap_or("").trim();
    first_line = first_line.trim_start_matches('\u{feff}');
    if !first_line.eq_ignore_ascii_case("Geolife trajectory") {
        return Err(TraceError::new(
            path,
            Some(1),
            TraceErrorKind::UnknownFormat(format!(
                "first line is {first_line:?}, a GeoLife PLT file starts with \"Geolife trajectory\""
            )),
        ));
    }
    let mut points = Vec::new();
    for (index, raw_line) in text.lines().enumerate().skip(PLT_HEADER_LINES) {
        let line = index as u64 + 1;
        let raw_line = raw_line.trim();
        if raw_line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = raw_line.split(',').collect();
        let [lat, lon, _, _, _, date, time, ..] = fields.as_slice() else {
            return Err(TraceError::new(
                path,
                Some(line),
                TraceErrorKind::ShortLine {
                    expected: PLT_FIELDS,
                    found: fields.len(),
                },
            ));
        };
        let pos = parse_position(path, line, lat, lon)?;
        let stamp = format!("{} {}", date.trim(), time.trim());
        let unix_s = parse_datetime(&stamp).ok_or_else(|| {
            TraceError::new(
                path,
                Some(line),
                TraceErrorKind::BadTime {
                    value: stamp.clone(),
                    expected: "a date YYYY-MM-DD and a time HH:MM:SS".to_string(),
                },
            )
        })?;
        points.push(RawPoint {
            line,
            unix_s: Some(unix_s),
            pos,
        });
    }
    let name = path.display().to_string();
    let trace = build_trace(path, None, name, &points, 0, &options.clean)?;
    Ok(vec![trace])
}
