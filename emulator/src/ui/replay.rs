//! The feed of a finished run, replayed from its output folder
//! (`mcc-emu replay DIR`, and `mcc-emu run --ui` on the virtual clock,
//! which replays the folder it has just written).
//!
//! handovers.csv and migrations.csv become the events `StreamEvents` would
//! have sent (through the same conversion, [`to_wire`]); between a
//! migration's start and end the phases are placed by its bytes (pre-copy
//! rounds, the switch, the push) since the files hold their sizes, not
//! their times. requests.csv is read row by row as time passes (never
//! whole), and positions come from the scenario's traces. Paced on the
//! wall clock at `speed` scenario seconds per wall second.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use mcc_proto::v1::{self, event::Kind};

use super::feed::Feed;
use super::live::FRAME;
use super::messages::{self, FrameDevice, FrameRequest, MAX_FRAME_REQUESTS, RunInfo};
use crate::engine::world::World;
use crate::realclock::EdgeEvent;
use crate::serve::events::{EventContext, to_wire};
use crate::serve::input;

/// A finished run, ready to replay (with, for a comparison, the other
/// combinations' requests beside it for the delay chart).
pub struct Replay {
    /// Wire events in time order.
    events: Vec<v1::Event>,
    requests: RequestRows,
    /// The other combinations of a comparison, in `info.series` order
    /// after the first: only their requests are replayed.
    others: Vec<RequestRows>,
    /// What the page is told about the run.
    pub info: RunInfo,
}

/// A run's requests.csv, read row by row as the replay's time reaches it
/// (never whole: the default scenario's is 1 GB).
struct RequestRows {
    reader: csv::Reader<File>,
    path: PathBuf,
    columns: RequestColumns,
    row: csv::StringRecord,
    /// A row read but not sent yet.
    pending: Option<csv::StringRecord>,
    line: u64,
    done: bool,
}

impl RequestRows {
    fn open(dir: &Path) -> anyhow::Result<Self> {
        let (mut reader, path) = open(dir, "requests.csv")?;
        let headers = reader.headers()?.clone();
        let col = |c: &str| column(&headers, c, &path);
        let columns = RequestColumns {
            time: col("time_s")?,
            device: col("device")?,
            host: col("host")?,
            total: col("total_ms")?,
            outcome: col("outcome")?,
        };
        Ok(Self {
            reader,
            path,
            columns,
            row: csv::StringRecord::new(),
            pending: None,
            line: 1,
            done: false,
        })
    }

