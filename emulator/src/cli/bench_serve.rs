//! `mcc-emu bench serve`: a stepped load against `mcc-emu serve`.
//!
//! Starts `mcc-emu serve SCENARIO` as a child process (this executable, on
//! a free loopback port, outputs in a temporary folder removed at the
//! end), registers `--devices` devices at one access point, then offers
//! each rate of `--rates` for `--seconds`: every device sends periodically
//! (the devices' phases spread over the period), each request on its own
//! task, so a late answer never delays the next send (an open loop). Per
//! step it prints the offered and answered rates, the failures by gRPC code,
//! the delay the emulator added to the configured path (client-measured
//! minus the configured delay, p50/p99/max), the floor of that added delay
//! (the round trip of a request serve refuses at once, sent every 10 ms
//! meanwhile: the gRPC hop and the two processes' scheduling, no
//! emulation), and the CPU and resident memory of serve and of this load
//! generator.
//!
//! The configured delay of a request is what the edge's own link
//! arithmetic gives on idle links: the access point's wireless hop and the
//! backbone to the device's host and back at the request's and the
//! answer's sizes ([`Network`]'s paths), plus its CPU time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use mcc_cloudlet::realtime::{Timer, TimerKind};
use mcc_mobile_client::fleet::{self, Client};
use mcc_proto::v1::{self, register_device_request};
use serde::Serialize;
use tokio::io::AsyncBufReadExt;

use crate::realclock::network::Network;

/// Highest rate a step may offer, requests/s.
const MAX_RATE: f64 = 100_000.0;
/// Longest step, in seconds.
const MAX_STEP_SECONDS: f64 = 600.0;
/// Most devices.
const MAX_DEVICES: u32 = 10_000;
/// Most connections to serve; devices beyond share them round-robin.
const MAX_CONNECTIONS: u32 = 32;
/// Most requests the load generator keeps in flight; a send beyond it is
/// counted as `not_sent` (the generator, not serve, could not keep up).
const MAX_CLIENT_IN_FLIGHT: usize = 20_000;
/// How long a request may take before the generator gives up on it (its
/// gRPC deadline; it then counts as `deadline_exceeded`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest serve may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a step sends a transport probe (see [`probe_floor`]).
const PROBE_PERIOD: Duration = Duration::from_millis(10);
/// The device the probes name: never registered, so serve refuses each
/// probe as soon as it has read it.
const PROBE_DEVICE: &str = "bench-probe";

/// Arguments of `mcc-emu bench serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeBenchArgs {
    /// Scenario file serve runs (without a `[radio]` section: the
    /// configured path must not depend on the device's link), e.g.
    /// topologies/small-real.toml.
    pub scenario: PathBuf,
    /// Offered rates, requests/s in all, one step each (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1000.0, 2000.0, 5000.0, 10000.0])]
    pub rates: Vec<f64>,
    /// How long each step offers its rate, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Devices sharing the rate.
    #[arg(long, default_value_t = 20)]
    pub devices: u32,
    /// The access point the devices stand at (default: the scenario's first).
    #[arg(long)]
    pub access_point: Option<String>,
    /// Payload bytes per request.
    #[arg(long, default_value_t = 100)]
    pub request_bytes: u64,
    /// Bytes of each answer.
    #[arg(long, default_value_t = 100)]
    pub response_bytes: u64,
    /// CPU time of each request on its host, in µs.
    #[arg(long, default_value_t = 100)]
    pub cpu_us: u64,
    /// The mcc-emu executable that runs serve (default: this one), to
    /// compare two builds under the same load generator.
    #[arg(long, value_name = "PATH")]
    pub serve_bin: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The figures of one step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Step {
    /// The rate asked for, requests/s.
    pub rate_per_s: f64,
    /// Requests sent over the step's length, per second.
    pub offered_per_s: f64,
    /// Requests answered `ok`, per second of the step's length.
    pub answered_per_s: f64,
    /// Requests sent.
    pub sent: u64,
    /// Requests answered with outcome `ok`.
    pub answered: u64,
    /// Requests that ended otherwise, by gRPC code in snake case
    /// (`resource_exhausted`, ...) or emulator outcome (`outcome:timed_out`).
    pub failures: BTreeMap<String, u64>,
    /// Sends skipped because the generator had too many requests in flight.
    pub not_sent: u64,
    /// Client-measured delay minus the configured one, in ms, of the
    /// answered requests: median, 99th percentile, largest, least.
    pub added_p50_ms: f64,
    /// See `added_p50_ms`.
    pub added_p99_ms: f64,
    /// See `added_p50_ms`.
    pub added_max_ms: f64,
    /// See `added_p50_ms` (negative would mean an answer beat the model).
    pub added_min_ms: f64,
    /// Round trip of a request serve refuses at once (a device that is not
    /// registered), in ms, sent every 10 ms on the devices' connections
    /// during the step: the floor of the added delay that the gRPC hop
    /// between the generator and serve and their schedulers set under the
    /// step's load, before any emulation. Median and 99th percentile.
    pub floor_p50_ms: f64,
    /// See `floor_p50_ms`.
    pub floor_p99_ms: f64,
    /// Probes answered other than as refused (not in the floor).
    pub floor_unexpected: u64,
    /// serve's CPU time over the step's wall time, % of one core.
    pub serve_cpu_pct: Option<f64>,
    /// serve's resident memory at the step's end, MiB.
    pub serve_rss_mib: Option<f64>,
    /// This load generator's CPU time over the step's wall time, % of one core.
    pub client_cpu_pct: Option<f64>,
    /// Its resident memory at the step's end, MiB.
    pub client_rss_mib: Option<f64>,
}

