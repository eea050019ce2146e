//! Trace file readers, one module per format, and [`read_trace_file`] which
//! picks one by the file's extension (and, for CSV, a column preset by the
//! header line).
//!
//! Every reader returns `Result<Vec<Trace>, TraceError>`: all the traces of
//! the file, cleaned (see [`crate::trace::clean`]), or the first problem with
//! its file, line and reason. A file never yields a partial result.

pub mod csv;
pub mod gpx;
pub mod plt;

use std::path::Path;

use crate::trace::{CleanOptions, Trace, TraceError, TraceErrorKind};

pub use self::csv::{CsvOptions, CsvPreset};

/// Options for reading trace files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOptions {
    /// Cleaning options (assumed speed for untimed points).
    pub clean: CleanOptions,
    /// Columns of a CSV file; `None` picks a preset from the header line
    /// (see [`CsvPreset::detect`]).
    pub csv: Option<CsvOptions>,
}

/// The trace file formats the readers know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// GPX 1.0 or 1.1 (`.gpx`).
    Gpx,
    /// GeoLife PLT (`.plt`).
    Plt,
    /// Delimited text with a header line (`.csv`, `.tsv`, `.txt`).
    Csv,
}

impl TraceFormat {
    /// The format a file name's extension stands for (case-insensitive).
    pub fn from_path(path: &Path) -> Option<TraceFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "gpx" => Some(TraceFormat::Gpx),
            "plt" => Some(TraceFormat::Plt),
            "csv" | "tsv" | "txt" => Some(TraceFormat::Csv),
            _ => None,
        }
    }
}

/// Reads every trace of `path`, choosing the reader by the extension.
pub fn read_trace_file(path: &Path, options: &ReadOptions) -> Result<Vec<Trace>, TraceError> {
    let format = TraceFormat::from_path(path).ok_or_else(|| {
        TraceError::new(
            path,
            None,
            TraceErrorKind::UnknownFormat("expected a .gpx, .plt or .csv file name".to_string()),
        )
    })?;
    let text = read_text(path)?;
    match format {
        TraceFormat::Gpx => gpx::parse_gpx(path, &text, options),
        TraceFormat::Plt => plt::parse_plt(path, &text, options),
        TraceFormat::Csv => self::csv::parse_csv(path, &text, options),
    }
}

/// The file's text: an error if it cannot be read, is not UTF-8 or holds
/// only white space. A UTF-8 byte-order mark is dropped.
pub fn read_text(path: &Path) -> Result<String, TraceError> {
    let bytes = std::fs::read(path)
        .map_err(|e| TraceError::new(path, None, TraceErrorKind::Io(e.to_string())))?;
    let mut text = String::from_utf8(bytes).map_err(|e| {
        let byte_offset = e.utf8_error().valid_up_to();
        let line = crate::trace::error::line_of_offset(
            std::str::from_utf8(&e.as_bytes()[..byte_offset]).unwrap_or(""),
            byte_offset,
        );
        TraceError::new(path, Some(line), TraceErrorKind::NotText { byte_offset })
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    if text.trim().is_empty() {
        return Err(TraceError::new(path, None, TraceErrorKind::Empty));
    }
    Ok(text)
}

/// Parses a number field, with the field's name in the error.
pub(crate) fn parse_number(
    file: &Path,
    line: u64,
    field: &str,
    value: &str,
) -> Result<f64, TraceError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            TraceError::new(
                file,
                Some(line),
                TraceErrorKind::BadNumber {
                    field: field.to_string(),
                    value: value.to_string(),
                },
            )
        })
}

/// A validated position from latitude and longitude fields.
pub(crate) fn parse_position(
    file: &Path,
    line: u64,
    lat: &str,
    lon: &str,
) -> Result<crate::position::LatLon, TraceError> {
    let lat_deg = parse_number(file, line, "latitude", lat)?;
    let lon_deg = parse_number(file, line, "longitude", lon)?;
    crate::position::LatLon::new(lat_deg, lon_deg)
        .map_err(|e| TraceError::new(file, Some(line), TraceErrorKind::BadCoordinate(e)))
}
