//! The files of one run, opened and committed as one: requests.csv,
//! handovers.csv and migrations.csv behind a [`RecordWriter`], then
//! summary.json. Both clocks write their results through this.

use std::path::Path;
use std::sync::Arc;

use super::{AtomicOutputs, CsvFiles, Names, RecordWriter, Summary};

/// A run's output folder, not committed yet (nothing is visible until
/// [`finish`](Self::finish) succeeds).
#[derive(Debug)]
pub struct RunFiles {
    outputs: AtomicOutputs,
}

impl RunFiles {
    /// Opens the three CSV files in `out` and starts their writer; `names`
    /// are the names the rows show.
    pub fn open(out: &Path, names: Names) -> anyhow::Result<(RecordWriter, Self)> {
        let mut outputs = AtomicOutputs::new(out)?;
        let files = CsvFiles {
            requests: outputs.create("requests.csv")?,
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
