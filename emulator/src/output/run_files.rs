//! The files of one run, opened and committed as one: requests.csv (unless
//! the run asks for none), handovers.csv and migrations.csv behind a
//! [`RecordWriter`], then summary.json. Both clocks write their results through this.

use std::path::Path;
use std::sync::Arc;

use super::{AtomicOutputs, CsvFiles, Names, RecordWriter, Summary};

/// A run's output folder, not committed yet (nothing is visible until
/// [`finish`](Self::finish) succeeds).
#[derive(Debug)]
pub struct RunFiles {
    outputs: AtomicOutputs,
}

/// Whether a run writes `requests.csv`, a row per request (about 124
/// bytes each: 45 GB for 100,000 devices at one request a second for an
/// hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestRows {
    /// Write `requests.csv`.
    #[default]
    Write,
    /// Write no `requests.csv`; the summary still covers every request.
    Skip,
}

impl RunFiles {
    /// Opens the CSV files in `out` and starts their writer; `names` are the
    /// names the rows show, `rows` whether there is a `requests.csv`.
    pub fn open(
        out: &Path,
        names: Names,
        rows: RequestRows,
    ) -> anyhow::Result<(RecordWriter, Self)> {
        let mut outputs = AtomicOutputs::new(out)?;
        let requests = match rows {
            RequestRows::Write => Some(outputs.create("requests.csv")?),
            RequestRows::Skip => {
                outputs.omit("requests.csv");
                None
            }
        };
        let files = CsvFiles {
            requests,
            handovers: outputs.create("handovers.csv")?,
            migrations: outputs.create("migrations.csv")?,
        };
        let metric_header = mcc_cloudlet::migration::MigrationReport::FLAT_FIELDS.join(",");
        let writer = RecordWriter::start(files, Arc::new(names), &metric_header)?;
        Ok((writer, Self { outputs }))
    }

    /// Flushes `writer`, adds summary.json and puts every file in place.
    pub fn finish(mut self, writer: RecordWriter, summary: &Summary) -> anyhow::Result<()> {
        writer.finish()?;
        let mut json = serde_json::to_vec_pretty(summary)?;
        json.push(b'\n');
        self.outputs.write("summary.json", &json)?;
        self.outputs.commit()
    }
}