    /// Hands `each` every row sent at or before `now_s` not handed yet,
    /// with its send time and line.
    fn until(
        &mut self,
        now_s: f64,
        mut each: impl FnMut(&csv::StringRecord, f64, u64) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        loop {
            let record = match self.pending.take() {
                Some(r) => r,
                None => {
                    self.line += 1;
                    let more = self
                        .reader
                        .read_record(&mut self.row)
                        .with_context(|| format!("{} line {}", self.path.display(), self.line))?;
                    if !more {
                        self.done = true;
                        return Ok(());
                    }
                    self.row.clone()
                }
            };
            let sent_s = seconds(&record[self.columns.time], &self.path, self.line)?;
            if sent_s > now_s {
                self.pending = Some(record);
                return Ok(());
            }
            each(&record, sent_s, self.line)?;
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct RequestColumns {
    time: usize,
    device: usize,
    host: usize,
    total: usize,
    outcome: usize,
}

/// The file that marks a folder `mcc-emu compare` (or `sweep`) wrote.
pub const COMPARISON: &str = "comparison.json";

/// Position of `name` in `headers`, or an error naming the file.
fn column(headers: &csv::StringRecord, name: &str, file: &Path) -> anyhow::Result<usize> {
    headers
        .iter()
        .position(|h| h == name)
        .with_context(|| format!("{}: no column `{name}`", file.display()))
}

fn open(dir: &Path, name: &str) -> anyhow::Result<(csv::Reader<File>, PathBuf)> {
    let path = dir.join(name);
    let file = File::open(&path).with_context(|| {
        format!(
            "{}: cannot open it (is {} the output folder of a run?)",
            path.display(),
            dir.display()
        )
    })?;
    Ok((csv::Reader::from_reader(file), path))
}

fn seconds(text: &str, path: &Path, line: u64) -> anyhow::Result<f64> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .with_context(|| {
            format!(
                "{} line {line}: `{text}` is not a time in seconds",
                path.display()
            )
        })
}

impl Replay {
    /// Reads the folder `dir` a run wrote, against the `world` it ran on.
    /// Every device and host the files name must be in the world.
    pub fn load(dir: &Path, world: &World, mode: &str, speed: f64) -> anyhow::Result<Self> {
        let summary_path = dir.join("summary.json");
        let summary: serde_json::Value = serde_json::from_reader(
            File::open(&summary_path)
                .with_context(|| format!("{}: cannot open it", summary_path.display()))?,
        )
        .with_context(|| format!("{}: not JSON", summary_path.display()))?;
        let text = |key: &str| summary[key].as_str().unwrap_or("").to_owned();
        let technique_name = text("technique");
        let technique = mcc_cloudlet::migration::Technique::from_name(&technique_name)
            .map(input::technique_code)
            .unwrap_or(0);
        let info = RunInfo {
            scenario: String::new(),
            mode: mode.to_owned(),
            policy: text("policy"),
            technique: technique_name,
            speed,
            duration_s: summary["sim_duration_s"].as_f64().unwrap_or(0.0),
            series: Vec::new(),
        };
        let context = EventContext {
            policy: info.policy.clone(),
            technique,
        };
        let devices: BTreeMap<&str, ()> = world
            .devices
            .iter()
            .map(|d| (d.name.as_str(), ()))
            .collect();
        let aps: BTreeMap<&str, ()> = world
            .access_points
            .iter()
            .map(|a| (a.name.as_str(), ()))
            .collect();
        let hosts: BTreeMap<&str, ()> = world
            .cloudlets
            .iter()
            .map(|c| (c.name.as_str(), ()))
            .collect();
        let mut timed: Vec<(u64, v1::Event)> = Vec::new();
        let ns = |s: f64| (s * 1e9).round() as u64;

        let (mut reader, path) = open(dir, "handovers.csv")?;
        let headers = reader.headers()?.clone();
        let [time, device, from, to] =
            ["time_s", "device", "from_ap", "to_ap"].map(|c| column(&headers, c, &path));
        let (time, device, from, to) = (time?, device?, from?, to?);
        for (i, row) in reader.records().enumerate() {
            let line = i as u64 + 2;
            let row = row.with_context(|| format!("{} line {line}", path.display()))?;
            let t = seconds(&row[time], &path, line)?;
            if !devices.contains_key(&row[device]) {
                bail!(
                    "{} line {line}: device `{}` is not in this scenario; replay the folder \
                     with the scenario the run used",
                    path.display(),
                    &row[device]
                );
            }
            for ap in [&row[from], &row[to]] {
                if !ap.is_empty() && !aps.contains_key(ap) {
                    bail!(
                        "{} line {line}: access point `{ap}` is not in this scenario",
                        path.display()
                    );
                }
            }
            let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            let event = EdgeEvent::Handover {
                time_ns: ns(t),
                device: row[device].to_owned(),
                from: opt(&row[from]),
                to: opt(&row[to]),
            };
            timed.extend(to_wire(&event, &context).into_iter().map(|e| (ns(t), e)));
        }

        let (mut reader, path) = open(dir, "migrations.csv")?;
        let headers = reader.headers()?.clone();
        let col = |c: &str| column(&headers, c, &path);
        let (time, vm, from, to, reason, total) = (
            col("time_s")?,
            col("vm")?,
            col("from")?,
            col("to")?,
            col("reason")?,
            col("total_ms")?,
        );
        let (downtime, bytes, pre, stop, post, rounds, failure) = (
            col("downtime_ms")?,
            col("bytes_total")?,
            col("bytes_precopy")?,
            col("bytes_stop")?,
            col("bytes_postcopy")?,
            col("rounds")?,
            col("failure")?,
        );
        for (i, row) in reader.records().enumerate() {
            let line = i as u64 + 2;
            let row = row.with_context(|| format!("{} line {line}", path.display()))?;
            let start = seconds(&row[time], &path, line)?;
            let total_s = seconds(&row[total], &path, line)? / 1e3;
            for host in [&row[from], &row[to]] {
                if !hosts.contains_key(host) {
                    bail!(
                        "{} line {line}: cloudlet `{host}` is not in this scenario",
                        path.display()
                    );
                }
            }
            let number = |c: usize| row[c].parse::<f64>().unwrap_or(0.0);
            let (vm, from, to) = (row[vm].to_owned(), row[from].to_owned(), row[to].to_owned());
            let started = EdgeEvent::MigrationStarted {
                time_ns: ns(start),
                vm: vm.clone(),
                from: from.clone(),
                to: to.clone(),
                reason: match &row[reason] {
                    "handover" => "handover",
                    "periodic" => "periodic",
                    _ => "replayed",
                },
            };
            timed.extend(
                to_wire(&started, &context)
                    .into_iter()
                    .map(|e| (ns(start), e)),
            );
            // The phases, placed by the share of bytes each one sent.
            let all = number(bytes).max(1.0);
            let switch_s = start + total_s * (number(pre) + number(stop)) / all;
            let mut phase = |at: f64, name: &str, round: u32| {
                timed.push((
                    ns(at),
                    v1::Event {
                        emu_time_ns: ns(at) as i64,
                        kind: Some(Kind::MigrationPhase(v1::MigrationPhaseEvent {
                            migration_id: format!("{vm}:{from}->{to}"),
                            vm_id: vm.clone(),
                            technique,
                            phase: name.to_owned(),
                            round,
                            from_host_id: from.clone(),
                            to_host_id: to.clone(),
                            ..Default::default()
                        })),
                    },
                ))
            };
            if number(pre) > 0.0 {
                phase(start, "precopy", number(rounds) as u32);
            }
            if number(stop) > 0.0 {
                phase(start + total_s * number(pre) / all, "stop", 0);
            }
            phase(switch_s, "switch", 0);
            if number(post) > 0.0 {
                phase(switch_s, "postcopy", 0);
            }
            let end = start + total_s;
            let finished = if row[failure].is_empty() {
                EdgeEvent::MigrationDone {
                    time_ns: ns(end),
                    vm,
                    from,
                    to,
                    downtime_ms: number(downtime),
                    bytes: number(bytes) as u64,
                    wall_ms: 0.0,
                }
            } else {
                EdgeEvent::MigrationFailed {
                    time_ns: ns(end),
                    vm,
                    from,
                    to,
                    error: row[failure].to_owned(),
                }
            };
            timed.extend(
                to_wire(&finished, &context)
                    .into_iter()
                    .map(|e| (ns(end), e)),
            );
        }
        // Stable: a start stays before its phases at the same time.
        timed.sort_by_key(|(t, _)| *t);

        Ok(Self {
            events: timed.into_iter().map(|(_, e)| e).collect(),
            requests: RequestRows::open(dir)?,
            others: Vec::new(),
            info,
        })
    }

    /// Reads the folder `dir` that `mcc-emu compare` wrote: the
    /// combination `show` (a `<policy>-<technique>` label of
    /// comparison.json; the first without it) is drawn on the map, and
    /// every combination's requests feed the delay chart, one line each.
    /// With `--runs` > 1, each combination's first run.
    pub fn load_comparison(
        dir: &Path,
        world: &World,
        mode: &str,
        speed: f64,
        show: Option<&str>,
    ) -> anyhow::Result<Self> {
        let path = dir.join(COMPARISON);
        let comparison: serde_json::Value = serde_json::from_reader(
            File::open(&path).with_context(|| format!("{}: cannot open it", path.display()))?,
        )
        .with_context(|| format!("{}: not JSON", path.display()))?;
        let runs = comparison["runs"].as_u64().unwrap_or(1);
        let rows = comparison["policies"]
            .as_array()
            .filter(|rows| !rows.is_empty())
            .with_context(|| format!("{}: no `policies` rows", path.display()))?;
        let mut labels = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let (Some(policy), Some(technique)) =
                (row["policy"].as_str(), row["technique"].as_str())
            else {
                bail!(
                    "{}: policies[{i}] has no `policy` and `technique`",
                    path.display()
                );
            };
            let label = format!("{policy}-{technique}");
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        let folder = |label: &str| {
            if runs > 1 {
                dir.join(format!("{label}-run1"))
            } else {
                dir.join(label)
            }
        };
        let shown = match show {
            None => labels[0].clone(),
            Some(label) if labels.iter().any(|l| l == label) => label.to_owned(),
            Some(label) => bail!(
                "--show {label}: {} compares {}",
                path.display(),
                labels.join(", ")
            ),
        };
        let mut replay = Self::load(&folder(&shown), world, mode, speed)?;
        let mut series = vec![shown.clone()];
        for label in labels.iter().filter(|l| **l != shown) {
            replay.others.push(RequestRows::open(&folder(label))?);
            series.push(label.clone());
        }
        replay.info.series = series;
        Ok(replay)
    }

    /// Publishes the run on `feed`, paced at `speed` from the moment the
    /// first page reads it, until its end or until `stop` is set; then a
    /// `{"type":"end"}`.
    pub fn play(
        mut self,
        world: &World,
        feed: &Feed,
        speed: f64,
        stop: &AtomicBool,
    ) -> anyhow::Result<()> {
        let device_index: BTreeMap<&str, usize> = world
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.as_str(), i))
            .collect();
        let vm_device: BTreeMap<String, usize> = world
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| (crate::engine::world::vm_name(&d.name), i))
            .collect();
        let ap_index: BTreeMap<&str, u32> = world
            .access_points
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.as_str(), i as u32))
            .collect();
        let host_index: BTreeMap<&str, u32> = world
            .cloudlets
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i as u32))
            .collect();
        let n = world.devices.len();
        let mut ap: Vec<Option<u32>> = vec![None; n];
        let mut host: Vec<Option<u32>> = vec![None; n];
        let mut migrating: Vec<Option<u32>> = vec![None; n];
        // A device's first access point is where its first hand-over leaves.
        for event in &self.events {
            if let Some(Kind::Handover(h)) = &event.kind
                && let Some(&d) = device_index.get(h.device_id.as_str())
                && ap[d].is_none()
            {
                ap[d] = ap_index.get(h.from_access_point_id.as_str()).copied();
            }
        }
        let duration_s = self.info.duration_s.max(
            self.events
                .last()
                .map_or(0.0, |e| e.emu_time_ns as f64 / 1e9),
        );
        // The replay starts with the first page, so that nobody misses it.
        while feed.readers() == 0 {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            std::thread::sleep(FRAME / 5);
        }
        let started = Instant::now();
        let mut next_event = 0;
        let c = self.requests.columns;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let now_s = (started.elapsed().as_secs_f64() * speed).min(duration_s);
            let now_ns = (now_s * 1e9) as i64;
            while let Some(event) = self
                .events
                .get(next_event)
                .filter(|e| e.emu_time_ns <= now_ns)
            {
                next_event += 1;
                match &event.kind {
                    Some(Kind::Handover(h)) => {
                        if let Some(&d) = device_index.get(h.device_id.as_str()) {
                            ap[d] = ap_index.get(h.to_access_point_id.as_str()).copied();
                        }
                    }
                    Some(Kind::MigrationPhase(m)) => {
                        if let Some(&d) = vm_device.get(&m.vm_id) {
                            match m.phase.as_str() {
                                "start" => {
                                    migrating[d] = host_index.get(m.to_host_id.as_str()).copied()
                                }
                                "done" => {
                                    migrating[d] = None;
                                    host[d] = host_index.get(m.to_host_id.as_str()).copied();
                                }
                                "aborted" => migrating[d] = None,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
                if let Some(json) = messages::event_json(event) {
                    feed.publish(json);
                }
            }
            let mut requests = Vec::new();
            let mut skipped = 0u64;
            let requests_path = self.requests.path.clone();
            self.requests.until(now_s, |record, sent_s, line| {
                let Some(&d) = device_index.get(&record[c.device]) else {
                    bail!(
                        "{} line {line}: device `{}` is not in this scenario; replay the folder \
                         with the scenario the run used",
                        requests_path.display(),
                        &record[c.device]
                    );
                };
                let h = host_index.get(&record[c.host]).copied();
                if h.is_some() && migrating[d].is_none() {
                    host[d] = h;
                }
                if requests.len() < MAX_FRAME_REQUESTS {
                    requests.push(FrameRequest {
                        device: record[c.device].to_owned(),
                        sent_s,
                        delay_ms: record[c.total].parse().unwrap_or(0.0),
                        host: h,
                        outcome: record[c.outcome].to_owned(),
                    });
                } else {
                    skipped += 1;
                }
                Ok(())
            })?;
            // The other combinations: what their delay chart lines need.
            let mut others = Vec::with_capacity(self.others.len());
            for rows in &mut self.others {
                let c = rows.columns;
                let mut answered = Vec::new();
                rows.until(now_s, |record, sent_s, _| {
                    if !matches!(&record[c.outcome], "ok" | "timed_out") {
                        return Ok(());
                    }
                    if answered.len() < MAX_FRAME_REQUESTS {
                        answered.push([sent_s, record[c.total].parse().unwrap_or(0.0)]);
                    } else {
                        skipped += 1;
                    }
                    Ok(())
                })?;
                others.push(answered);
            }
            feed.count_dropped(skipped);
            let devices: Vec<FrameDevice> = world
                .devices
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let p = d.trace.position_at(now_s, d.edge);
                    FrameDevice {
                        name: d.name.clone(),
                        lat: p.lat_deg,
                        lon: p.lon_deg,
                        ap: ap[i],
                        host: host[i],
                        migrating_to: migrating[i],
                    }
                })
                .collect();
            feed.publish(messages::frame_json(
                now_s, &devices, None, &requests, skipped, &others,
            ));
            let read = self.requests.done && self.others.iter().all(|r| r.done);
            if now_s >= duration_s && read && next_event >= self.events.len() {
                feed.publish(r#"{"type":"end"}"#.to_owned());
                return Ok(());
            }
            std::thread::sleep(FRAME);
        }
    }
}