/// What `bench serve --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ServeBench {
    /// The scenario's name.
    pub scenario: String,
    /// Where the devices stand.
    pub access_point: String,
    /// The host of their VMs and each one's configured delay, ms.
    pub configured_ms: BTreeMap<String, f64>,
    /// The load average when the bench started (the machine may be shared).
    pub load_average: Option<String>,
    /// One entry per rate.
    pub steps: Vec<Step>,
}

/// Runs `mcc-emu bench serve`.
pub fn run(args: ServeBenchArgs) -> anyhow::Result<()> {
    validate(&args)?;
    let scenario = super::run::load_scenario(Some(&args.scenario))?;
    let world = &scenario.world;
    if world.radio.is_some() {
        bail!(
            "{}: bench serve needs a scenario without [radio] (the configured path would depend \
             on each device's radio link); topologies/small-real.toml is one",
            args.scenario.display()
        );
    }
    let ap = match &args.access_point {
        None => 0,
        Some(name) => world
            .access_points
            .iter()
            .position(|a| &a.name == name)
            .with_context(|| {
                format!(
                    "--access-point {name:?}: the scenario has no such access point (it has {})",
                    world
                        .access_points
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
    };
    let access_point = world
        .access_points
        .get(ap)
        .context("the scenario has no access point")?
        .clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    let report = runtime.block_on(async {
        let timer = Timer::new(TimerKind::Tokio).context("timer")?;
        let network = Network::new(world, timer).map_err(anyhow::Error::msg)?;
        let configured = |host: &str| -> Option<Duration> {
            let c = world.cloudlets.iter().position(|c| c.name == host)? as u32;
            let at = Instant::now();
            let up = network.up(ap as u32, c)?.reserve_at(at, args.request_bytes);
            let back = at + up.delay() + Duration::from_micros(args.cpu_us);
            let down = network
                .down(ap as u32, c)?
                .reserve_at(back, args.response_bytes);
            Some(down.arrive - at)
        };
        let serve = ServeChild::start(args.serve_bin.as_deref(), &args.scenario).await?;
        let result = bench(&args, &serve, &access_point, configured).await;
        serve.stop().await;
        let (configured_ms, steps) = result?;
        Ok::<_, anyhow::Error>(ServeBench {
            scenario: scenario.name.clone(),
            access_point: access_point.name.clone(),
            configured_ms,
            load_average: super::bench::load_average(),
            steps,
        })
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

fn validate(args: &ServeBenchArgs) -> anyhow::Result<()> {
    if args.rates.is_empty() {
        bail!("--rates: give at least one rate");
    }
    for &rate in &args.rates {
        if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
            bail!("--rates: {rate} is out of range; each rate must be > 0 and at most {MAX_RATE}");
        }
    }
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= MAX_STEP_SECONDS) {
        bail!(
            "--seconds: {} is out of range; it must be > 0 and at most {MAX_STEP_SECONDS}",
            args.seconds
        );
    }
    if args.devices == 0 || args.devices > MAX_DEVICES {
        bail!(
            "--devices: {} is out of range; 1 to {MAX_DEVICES}",
            args.devices
        );
    }
    crate::serve::input::request_limits(
        usize::try_from(args.request_bytes).unwrap_or(usize::MAX),
        args.response_bytes,
        args.cpu_us,
    )
    .map_err(|status| anyhow::anyhow!("{}", status.message()))?;
    Ok(())
}

/// Registers the devices, runs the steps, and unregisters the devices.
async fn bench(
    args: &ServeBenchArgs,
    serve: &ServeChild,
    access_point: &crate::engine::AccessPoint,
    configured: impl Fn(&str) -> Option<Duration>,
) -> anyhow::Result<(BTreeMap<String, f64>, Vec<Step>)> {
    // Devices have connections of their own, as a fleet's would (up to
    // MAX_CONNECTIONS, shared round-robin beyond).
    let mut clients = Vec::new();
    for _ in 0..args.devices.min(MAX_CONNECTIONS) {
        clients.push(
            fleet::connect(&serve.url, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    let client = clients[0].clone();
    let position = v1::GeoPoint {
        latitude_deg: access_point.position.lat_deg,
        longitude_deg: access_point.position.lon_deg,
    };
    let mut devices = Vec::new();
    let mut configured_ms = BTreeMap::new();
    for i in 0..args.devices {
        let id = format!("bench-{i}");
        let registered = client
            .clone()
            .register_device(v1::RegisterDeviceRequest {
                device_id: id.clone(),
                movement: Some(register_device_request::Movement::Position(position)),
            })
            .await
            .with_context(|| format!("RegisterDevice {id}"))?
            .into_inner();
        // Computed once per host: each computation books the idle links.
        let delay = match configured_ms.get(&registered.host_id) {
            Some(&delay) => delay,
            None => configured(&registered.host_id).with_context(|| {
                format!(
                    "device {id} is hosted on {:?}, with no path from {}",
                    registered.host_id, access_point.name
                )
            })?,
        };
        configured_ms.insert(registered.host_id.clone(), delay);
        let client = clients[i as usize % clients.len()].clone();
        devices.push(Arc::new(Device { id, delay, client }));
    }
    let configured_ms: BTreeMap<String, f64> = configured_ms
        .into_iter()
        .map(|(host, delay)| (host, delay.as_secs_f64() * 1e3))
        .collect();
    if !args.json {
        println!(
            "load average at the start: {}",
            super::bench::load_average().unwrap_or_else(|| "unknown".into())
        );
        for (host, ms) in &configured_ms {
            println!(
                "{} devices at {} -> {host}: configured path {ms:.3} ms ({} B request, {} B answer, {} µs CPU)",
                args.devices,
                access_point.name,
                args.request_bytes,
                args.response_bytes,
                args.cpu_us
            );
        }
        println!("{}", Step::HEADER);
    }
    let mut steps = Vec::new();
    for &rate in &args.rates {
        let step = run_step(args, rate, &devices, serve.pid).await;
        if !args.json {
            println!("{}", step.line());
        }
        steps.push(step);
    }
    for device in &devices {
        let _ = client
            .clone()
            .unregister_device(v1::UnregisterDeviceRequest {
                device_id: device.id.clone(),
            })
            .await;
    }
    Ok((configured_ms, steps))
}

/// A registered device, the configured delay of its requests and its
/// connection.
struct Device {
    id: String,
    delay: Duration,
    client: Client,
}

/// What the requests of a step gathered as they ended.
struct Tally {
    answered: u64,
    failures: BTreeMap<String, u64>,
    /// Added delay in µs.
    added: Histogram<u64>,
    least_us: i64,
}

impl Tally {
    fn new() -> Self {
        Self {
            answered: 0,
            failures: BTreeMap::new(),
            // 1 µs to an hour, 3 significant figures.
            added: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            least_us: i64::MAX,
        }
    }
}

/// One step: `rate` requests/s in all for `args.seconds`, then waits for
/// the answers still outstanding.
async fn run_step(
    args: &ServeBenchArgs,
    rate: f64,
    devices: &[Arc<Device>],
    serve_pid: Option<u32>,
) -> Step {
    let tally = Arc::new(Mutex::new(Tally::new()));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENT_IN_FLIGHT));
    let period = Duration::from_secs_f64(devices.len() as f64 / rate);
    let length = Duration::from_secs_f64(args.seconds);
    let shape = (args.request_bytes, args.response_bytes, args.cpu_us);
    let serve_cpu = serve_pid.and_then(|pid| super::bench::cpu_time(&pid.to_string()));
    let client_cpu = super::bench::cpu_time("self");
    let wall = Instant::now();
    let start = tokio::time::Instant::now() + Duration::from_millis(10);
    let mut senders = tokio::task::JoinSet::new();
    for (i, device) in devices.iter().enumerate() {
        let (device, tally, in_flight) = (device.clone(), tally.clone(), in_flight.clone());
        let phase = period.mul_f64(i as f64 / devices.len() as f64);
        senders.spawn(async move {
            let mut requests = tokio::task::JoinSet::new();
            let (mut sent, mut not_sent) = (0u64, 0u64);
            for k in 0u32.. {
                // Multiplied, not summed: no drift over a long step.
                let at = phase + period * k;
                if at >= length {
                    break;
                }
                tokio::time::sleep_until(start + at).await;
                while requests.try_join_next().is_some() {}
                let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                    not_sent += 1;
                    continue;
                };
                sent += 1;
                requests.spawn(send_one(
                    device.client.clone(),
                    device.clone(),
                    sent,
                    shape,
                    tally.clone(),
                    permit,
                ));
            }
            while requests.join_next().await.is_some() {}
            (sent, not_sent)
        });
    }
    let floor = tokio::spawn(probe_floor(
        devices.iter().map(|d| d.client.clone()).collect(),
        start,
        length,
        args.request_bytes,
    ));
    let (mut sent, mut not_sent) = (0, 0);
    while let Some(Ok((s, n))) = senders.join_next().await {
        sent += s;
        not_sent += n;
    }
    let floor = floor.await.unwrap_or_else(|_| Floor::new());
    let elapsed = wall.elapsed().as_secs_f64();
    let pct = |before: Option<Duration>, after: Option<Duration>| {
        Some((after? - before?).as_secs_f64() / elapsed * 100.0)
    };
    let serve_cpu_pct = pct(
        serve_cpu,
        serve_pid.and_then(|pid| super::bench::cpu_time(&pid.to_string())),
    );
    let client_cpu_pct = pct(client_cpu, super::bench::cpu_time("self"));
    let tally = std::mem::replace(
        &mut *tally.lock().unwrap_or_else(PoisonError::into_inner),
        Tally::new(),
    );
    let ms = |us: u64| us as f64 / 1e3;
    let quantile = |q: f64| {
        if tally.added.is_empty() {
            f64::NAN
        } else {
            ms(tally.added.value_at_quantile(q))
        }
    };
    Step {
        rate_per_s: rate,
        offered_per_s: sent as f64 / args.seconds,
        answered_per_s: tally.answered as f64 / args.seconds,
        sent,
        answered: tally.answered,
        failures: tally.failures,
        not_sent,
        added_p50_ms: quantile(0.5),
        added_p99_ms: quantile(0.99),
        added_max_ms: if tally.added.is_empty() {
            f64::NAN
        } else {
            ms(tally.added.max())
        },
        added_min_ms: if tally.least_us == i64::MAX {
            f64::NAN
        } else {
            tally.least_us as f64 / 1e3
        },
        floor_p50_ms: floor.quantile_ms(0.5),
        floor_p99_ms: floor.quantile_ms(0.99),
        floor_unexpected: floor.unexpected,
        serve_cpu_pct,
        serve_rss_mib: serve_pid.and_then(|pid| super::bench::rss_mib(&pid.to_string())),
        client_cpu_pct,
        client_rss_mib: super::bench::rss_mib("self"),
    }
}

/// Round trips of the probes of one step.
struct Floor {
    /// In µs.
    rtt: Histogram<u64>,
    unexpected: u64,
}

impl Floor {
    fn new() -> Self {
        Self {
            // 1 µs to a minute, 3 significant figures.
            rtt: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            unexpected: 0,
        }
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        if self.rtt.is_empty() {
            f64::NAN
        } else {
            self.rtt.value_at_quantile(q) as f64 / 1e3
        }
    }
}

/// Every [`PROBE_PERIOD`] from `start` for `length`, sends a request of the
/// same size as the step's for [`PROBE_DEVICE`] on the next of `clients`
/// and times the refusal (`not_found`). One probe at a time: a slow one
/// delays the next rather than piling up.
async fn probe_floor(
    clients: Vec<Client>,
    start: tokio::time::Instant,
    length: Duration,
    request_bytes: u64,
) -> Floor {
    let mut floor = Floor::new();
    let payload = vec![0; usize::try_from(request_bytes).unwrap_or(0)];
    for k in 0u32.. {
        let at = PROBE_PERIOD * k;
        if at >= length || clients.is_empty() {
            break;
        }
        tokio::time::sleep_until(start + at).await;
        let mut client = clients[k as usize % clients.len()].clone();
        let mut request = tonic::Request::new(v1::DeviceRequest {
            device_id: PROBE_DEVICE.to_owned(),
            request_id: u64::from(k),
            payload: payload.clone(),
            cpu_cost_us: 0,
            response_bytes: 0,
        });
        request.set_timeout(REQUEST_TIMEOUT);
        let sent = Instant::now();
        match client.send_request(request).await {
            Err(status) if status.code() == tonic::Code::NotFound => {
                floor
                    .rtt
                    .saturating_record(sent.elapsed().as_micros().max(1) as u64);
            }
            _ => floor.unexpected += 1,
        }
    }
    floor
}

/// Sends one request of `device` and tallies how it ended.
async fn send_one(
    mut client: Client,
    device: Arc<Device>,
    request_id: u64,
    (request_bytes, response_bytes, cpu_us): (u64, u64, u64),
    tally: Arc<Mutex<Tally>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let mut request = tonic::Request::new(v1::DeviceRequest {
        device_id: device.id.clone(),
        request_id,
        payload: vec![0; usize::try_from(request_bytes).unwrap_or(0)],
        cpu_cost_us: cpu_us,
        response_bytes,
    });
    request.set_timeout(REQUEST_TIMEOUT);
    let sent = Instant::now();
    let answer = client.send_request(request).await;
    let delay = sent.elapsed();
    let mut tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
    let failure = match answer {
        Err(status) => fleet::code_name(status.code()),
        Ok(answer) => match v1::Outcome::try_from(answer.into_inner().outcome) {
            Ok(v1::Outcome::Ok) => {
                tally.answered += 1;
                let added_us = delay.as_micros() as i64 - device.delay.as_micros() as i64;
                tally.least_us = tally.least_us.min(added_us);
                tally.added.saturating_record(added_us.max(0) as u64);
                return;
            }
            Ok(other) => format!("outcome:{}", other.as_str_name().to_lowercase()),
            Err(_) => "outcome:unknown".into(),
        },
    };
    *tally.failures.entry(failure).or_default() += 1;
}

impl Step {
    const HEADER: &'static str = "  rate/s offered/s answered/s  failures                 added ms: p50      p99      max  floor ms: p50      p99    serve cpu%  rss MiB   client cpu%  rss MiB";

    fn line(&self) -> String {
        let failures =
            if self.failures.is_empty() && self.not_sent == 0 && self.floor_unexpected == 0 {
                "none".to_owned()
            } else {
                let mut parts: Vec<String> = self
                    .failures
                    .iter()
                    .map(|(code, n)| format!("{code} {n}"))
                    .collect();
                if self.not_sent > 0 {
                    parts.push(format!("not_sent {}", self.not_sent));
                }
                if self.floor_unexpected > 0 {
                    parts.push(format!("probes not refused {}", self.floor_unexpected));
                }
                parts.join(", ")
            };
        format!(
            "{:>8.0} {:>9.0} {:>10.0}  {:<24} {:>13.3} {:>8.3} {:>8.3} {:>15.3} {:>8.3} {:>13} {:>8} {:>13} {:>8}",
            self.rate_per_s,
            self.offered_per_s,
            self.answered_per_s,
            failures,
            self.added_p50_ms,
            self.added_p99_ms,
            self.added_max_ms,
            self.floor_p50_ms,
            self.floor_p99_ms,
            super::bench::figure_or_dash(self.serve_cpu_pct, 0),
            super::bench::figure_or_dash(self.serve_rss_mib, 1),
            super::bench::figure_or_dash(self.client_cpu_pct, 0),
            super::bench::figure_or_dash(self.client_rss_mib, 1),
        )
    }
}

/// `mcc-emu serve` as a child process, with its outputs in a temporary
/// folder.
struct ServeChild {
    child: tokio::process::Child,
    pid: Option<u32>,
    url: String,
    out: PathBuf,
}

impl ServeChild {
    async fn start(
        exe: Option<&std::path::Path>,
        scenario: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let exe = match exe {
            Some(exe) => exe.to_owned(),
            None => std::env::current_exe().context("finding this executable")?,
        };
        let out = std::env::temp_dir().join(format!("mcc-bench-serve-{}", std::process::id()));
        let mut child = tokio::process::Command::new(&exe)
            .arg("serve")
            .arg(scenario)
            .args(["--listen", "127.0.0.1:0", "--out"])
            .arg(&out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} serve", exe.display()))?;
        let stdout = child.stdout.take().context("serve's stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let address = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = line.strip_prefix("listening on ") {
                    return Some(address.trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .context("mcc-emu serve stopped, or printed no address within 30 s")?;
        Ok(Self {
            pid: child.id(),
            child,
            url: format!("http://{address}"),
            out,
        })
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.out);
    }
}
