//! Delimited text traces: configurable columns, one trace per device.
//!
//! Columns are found by header name (case-insensitive, surrounding spaces
//! ignored); a file without a header line gets its column names from the
//! options ([`CsvOptions::columns`]). Rows are grouped by the device-id column into one trace per
//! device, in the order each device first appears in the file; without a
//! device column the whole file is one trace. Traces are named `file#id`
//! (or `file`). Blank lines are skipped.
//!
//! Presets ([`CsvPreset`]) name the layouts the project ships; with no
//! explicit options, [`CsvPreset::detect`] picks one from the header line,
//! or, for the headerless Dublin Bus SIRI layout, from the shape of the first
//! row ([`CsvPreset::detect_headerless`]).

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
    /// The column names of a file without a header line (its first line is
    /// data); `None`: the first line is the header.
    pub columns: Option<Vec<String>>,
}

/// The columns of the Dublin Bus SIRI feed (Dublin City Council Insight
/// project), which its files do not repeat in a header line.
pub const DUBLIN_SIRI_COLUMNS: [&str; 15] = [
    "timestamp_us",
    "line_id",
    "direction",
    "journey_pattern_id",
    "time_frame",
    "vehicle_journey_id",
    "operator",
    "congestion",
    "lon",
    "lat",
    "delay_s",
    "block_id",
    "vehicle_id",
    "stop_id",
    "at_stop",
];

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
    /// Dublin Bus SIRI GPS feed: no header, 15 comma-separated columns
    /// ([`DUBLIN_SIRI_COLUMNS`]), time in unix microseconds, one trace per
    /// `vehicle_id` (column 13).
    DublinSiri,
    /// Capital Metro (Austin) vehicle positions as the CapMetrics
    /// repository archives them: `vehicle_id,timestamp,speed,route_id,
    /// trip_id,latitude,longitude,trip_headsign`, ISO 8601 times with
    /// offset; one trace per `vehicle_id`.
    CapMetro,
}

/// Every preset, in the order detection tries them.
const PRESETS: [CsvPreset; 4] = [
    CsvPreset::MovingPandasGeolife,
    CsvPreset::Simple,
    CsvPreset::CapMetro,
    CsvPreset::DublinSiri,
];

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
                columns: None,
            },
            CsvPreset::Simple => CsvOptions {
                delimiter: b',',
                device_column: Some("device_id".into()),
                time_column: "time".into(),
                lat_column: "lat".into(),
                lon_column: "lon".into(),
                time_format: TimeFormat::Auto,
                columns: None,
            },
            CsvPreset::DublinSiri => CsvOptions {
                delimiter: b',',
                device_column: Some("vehicle_id".into()),
                time_column: "timestamp_us".into(),
                lat_column: "lat".into(),
                lon_column: "lon".into(),
                time_format: TimeFormat::UnixMicros,
                columns: Some(DUBLIN_SIRI_COLUMNS.iter().map(|c| c.to_string()).collect()),
            },
            CsvPreset::CapMetro => CsvOptions {
                delimiter: b',',
                device_column: Some("vehicle_id".into()),
                time_column: "timestamp".into(),
                lat_column: "latitude".into(),
                lon_column: "longitude".into(),
                time_format: TimeFormat::DateTime,
                columns: None,
            },
        }
    }

    /// The preset's name in scenario files (`format = "..."`).
    pub fn name(self) -> &'static str {
        match self {
            CsvPreset::MovingPandasGeolife => "movingpandas-geolife",
            CsvPreset::Simple => "simple",
            CsvPreset::DublinSiri => "dublin-siri",
            CsvPreset::CapMetro => "capmetro",
        }
    }

    /// The preset called `name` (see [`CsvPreset::name`]); the error lists
    /// the names there are.
    pub fn from_name(name: &str) -> Result<CsvPreset, String> {
        PRESETS
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = PRESETS.iter().map(|p| p.name()).collect();
                format!("{name:?} is not one of {}", names.join(", "))
            })
    }

    /// The headerless preset whose shape `first_line` has, if any: a Dublin
    /// SIRI row has exactly 15 comma-separated fields, an integer time in
    /// microseconds (16 digits: years 2001 to 2286) first, and a longitude
    /// and latitude in fields 9 and 10.
    pub fn detect_headerless(first_line: &str) -> Option<CsvPreset> {
        let fields: Vec<&str> = first_line.split(',').map(str::trim).collect();
        let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        let dublin = fields.len() == DUBLIN_SIRI_COLUMNS.len()
            && fields[0].len() == 16
            && fields[0].bytes().all(|b| b.is_ascii_digit())
            && number(8).is_some_and(|lon| (-180.0..=180.0).contains(&lon))
            && number(9).is_some_and(|lat| (-90.0..=90.0).contains(&lat));
        dublin.then_some(CsvPreset::DublinSiri)
    }

    /// The preset whose delimiter and column names fit `header` (the file's
    /// first line), if any.
    pub fn detect(header: &str) -> Option<CsvPreset> {
        PRESETS
            .into_iter()
            .filter(|preset| preset.options().columns.is_none())
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
            .or_else(|| CsvPreset::detect_headerless(header_line))
            .ok_or_else(|| {
                TraceError::new(
                    path,
                    Some(1),
                    TraceErrorKind::UnknownFormat(format!(
                        "header {header_line:?} fits no CSV preset (movingpandas GeoLife \
                         `X;Y;...;trajectory_id;tracker;t`, `device_id,time,lat,lon`, CapMetro \
                         `vehicle_id,timestamp,...,latitude,longitude,...`, or a headerless \
                         Dublin Bus SIRI row); pass the columns"
                    )),
                )
            })?
            .options(),
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(csv_options.delimiter)
        .has_headers(csv_options.columns.is_none())
        .flexible(true)
        .from_reader(text.as_bytes());
    let csv_error = |e: ::csv::Error| {
        let line = e.position().map(|p| p.line());
        TraceError::new(path, line, TraceErrorKind::Csv(e.to_string()))
    };
    let headers = match &csv_options.columns {
        Some(names) => ::csv::StringRecord::from(names.clone()),
        None => reader.headers().map_err(csv_error)?.clone(),
    };
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
