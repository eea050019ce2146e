//! Sorting the fleet's rows in flat memory: an external merge sort.
//!
//! Rows come in the order their answers do; the file lists them by device,
//! then request number. Holding every row until the end grew the client by
//! about 650 bytes a request (138 MB for 20 s at 10,000 requests/s), so
//! rows are instead formatted as they come into a chunk of at most
//! [`CHUNK_BYTES`]; a full chunk is sorted and appended to a spool file on
//! disk as one sorted *run*. At the end the runs (and the last chunk, still
//! in memory) are merged into the output, at most [`FAN_IN`] at a time: a
//! run with more runs than that is first merged in passes into fewer,
//! longer ones. Memory is one chunk and [`FAN_IN`] read buffers whatever
//! the length of the run; the disk holds the rows once (twice during a
//! pass).
//!
//! A run in the spool is a sequence of records: device index (u32 LE),
//! request number (u64 LE), line length (u32 LE), the CSV line (with its
//! line break).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::rows::{RequestRow, push_csv_line};

/// Bytes of formatted rows held before they are sorted and spilled: 4 MiB,
/// about 35,000 rows of a hundred-odd bytes.
pub const CHUNK_BYTES: usize = 4 << 20;
/// Runs merged at once: each holds a [`READ_BUFFER`] (1 MiB in all).
pub const FAN_IN: usize = 64;
/// How long the sorting thread sleeps when no row waits: 10 ms, 100 rows
/// at 10,000 requests/s, well inside the channel's [`super::ROW_BUFFER`].
const ROW_POLL: std::time::Duration = std::time::Duration::from_millis(10);
/// Read buffer of one run during a merge.
const READ_BUFFER: usize = 16 << 10;
/// Bytes of a record's head in the spool (device, request, length).
const HEAD: usize = 4 + 8 + 4;

/// Where a row goes in the order: device (fleet order), then request number.
type Key = (u32, u64);

/// One sorted run in a spool file: where it starts, how many records.
#[derive(Debug, Clone, Copy)]
struct Run {
    offset: u64,
    records: u64,
}

/// A spool file on disk, removed when dropped.
struct SpoolFile {
    path: PathBuf,
    file: BufWriter<File>,
    len: u64,
}

impl SpoolFile {
    fn create(path: PathBuf) -> io::Result<Self> {
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Self {
            path,
            file: BufWriter::with_capacity(1 << 20, file),
            len: 0,
        })
    }

    fn append(&mut self, key: Key, line: &[u8]) -> io::Result<()> {
        let len = u32::try_from(line.len())
            .map_err(|_| io::Error::other("a row of over 4 GiB cannot be spooled"))?;
        self.file.write_all(&key.0.to_le_bytes())?;
        self.file.write_all(&key.1.to_le_bytes())?;
        self.file.write_all(&len.to_le_bytes())?;
        self.file.write_all(line)?;
        self.len += (HEAD + line.len()) as u64;
        Ok(())
    }

    /// A reader of `run` (the writes so far flushed first).
    fn reader(&mut self, run: Run) -> io::Result<RunReader> {
        self.file.flush()?;
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(run.offset))?;
        Ok(RunReader {
            file: BufReader::with_capacity(READ_BUFFER, file),
            left: run.records,
            line: Vec::new(),
        })
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads one run's records in order.
struct RunReader {
    file: BufReader<File>,
    left: u64,
    line: Vec<u8>,
}

impl RunReader {
    /// The next record's key (its line in `self.line`), `None` at the end.
    fn next(&mut self) -> io::Result<Option<Key>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut head = [0u8; HEAD];
        self.file.read_exact(&mut head)?;
        let device = u32::from_le_bytes(head[0..4].try_into().unwrap_or_default());
        let request = u64::from_le_bytes(head[4..12].try_into().unwrap_or_default());
        let len = u32::from_le_bytes(head[12..16].try_into().unwrap_or_default()) as usize;
        self.line.resize(len, 0);
        self.file.read_exact(&mut self.line)?;
        Ok(Some((device, request)))
    }
}

/// Rows sorted by device then request number in bounded memory (see the
/// module doc).
pub struct SortedRows {
    chunk_bytes: usize,
    fan_in: usize,
    /// Where spool files go, and the stem of their names.
    spool_stem: PathBuf,
    /// The chunk: formatted lines end to end, and each one's key and span.
    text: Vec<u8>,
    index: Vec<(Key, u32, u32)>,
    spool: Option<SpoolFile>,
    runs: Vec<Run>,
    spools_made: u32,
    rows: u64,
    ok: u64,
    not_sent: u64,
}

impl SortedRows {
    /// Rows to be written to `out`; spool files, if needed, go beside it
    /// under hidden temporary names.
    pub fn new(out: &Path) -> Self {
        Self::with_limits(out, CHUNK_BYTES, FAN_IN)
    }

