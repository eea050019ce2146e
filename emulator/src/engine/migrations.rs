//! Driving the migration models over the shared network.
//!
//! Each migration is a [`Migration`] state machine from the cloudlet crate.
//! This driver moves its transfers over the path between the two cloudlets as
//! a bulk flow (so it shares link capacity with requests and with other
//! migrations), keeps the model's view of the path current, holds requests
//! that wait for the VM to resume, and writes the migration's row once the
//! migration is over and every request that arrived during it has its answer.

use std::time::Duration;

use mcc_cloudlet::memory::VmProfile;
use mcc_cloudlet::migration::{
    Migration, MigrationConfig, MigrationError, MigrationEvent, MigrationReport, PathEstimate,
    RequestOutcome, Transfer,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::links::{DirectedLink, LinkTable, serialisation_ns};
use super::run::Serve;
use crate::output::MigrationRecord;

/// The fastest a migration flow is taken to go when its path has no link at
/// all (both cloudlets on one node): 100 Gbit/s.
pub const NO_LINK_RATE_BPS: f64 = 100e9;

/// The VM every device runs and how it migrates.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationSettings {
    /// The VM's memory.
    pub profile: VmProfile,
    /// The technique and its knobs.
    pub config: MigrationConfig,
}

impl MigrationSettings {
    /// Checks the technique's knobs.
    pub fn validate(&self) -> Result<(), MigrationError> {
        self.config.validate()
    }

    /// Memory of one VM, in bytes.
    pub fn vm_memory_bytes(&self) -> u64 {
        self.profile.memory_bytes()
    }
}

/// Why the driver is woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The migration was just created.
    Start,
    /// The model's own timer.
    Timer,
    /// The link finished serialising the last transfer.
    LinkFree,
    /// The transfer with this id reached the target.
    Delivered(u64),
}

/// The migration is over (the VM runs at the target, the source holds nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switched {
    /// VM index.
    pub vm: u32,
    /// Source cloudlet.
    pub from: u32,
    /// Target cloudlet.
    pub to: u32,
}

/// A finished migration's figures and its row for `migrations.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// Longest time the VM could answer nothing.
    pub downtime_ns: u64,
    /// Longest gap a 10 ms guest heartbeat saw (`stall_ms`).
    pub stall_ns: u64,
    /// Bytes the migration sent.
    pub bytes: u64,
    /// The row.
    pub record: MigrationRecord,
}

/// What the engine must do after waking a migration.
#[derive(Debug, Default)]
pub struct Actions {
    /// The transfer just handed to the link: (arrival time, transfer id).
    pub delivered: Option<(u64, u64)>,
    /// When the link is free for the next transfer.
    pub link_free_at: Option<u64>,
    /// When the model wants its timer.
    pub wake_at: Option<u64>,
    /// Requests that waited for the VM to resume and can be served now.
    pub released: Vec<Serve>,
    /// Set once, when the model says it is done.
    pub switched: Option<Switched>,
}

/// One migration under way (or done and waiting for its last answers).
pub struct ActiveMigration {
    model: Migration,
    vm: u32,
    from: u32,
    to: u32,
    start_ns: u64,
    policy: &'static str,
    reason: &'static str,
    path: Vec<DirectedLink>,
    latency_ns: u64,
    rng: ChaCha8Rng,
    in_flight: Vec<Transfer>,
    link_busy_until_ns: u64,
    timer_at: Option<u64>,
    held: Vec<Serve>,
    done: bool,
    outstanding_requests: u32,
}

