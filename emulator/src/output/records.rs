//! The rows of the output files, and how each is written as CSV.
//!
//! Records carry small integer ids (device, VM, host, access point); the
//! writer turns them into names through [`Names`](super::Names), so the
//! engine never copies strings per request.

use super::format::CsvLine;
use super::writer::Names;
use crate::energy::MigrationEnergy;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered.
    Ok,
    /// The device was outside every access point's coverage.
    NoCoverage,
    /// The answer came later than the scenario's request timeout.
    TimedOut,
    /// No host answered (real clock only): the VM was lost with its node,
    /// its restart failed, or the request was redirected too often; the
    /// caller got an error (`UNAVAILABLE`) and the delay columns are 0.
    Unanswered,
}

impl Outcome {
    /// The word written in `requests.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NoCoverage => "no_coverage",
            Outcome::TimedOut => "timed_out",
            Outcome::Unanswered => "unanswered",
        }
    }
}

/// One request, from the device's send to the answer's arrival.
///
/// All durations are in nanoseconds of emulated time; `total_ns` is the sum of
/// the parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRecord {
    /// When the device sent it, since the start of the experiment.
    pub sent_ns: u64,
    /// Device index.
    pub device: u32,
    /// VM index.
    pub vm: u32,
    /// Cloudlet index of the host that answered (meaningless when no answer).
    pub host: u32,
    /// Wireless hop, both ways.
    pub access_ns: u64,
    /// Backbone path, both ways, with serialisation and link sharing.
    pub backbone_ns: u64,
    /// Waiting for a CPU on the host.
    pub queueing_ns: u64,
    /// Executing on the host.
    pub processing_ns: u64,
    /// Waiting because the VM was migrating (suspended, or a page missing).
    pub migration_stall_ns: u64,
    /// The whole delay the device saw.
    pub total_ns: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// The access point it was sent through (meaningless without coverage).
    pub ap: u32,
    /// Bytes of the request.
    pub request_bytes: u64,
    /// Bytes of its answer.
    pub response_bytes: u64,
    /// The other host that also executed it during a soft handoff (the
    /// first answer counts), if any.
    pub dual_host: Option<u32>,
    /// The device radio's energy for it, in microjoules (set by the energy
    /// meter as the record is written; 0 without one).
    pub device_energy_uj: u64,
}

impl RequestRecord {
    /// A request device `device` sent at `sent_ns` out of every access
    /// point's coverage: it never left the device (device `i` owns VM `i`).
    pub fn no_coverage(sent_ns: u64, device: u32) -> Self {
        Self {
            sent_ns,
            device,
            vm: device,
            host: 0,
            access_ns: 0,
            backbone_ns: 0,
            queueing_ns: 0,
            processing_ns: 0,
            migration_stall_ns: 0,
            total_ns: 0,
            outcome: Outcome::NoCoverage,
            ap: 0,
            request_bytes: 0,
            response_bytes: 0,
            dual_host: None,
            device_energy_uj: 0,
        }
    }

    /// A request of device `device` sent at `sent_ns` to `host` that no
    /// host answered ([`Outcome::Unanswered`]).
    pub fn unanswered(sent_ns: u64, device: u32, host: u32) -> Self {
        Self {
            host,
            outcome: Outcome::Unanswered,
            ..Self::no_coverage(sent_ns, device)
        }
    }

    /// Header line of `requests.csv`.
    pub const CSV_HEADER: &'static str = "time_s,device,vm,host,access_ms,backbone_ms,queueing_ms,processing_ms,migration_stall_ms,total_ms,device_energy_j,outcome\n";

    /// Appends this record as one CSV line.
    pub fn write_csv(&self, names: &Names, out: &mut CsvLine) {
        out.push_s(self.sent_ns);
        out.push(b',');
        out.push_str(names.device(self.device));
        out.push(b',');
        out.push_str(names.vm(self.vm));
        out.push(b',');
        if self.outcome != Outcome::NoCoverage {
            out.push_str(names.host(self.host));
        }
        for part in [
            self.access_ns,
            self.backbone_ns,
            self.queueing_ns,
            self.processing_ns,
            self.migration_stall_ns,
            self.total_ns,
        ] {
            out.push(b',');
            out.push_ms(part);
        }
        out.push(b',');
        // Microjoules written as joules with three decimals.
        out.push_ms(self.device_energy_uj);
        out.push(b',');
        out.push_str(self.outcome.as_str());
        out.push(b'\n');
    }
}

/// A device moving from one access point to another (or out of, or into,
/// coverage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandoverRecord {
    /// When, since the start of the experiment.
    pub time_ns: u64,
    /// Device index.
    pub device: u32,
    /// Access point index before, `None` when out of coverage.
    pub from: Option<u32>,
    /// Access point index after, `None` when out of coverage.
    pub to: Option<u32>,
}

impl HandoverRecord {
    /// Header line of `handovers.csv`.
    pub const CSV_HEADER: &'static str = "time_s,device,from_ap,to_ap\n";

    /// Appends this record as one CSV line (an empty field for no access point).
    pub fn write_csv(&self, names: &Names, out: &mut CsvLine) {
        out.push_s(self.time_ns);
        out.push(b',');
        out.push_str(names.device(self.device));
        for ap in [self.from, self.to] {
            out.push(b',');
            if let Some(ap) = ap {
                out.push_str(names.access_point(ap));
            }
        }
        out.push(b'\n');
    }
}