    /// As [`new`](Self::new), with another chunk size and fan-in (tests
    /// make many small runs and several passes this way).
    pub fn with_limits(out: &Path, chunk_bytes: usize, fan_in: usize) -> Self {
        let folder = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = out
            .file_name()
            .map_or_else(|| "rows".into(), |n| n.to_string_lossy().into_owned());
        Self {
            chunk_bytes: chunk_bytes.max(1),
            fan_in: fan_in.max(2),
            spool_stem: folder.join(format!(".{name}.spool-{}", std::process::id())),
            text: Vec::new(),
            index: Vec::new(),
            spool: None,
            runs: Vec::new(),
            spools_made: 0,
            rows: 0,
            ok: 0,
            not_sent: 0,
        }
    }

    /// Rows taken so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows taken so far whose outcome is `ok`.
    pub fn ok(&self) -> u64 {
        self.ok
    }

    /// Rows taken so far whose outcome is `not_sent` (the fleet had its
    /// bound in flight).
    pub fn not_sent(&self) -> u64 {
        self.not_sent
    }

    /// Takes one row (formatted now; spilled to disk with its chunk when
    /// the chunk is full).
    pub fn push(&mut self, row: &RequestRow) -> io::Result<()> {
        self.rows += 1;
        self.ok += u64::from(row.outcome == "ok");
        self.not_sent += u64::from(row.outcome == "not_sent");
        let start = self.text.len();
        push_csv_line(row, &mut self.text);
        let key = (
            u32::try_from(row.device_index).unwrap_or(u32::MAX),
            row.request_id,
        );
        let span = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.index
            .push((key, span(start), span(self.text.len() - start)));
        if self.text.len() >= self.chunk_bytes {
            self.spill()?;
        }
        Ok(())
    }

    fn new_spool(&mut self) -> io::Result<SpoolFile> {
        self.spools_made += 1;
        let mut path = self.spool_stem.clone().into_os_string();
        path.push(format!("-{}", self.spools_made));
        SpoolFile::create(PathBuf::from(path))
    }

    /// Sorts the chunk and appends it to the spool as one run.
    fn spill(&mut self) -> io::Result<()> {
        if self.index.is_empty() {
            return Ok(());
        }
        self.index.sort_unstable_by_key(|&(key, ..)| key);
        if self.spool.is_none() {
            self.spool = Some(self.new_spool()?);
        }
        let Some(spool) = self.spool.as_mut() else {
            return Ok(());
        };
        let run = Run {
            offset: spool.len,
            records: self.index.len() as u64,
        };
        for &(key, start, len) in &self.index {
            let (start, len) = (start as usize, len as usize);
            spool.append(key, &self.text[start..start + len])?;
        }
        self.runs.push(run);
        self.text.clear();
        self.index.clear();
        Ok(())
    }

    /// Writes the CSV header and every row, sorted, to `out` (the caller
    /// makes it atomic); spool files are removed.
    pub fn finish(mut self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(super::rows::HEADER.as_bytes())?;
        out.write_all(b"\n")?;
        self.index.sort_unstable_by_key(|&(key, ..)| key);
        // Too many runs to merge at once: merge them in passes first.
        while self.runs.len() > self.fan_in {
            let (Some(mut from), Some(mut to)) = (self.spool.take(), Some(self.new_spool()?))
            else {
                break;
            };
            let mut merged = Vec::new();
            for group in self.runs.chunks(self.fan_in) {
                let offset = to.len;
                let mut readers = group
                    .iter()
                    .map(|&run| from.reader(run))
                    .collect::<io::Result<Vec<_>>>()?;
                let records = merge(&mut readers, &[], &[], |key, line| to.append(key, line))?;
                merged.push(Run { offset, records });
            }
            drop(from);
            self.runs = merged;
            self.spool = Some(to);
        }
        let mut readers = match self.spool.as_mut() {
            Some(spool) => self
                .runs
                .iter()
                .map(|&run| spool.reader(run))
                .collect::<io::Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        merge(&mut readers, &self.index, &self.text, |_, line| {
            out.write_all(line)
        })?;
        Ok(())
    }
}

/// Takes a fleet's rows on a thread of its own (formatting and sorting
/// stay off the devices' runtime): the sender to give
/// [`super::run_fleet`], and the thread, which returns the rows sorted
/// once every sender is gone. Nothing is written to `out` until the caller
/// [`finish`](SortedRows::finish)es them, so a failed run leaves no file.
pub fn spawn_sorter(out: &Path) -> io::Result<(super::RowSender, SorterThread)> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel(super::ROW_BUFFER);
    let mut sorted = SortedRows::new(out);
    let thread = std::thread::Builder::new()
        .name("mobile-client-rows".into())
        .spawn(move || {
            use tokio::sync::mpsc::error::TryRecvError;
            // Polled, not woken per row: at 10,000 rows/s a wake-up each
            // cost more system time than the rows' formatting.
            loop {
                match receiver.try_recv() {
                    Ok(row) => sorted.push(&row)?,
                    Err(TryRecvError::Empty) => std::thread::sleep(ROW_POLL),
                    Err(TryRecvError::Disconnected) => return Ok(sorted),
                }
            }
        })?;
    Ok((sender, thread))
}

