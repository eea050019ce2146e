//! The accountant: reads a run's records as they are written (both clocks
//! write the same records) and works out what each cost in joules.

use serde::{Deserialize, Serialize};

use super::config::EnergyConfig;
use super::device::{RadioState, RadioUse};
use super::network::{LinkClass, PathEnergy};
use super::server::{CpuWindows, PowerCurve};
use super::sleep::{SleepLog, SleepSummary};
use crate::engine::World;
use crate::output::{MigrationRecord, Outcome, RequestRecord};

/// `summary.json`'s `energy_j`: the run's energy, in joules, in four
/// disjoint parts (their sum is the whole).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EnergySummary {
    /// Every cloudlet's servers over the run: idle power and the CPU time
    /// of the requests they answered (asleep, sleep power and wake-ups
    /// instead, when cloudlets may sleep).
    pub cloudlets: f64,
    /// The bytes of requests and answers, radio hop to data centre.
    pub network: f64,
    /// The devices' radios (the sum of `requests.csv`'s `device_energy_j`).
    pub devices: f64,
    /// What migrations cost beyond that: their bytes, the CPU both hosts
    /// spent copying, and soft handoffs' duplicated requests and executions.
    pub migrations: f64,
}

impl EnergySummary {
    /// The four parts together.
    pub fn total(&self) -> f64 {
        self.cloudlets + self.network + self.devices + self.migrations
    }
}

/// One migration's energy: the columns it adds to `migrations.csv`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MigrationEnergy {
    /// Its bytes on the path between the two hosts.
    pub network_j: f64,
    /// The CPU both hosts spent copying.
    pub cpu_j: f64,
    /// Requests executed by both hosts during a soft handoff: the second
    /// execution's CPU.
    pub dual_cpu_j: f64,
    /// Those requests' second trip, to the other host and back.
    pub dual_network_j: f64,
}

impl MigrationEnergy {
    /// The header of the columns, after the metric columns.
    pub const CSV_HEADER: &'static str =
        "network_energy_j,cpu_energy_j,dual_cpu_energy_j,dual_network_energy_j";

    /// The four figures, in header order.
    pub fn columns(&self) -> [f64; 4] {
        [
            self.network_j,
            self.cpu_j,
            self.dual_cpu_j,
            self.dual_network_j,
        ]
    }

    /// Everything together.
    pub fn total(&self) -> f64 {
        self.columns().iter().sum()
    }
}

/// What soft handoffs cost a VM since its last migration row.
#[derive(Debug, Clone, Copy, Default)]
struct DualCost {
    cpu_j: f64,
    network_j: f64,
}

/// Works out the energy of a run's records.
#[derive(Debug, Clone)]
pub struct EnergyMeter {
    config: EnergyConfig,
    curve: PowerCurve,
    paths: PathEnergy,
    /// Cores of each cloudlet.
    cores: Vec<u32>,
    /// CPU time of each cloudlet, per window.
    cpu: Vec<CpuWindows>,
    /// Each device's radio (grows as devices appear).
    radios: Vec<RadioState>,
    /// Each VM's soft-handoff cost not yet in a migration row.
    duals: Vec<DualCost>,
    /// When cloudlets may sleep: the spans each spent asleep and waking
    /// (handed over at the end of the run).
    sleep: Option<SleepLog>,
    network_j: f64,
    devices_j: f64,
    migrations_j: f64,
}

impl EnergyMeter {
    /// A meter for runs of `world`, whose backbone links are of `classes`.
    pub fn new(config: EnergyConfig, world: &World, classes: &[LinkClass]) -> Self {
        let paths = PathEnergy::new(world, classes, &config.per_bit_nj);
        Self {
            curve: PowerCurve::new(config.server_power_w.clone()),
            paths,
            cores: world.cloudlets.iter().map(|c| c.cpu_cores).collect(),
            cpu: vec![CpuWindows::default(); world.cloudlets.len()],
            radios: Vec::new(),
            duals: Vec::new(),
            sleep: None,
            network_j: 0.0,
            devices_j: 0.0,
            migrations_j: 0.0,
            config,
        }
    }

    /// Marginal joules of `cpu_ns` on one core: the curve's span from idle
    /// to peak shared by the reference server's threads.
    fn marginal_cpu_j(&self, cpu_ns: u64) -> f64 {
        let per_thread_w =
            (self.curve.peak() - self.curve.idle()) / f64::from(self.config.server_threads.max(1));
        per_thread_w * cpu_ns as f64 / 1e9
    }

