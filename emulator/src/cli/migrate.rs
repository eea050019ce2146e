//! `mcc-emu migrate`: run one VM migration on the virtual clock and print its metrics.

use std::time::Duration;

use anyhow::{Context, bail};
use mcc_cloudlet::memory::{DirtyModel, VmProfile};
use mcc_cloudlet::migration::single_link::{self, SingleLink};
use mcc_cloudlet::migration::{
    CapScope, FaultChannel, MAX_PAGES_PER_REQUEST, MAX_ROUNDS_LIMIT, MigrationConfig,
    MigrationReport, PassEnd, PushOrder, Technique,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const MIB: f64 = 1024.0 * 1024.0;
/// Longest time any `*-ms` flag accepts (about 31 years).
const MAX_TIME_MS: f64 = 1e12;
/// Largest CPU state accepted, in KiB (1 GiB).
const MAX_CPU_STATE_KIB: f64 = 1024.0 * 1024.0;
/// Highest request rate `migrate` accepts, in requests/s.
const MAX_REQUEST_RATE: f64 = 100_000.0;
/// Largest VM `migrate` accepts: 1 TiB.
const MAX_MEMORY_MIB: f64 = 1024.0 * 1024.0;

/// Arguments of `mcc-emu migrate`.
#[derive(Debug, clap::Args)]
#[command(allow_negative_numbers = true)]
pub struct MigrateArgs {
    /// Technique: stop-and-copy, pre-copy, post-copy, soft, hybrid, or all.
    #[arg(long, default_value = "all")]
    pub technique: String,
    /// VM memory size in MiB.
    #[arg(long, default_value_t = 1024.0)]
    pub memory_mib: f64,
    /// Writable working set in MiB (at most the memory size).
    #[arg(long, default_value_t = 256.0)]
    pub working_set_mib: f64,
    /// Pages (4 KiB) the VM dirties per second.
    #[arg(long, default_value_t = 5000.0, conflicts_with = "dirty_rate_mibps")]
    pub dirty_rate_pps: f64,
    /// Dirty rate in MiB/s instead of pages/s (256 pages per MiB).
    #[arg(long)]
    pub dirty_rate_mibps: Option<f64>,
    /// How writes spread over the working set: linear, uniform or hot-cold.
    #[arg(long, default_value = "linear")]
    pub dirty_model: String,
    /// Fraction of memory that holds zero pages (outside the working set).
    #[arg(long, default_value_t = 0.0)]
    pub zero_fraction: f64,
    /// Bandwidth of the link between the cloudlets, in megabits per second.
    #[arg(long, default_value_t = 1000.0)]
    pub bandwidth_mbps: f64,
    /// One-way latency between the cloudlets (and from the device), in ms.
    #[arg(long, default_value_t = 5.0)]
    pub latency_ms: f64,
    /// Maximum number of live copy rounds, round 0 included (pre-copy, soft).
    #[arg(long, default_value_t = mcc_cloudlet::migration::DEFAULT_MAX_ROUNDS)]
    pub max_rounds: u32,
    /// Stop the copy rounds when the remainder can be sent in this many ms.
    #[arg(long, default_value_t = 300.0)]
    pub downtime_target_ms: f64,
    /// Throttle the dirty rate when it outpaces the link (QEMU auto-converge).
    #[arg(long)]
    pub auto_converge: bool,
    /// When a copy round ends: drained (all of it sent) or below-target
    /// (QEMU 7.2: when what is left, in whole pages, fits the downtime target).
    #[arg(long, default_value = "drained")]
    pub pass_end: String,
    /// Order of the background push after the switch: address or around-faults.
    #[arg(long, default_value = "address")]
    pub push_order: String,
    /// CPU and device state sent at the switch, in KiB.
    #[arg(long, default_value_t = 256.0)]
    pub cpu_state_kib: f64,
    /// Requests per second the device sends to the VM during the migration.
    #[arg(long, default_value_t = 10.0)]
    pub request_rate: f64,
    /// Processing time of one request at the VM, in ms.
    #[arg(long, default_value_t = 5.0)]
    pub request_cpu_ms: f64,
    /// Distinct pages one request touches.
    #[arg(long, default_value_t = mcc_cloudlet::migration::DEFAULT_PAGES_PER_REQUEST)]
    pub pages_per_request: u32,
    /// Bytes the source keeps queued on the stream after the switch (the
    /// push chunk a fault waits behind), in KiB (default: Linux's 4 MiB tcp_wmem max).
    #[arg(long, default_value_t = 4096.0)]
    pub queue_kib: f64,
    /// How faulted pages travel: shared (behind the queue, QEMU's default)
    /// or preempt (a separate urgent channel, QEMU 8's postcopy-preempt).
    #[arg(long, default_value = "shared")]
    pub fault_channel: String,
    /// The migration's bandwidth cap (QEMU's max-bandwidth), in megabits/s;
    /// none by default (only the link binds).
    #[arg(long)]
    pub rate_cap_mbps: Option<f64>,
    /// Which transfers the cap holds: except-completion (QEMU) or all.
    #[arg(long, default_value = "except-completion")]
    pub cap_scope: String,
    /// Apply the cap as QEMU's rate limiter does, in windows of this many ms
    /// (QEMU: 100): each lets cap x window through at the link's speed, and a
    /// page faulted after the window's budget is spent waits for the next
    /// one. Absent: the cap paces every transfer evenly.
    #[arg(long)]
    pub cap_window_ms: Option<f64>,
    /// Setup time before the first byte (QEMU's setup-time), in ms.
    #[arg(long, default_value_t = 0.0)]
    pub setup_ms: f64,
    /// Dirty-bitmap sync time at the end of each round and at the switch, in ms.
    #[arg(long, default_value_t = 0.0)]
    pub sync_ms: f64,
    /// Time the target takes to start the guest after its last needed byte, in ms.
    #[arg(long, default_value_t = 0.0)]
    pub resume_ms: f64,
    /// Header bytes per non-zero page on the wire (QEMU: 8).
    #[arg(long, default_value_t = 0)]
    pub page_header_bytes: u64,
    /// Read-only pages (kernel text) the guest needs before it makes progress.
    #[arg(long, default_value_t = 0)]
    pub exec_text_pages: u64,
    /// Written pages (kernel data) the guest needs before it makes progress.
    #[arg(long, default_value_t = 0)]
    pub exec_data_pages: u64,
    /// The kernel writes its execution data pages on its own at this many
    /// pages/s, outside the working set (absent: they lie in the working set).
    #[arg(long)]
    pub exec_data_write_rate_pps: Option<f64>,
    /// MiB of the idle data at the top of guest memory, which a pass sends
    /// last, after the zero pages (Linux's page array: memory / 64). 0: all
    /// idle data comes before the zero pages.
    #[arg(long, default_value_t = 0.0)]
    pub top_data_mib: f64,
    /// Period of the guest heartbeat stall_ms is measured with, in ms.
    #[arg(long, default_value_t = 10.0)]
    pub heartbeat_ms: f64,
    /// Seed of the request arrivals and touched pages.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print a JSON array of reports instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Checks that `value` of `flag` is a finite number at least `min` (strictly above when `strict`).
fn check(flag: &str, value: f64, min: f64, strict: bool, why: &str) -> anyhow::Result<()> {
    let ok = value.is_finite() && if strict { value > min } else { value >= min };
    if !ok {
        let relation = if strict { ">" } else { ">=" };
        bail!("--{flag} must be a number {relation} {min}, got {value:?}{why}");
    }
    Ok(())
}

/// `ms` of `flag` as a duration; at most about 31 years.
fn duration_ms(flag: &str, ms: f64) -> anyhow::Result<Duration> {
    match Duration::try_from_secs_f64(ms / 1e3) {
        Ok(d) if ms <= MAX_TIME_MS => Ok(d),
        _ => bail!("--{flag} must be a time in [0, {MAX_TIME_MS:e}] ms, got {ms:?}"),
    }
}

impl MigrateArgs {
    fn techniques(&self) -> anyhow::Result<Vec<Technique>> {
        if self.technique == "all" {
            return Ok(Technique::ALL.to_vec());
        }
        Ok(vec![
            Technique::from_name(&self.technique).context("--technique")?,
        ])
    }

    fn validate(&self) -> anyhow::Result<()> {
        check("memory-mib", self.memory_mib, 0.0, true, "")?;
        if self.memory_mib > MAX_MEMORY_MIB {
            bail!(
                "--memory-mib must be at most {MAX_MEMORY_MIB} (1 TiB), got {:?}",
                self.memory_mib
            );
        }
        check("working-set-mib", self.working_set_mib, 0.0, false, "")?;
        if self.working_set_mib > self.memory_mib {
            bail!(
                "--working-set-mib ({}) is larger than --memory-mib ({}): the working set is part of memory",
                self.working_set_mib,
                self.memory_mib
            );
        }
        check("dirty-rate-pps", self.dirty_rate_pps, 0.0, false, "")?;
        if let Some(mibps) = self.dirty_rate_mibps {
            check("dirty-rate-mibps", mibps, 0.0, false, "")?;
        }
        check("zero-fraction", self.zero_fraction, 0.0, false, "")?;
        if self.zero_fraction > 1.0 {
            bail!(
                "--zero-fraction must lie in [0, 1], got {}",
                self.zero_fraction
            );
        }
        check(
            "bandwidth-mbps",
            self.bandwidth_mbps,
            0.0,
            true,
            " (a migration over a link with no bandwidth never ends)",
        )?;
        check("latency-ms", self.latency_ms, 0.0, false, "")?;
        if self.max_rounds == 0 {
            bail!("--max-rounds must be at least 1 (round 0 copies all memory)");
        }
        if self.max_rounds > MAX_ROUNDS_LIMIT {
            bail!(
                "--max-rounds must be at most {MAX_ROUNDS_LIMIT}, got {}",
                self.max_rounds
            );
        }
        if self.pages_per_request > MAX_PAGES_PER_REQUEST {
            bail!(
                "--pages-per-request must be at most {MAX_PAGES_PER_REQUEST}, got {}",
                self.pages_per_request
            );
        }
        check(
            "downtime-target-ms",
            self.downtime_target_ms,
            0.0,
            false,
            "",
        )?;
        check("cpu-state-kib", self.cpu_state_kib, 0.0, false, "")?;
        if self.cpu_state_kib > MAX_CPU_STATE_KIB {
            bail!(
                "--cpu-state-kib must be at most {MAX_CPU_STATE_KIB} (1 GiB), got {:?}",
                self.cpu_state_kib
            );
        }
        check("request-rate", self.request_rate, 0.0, false, "")?;
        if self.request_rate > MAX_REQUEST_RATE {
            bail!(
                "--request-rate must be at most {MAX_REQUEST_RATE} requests/s, got {:?}",
                self.request_rate
            );
        }
        check("request-cpu-ms", self.request_cpu_ms, 0.0, false, "")?;
        check("queue-kib", self.queue_kib, 0.0, true, "")?;
        if self.queue_kib > MAX_CPU_STATE_KIB {
            bail!(
                "--queue-kib must be at most {MAX_CPU_STATE_KIB} (1 GiB), got {:?}",
                self.queue_kib
            );
        }
        if let Some(cap) = self.rate_cap_mbps {
            check("rate-cap-mbps", cap, 0.0, true, "")?;
        }
        check("heartbeat-ms", self.heartbeat_ms, 0.0, true, "")?;
        if let Some(rate) = self.exec_data_write_rate_pps {
            check("exec-data-write-rate-pps", rate, 0.0, false, "")?;
        }
        check("top-data-mib", self.top_data_mib, 0.0, false, "")?;
        if self.top_data_mib > self.memory_mib {
            bail!(
                "--top-data-mib must be at most --memory-mib ({:?}), got {:?}",
                self.memory_mib,
                self.top_data_mib
            );
        }
        Ok(())
    }

    fn profile(&self) -> anyhow::Result<VmProfile> {
        let model = DirtyModel::from_name(&self.dirty_model).context("--dirty-model")?;
        let dirty_rate_pps = match self.dirty_rate_mibps {
            Some(mibps) => mibps * MIB / mcc_cloudlet::memory::DEFAULT_PAGE_BYTES as f64,
            None => self.dirty_rate_pps,
        };
        VmProfile::new(
            (self.memory_mib * MIB) as u64,
            (self.working_set_mib * MIB) as u64,
            dirty_rate_pps,
            self.zero_fraction,
            model,
        )
        .context("VM memory (--memory-mib, --working-set-mib, --dirty-rate-*, --zero-fraction)")
    }

    fn config(&self, technique: Technique) -> anyhow::Result<MigrationConfig> {
        let mut config = MigrationConfig::new(technique);
        config.max_rounds = self.max_rounds;
        config.downtime_target = duration_ms("downtime-target-ms", self.downtime_target_ms)?;
        config.auto_converge = self.auto_converge;
        config.pass_end = PassEnd::from_name(&self.pass_end).context("--pass-end")?;
        config.push_order = PushOrder::from_name(&self.push_order).context("--push-order")?;
        config.cpu_state_bytes = (self.cpu_state_kib * 1024.0) as u64;
        config.pages_per_request = self.pages_per_request;
        config.queue_bytes = (self.queue_kib * 1024.0) as u64;
        config.fault_channel =
            FaultChannel::from_name(&self.fault_channel).context("--fault-channel")?;
        config.rate_cap_bps = self.rate_cap_mbps.map(|mbps| mbps * 1e6);
        config.cap_scope = CapScope::from_name(&self.cap_scope).context("--cap-scope")?;
        config.cap_window = self
            .cap_window_ms
            .map(|ms| {
                let window = duration_ms("cap-window-ms", ms)?;
                if !mcc_cloudlet::migration::cap_window_is_valid(window) {
                    let max_ms = mcc_cloudlet::migration::MAX_CAP_WINDOW.as_millis();
                    bail!("--cap-window-ms must lie in (0, {max_ms}] ms (QEMU: 100), got {ms:?}");
                }
                Ok(window)
            })
            .transpose()?;
        config.setup = duration_ms("setup-ms", self.setup_ms)?;
        config.sync_cost = duration_ms("sync-ms", self.sync_ms)?;
        config.resume_cost = duration_ms("resume-ms", self.resume_ms)?;
        config.page_header_bytes = self.page_header_bytes;
        config.exec_text_pages = self.exec_text_pages;
        config.exec_data_pages = self.exec_data_pages;
        config.exec_data_write_rate_pps = self.exec_data_write_rate_pps;
        config.top_data_bytes = (self.top_data_mib * MIB).ceil() as u64;
        config.heartbeat = duration_ms("heartbeat-ms", self.heartbeat_ms)?;
        config.validate().context("migration settings")?;
        Ok(config)
    }

    fn link(&self) -> anyhow::Result<SingleLink> {
        Ok(SingleLink {
            one_way_latency: duration_ms("latency-ms", self.latency_ms)?,
            bandwidth_bps: self.bandwidth_mbps * 1e6,
            request_rate_per_s: self.request_rate,
            request_cpu: duration_ms("request-cpu-ms", self.request_cpu_ms)?,
        })
    }
}

/// Runs the migrations `args` describe, one per technique, each with a fresh RNG from the seed.
pub fn reports(args: &MigrateArgs) -> anyhow::Result<Vec<MigrationReport>> {
    args.validate()?;
    let techniques = args.techniques()?;
    let profile = args.profile()?;
    let link = args.link()?;
    techniques
        .into_iter()
        .map(|technique| {
            let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
            let config = args.config(technique)?;
            // What is left to check needs the VM's memory.
            config
                .validate_memory(&profile)
                .context("--top-data-mib (within the VM's memory)")?;
            single_link::run(profile.clone(), config, &link, &mut rng)
                .with_context(|| format!("{} migration", technique.name()))
        })
        .collect()
}

/// Runs `mcc-emu migrate`.
pub fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let reports = reports(&args)?;
    let text = if args.json {
        serde_json::to_string_pretty(&reports)? + "\n"
    } else {
        table(&reports)
    };
    print!("{text}");
    Ok(())
}

/// The reports as a table with aligned columns, one row per technique.
pub fn table(reports: &[MigrationReport]) -> String {
    // The report's own flat fields, with shorter delay headers for a terminal.
    let header: Vec<&str> = MigrationReport::FLAT_FIELDS
        .iter()
        .map(|name| name.strip_prefix("request_").unwrap_or(name))
        .collect();
    let rows: Vec<[String; 16]> = reports.iter().map(|r| r.flat_fields(1, "-")).collect();
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .filter_map(|row| row.get(i).map(String::len))
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, &w))| {
                if i == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}