/// The thread of [`spawn_sorter`].
pub type SorterThread = std::thread::JoinHandle<io::Result<SortedRows>>;

/// Merges `readers` and the sorted in-memory chunk (`index` into `text`)
/// in key order into `emit`; returns how many records it emitted. Equal
/// keys (never made by one fleet) keep no particular order.
fn merge(
    readers: &mut [RunReader],
    index: &[(Key, u32, u32)],
    text: &[u8],
    mut emit: impl FnMut(Key, &[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    // Heads by key; the chunk is source `readers.len()`.
    let mut heap = BinaryHeap::new();
    for (i, reader) in readers.iter_mut().enumerate() {
        if let Some(key) = reader.next()? {
            heap.push(Reverse((key, i)));
        }
    }
    let chunk = readers.len();
    let mut next_in_chunk = 0;
    if let Some(&(key, ..)) = index.first() {
        heap.push(Reverse((key, chunk)));
    }
    let mut records = 0;
    while let Some(Reverse((key, source))) = heap.pop() {
        records += 1;
        if source == chunk {
            let (_, start, len) = index[next_in_chunk];
            let (start, len) = (start as usize, len as usize);
            emit(key, &text[start..start + len])?;
            next_in_chunk += 1;
            if let Some(&(key, ..)) = index.get(next_in_chunk) {
                heap.push(Reverse((key, chunk)));
            }
        } else {
            let reader = &mut readers[source];
            emit(key, &reader.line)?;
            if let Some(key) = reader.next()? {
                heap.push(Reverse((key, source)));
            }
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::rows::{Breakdown, sort_rows, to_csv};

    fn row(device_index: usize, request_id: u64) -> RequestRow {
        let failed = request_id.is_multiple_of(5);
        RequestRow {
            device: format!("device-{device_index}"),
            device_index,
            request_id,
            time_s: request_id as f64 * 0.002 + device_index as f64 * 1e-4,
            delay_ms: 20.0 + (request_id % 17) as f64 * 0.125,
            host: if failed {
                String::new()
            } else {
                "cl-south".into()
            },
            outcome: if failed {
                "error:unavailable".into()
            } else {
                "ok".into()
            },
            breakdown: (!failed).then_some(Breakdown {
                access_us: request_id,
                backbone_us: 2,
                queueing_us: 3,
                processing_us: 100,
                migration_stall_us: 0,
                total_us: 20_000 + request_id,
            }),
        }
    }

    /// 7 devices × 900 requests, in an order that mixes them as answers
    /// do (a fixed pseudo-random permutation).
    fn shuffled_rows() -> Vec<RequestRow> {
        let mut rows: Vec<RequestRow> = (0..7)
            .flat_map(|d| (0..900).map(move |r| row(d, r)))
            .collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for i in (1..rows.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            rows.swap(i, (state % (i as u64 + 1)) as usize);
        }
        rows
    }

    fn sorted_text(rows: &[RequestRow], chunk_bytes: usize, fan_in: usize) -> (String, u64) {
        let dir = tempfile::tempdir().unwrap();
        let mut sorted = SortedRows::with_limits(&dir.path().join("rows.csv"), chunk_bytes, fan_in);
        for r in rows {
            sorted.push(r).unwrap();
        }
        let ok = sorted.ok();
        let mut out = Vec::new();
        sorted.finish(&mut out).unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "spool files removed: {left:?}");
        (String::from_utf8(out).unwrap(), ok)
    }

    #[test]
    fn spilled_runs_merge_into_the_same_file_as_sorting_in_memory() {
        let rows = shuffled_rows();
        let mut expected = rows.clone();
        sort_rows(&mut expected);
        let expected = to_csv(&expected);
        // In memory only; one pass of a few runs; many runs merged in
        // several passes (6,300 rows of about 60 bytes in 4 KiB chunks:
        // about 90 runs, fan-in 3).
        for (chunk, fan_in) in [(CHUNK_BYTES, FAN_IN), (64 << 10, FAN_IN), (4 << 10, 3)] {
            let (text, ok) = sorted_text(&rows, chunk, fan_in);
            assert_eq!(text.lines().count(), rows.len() + 1);
            assert!(text == expected, "chunk {chunk}, fan-in {fan_in}");
            assert_eq!(ok, rows.iter().filter(|r| r.outcome == "ok").count() as u64);
        }
    }

    #[test]
    fn no_rows_give_the_header_alone() {
        let (text, ok) = sorted_text(&[], 1024, 2);
        assert_eq!(text, format!("{}\n", crate::fleet::rows::HEADER));
        assert_eq!(ok, 0);
    }
}