    /// Starts loading device `device`'s radio state, which its next
    /// request's record reads ([`mcc_mobile_client::prefetch`]).
    pub fn prefetch_device(&self, device: u32) {
        if let Some(radio) = self.radios.get(device as usize) {
            mcc_mobile_client::prefetch::prefetch(radio, 1);
        }
    }

    /// Accounts for one finished request; its device's radio energy, in
    /// joules (0 for a request that never left the device).
    pub fn request(&mut self, r: &RequestRecord) -> f64 {
        if r.outcome == Outcome::NoCoverage {
            return 0.0;
        }
        let answered = r.outcome != Outcome::Unanswered;
        let down_bytes = if answered { r.response_bytes } else { 0 };
        self.network_j += self
            .paths
            .request_j(r.ap, r.host, r.request_bytes, down_bytes);
        if answered && r.processing_ns > 0 {
            // The run ended at sent + total minus the way back; the way back
            // is taken as half of access and backbone (the record does not
            // split them): an error of milliseconds against windows of
            // minutes.
            let back = (r.access_ns + r.backbone_ns) / 2;
            let done = (r.sent_ns + r.total_ns).saturating_sub(back);
            let start = done.saturating_sub(r.processing_ns);
            if let Some(windows) = self.cpu.get_mut(r.host as usize) {
                windows.add(start, r.processing_ns, self.config.utilisation_window_ns);
            }
            if let Some(other) = r.dual_host {
                let vm = r.vm as usize;
                if self.duals.len() <= vm {
                    self.duals.resize(vm + 1, DualCost::default());
                }
                let cost = DualCost {
                    cpu_j: self.marginal_cpu_j(r.processing_ns),
                    network_j: self
                        .paths
                        .request_j(r.ap, other, r.request_bytes, r.response_bytes),
                };
                self.duals[vm].cpu_j += cost.cpu_j;
                self.duals[vm].network_j += cost.network_j;
            }
        }
        let d = r.device as usize;
        if self.radios.len() <= d {
            self.radios.resize(d + 1, RadioState::default());
        }
        let joules = self.config.device.request_j(
            &mut self.radios[d],
            &RadioUse {
                sent_ns: r.sent_ns,
                done_ns: r.sent_ns + r.total_ns,
                transfer_ns: r.access_ns,
                up_bytes: r.request_bytes,
                down_bytes,
            },
        );
        self.devices_j += joules;
        joules
    }

    /// Accounts for one migration row (written once every request that
    /// arrived during it has its answer); `None` for a failed migration,
    /// whose bytes are not known.
    pub fn migration(&mut self, m: &MigrationRecord) -> Option<MigrationEnergy> {
        if m.failure.is_some() {
            return None;
        }
        let dual = self
            .duals
            .get_mut(m.vm as usize)
            .map(std::mem::take)
            .unwrap_or_default();
        let mib = m.bytes as f64 / f64::from(1u32 << 20);
        let energy = MigrationEnergy {
            network_j: self.paths.between_j(m.from, m.to, m.bytes),
            cpu_j: self.config.migration.j_per_mib * mib + self.config.migration.fixed_j,
            dual_cpu_j: dual.cpu_j,
            dual_network_j: dual.network_j,
        };
        self.migrations_j += energy.total();
        Some(energy)
    }

    /// Takes the spans the run's cloudlets spent asleep and waking.
    pub fn cloudlet_sleep(&mut self, log: SleepLog) {
        self.sleep = Some(log);
    }

    /// Wake-ups and time asleep over `duration_ns`, when cloudlets may
    /// sleep.
    pub fn sleep_summary(&self, duration_ns: u64) -> Option<SleepSummary> {
        self.sleep.as_ref().map(|log| log.summary(duration_ns))
    }

