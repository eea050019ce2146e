//! What an experiment leaves behind: per-request, per-migration and
//! per-handover CSV files, and a JSON summary.
//!
//! Records flow one way: the engine hands them to a [`RecordWriter`], which
//! formats and writes them on its own thread through a bounded channel (so the
//! engine never waits on the disk unless the disk falls behind, and memory
//! stays flat in the number of requests). Files are written under temporary
//! names and renamed into place only when the whole run succeeded
//! ([`AtomicOutputs`]), so a failed run never leaves a half-written result
//! next to a good one. The long `requests.csv` is synced to disk in the
//! background while it grows, so the final sync before the rename is short.

mod atomic;
mod background_sync;
mod format;
mod records;
mod run_files;
mod sink;
mod summary;
mod writer;

pub use atomic::AtomicOutputs;
pub use format::CsvLine;
pub use records::{HandoverRecord, MigrationRecord, Outcome, RequestRecord};
pub use run_files::{RequestRows, RunFiles};
pub use sink::{DiscardSink, MemorySink, RecordSink};
pub use summary::{
    AgainstNever, DelayStats, DelayStatsBuilder, NodeLost, RealClockSummary, RunLabel, RunTotals,
    Summary, VmLost,
};
pub use writer::{CsvFiles, Names, RecordWriter};
