//! A background thread that formats records and writes the CSV files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use anyhow::Context;

use super::background_sync::BackgroundSync;
use super::format::CsvLine;
use super::records::{HandoverRecord, MigrationRecord, RequestRecord};
use crate::energy::{EnergyMeter, EnergySummary};

/// Records per batch sent to the writer thread.
const BATCH: usize = 8_192;
/// Batches in flight at most: the engine waits when the disk falls this far
/// behind, so memory stays bounded whatever the number of requests.
const BATCHES_IN_FLIGHT: usize = 8;
/// `requests.csv` is synced to disk in the background every time this much
/// more of it was written, so that the sync before the rename finds little
/// left to write.
const SYNC_EVERY_BYTES: u64 = 32 << 20;

/// The names the CSV files show for the engine's integer ids.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Device names, by device index.
    pub devices: Vec<String>,
    /// VM names, by VM index.
    pub vms: Vec<String>,
    /// Cloudlet names, by cloudlet index.
    pub hosts: Vec<String>,
    /// Access point names, by access point index.
    pub access_points: Vec<String>,
}

fn name_of(names: &[String], index: u32) -> &str {
    names.get(index as usize).map_or("?", String::as_str)
}

impl Names {
    /// The name of device `index`.
    pub fn device(&self, index: u32) -> &str {
        name_of(&self.devices, index)
    }
    /// The name of VM `index`.
    pub fn vm(&self, index: u32) -> &str {
        name_of(&self.vms, index)
    }
    /// The name of cloudlet `index`.
    pub fn host(&self, index: u32) -> &str {
        name_of(&self.hosts, index)
    }
    /// The name of access point `index`.
    pub fn access_point(&self, index: u32) -> &str {
        name_of(&self.access_points, index)
    }
}

enum Batch {
    /// A device (and its VM) joined after the start: their names.
    Device(String, String),
    Requests(Vec<RequestRecord>),
    Handovers(Vec<HandoverRecord>),
    Migrations(Vec<MigrationRecord>),
}

/// The three CSV files an experiment streams its records into.
#[derive(Debug)]
pub struct CsvFiles {
    /// `requests.csv`, or `None` when the run keeps no row per request
    /// (its records are then dropped as they come; the summary is computed
    /// from them all the same).
    pub requests: Option<File>,
    /// `handovers.csv`.
    pub handovers: File,
    /// `migrations.csv`.
    pub migrations: File,
}

/// Streams records to the CSV files from a background thread.
///
/// The engine calls [`request`](Self::request), [`handover`](Self::handover)
/// and [`migration`](Self::migration) as records happen and
/// [`finish`](Self::finish) at the end; nothing per record is kept once the
/// thread has written it.
pub struct RecordWriter {
    keep_requests: bool,
    sender: Option<SyncSender<Batch>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
    requests: Vec<RequestRecord>,
    handovers: Vec<HandoverRecord>,
    migrations: Vec<MigrationRecord>,
    /// Works out each record's energy before it is queued (on the caller's
    /// thread, in the order the records come).
    energy: Option<EnergyMeter>,
}

impl RecordWriter {
    /// Starts the writer thread; `migration_metrics_header` names the metric
    /// columns of `migrations.csv` (comma-separated, no leading comma).
    pub fn start(
        files: CsvFiles,
        names: Arc<Names>,
        migration_metrics_header: &str,
    ) -> anyhow::Result<Self> {
        let (sender, receiver) = sync_channel(BATCHES_IN_FLIGHT);
        let keep_requests = files.requests.is_some();
        let mut migration_header = String::from(MigrationRecord::CSV_HEADER_PREFIX);
        let metric_columns = if migration_metrics_header.is_empty() {
            0
        } else {
            migration_header.push(',');
            migration_header.push_str(migration_metrics_header);
            migration_metrics_header.split(',').count()
        };
        migration_header.push(',');
        migration_header.push_str(crate::energy::MigrationEnergy::CSV_HEADER);
        migration_header.push(',');
        migration_header.push_str(MigrationRecord::CSV_HEADER_SUFFIX);
        migration_header.push('\n');
        let thread = std::thread::Builder::new()
            .name("mcc-emu-writer".into())
            .spawn(move || write_all(files, &names, &migration_header, metric_columns, receiver))
            .context("cannot start the output writer thread")?;
        Ok(Self {
            keep_requests,
            sender: Some(sender),
            thread: Some(thread),
            requests: Vec::with_capacity(BATCH),
            handovers: Vec::new(),
            migrations: Vec::new(),
            energy: None,
        })
    }