    /// The run's energy over `duration_ns`.
    pub fn summary(&self, duration_ns: u64) -> EnergySummary {
        let c = &self.config;
        let cloudlets = self
            .cpu
            .iter()
            .zip(&self.cores)
            .enumerate()
            .map(|(i, (windows, &cores))| {
                let off = self
                    .sleep
                    .as_ref()
                    .and_then(|log| log.spans.get(i))
                    .map_or(&[][..], Vec::as_slice);
                windows.energy_j(
                    &self.curve,
                    cores,
                    c.server_threads,
                    c.utilisation_window_ns,
                    duration_ns,
                    off,
                )
            })
            .sum();
        // Duplicated requests no migration row took (on the real clock a
        // handoff's last answers may come after its row) still count.
        let unclaimed: f64 = self.duals.iter().map(|d| d.cpu_j + d.network_j).sum();
        let round = |j: f64| (j * 1e3).round() / 1e3;
        EnergySummary {
            cloudlets: round(cloudlets),
            network: round(self.network_j),
            devices: round(self.devices_j),
            migrations: round(self.migrations_j + unclaimed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::example::TwoSites;

    /// The two-site world's links in order: each cell site to its cloudlet
    /// (aggregation), each cloudlet to the router (metro/core).
    const CLASSES: [LinkClass; 4] = [
        LinkClass::Aggregation,
        LinkClass::Aggregation,
        LinkClass::MetroCore,
        LinkClass::MetroCore,
    ];

    fn meter() -> EnergyMeter {
        EnergyMeter::new(
            EnergyConfig::default(),
            &TwoSites::default().world(),
            &CLASSES,
        )
    }

    fn migration(bytes: u64) -> MigrationRecord {
        MigrationRecord {
            start_ns: 0,
            vm: 0,
            from: 0,
            to: 1,
            policy: "nearest",
            reason: "handover",
            metrics: Vec::new(),
            failure: None,
            bytes,
            energy: None,
        }
    }

    #[test]
    fn idle_cloudlets_draw_their_idle_power_for_the_run_length() {
        // Two cloudlets of 4 cores: half a reference server each.
        let hour = 3_600_000_000_000;
        let j = meter().summary(hour).cloudlets;
        assert!((j - 2.0 * 0.5 * 41.6 * 3_600.0).abs() < 1e-3, "{j}");
    }

    #[test]
    fn doubling_a_migration_s_bytes_doubles_its_network_energy() {
        let mut m = meter();
        let one = m.migration(&migration(1 << 30)).unwrap();
        let two = m.migration(&migration(2 << 30)).unwrap();
        assert!(one.network_j > 0.0);
        assert!((two.network_j - 2.0 * one.network_j).abs() < 1e-9 * one.network_j);
        // 1 GiB over two metro/core hops and two data centres.
        let per_bit = EnergyConfig::default().per_bit_nj;
        let nj = 2.0 * per_bit.metro_core + 2.0 * per_bit.data_centre;
        assert!((one.network_j - nj * 8.0 * (1u64 << 30) as f64 * 1e-9).abs() < 1e-6);
        // The copy's CPU is affine in the bytes (Liu et al.).
        assert!((two.cpu_j - one.cpu_j - 0.512 * 1024.0).abs() < 1e-9);
        let failed = MigrationRecord {
            failure: Some("gone".into()),
            ..migration(0)
        };
        assert_eq!(m.migration(&failed), None);
    }

    #[test]
    fn a_soft_handoff_s_second_execution_is_charged_to_its_migration() {
        let mut m = meter();
        let record = RequestRecord {
            sent_ns: 1_000_000_000,
            device: 0,
            vm: 0,
            host: 1,
            access_ns: 10_000_000,
            backbone_ns: 2_000_000,
            queueing_ns: 0,
            processing_ns: 100_000_000,
            migration_stall_ns: 0,
            total_ns: 112_000_000,
            outcome: Outcome::Ok,
            ap: 1,
            request_bytes: 1_000,
            response_bytes: 1_000,
            dual_host: Some(0),
            device_energy_uj: 0,
        };
        m.request(&record);
        m.request(&record);
        let e = m.migration(&migration(0)).unwrap();
        // Two executions of 0.1 s at (113 − 41.6) W / 8 threads.
        assert!(
            (e.dual_cpu_j - 2.0 * 0.1 * 71.4 / 8.0).abs() < 1e-9,
            "{e:?}"
        );
        assert!(e.dual_network_j > 0.0);
        // Taken once: the VM's next migration has none.
        assert_eq!(m.migration(&migration(0)).unwrap().dual_cpu_j, 0.0);
        // Outside the summary's cloudlets, inside its migrations.
        let s = m.summary(10_000_000_000);
        assert!((s.migrations - (e.total() + 20.165)).abs() < 2e-3, "{s:?}");
    }
}
