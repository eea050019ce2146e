//! One row per request, and the CSV file they go to (sorted, written whole
//! or not at all; [`super::spool`] sorts them in flat memory).

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::Path;

/// What happened to one request, as the device saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    /// The device's id.
    pub device: String,
    /// Which device of the fleet (sorting key; not written).
    pub device_index: usize,
    /// The device's request number, from 0 (sorting key, written as `request_id`).
    pub request_id: u64,
    /// When the request was sent, in seconds since the fleet started (device clock).
    pub time_s: f64,
    /// From sending to the answer (or the error), on the device's clock.
    pub delay_ms: f64,
    /// The host that answered (empty when none did).
    pub host: String,
    /// `ok`, `timed_out`, `no_coverage`, `no_vm`, `rejected` (the emulator's outcome), or
    /// `error:<grpc code>` when the call failed, or `client_timeout`.
    pub outcome: String,
    /// The emulator's delay breakdown, when it answered.
    pub breakdown: Option<Breakdown>,
}

/// The emulator's measured parts of a request's delay, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Breakdown {
    /// The wireless hop, both ways.
    pub access_us: u64,
    /// Backbone links, both ways.
    pub backbone_us: u64,
    /// Waiting for a core on the host.
    pub queueing_us: u64,
    /// Running on the host.
    pub processing_us: u64,
    /// Waiting for a migrating VM.
    pub migration_stall_us: u64,
    /// The emulator's total.
    pub total_us: u64,
}

/// The CSV header, in column order.
pub const HEADER: &str = "device,time_s,delay_ms,host,outcome,request_id,access_us,backbone_us,queueing_us,processing_us,migration_stall_us,emulator_total_us";

/// Sorts rows by device (fleet order), then request number: the same order
/// for the same fleet whatever the timing was.
pub fn sort_rows(rows: &mut [RequestRow]) {
    rows.sort_by_key(|r| (r.device_index, r.request_id));
}

/// The CSV text of `rows` (in their order), header first.
pub fn to_csv(rows: &[RequestRow]) -> String {
    let mut out = Vec::with_capacity(64 * (rows.len() + 1));
    out.extend_from_slice(HEADER.as_bytes());
    out.push(b'\n');
    for r in rows {
        push_csv_line(r, &mut out);
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Appends `r`'s CSV line (with its line break) to `out`.
pub fn push_csv_line(r: &RequestRow, out: &mut Vec<u8>) {
    let mut line = String::with_capacity(128);
    push_field(&mut line, &r.device);
    let _ = write!(line, ",{:.6},{:.3},", r.time_s, r.delay_ms);
    push_field(&mut line, &r.host);
    line.push(',');
    push_field(&mut line, &r.outcome);
    let _ = write!(line, ",{}", r.request_id);
    match &r.breakdown {
        Some(b) => {
            let _ = write!(
                line,
                ",{},{},{},{},{},{}",
                b.access_us,
                b.backbone_us,
                b.queueing_us,
                b.processing_us,
                b.migration_stall_us,
                b.total_us
            );
        }
        None => line.push_str(",,,,,,"),
    }
    line.push('\n');
    out.extend_from_slice(line.as_bytes());
}

/// Appends a field, quoted when it holds a comma, a quote or a line break.
fn push_field(line: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&text.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(text);
    }
}

/// Writes `text` to `path` through a temporary file in the same folder and
/// a rename: readers see the old file or the whole new one, never a part.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    write_atomically_with(path, |file| file.write_all(text.as_bytes()))
}

/// As [`write_atomically`], with the text written by `write` (buffered).
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the output path names no file"))?;
    let temp = folder.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&temp)?);
        write(&mut file)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(device_index: usize, request_id: u64, host: &str) -> RequestRow {
        RequestRow {
            device: format!("d{device_index}"),
            device_index,
            request_id,
            time_s: request_id as f64 * 0.5,
            delay_ms: 1.25,
            host: host.into(),
            outcome: "ok".into(),
            breakdown: None,
        }
    }

    #[test]
    fn rows_sort_by_device_then_request_and_print_with_the_header() {
        let mut rows = vec![row(1, 0, "a"), row(0, 1, "b,c"), row(0, 0, "a")];
        rows[0].breakdown = Some(Breakdown {
            access_us: 1,
            backbone_us: 2,
            queueing_us: 3,
            processing_us: 4,
            migration_stall_us: 5,
            total_us: 15,
        });
        sort_rows(&mut rows);
        let text = to_csv(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(lines[1], "d0,0.000000,1.250,a,ok,0,,,,,,");
        assert_eq!(lines[2], "d0,0.500000,1.250,\"b,c\",ok,1,,,,,,");
        assert_eq!(lines[3], "d1,0.000000,1.250,a,ok,0,1,2,3,4,5,15");
    }

    #[test]
    fn an_atomic_write_leaves_only_the_file() {
        let dir = std::env::temp_dir().join(format!("mcc-rows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.csv");
        write_atomically(&path, "a\n").unwrap();
        write_atomically(&path, "b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b\n");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1);
        assert!(write_atomically(&dir.join("missing/out.csv"), "x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