/// One migration, as `migrations.csv` shows it: who moved where, why, and
/// what it cost. The metric columns are the migration model's report.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationRecord {
    /// When the migration started, since the start of the experiment.
    pub start_ns: u64,
    /// VM index.
    pub vm: u32,
    /// Source cloudlet index.
    pub from: u32,
    /// Target cloudlet index.
    pub to: u32,
    /// The placement policy that asked for it.
    pub policy: &'static str,
    /// Why the policy moved the VM (`handover`, `periodic`, ...).
    pub reason: &'static str,
    /// The metric columns, already formatted, in the order of the header the
    /// [`RecordWriter`](super::RecordWriter) was started with (empty for a
    /// failed migration: the columns are left empty).
    pub metrics: Vec<u8>,
    /// Why the migration failed (real clock only); `None` when it completed.
    pub failure: Option<String>,
    /// Bytes it sent (its report's `bytes_total`; 0 when it failed).
    pub bytes: u64,
    /// Its energy (set by the energy meter as the row is written; the
    /// columns are left empty without one).
    pub energy: Option<MigrationEnergy>,
}

impl MigrationRecord {
    /// The columns before the metrics in `migrations.csv`.
    pub const CSV_HEADER_PREFIX: &'static str = "time_s,vm,from,to,policy,reason";

    /// The column after the metrics in `migrations.csv`: empty for a
    /// migration that completed, else why it failed.
    pub const CSV_HEADER_SUFFIX: &'static str = "failure";

    /// Appends this record as one CSV line; `metric_columns` is how many
    /// metric columns the header has (left empty when `metrics` is).
    pub fn write_csv(&self, names: &Names, metric_columns: usize, out: &mut CsvLine) {
        out.push_s(self.start_ns);
        for name in [
            names.vm(self.vm),
            names.host(self.from),
            names.host(self.to),
        ] {
            out.push(b',');
            out.push_str(name);
        }
        for word in [self.policy, self.reason] {
            out.push(b',');
            out.push_str(word);
        }
        if !self.metrics.is_empty() {
            out.push(b',');
            out.push_bytes(&self.metrics);
        } else {
            for _ in 0..metric_columns {
                out.push(b',');
            }
        }
        match &self.energy {
            Some(energy) => {
                for joules in energy.columns() {
                    out.push(b',');
                    // Joules with three decimals (as microjoules through the
                    // millisecond formatter).
                    out.push_ms((joules.max(0.0) * 1e6).round() as u64);
                }
            }
            None => {
                for _ in MigrationEnergy::CSV_HEADER.split(',') {
                    out.push(b',');
                }
            }
        }
        out.push(b',');
        if let Some(failure) = &self.failure {
            push_quoted(out, failure);
        }
        out.push(b'\n');
    }
}

/// Appends `text` as one CSV field: quoted, quotes doubled, line breaks
/// made spaces (RFC 4180 allows them quoted; one row per line is kinder to
/// line-based tools).
fn push_quoted(out: &mut CsvLine, text: &str) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\"\""),
            '\n' | '\r' => out.push(b' '),
            c => out.push_str(c.encode_utf8(&mut [0; 4])),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            devices: vec!["bus#0".into()],
            vms: vec!["vm-bus#0".into()],
            hosts: vec!["cl-a".into(), "cl-b".into()],
            access_points: vec!["ap-1".into(), "ap-2".into()],
        }
    }

    #[test]
    fn a_failed_migration_row_has_empty_metrics_and_its_quoted_failure() {
        let mut record = MigrationRecord {
            start_ns: 2_000_000_000,
            vm: 0,
            from: 0,
            to: 1,
            policy: "nearest",
            reason: "handover",
            metrics: b"12.500,3".to_vec(),
            failure: None,
            bytes: 1 << 20,
            energy: Some(MigrationEnergy {
                network_j: 1.5,
                cpu_j: 20.677,
                dual_cpu_j: 0.0,
                dual_network_j: 0.0004,
            }),
        };
        let mut out = CsvLine::new();
        record.write_csv(&names(), 2, &mut out);
        record.metrics.clear();
        record.energy = None;
        record.failure = Some("target \"cl-b\": gone,\nreset".into());
        record.write_csv(&names(), 2, &mut out);
        assert_eq!(
            String::from_utf8_lossy(out.as_bytes()),
            "2.000,vm-bus#0,cl-a,cl-b,nearest,handover,12.500,3,1.500,20.677,0.000,0.000,\n\
             2.000,vm-bus#0,cl-a,cl-b,nearest,handover,,,,,,,\"target \"\"cl-b\"\": gone, reset\"\n"
        );
    }

    #[test]
    fn a_request_row_lists_every_delay_part() {
        let record = RequestRecord {
            sent_ns: 1_500_000_000,
            device: 0,
            vm: 0,
            host: 1,
            access_ns: 4_000_000,
            backbone_ns: 1_250_000,
            queueing_ns: 0,
            processing_ns: 2_000_000,
            migration_stall_ns: 0,
            total_ns: 7_250_000,
            outcome: Outcome::Ok,
            ap: 1,
            request_bytes: 1_000,
            response_bytes: 100,
            dual_host: None,
            device_energy_uj: 13_706_512,
        };
        let mut out = CsvLine::new();
        record.write_csv(&names(), &mut out);
        assert_eq!(
            String::from_utf8_lossy(out.as_bytes()),
            "1.500,bus#0,vm-bus#0,cl-b,4.000,1.250,0.000,2.000,0.000,7.250,13.707,ok\n"
        );
        assert_eq!(
            RequestRecord::CSV_HEADER.matches(',').count(),
            11,
            "header and row have the same columns"
        );
    }

    #[test]
    fn a_handover_out_of_coverage_has_an_empty_field() {
        let mut out = CsvLine::new();
        HandoverRecord {
            time_ns: 2_000_000_000,
            device: 0,
            from: Some(1),
            to: None,
        }
        .write_csv(&names(), &mut out);
        assert_eq!(
            String::from_utf8_lossy(out.as_bytes()),
            "2.000,bus#0,ap-2,\n"
        );
    }
}