fn duration(ns: u64) -> Duration {
    Duration::from_nanos(ns)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl ActiveMigration {
    /// Starts moving VM `vm` from cloudlet `from` to `to` over `path` at
    /// `now_ns`. `index` numbers migrations within the run; the migration's
    /// random draws come from a stream of its own.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        settings: &MigrationSettings,
        now_ns: u64,
        vm: u32,
        from: u32,
        to: u32,
        policy: &'static str,
        reason: &'static str,
        path: Vec<DirectedLink>,
        latency_ns: u64,
        seed: u64,
        index: u64,
        links: &mut LinkTable,
    ) -> Result<Self, MigrationError> {
        links.start_bulk(&path);
        let estimate = Self::estimate(&path, latency_ns, links, now_ns);
        let model = Migration::new(
            settings.profile.clone(),
            settings.config.clone(),
            estimate,
            duration(now_ns),
        );
        let model = match model {
            Ok(model) => model,
            Err(err) => {
                links.end_bulk(&path);
                return Err(err);
            }
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d69_6772_6174_6521);
        rng.set_stream(index);
        Ok(Self {
            model,
            vm,
            from,
            to,
            start_ns: now_ns,
            policy,
            reason,
            path,
            latency_ns,
            rng,
            in_flight: Vec::new(),
            link_busy_until_ns: now_ns,
            timer_at: None,
            held: Vec::new(),
            done: false,
            outstanding_requests: 0,
        })
    }

    fn estimate(
        path: &[DirectedLink],
        latency_ns: u64,
        links: &mut LinkTable,
        now_ns: u64,
    ) -> PathEstimate {
        let rate = links.bulk_rate_bps(path, now_ns);
        PathEstimate {
            one_way_latency: duration(latency_ns),
            bandwidth_bps: if rate.is_finite() {
                rate
            } else {
                NO_LINK_RATE_BPS
            },
        }
    }

    /// Source cloudlet.
    pub fn from(&self) -> u32 {
        self.from
    }

    /// Target cloudlet.
    pub fn to(&self) -> u32 {
        self.to
    }

    /// Lets the model react to `wake` at `now_ns` and collects what the engine
    /// must schedule.
    pub fn wake(&mut self, now_ns: u64, wake: Wake, links: &mut LinkTable) -> Actions {
        let mut actions = Actions::default();
        if self.done {
            return actions;
        }
        let now = duration(now_ns);
        match wake {
            Wake::Start | Wake::LinkFree => {}
            Wake::Timer => {
                if self.timer_at == Some(now_ns) {
                    self.timer_at = None;
                    self.model.handle_timeout(now);
                }
            }
            Wake::Delivered(id) => {
                if let Some(i) = self.in_flight.iter().position(|t| t.id == id) {
                    let transfer = self.in_flight.swap_remove(i);
                    self.model.on_delivered(now, &transfer);
                }
            }
        }
        // The model decides with the bandwidth the flow gets right now.
        let estimate = Self::estimate(&self.path, self.latency_ns, links, now_ns);
        // The estimate is valid by construction (positive, finite).
        let _ = self.model.set_path_estimate(estimate);
        if self.link_busy_until_ns <= now_ns
            && let Some(transfer) = self.model.poll_transmit(now)
        {
            let serial = serialisation_ns(transfer.bytes, estimate.bandwidth_bps);
            self.link_busy_until_ns = now_ns + serial;
            actions.link_free_at = Some(self.link_busy_until_ns);
            actions.delivered = Some((self.link_busy_until_ns + self.latency_ns, transfer.id));
            self.in_flight.push(transfer);
        }
        while let Some(event) = self.model.poll_event() {
            match event {
                MigrationEvent::Suspended { .. } => {}
                MigrationEvent::Resumed { at } => {
                    let at_ns = nanos(at);
                    actions
                        .released
                        .extend(self.held.drain(..).map(|mut serve| {
                            serve.ready_ns = serve.ready_ns.max(at_ns);
                            serve
                        }));
                }
                MigrationEvent::Done { .. } => {
                    self.done = true;
                    links.end_bulk(&self.path);
                    actions.switched = Some(Switched {
                        vm: self.vm,
                        from: self.from,
                        to: self.to,
                    });
                }
            }
        }
        if !self.done
            && let Some(t) = self.model.poll_timeout()
        {
            let at = nanos(t).max(now_ns);
            if self.timer_at != Some(at) {
                self.timer_at = Some(at);
                actions.wake_at = Some(at);
            }
        }
        actions
    }

    /// A request reaches the VM at `at_vm_ns`: which host(s) serve it and when.
    pub fn on_request(&mut self, at_vm_ns: u64) -> RequestOutcome {
        self.outstanding_requests += 1;
        self.model.on_request(duration(at_vm_ns), &mut self.rng)
    }

    /// Keeps a request until the VM resumes.
    pub fn hold(&mut self, serve: Serve) {
        self.held.push(serve);
    }

    /// A request that arrived during the migration got its answer after `delay_ns`.
    pub fn answered(&mut self, delay_ns: u64) {
        self.outstanding_requests = self.outstanding_requests.saturating_sub(1);
        self.model.record_request_delay(duration(delay_ns));
    }

    /// The migration's figures and row, once it is done and every request
    /// that arrived during it has been answered.
    pub fn finished(&self) -> Option<Finished> {
        if !self.done || self.outstanding_requests > 0 {
            return None;
        }
        let report = self.model.report()?;
        Some(Finished {
            downtime_ns: (report.downtime_ms * 1e6).round() as u64,
            stall_ns: (report.stall_ms * 1e6).round() as u64,
            bytes: report.bytes_total,
            record: MigrationRecord {
                start_ns: self.start_ns,
                vm: self.vm,
                from: self.from,
                to: self.to,
                policy: self.policy,
                reason: self.reason,
                metrics: metric_columns(&report),
                failure: None,
                bytes: report.bytes_total,
                energy: None,
            },
        })
    }
}

/// The report as the metric columns of `migrations.csv` (named by
/// [`MigrationReport::FLAT_FIELDS`]): milliseconds with three decimals, empty
/// delay percentiles when no request arrived during the migration.
pub fn metric_columns(report: &MigrationReport) -> Vec<u8> {
    report.flat_fields(3, "").join(",").into_bytes()
}