    /// A hint: a record of device `device` comes soon; the energy meter may
    /// start loading that device's radio state.
    pub fn prefetch_device(&self, device: u32) {
        if let Some(meter) = &self.energy {
            meter.prefetch_device(device);
        }
    }

    /// From now on, fills in each record's energy with `meter`.
    pub fn set_energy(&mut self, meter: EnergyMeter) {
        self.energy = Some(meter);
    }

    /// The energy of what was recorded, over a run of `duration_ns`
    /// (`None` without a meter).
    pub fn energy_summary(&self, duration_ns: u64) -> Option<EnergySummary> {
        self.energy.as_ref().map(|m| m.summary(duration_ns))
    }

    /// Wake-ups and time asleep of the run's cloudlets, over a run of
    /// `duration_ns` (`None` without a meter or when cloudlets do not
    /// sleep).
    pub fn sleep_summary(&self, duration_ns: u64) -> Option<crate::energy::SleepSummary> {
        self.energy
            .as_ref()
            .and_then(|m| m.sleep_summary(duration_ns))
    }

    /// Hands the meter the spans the run's cloudlets spent asleep and
    /// waking.
    pub fn cloudlet_sleep(&mut self, log: crate::energy::SleepLog) {
        if let Some(meter) = &mut self.energy {
            meter.cloudlet_sleep(log);
        }
    }

    /// Records one request.
    pub fn request(&mut self, mut record: RequestRecord) {
        // The meter sees every request, kept as a row or not.
        if let Some(meter) = &mut self.energy {
            record.device_energy_uj = (meter.request(&record) * 1e6).round() as u64;
        }
        if !self.keep_requests {
            return;
        }
        self.requests.push(record);
        if self.requests.len() >= BATCH {
            let batch = std::mem::replace(&mut self.requests, Vec::with_capacity(BATCH));
            self.send(Batch::Requests(batch));
        }
    }

    /// Records one handover.
    pub fn handover(&mut self, record: HandoverRecord) {
        self.handovers.push(record);
        if self.handovers.len() >= BATCH {
            let batch = std::mem::take(&mut self.handovers);
            self.send(Batch::Handovers(batch));
        }
    }

    /// Records one migration.
    pub fn migration(&mut self, mut record: MigrationRecord) {
        if let Some(meter) = &mut self.energy {
            record.energy = meter.migration(&record);
        }
        self.migrations.push(record);
    }

    /// Names the next device index (and its VM) for a device that joined
    /// after the start; its records may follow at once.
    pub fn add_device(&mut self, device: String, vm: String) {
        self.send(Batch::Device(device, vm));
    }

    fn send(&mut self, batch: Batch) {
        let failed = match &self.sender {
            Some(sender) => sender.send(batch).is_err(),
            None => false,
        };
        if failed {
            // The thread stopped on an I/O error; `finish` reports it.
            self.sender = None;
        }
    }

