//! The files of one run, opened and committed as one: requests.csv (unless
//! the run asks for none), handovers.csv and migrations.csv behind a
//! [`RecordWriter`], then summary.json. Both clocks write their results through this.

use std::path::Path;
use std::sync::Arc;

use super::{AtomicOutputs, CsvFiles, Names, RecordWriter, Summary};
use crate::energy::EnergyMeter;

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
    /// names the rows show, `rows` whether there is a `requests.csv`;
    /// `energy`, when given, fills in the energy columns and
    /// `summary.json`'s `energy_j` (from every request, written or not).
    pub fn open(
        out: &Path,
        names: Names,
        rows: RequestRows,
        energy: Option<EnergyMeter>,
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
        let mut writer = RecordWriter::start(files, Arc::new(names), &metric_header)?;
        if let Some(meter) = energy {
            writer.set_energy(meter);
        }
        Ok((writer, Self { outputs }))
    }

    /// Flushes `writer`, adds its energy to `summary` (over the run's
    /// `sim_duration_s`), writes summary.json and puts every file in place.
    pub fn finish(mut self, writer: RecordWriter, summary: &mut Summary) -> anyhow::Result<()> {
        let duration_ns = (summary.sim_duration_s.max(0.0) * 1e9).round() as u64;
        if let Some(energy) = writer.energy_summary(duration_ns) {
            summary.energy_j = Some(energy);
        }
        if let Some(sleep) = writer.sleep_summary(duration_ns) {
            summary.cloudlet_sleep = Some(sleep);
        }
        writer.finish()?;
        let mut json = serde_json::to_vec_pretty(summary)?;
        json.push(b'\n');
        self.outputs.write("summary.json", &json)?;
        self.outputs.commit()
    }
}
