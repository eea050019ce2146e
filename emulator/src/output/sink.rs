//! Where the engine sends its records.

use super::records::{HandoverRecord, MigrationRecord, RequestRecord};
use super::writer::RecordWriter;
use crate::energy::SleepLog;

/// Receives records as the engine produces them, in a deterministic order.
pub trait RecordSink {
    /// One request has ended.
    fn request(&mut self, record: RequestRecord);
    /// One device has changed access point.
    fn handover(&mut self, record: HandoverRecord);
    /// One migration has ended.
    fn migration(&mut self, record: MigrationRecord);
    /// The run is over and its cloudlets could sleep: the spans each spent
    /// asleep and waking (never called when cloudlets do not sleep).
    fn cloudlet_sleep(&mut self, _log: SleepLog) {}
    /// A hint: a record of device `device` comes soon (a sink that keeps
    /// per-device state may start loading it; changes nothing else).
    fn prefetch_device(&self, _device: u32) {}
}

impl RecordSink for RecordWriter {
    fn request(&mut self, record: RequestRecord) {
        RecordWriter::request(self, record);
    }
    fn handover(&mut self, record: HandoverRecord) {
        RecordWriter::handover(self, record);
    }
    fn migration(&mut self, record: MigrationRecord) {
        RecordWriter::migration(self, record);
    }
    fn cloudlet_sleep(&mut self, log: SleepLog) {
        RecordWriter::cloudlet_sleep(self, log);
    }
    fn prefetch_device(&self, device: u32) {
        RecordWriter::prefetch_device(self, device);
    }
}

/// Keeps every record in memory: for tests and small runs.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    /// Requests, in the order they ended.
    pub requests: Vec<RequestRecord>,
    /// Handovers, in time order.
    pub handovers: Vec<HandoverRecord>,
    /// Migrations, in the order they ended.
    pub migrations: Vec<MigrationRecord>,
    /// The cloudlets' sleep, when they could sleep.
    pub sleep: Option<SleepLog>,
}

impl RecordSink for MemorySink {
    fn request(&mut self, record: RequestRecord) {
        self.requests.push(record);
    }
    fn handover(&mut self, record: HandoverRecord) {
        self.handovers.push(record);
    }
    fn migration(&mut self, record: MigrationRecord) {
        self.migrations.push(record);
    }
    fn cloudlet_sleep(&mut self, log: SleepLog) {
        self.sleep = Some(log);
    }
}

/// Drops every record: for runs whose summary is all that is wanted (the
/// `never` baseline `mcc-emu run` runs beside a policy).
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardSink;

impl RecordSink for DiscardSink {
    fn request(&mut self, _record: RequestRecord) {}
    fn handover(&mut self, _record: HandoverRecord) {}
    fn migration(&mut self, _record: MigrationRecord) {}
}

/// Keeps only the records' energy: for runs whose summary and energy are
/// all that is wanted (the `never` baseline beside a policy's run).
impl RecordSink for crate::energy::EnergyMeter {
    fn request(&mut self, record: RequestRecord) {
        crate::energy::EnergyMeter::request(self, &record);
    }
    fn handover(&mut self, _record: HandoverRecord) {}
    fn migration(&mut self, record: MigrationRecord) {
        crate::energy::EnergyMeter::migration(self, &record);
    }
    fn cloudlet_sleep(&mut self, log: SleepLog) {
        crate::energy::EnergyMeter::cloudlet_sleep(self, log);
    }
}
