//! Delimited text traces with a header line: configurable columns, one trace
//! per device.
//!
//! Columns are found by header name (case-insensitive, surrounding spaces
//! ignored). Rows are grouped by the device-id column into one trace per
//! device, in the order each device first appears in the file; without a
//! device column the whole file is one trace. Traces are named `file#id`
//! (or `file`). Blank lines are skipped.
//!
//! Presets ([`CsvPreset`]) name the layouts the project ships; with no
//! explicit options, [`CsvPreset::detect`] picks one from the header line.

use std::collections::HashMap;
use std::path::Path;

use super::{ReadOptions, parse_position};
use crate::trace::clean::build_trace;
use crate::trace::{RawPoint, TimeFormat, Trace, TraceError, TraceErrorKind};

/// Which columns hold what, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Field delimiter byte (`b','`, `b';'`, `b'\t'`).
    pub delimiter: u8,
    /// Header name of the device (or trajectory) id column; `None`: one trace.
    pub device_column: Option<String>,
    /// Header name of the time column.
    pub time_column: String,
    /// Header name of the latitude column.
    pub lat_column: String,
    /// Header name of the longitude column.
    pub lon_column: String,
    /// How the time column is written.
    pub time_format: TimeFormat,
}

/// Column layouts with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvPreset {
    /// The GeoLife extract of the movingpandas tutorials
    /// (`topologies/traces/geolife-demo.csv`): `;`-separated
    /// `X;Y;fid;id;sequence;trajectory_id;tracker;t`, X = longitude,
    /// Y = latitude, t = `YYYY-MM-DD HH:MM:SS+00`; one trace per
    /// `trajectory_id` (a tracker records several trajectories).
    MovingPandasGeolife,
    /// Comma-separated `device_id,time,lat,lon` (in any order, other
    /// columns ignored), times as date-times or unix seconds.
    Simple,
}

impl CsvPreset {
    /// The options this preset stands for.
    pub fn options(self) -> CsvOptions {
        match self {
            CsvPreset::MovingPandasGeolife => CsvOptions {
                delimiter: b';',
                device_column: Some("trajectory_id".into()),
                time_column: "t".into(),
                lat_column: "Y".into(),
                lon_column: "X".into(),
                time_format: TimeFormat::DateTime,
            },
            CsvPreset::Simple => CsvOptions {
                delimiter: b',',
                device_column: Some("device_id".into()),
                time_column: "time".into(),
                lat_column: "lat".into(),
                lon_column: "lon".into(),
                time_format: TimeFormat::Auto,
            },
        }
    }

    /// The preset whose delimiter and column names fit `header` (the file's
    /// first line), if any.
    pub fn detect(header: &str) -> Option<CsvPreset> {
        [CsvPreset::MovingPandasGeolife, CsvPreset::Simple]
            .into_iter()
            .find(|preset| {
                let o = preset.options();
                let names: Vec<String> = header
                    .split(char::from(o.delimiter))
                    .map(|n| n.trim().to_ascii_lowercase())
                    .collect();
                let has = |c: &str| names.iter().any(|n| n == &c.to_ascii_lowercase());
                o.device_column.as_deref().is_none_or(has)
                    && has(&o.time_column)
                    && has(&o.lat_column)
                    && has(&o.lon_column)
            })
    }
}

/// Reads a CSV trace file.
pub fn read_csv(path: &Path, options: &ReadOptions) -> Result<Vec<Trace>, TraceError> {
    let text = super::read_text(path)?;
    parse_csv(path, &text, options)
}

/// A device's rows as they are read.
struct Device {
    id: String,
    line: u64,
    points: Vec<RawPoint>,
}

/// Parses CSV `text` with `options.csv`, or the preset its header fits.
pub fn parse_csv(path: &Path, text: &str, options: &ReadOptions) -> Result<Vec<Trace>, TraceError> {
    let header_line = text.lines().next().unwrap_or("");
    let csv_options = match &options.csv {
        Some(o) => o.clone(),
        None => CsvPreset::detect(header_line)
            .ok_or_else(|| {
                TraceError::new(
                    path,
                    Some(1),
                    TraceErrorKind::UnknownFormat(format!(
                        "header {header_line:?} fits no CSV preset (movingpandas GeoLife \
                         `X;Y;...;trajectory_id;tracker;t` or `device_id,time,lat,lon`); pass the columns"
                    )),
                )
            })?
            .options(),
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(csv_options.delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let csv_error = |e: ::csv::Error| {
        let line = e.position().map(|p| p.line());
        TraceError::new(path, line, TraceErrorKind::Csv(e.to_string()))
    };
    let headers = reader.headers().map_err(csv_error)?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                TraceError::new(
                    path,
                    Some(1),
                    TraceErrorKind::Missing(format!(
                        "column {name:?} (the header has {:?})",
                        headers.iter().collect::<Vec<_>>()
                    )),
                )
            })
    };
    let device_col = csv_options
        .device_column
        .as_deref()
        .map(column)
        .transpose()?;
    let time_col = column(&csv_options.time_column)?;
    let lat_col = column(&csv_options.lat_column)?;
    let lon_col = column(&csv_options.lon_column)?;
    let needed = [Some(time_col), Some(lat_col), Some(lon_col), device_col]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0)
        + 1;

    let mut devices: Vec<Device> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() < needed {
            return Err(TraceError::new(
                path,
                Some(line),
                TraceErrorKind::ShortLine {
                    expected: needed,
                    found: record.len(),
                },
            ));
        }
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let pos = parse_position(path, line, field(lat_col), field(lon_col))?;
        let value = field(time_col);
        let unix_s = csv_options.time_format.parse(value).ok_or_else(|| {
            TraceError::new(
                path,
                Some(line),
                TraceErrorKind::BadTime {
                    value: value.to_string(),
                    expected: csv_options.time_format.expected().to_string(),
                },
            )
        })?;
        let id = device_col.map_or(String::new(), |c| field(c).to_string());
        let slot = *index_of.entry(id.clone()).or_insert_with(|| {
            devices.push(Device {
                id,
                line,
                points: Vec::new(),
            });
            devices.len() - 1
        });
        if let Some(device) = devices.get_mut(slot) {
            device.points.push(RawPoint {
                line,
                unix_s: Some(unix_s),
                pos,
            });
        }
    }
    if devices.is_empty() {
        return Err(TraceError::new(
            path,
            None,
            TraceErrorKind::NoPoints("the file (a header but no row)".to_string()),
        ));
    }
    devices
        .into_iter()
        .map(|d| {
            let name = match device_col {
                Some(_) => format!("{}#{}", path.display(), d.id),
                None => path.display().to_string(),
            };
            build_trace(path, Some(d.line), name, &d.points, 0, &options.clean)
        })
        .collect()
}