    /// Writes what is left, waits for the thread, and reports any I/O error.
    pub fn finish(mut self) -> anyhow::Result<()> {
        let requests = std::mem::take(&mut self.requests);
        let handovers = std::mem::take(&mut self.handovers);
        let migrations = std::mem::take(&mut self.migrations);
        self.send(Batch::Requests(requests));
        self.send(Batch::Handovers(handovers));
        self.send(Batch::Migrations(migrations));
        self.sender = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => anyhow::bail!("the output writer thread panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_all(
    files: CsvFiles,
    names: &Names,
    migration_header: &str,
    metric_columns: usize,
    receiver: Receiver<Batch>,
) -> anyhow::Result<()> {
    let mut requests = files
        .requests
        .map(|file| -> anyhow::Result<_> {
            let sync = BackgroundSync::start(&file)
                .context("cannot start syncing requests.csv in the background")?;
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            writer.write_all(RequestRecord::CSV_HEADER.as_bytes())?;
            Ok((writer, sync))
        })
        .transpose()?;
    let mut requests_unsynced_bytes = 0u64;
    let mut handovers = BufWriter::new(files.handovers);
    let mut migrations = BufWriter::new(files.migrations);
    handovers.write_all(HandoverRecord::CSV_HEADER.as_bytes())?;
    migrations.write_all(migration_header.as_bytes())?;
    let mut line = CsvLine::new();
    let mut names = names.clone();
    for batch in receiver {
        line.clear();
        match batch {
            Batch::Device(device, vm) => {
                names.devices.push(device);
                names.vms.push(vm);
                Ok(())
            }
            Batch::Requests(records) => {
                let Some((requests, requests_sync)) = &mut requests else {
                    continue;
                };
                for record in &records {
                    record.write_csv(&names, &mut line);
                }
                requests_unsynced_bytes += line.len() as u64;
                if requests_unsynced_bytes >= SYNC_EVERY_BYTES {
                    requests_unsynced_bytes = 0;
                    requests
                        .write_all(line.as_bytes())
                        .and_then(|()| requests.flush())
                        .map(|()| requests_sync.request())
                } else {
                    requests.write_all(line.as_bytes())
                }
            }
            Batch::Handovers(records) => {
                for record in &records {
                    record.write_csv(&names, &mut line);
                }
                handovers.write_all(line.as_bytes())
            }
            Batch::Migrations(records) => {
                for record in &records {
                    record.write_csv(&names, metric_columns, &mut line);
                }
                migrations.write_all(line.as_bytes())
            }
        }
        .context("cannot write the output files")?;
    }
    let requests = match requests {
        Some((writer, sync)) => {
            sync.finish().context("cannot write requests.csv")?;
            Some(("requests.csv", writer))
        }
        None => None,
    };
    let others = [("handovers.csv", handovers), ("migrations.csv", migrations)];
    for (name, writer) in requests.into_iter().chain(others) {
        let file = writer
            .into_inner()
            .map_err(|err| err.into_error())
            .with_context(|| format!("cannot write {name}"))?;
        file.sync_all()
            .with_context(|| format!("cannot write {name}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Outcome;

    /// A request of device 0 sent at `sent_ns` that took `total_ns`.
    fn request_sent_at(sent_ns: u64, total_ns: u64) -> RequestRecord {
        RequestRecord {
            total_ns,
            outcome: Outcome::Ok,
            ..RequestRecord::no_coverage(sent_ns, 0)
        }
    }

    #[test]
    fn every_record_reaches_its_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let files = CsvFiles {
            requests: Some(File::create(path("requests.csv")).unwrap()),
            handovers: File::create(path("handovers.csv")).unwrap(),
            migrations: File::create(path("migrations.csv")).unwrap(),
        };
        let names = Arc::new(Names {
            devices: vec!["d0".into()],
            vms: vec!["v0".into()],
            hosts: vec!["h0".into()],
            access_points: vec!["a0".into()],
        });
        let mut writer = RecordWriter::start(files, names, "total_ms").unwrap();
        let n = 3 * BATCH as u64 + 7;
        for i in 0..n {
            writer.request(request_sent_at(i * 1_000_000, i));
        }
        writer.finish().unwrap();
        let text = std::fs::read_to_string(path("requests.csv")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() as u64, n + 1);
        assert!(lines[1].starts_with("0.000,d0,"));
        assert!(lines[n as usize].starts_with(&format!("{}.", (n - 1) / 1000)));
        let migrations = std::fs::read_to_string(path("migrations.csv")).unwrap();
        assert_eq!(
            migrations,
            "time_s,vm,from,to,policy,reason,total_ms,network_energy_j,cpu_energy_j,dual_cpu_energy_j,dual_network_energy_j,failure\n"
        );
    }

    #[test]
    fn without_a_requests_file_requests_are_dropped_and_the_rest_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let files = CsvFiles {
            requests: None,
            handovers: File::create(path("handovers.csv")).unwrap(),
            migrations: File::create(path("migrations.csv")).unwrap(),
        };
        let mut writer = RecordWriter::start(files, Arc::new(Names::default()), "").unwrap();
        for i in 0..2 * BATCH as u64 {
            writer.request(request_sent_at(i, i));
        }
        assert!(writer.requests.is_empty(), "nothing kept per request");
        writer.handover(HandoverRecord {
            time_ns: 1_000_000_000,
            device: 0,
            from: None,
            to: Some(0),
        });
        writer.finish().unwrap();
        let handovers = std::fs::read_to_string(path("handovers.csv")).unwrap();
        assert_eq!(handovers.lines().count(), 2, "{handovers}");
    }
}
