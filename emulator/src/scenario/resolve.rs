//! From a scenario file to a runnable [`Scenario`]: every value checked,
//! every file read, every name resolved to an index.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mcc_cloudlet::memory::{DirtyModel, VmProfile};
use mcc_cloudlet::migration::{
    CapScope, FaultChannel, MAX_CAP_WINDOW, MigrationConfig, PassEnd, Technique,
    cap_window_is_valid,
};
use mcc_mobile_client::readers::{
    CsvPreset, ReadOptions, TraceFormat, csv::parse_csv, gpx::parse_gpx, plt::parse_plt,
};
use mcc_mobile_client::trace::TimeFormat;
use mcc_mobile_client::trace::fleet::{self, FleetOptions, GapRule};
use mcc_mobile_client::{Edge, LatLon, RandomWaypoint, Trace, WaypointArea};

use super::limits;
use super::network::{self, NetworkTiers};
use super::schema::{DeviceGroup, Position, Quantity, ScenarioFile, Workload as SchemaWorkload};
use super::source::FileSource;
use crate::engine::from_topology::network_from_topology_with;
use crate::engine::profiles;
use crate::engine::world::{Dist, RequestSizes};
use crate::engine::{Arrivals, Device, MigrationSettings, RunSettings, Workload, World};
use crate::placement;
use crate::topology::{self, LinkDefaults, Loaded, SiteRole};

/// A scenario ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The experiment's name.
    pub name: String,
    /// Where outputs go unless the command line says otherwise.
    pub output: PathBuf,
    /// The world.
    pub world: World,
    /// How the run goes.
    pub settings: RunSettings,
    /// The placement policy's name.
    pub policy: String,
    /// Every policy's settings (from the `[placement.<name>]` tables).
    pub policy_configs: placement::PolicyConfigs,
    /// Things the loaders had to work around.
    pub warnings: Vec<String>,
    /// For the real clock's remote nodes: the gRPC address of each
    /// cloudlet's node, by cloudlet index (`None` where the file gives none).
    pub node_addresses: Vec<Option<String>>,
    /// What the real clock does with the VMs of a node that dies
    /// (`[placement] on_node_loss`).
    pub on_node_loss: super::schema::OnNodeLoss,
    /// How long a VM restarted after its node's loss boots before it
    /// answers, in scenario nanoseconds (`[placement] restart_boot_ms`).
    pub restart_boot_ns: u64,
    /// The network's tiers: moved backbone nodes, the generated operator
    /// network, the breakout, the remote cloud.
    pub network: NetworkTiers,
    /// The energy model's parameters (`[energy]`).
    pub energy: crate::energy::EnergyConfig,
    /// Each backbone link's class for the energy model, by link index.
    pub link_classes: Vec<crate::energy::LinkClass>,
}

impl Scenario {
    /// A meter that works out the energy of this scenario's records.
    pub fn energy_meter(&self) -> crate::energy::EnergyMeter {
        crate::energy::EnergyMeter::new(self.energy.clone(), &self.world, &self.link_classes)
    }
}

/// The longest boot `[placement] restart_boot_ms` accepts: ten minutes.
const MAX_RESTART_BOOT_MS: f64 = 600_000.0;

/// A scenario that cannot be used: which file, and what is wrong with which key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ScenarioError {
    /// The scenario file (or the file it names that failed).
    pub file: String,
    /// What is wrong, naming the key.
    pub message: String,
}

/// Parses and resolves the scenario text `text` of file `file`, reading the
/// files it names from `source`.
pub fn load(file: &Path, text: &str, source: &dyn FileSource) -> Result<Scenario, ScenarioError> {
    let scenario_file = parse(file, text)?;
    Resolver {
        file: file.display().to_string(),
        source,
        read_warnings: Default::default(),
    }
    .resolve(&scenario_file)
}

/// The network of scenario text `text` alone (backbone, positions, sites,
/// operator tiers, remote cloud), without devices or the rest: what
/// `mcc-emu inspect topology --scenario` prints.
pub fn load_topology(
    file: &Path,
    text: &str,
    source: &dyn FileSource,
) -> Result<(Loaded, NetworkTiers), ScenarioError> {
    let scenario_file = parse(file, text)?;
    let resolver = Resolver {
        file: file.display().to_string(),
        source,
        read_warnings: Default::default(),
    };
    let mut tiers = NetworkTiers::default();
    let mut warnings = Vec::new();
    let loaded = resolver.topology(&scenario_file, &mut warnings, &mut tiers)?;
    let (_, breakout) = network::breakout(&loaded.topology, scenario_file.user_plane.as_ref())
        .map_err(|m| resolver.error(m))?;
    tiers.breakout = breakout;
    Ok((loaded, tiers))
}

/// Parses the TOML of a scenario file; an error names the line, column and key.
pub fn parse(file: &Path, text: &str) -> Result<ScenarioFile, ScenarioError> {
    toml::from_str(text).map_err(|err| {
        let place = err
            .span()
            .and_then(|span| text.get(..span.start))
            .map(|before| {
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(":{line}:{column}")
            })
            .unwrap_or_default();
        ScenarioError {
            file: format!("{}{place}", file.display()),
            message: err.message().trim_end().replace('\n', " "),
        }
    })
}

struct Resolver<'a> {
    file: String,
    source: &'a dyn FileSource,
    /// What reading the trace files had to work around (added to the
    /// scenario's warnings).
    read_warnings: std::cell::RefCell<Vec<String>>,
}

fn position(key: &str, p: Position) -> Result<LatLon, String> {
    LatLon::new(p.lat, p.lon).map_err(|e| format!("key `{key}`: {e}"))
}

impl Resolver<'_> {
    fn error(&self, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.clone(),
            message: message.into(),
        }
    }

    /// A positive, finite number, or an error naming `key`.
    fn positive(&self, key: &str, value: f64) -> Result<f64, ScenarioError> {
        if value.is_finite() && value > 0.0 {
            Ok(value)
        } else {
            Err(self.error(format!("key `{key}`: must be a number > 0, got {value}")))
        }
    }

    /// A finite number ≥ 0, or an error naming `key`.
    fn non_negative(&self, key: &str, value: f64) -> Result<f64, ScenarioError> {
        if value.is_finite() && value >= 0.0 {
            Ok(value)
        } else {
            Err(self.error(format!("key `{key}`: must be a number >= 0, got {value}")))
        }
    }

    fn resolve(&self, f: &ScenarioFile) -> Result<Scenario, ScenarioError> {
        let duration_s = self.positive("duration_s", f.duration_s)?;
        let sla_ms = self.positive("sla_ms", f.sla_ms)?;
        let timeout_ms = self.positive("request_timeout_ms", f.request_timeout_ms)?;
        let step_s = self.positive("mobility_step_s", f.mobility_step_s)?;
        limits::check_time(duration_s, step_s).map_err(|m| self.error(m))?;
        // Keys that need no network first, so that a mistake in them is
        // reported before a large layout's setup, not after it.
        let migration = self.migration(f)?;
        let (workloads, group_workload) = self.workloads(f)?;
        let mut warnings = Vec::new();

        let mut tiers = NetworkTiers::default();
        let loaded = self.topology(f, &mut warnings, &mut tiers)?;
        let (breakout, breakout_label) = network::breakout(&loaded.topology, f.user_plane.as_ref())
            .map_err(|m| self.error(m))?;
        tiers.breakout = breakout_label;
        let mut network = network_from_topology_with(&loaded.topology, breakout)
            .map_err(|e| self.error(format!("topology: {e}")))?;
        let cloud_index = tiers.cloud.as_ref().and_then(|c| {
            network
                .cloudlets
                .iter()
                .position(|cloudlet| cloudlet.name == c.id)
        });
        if network.cloudlets.is_empty() {
            return Err(self.error("topology: it has no cloudlet to host VMs"));
        }
        if network.access_points.is_empty() {
            return Err(self.error("topology: it has no access point for devices to attach to"));
        }
        let ap = &f.access_points;
        for access_point in &mut network.access_points {
            if let Some(r) = ap.coverage_radius_m {
                access_point.coverage_radius_m =
                    self.positive("access_points.coverage_radius_m", r)?;
            }
            if let Some(ms) = ap.wireless_latency_ms {
                access_point.wireless_latency_ns =
                    (self.non_negative("access_points.wireless_latency_ms", ms)? * 1e6) as u64;
            }
            if let Some(mbps) = ap.wireless_rate_mbps {
                access_point.wireless_rate_bps =
                    self.positive("access_points.wireless_rate_mbps", mbps)? * 1e6;
            }
        }
        for (i, cloudlet) in network.cloudlets.iter_mut().enumerate() {
            if Some(i) == cloud_index {
                continue; // `[cloud]` sets the remote cloud's capacity.
            }
            if let Some(cores) = f.cloudlets.cpu_cores {
                if cores == 0 {
                    return Err(self.error("key `cloudlets.cpu_cores`: must be at least 1"));
                }
                cloudlet.cpu_cores = cores;
            }
            if let Some(mib) = f.cloudlets.memory_mib {
                cloudlet.memory_bytes = mib << 20;
            }
        }
        let radio = self.radio(f, &mut network.access_points)?;
        let node_addresses = self.node_addresses(f, &network.cloudlets)?;
        let hysteresis_m = self.non_negative(
            "access_points.hysteresis_m",
            ap.hysteresis_m
                .unwrap_or(mcc_mobile_client::attach::DEFAULT_HYSTERESIS_M),
        )?;

        let devices = self.devices(f, duration_s, &group_workload)?;
        let rates: Vec<f64> = devices
            .iter()
            .map(|d| workloads[d.workload as usize].rate_hz)
            .collect();
        limits::check_run(duration_s, duration_s / step_s, &rates).map_err(|m| self.error(m))?;
        if let (Some(i), Some(report)) = (cloud_index, tiers.cloud.as_mut()) {
            // An elastic region: by default one core per device and room for
            // every device's VM.
            let cloud = &mut network.cloudlets[i];
            if tiers.cloud_cores_default {
                cloud.cpu_cores = (devices.len() as u32).max(1);
            }
            if tiers.cloud_memory_default {
                let vm = migration.vm_memory_bytes();
                cloud.memory_bytes = vm.saturating_mul(devices.len().max(1) as u64);
            }
            report.cpu_cores = cloud.cpu_cores;
            report.memory_mib = cloud.memory_bytes >> 20;
        }
        let p = &f.placement;
        let policy_configs = placement::PolicyConfigs {
            never: p.never.clone(),
            nearest: p.nearest.clone(),
            threshold: p.threshold.clone(),
            least_loaded: p.least_loaded.clone(),
            ga: p.ga.clone(),
            optimal: p.optimal.clone(),
        };
        placement::build(&p.policy, &policy_configs).map_err(|e| {
            // A known policy with a bad setting: the error names its table.
            let table_prefix = format!("[placement.{}]: ", p.policy);
            match e.strip_prefix(&table_prefix) {
                Some(rest) => self.error(format!("key `placement.{}`: {rest}", p.policy)),
                None => self.error(format!("key `placement.policy`: {e}")),
            }
        })?;
        let horizon_s = self.non_negative("placement.horizon_s", p.horizon_s)?;
        let interval_s = self.non_negative("placement.interval_s", f.placement.interval_s)?;
        let boot_ms = self.non_negative("placement.restart_boot_ms", p.restart_boot_ms)?;
        if boot_ms > MAX_RESTART_BOOT_MS {
            return Err(self.error(format!(
                "key `placement.restart_boot_ms`: must be at most {MAX_RESTART_BOOT_MS} (10 minutes), got {boot_ms}"
            )));
        }

        let energy = super::energy::energy_config(&f.energy).map_err(|e| self.error(e))?;
        warnings.extend(self.read_warnings.take());
        let s_to_ns = |s: f64| (s * 1e9).round() as u64;
        Ok(Scenario {
            name: f.name.clone(),
            output: PathBuf::from(&f.output),
            world: World {
                access_points: network.access_points,
                cloudlets: network.cloudlets,
                links: network.links,
                paths: network.paths,
                devices,
                workloads,
                radio,
            },
            settings: RunSettings {
                duration_ns: s_to_ns(duration_s),
                seed: f.seed,
                sla_ns: s_to_ns(sla_ms / 1e3),
                timeout_ns: s_to_ns(timeout_ms / 1e3),
                mobility_step_ns: s_to_ns(step_s),
                hysteresis_m,
                placement_interval_ns: (interval_s > 0.0).then(|| s_to_ns(interval_s)),
                placement_on_handover: f.placement.on_handover,
                placement_horizon_ns: s_to_ns(horizon_s),
                migration,
            },
            policy: f.placement.policy.clone(),
            policy_configs,
            warnings,
            node_addresses,
            on_node_loss: f.placement.on_node_loss,
            restart_boot_ns: s_to_ns(boot_ms / 1e3),
            network: tiers,
            energy,
            link_classes: network.link_classes,
        })
    }

    /// `[radio]`: the radio model over the access points, whose coverage
    /// radius becomes the link budget's unless `[access_points]` sets one.
    fn radio(
        &self,
        f: &ScenarioFile,
        access_points: &mut [crate::engine::AccessPoint],
    ) -> Result<Option<crate::radio::RadioModel>, ScenarioError> {
        let Some(section) = &f.radio else {
            return Ok(None);
        };
        let config = super::radio::radio_config(section).map_err(|e| self.error(e))?;
        if f.access_points.coverage_radius_m.is_none() {
            let radius = config.coverage_radius_m().ok_or_else(|| {
                self.error(format!(
                    "key `radio`: the link budget reaches no device (the largest path loss it allows, {:.1} dB, is below the loss at 10 m)",
                    config.max_path_loss_db()
                ))
            })?;
            for ap in access_points.iter_mut() {
                ap.coverage_radius_m = radius;
            }
        }
        let sites = access_points.iter().map(|ap| ap.position).collect();
        Ok(Some(crate::radio::RadioModel::new(config, sites)))
    }

    /// `[cloudlets.addresses]`: every key a cloudlet of the topology, every
    /// value an `http://host:port` address.
    fn node_addresses(
        &self,
        f: &ScenarioFile,
        cloudlets: &[crate::engine::Cloudlet],
    ) -> Result<Vec<Option<String>>, ScenarioError> {
        let mut addresses = vec![None; cloudlets.len()];
        for (id, address) in &f.cloudlets.addresses {
            let key = format!("cloudlets.addresses.{id}");
            let index = cloudlets
                .iter()
                .position(|c| &c.name == id)
                .ok_or_else(|| {
                    self.error(format!("key `{key}`: the topology has no cloudlet {id:?}"))
                })?;
            let rest = address.strip_prefix("http://").ok_or_else(|| {
                self.error(format!(
                    "key `{key}`: expected an address like http://10.0.0.2:50051, got {address:?}"
                ))
            })?;
            let port_ok = rest
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                return Err(self.error(format!(
                    "key `{key}`: expected an address like http://10.0.0.2:50051 (host and port), got {address:?}"
                )));
            }
            addresses[index] = Some(address.clone());
        }
        Ok(addresses)
    }

    fn read(&self, key: &str, name: &str) -> Result<(PathBuf, String), ScenarioError> {
        let text = self
            .source
            .read(name)
            .map_err(|e| self.error(format!("key `{key}`: cannot read {e}")))?;
        Ok((self.source.path_of(name), text))
    }

    fn topology(
        &self,
        f: &ScenarioFile,
        warnings: &mut Vec<String>,
        tiers: &mut NetworkTiers,
    ) -> Result<Loaded, ScenarioError> {
        let mut defaults = LinkDefaults::default();
        if let Some(gbps) = f.topology.link_capacity_gbps {
            defaults.capacity_bps = self.positive("topology.link_capacity_gbps", gbps)? * 1e9;
        }
        if let Some(ms) = f.topology.per_hop_latency_ms {
            defaults.per_hop_latency_ms = self.non_negative("topology.per_hop_latency_ms", ms)?;
        }
        let load_error = |e: topology::LoadError| ScenarioError {
            file: self.file.clone(),
            message: format!("topology: {e}"),
        };
        let mut loaded = match &f.topology.file {
            Some(name) => {
                let (path, text) = self.read("topology.file", name)?;
                let ext = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase)
                    .unwrap_or_default();
                let loaded = match ext.as_str() {
                    "toml" => topology::toml_format::parse_toml(&text, &path),
                    "graphml" | "xml" => topology::graphml::parse_graphml(&text, &path, &defaults),
                    _ => {
                        return Err(self.error(format!(
                            "key `topology.file`: {name}: unknown topology file type (use .toml or .graphml)"
                        )));
                    }
                };
                let mut loaded = loaded.map_err(load_error)?;
                if !f.topology.positions.is_empty() {
                    if ext == "toml" {
                        return Err(self.error(
                            "key `topology.positions`: only for a GraphML `topology.file` (a native TOML file gives its nodes' positions and may state its links' latencies itself)",
                        ));
                    }
                    tiers.moved_nodes = network::apply_positions(
                        &mut loaded.topology,
                        &f.topology.positions,
                        &defaults,
                    )
                    .map_err(|m| self.error(m))?;
                }
                Some(loaded)
            }
            None if !f.topology.positions.is_empty() => {
                return Err(self.error(
                    "key `topology.positions`: moves nodes of a `topology.file`, and there is none",
                ));
            }
            None => None,
        };
        for (i, set) in f.topology.sites.iter().enumerate() {
            let key = format!("topology.sites[{i}]");
            let (path, text) = self.read(&format!("{key}.file"), &set.file)?;
            let mut sites = topology::sites::parse_sites(&text, &path).map_err(load_error)?;
            if let Some(to) = set.relocate_to {
                let to = position(&format!("{key}.relocate_to"), to).map_err(|m| self.error(m))?;
                sites = sites
                    .relocated(to)
                    .map_err(|e| self.error(format!("key `{key}.relocate_to`: {e}")))?;
            }
            let role = set
                .role
                .as_deref()
                .map(|r| r.parse::<SiteRole>())
                .transpose()
                .map_err(|e| self.error(format!("key `{key}.role`: {e}")))?;
            loaded = Some(
                match loaded {
                    Some(backbone) => {
                        topology::combine::attach_sites(backbone, &sites, role, &defaults)
                    }
                    None => topology::combine::sites_topology(&sites, role, &defaults),
                }
                .map_err(load_error)?,
            );
        }
        let mut loaded =
            loaded.ok_or_else(|| self.error("key `topology`: give a `file`, `sites`, or both"))?;
        if let Some(section) = &f.operator {
            tiers.operator = Some(
                network::apply_operator(&mut loaded.topology, section)
                    .map_err(|m| self.error(m))?,
            );
        }
        if let Some(section) = &f.cloud {
            tiers.cloud = Some(
                network::apply_cloud(&mut loaded.topology, section, &defaults)
                    .map_err(|m| self.error(m))?,
            );
            tiers.cloud_cores_default = section.cpu_cores.is_none();
            tiers.cloud_memory_default = section.memory_mib.is_none();
        }
        warnings.extend(loaded.warnings.iter().cloned());
        Ok(loaded)
    }

    fn devices(
        &self,
        f: &ScenarioFile,
        duration_s: f64,
        group_workload: &[u32],
    ) -> Result<Vec<Device>, ScenarioError> {
        if f.devices.is_empty() {
            return Err(self.error("key `devices`: the scenario has no device group"));
        }
        let mut devices = Vec::new();
        let mut taken = std::collections::BTreeSet::new();
        for (i, group) in f.devices.iter().enumerate() {
            let key = format!("devices[{i}]");
            let edge = match group.end.as_str() {
                "loop" => Edge::Loop,
                "hold" => Edge::Hold,
                other => {
                    return Err(self.error(format!(
                        "key `{key}.end`: {other:?} is not one of loop, hold"
                    )));
                }
            };
            if group.count == 0 {
                return Err(self.error(format!("key `{key}.count`: must be at least 1")));
            }
            let traces = self.group_traces(&key, group, duration_s, f.seed, i, devices.len())?;
            let origin_unix_s = self.time_origin(&key, group, &traces)?;
            let workload = group_workload.get(i).copied().unwrap_or(0);
            let first_of_group = devices.len();
            if group.random_waypoint.is_some() {
                // Each random-waypoint trace is its own device's.
                devices.extend(traces.into_iter().map(|(name, trace)| Device {
                    name,
                    trace,
                    edge,
                    workload,
                }));
                self.rename_repeats(&key, group, i, &mut devices[first_of_group..], &mut taken)?;
                continue;
            }
            limits::check_devices(
                &key,
                devices.len(),
                (traces.len() as u64).saturating_mul(u64::from(group.count)),
            )
            .map_err(|m| self.error(m))?;
            for (base_name, trace) in traces {
                for k in 0..group.count {
                    let trace = self.place_in_time(&key, group, &trace, k, origin_unix_s)?;
                    devices.push(Device {
                        name: format!("{base_name}#{k}"),
                        trace,
                        edge,
                        workload,
                    });
                }
            }
            self.rename_repeats(&key, group, i, &mut devices[first_of_group..], &mut taken)?;
        }
        Ok(devices)
    }

    /// Gives the devices of group `index` (`group_devices`) names no device
    /// before them has (`taken`, to which theirs are added): a name an earlier group already gave (the same
    /// trace file in two groups, say one profile each) gets `~PROFILE`
    /// (the group's profile), or `~gINDEX` without one.
    fn rename_repeats(
        &self,
        key: &str,
        group: &DeviceGroup,
        index: usize,
        group_devices: &mut [Device],
        taken: &mut std::collections::BTreeSet<String>,
    ) -> Result<(), ScenarioError> {
        let suffix = match &group.profile {
            Some(profile) => format!("~{profile}"),
            None => format!("~g{index}"),
        };
        for device in group_devices {
            if taken.contains(&device.name) {
                device.name.push_str(&suffix);
            }
            if !taken.insert(device.name.clone()) {
                return Err(self.error(format!(
                    "key `{key}`: device name {:?} is given twice; give the group a `profile` or use the trace once",
                    device.name
                )));
            }
        }
        Ok(())
    }

    /// The traces of one device group, each with a short name for outputs.
    fn group_traces(
        &self,
        key: &str,
        group: &DeviceGroup,
        duration_s: f64,
        seed: u64,
        index: usize,
        devices_so_far: usize,
    ) -> Result<Vec<(String, Trace)>, ScenarioError> {
        let transplant = group
            .transplant_to
            .map(|p| position(&format!("{key}.transplant_to"), p))
            .transpose()
            .map_err(|m| self.error(m))?;
        let mut traces = Vec::new();
        match (&group.trace, &group.random_waypoint) {
            (Some(pattern), None) => {
                let names = self
                    .source
                    .glob(pattern)
                    .map_err(|e| self.error(format!("key `{key}.trace`: {e}")))?;
                if names.is_empty() {
                    return Err(
                        self.error(format!("key `{key}.trace`: no file matches {pattern:?}"))
                    );
                }
                for name in names {
                    let (path, text) = self.read(&format!("{key}.trace"), &name)?;
                    let format = TraceFormat::from_path(&path).ok_or_else(|| {
                        self.error(format!(
                            "key `{key}.trace`: {name}: unknown trace file type (use .gpx, .plt or .csv)"
                        ))
                    })?;
                    let options = self.read_options(key, group)?;
                    let read = match format {
                        TraceFormat::Gpx => parse_gpx(&path, &text, &options),
                        TraceFormat::Plt => parse_plt(&path, &text, &options),
                        TraceFormat::Csv => parse_csv(&path, &text, &options),
                    }
                    .map_err(|e| self.error(format!("key `{key}.trace`: {e}")))?;
                    let skipped = read
                        .first()
                        .map_or(0, |t| t.cleaning().empty_traces_skipped);
                    if skipped > 0 {
                        self.read_warnings.borrow_mut().push(format!(
                            "key `{key}.trace`: {name}: {skipped} track(s) or route(s) without a \
                             point skipped"
                        ));
                    }
                    let stem = Path::new(&name)
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or("trace")
                        .to_string();
                    let several = read.len() > 1;
                    if let Some(selection) = &group.traces
                        && let Some(&bad) = selection.iter().find(|&&n| n == 0 || n > read.len())
                    {
                        return Err(self.error(format!(
                            "key `{key}.traces`: {name} holds {} trace(s); {bad} is not one of 1..={}",
                            read.len(),
                            read.len()
                        )));
                    }
                    let chosen =
                        |j: usize| group.traces.as_ref().is_none_or(|s| s.contains(&(j + 1)));
                    // (index in the file, trace): names keep the file's numbering.
                    let read: Vec<(usize, Trace)> = read
                        .into_iter()
                        .enumerate()
                        .filter(|(j, _)| chosen(*j))
                        .collect();
                    match self.fleet_options(key, group)? {
                        None => {
                            for (j, trace) in read {
                                let base = if several {
                                    format!("{stem}.{}", j + 1)
                                } else {
                                    stem.clone()
                                };
                                traces.push((safe_name(&base), trace));
                            }
                        }
                        Some(options) => {
                            let read = read.into_iter().map(|(_, t)| t).collect();
                            let (kept, _) = fleet::apply(read, &options)
                                .map_err(|e| self.error(format!("key `{key}`: {name}: {e}")))?;
                            if kept.is_empty() {
                                return Err(self.error(format!(
                                    "key `{key}`: {name}: no vehicle is left after `window` and `min_fixes`"
                                )));
                            }
                            // Fleet devices are named by vehicle: `stem.id`
                            // (and `@2`, ... for the pieces of a split one).
                            let file = path.display().to_string();
                            for trace in kept {
                                let rest = trace.name().strip_prefix(&file).unwrap_or("");
                                let base = match rest.strip_prefix('#') {
                                    Some(id) => format!("{stem}.{id}"),
                                    None => format!("{stem}{rest}"),
                                };
                                traces.push((safe_name(&base), trace));
                            }
                        }
                    }
                }
            }
            (None, Some(rw)) => {
                let centre = position(&format!("{key}.random_waypoint.center"), rw.center)
                    .map_err(|m| self.error(m))?;
                limits::check_devices(key, devices_so_far, u64::from(group.count))
                    .map_err(|m| self.error(m))?;
                for k in 0..group.count {
                    let model = RandomWaypoint {
                        area: WaypointArea::Circle {
                            centre,
                            radius_m: rw.radius_m,
                        },
                        speed_mps: rw.speed_mps,
                        pause_s: rw.pause_s,
                        duration_s,
                        seed: seed ^ ((index as u64) << 32) ^ u64::from(k),
                    };
                    let trace = model
                        .generate(format!("rwp{index}.{k}"))
                        .map_err(|e| self.error(format!("key `{key}.random_waypoint`: {e}")))?;
                    traces.push((format!("rwp{index}.{k}"), trace));
                }
            }
            (Some(_), Some(_)) => {
                return Err(self.error(format!(
                    "key `{key}`: give either `trace` or `random_waypoint`, not both"
                )));
            }
            (None, None) => {
                return Err(self.error(format!(
                    "key `{key}`: give a `trace` (file or glob) or a `random_waypoint` table"
                )));
            }
        }
        Ok(traces
            .into_iter()
            .map(|(n, t)| (n, transplant.map_or(t.clone(), |o| t.transplanted(o))))
            .collect())
    }

    /// How a group reads its trace files: the CSV preset `format` names.
    fn read_options(&self, key: &str, group: &DeviceGroup) -> Result<ReadOptions, ScenarioError> {
        let csv = group
            .format
            .as_deref()
            .map(CsvPreset::from_name)
            .transpose()
            .map_err(|e| self.error(format!("key `{key}.format`: {e}")))?
            .map(CsvPreset::options);
        Ok(ReadOptions {
            csv,
            ..ReadOptions::default()
        })
    }

    /// The group's fleet filters, `None` when it sets none (the traces as
    /// read, named as before).
    fn fleet_options(
        &self,
        key: &str,
        group: &DeviceGroup,
    ) -> Result<Option<FleetOptions>, ScenarioError> {
        let gap = GapRule::from_name(&group.gap)
            .map_err(|e| self.error(format!("key `{key}.gap`: {e}")))?;
        let window_unix_s = self.window(key, group)?;
        if let Some(g) = group.max_gap_s {
            self.positive(&format!("{key}.max_gap_s"), g)?;
        }
        let any = window_unix_s.is_some()
            || group.min_fixes > 1
            || group.max_gap_s.is_some()
            || group.format.is_some()
            || group.align != "each";
        Ok(any.then_some(FleetOptions {
            window_unix_s,
            min_fixes: group.min_fixes,
            max_gap_s: group.max_gap_s,
            gap,
        }))
    }

    /// `window` as unix seconds.
    fn window(&self, key: &str, group: &DeviceGroup) -> Result<Option<[f64; 2]>, ScenarioError> {
        let Some([from, to]) = &group.window else {
            return Ok(None);
        };
        let parse = |v: &str| {
            TimeFormat::DateTime.parse(v).ok_or_else(|| {
                self.error(format!(
                    "key `{key}.window`: {v:?} is not {}",
                    TimeFormat::DateTime.expected()
                ))
            })
        };
        let (from, to) = (parse(from)?, parse(to)?);
        if from > to {
            return Err(self.error(format!(
                "key `{key}.window`: the start must not be after the end"
            )));
        }
        Ok(Some([from, to]))
    }

    /// With `align = "file"`: the real time (unix seconds) that becomes
    /// scenario time 0 for the group, the window's start or its earliest fix.
    fn time_origin(
        &self,
        key: &str,
        group: &DeviceGroup,
        traces: &[(String, Trace)],
    ) -> Result<Option<f64>, ScenarioError> {
        match group.align.as_str() {
            "each" => Ok(None),
            "file" => {
                if let Some([from, _]) = self.window(key, group)? {
                    return Ok(Some(from));
                }
                let mut origin = f64::INFINITY;
                for (name, trace) in traces {
                    let start = trace.start_unix_ms().ok_or_else(|| {
                        self.error(format!(
                            "key `{key}.align`: trace {name} has no real time to align by"
                        ))
                    })?;
                    origin = origin.min(start as f64 / 1000.0 + trace.first().t_s);
                }
                Ok(origin.is_finite().then_some(origin))
            }
            other => Err(self.error(format!(
                "key `{key}.align`: {other:?} is not one of each, file"
            ))),
        }
    }

    /// Device `k` of a group: the trace started `offset_s + k·stagger_s`
    /// seconds into its recording (from its own first fix, or with
    /// `origin_unix_s` from that real time), then sped up.
    fn place_in_time(
        &self,
        key: &str,
        group: &DeviceGroup,
        trace: &Trace,
        k: u32,
        origin_unix_s: Option<f64>,
    ) -> Result<Trace, ScenarioError> {
        let offset = self.non_negative(&format!("{key}.offset_s"), group.offset_s)?
            + self.non_negative(&format!("{key}.stagger_s"), group.stagger_s)? * f64::from(k);
        let speedup = self.positive(&format!("{key}.speedup"), group.speedup)?;
        let zero = match (origin_unix_s, trace.start_unix_ms()) {
            (Some(origin), Some(start_ms)) => origin - start_ms as f64 / 1000.0,
            _ => trace.first().t_s,
        };
        let shifted = trace
            .offset(-(zero + offset))
            .map_err(|e| self.error(format!("key `{key}.offset_s`: {e}")))?;
        shifted
            .sped_up(speedup)
            .map_err(|e| self.error(format!("key `{key}.speedup`: {e}")))
    }

    /// The application profiles the devices follow: `[workload]` first,
    /// then each profile a device group names, in order of first mention;
    /// and the profile index of each group.
    fn workloads(&self, f: &ScenarioFile) -> Result<(Vec<Workload>, Vec<u32>), ScenarioError> {
        let mut workloads = vec![self.workload("workload", "workload", &f.workload)?];
        let mut group_workload = Vec::with_capacity(f.devices.len());
        for (i, group) in f.devices.iter().enumerate() {
            let Some(name) = &group.profile else {
                group_workload.push(0);
                continue;
            };
            if let Some(at) = workloads.iter().skip(1).position(|w| &w.name == name) {
                group_workload.push(at as u32 + 1);
                continue;
            }
            let profile = match f.profiles.get(name) {
                Some(table) => self.workload(&format!("profiles.{name}"), name, table)?,
                None => profiles::builtin(name).ok_or_else(|| {
                    let mut known: Vec<&str> = f.profiles.keys().map(String::as_str).collect();
                    known.extend(profiles::BUILTIN_PROFILES);
                    self.error(format!(
                        "key `devices[{i}].profile`: {name:?} is neither a [profiles.{name}] table \
                         nor a built-in profile; known: {}",
                        known.join(", ")
                    ))
                })?,
            };
            workloads.push(profile);
            group_workload.push(workloads.len() as u32 - 1);
        }
        Ok((workloads, group_workload))
    }

    /// One profile table (`key` is its place in the file, for errors).
    fn workload(
        &self,
        key: &str,
        name: &str,
        w: &SchemaWorkload,
    ) -> Result<Workload, ScenarioError> {
        Ok(Workload {
            name: name.to_string(),
            rate_hz: {
                let key = format!("{key}.rate_hz");
                let rate = self.positive(&key, w.rate_hz)?;
                limits::check_rate(&key, rate).map_err(|m| self.error(m))?;
                rate
            },
            arrivals: match w.arrival.as_str() {
                "periodic" => Arrivals::Periodic,
                "poisson" => Arrivals::Poisson,
                other => {
                    return Err(self.error(format!(
                        "key `{key}.arrival`: {other:?} is not one of periodic, poisson"
                    )));
                }
            },
            sizes: RequestSizes {
                request_bytes: self.quantity(&format!("{key}.request_bytes"), &w.request_bytes)?,
                response_bytes: self
                    .quantity(&format!("{key}.response_bytes"), &w.response_bytes)?,
                cpu_ns: self
                    .quantity(&format!("{key}.cpu_ms"), &w.cpu_ms)?
                    .scaled(1e6),
            },
        })
    }

    /// A per-request figure as a distribution; the error names `key`.
    fn quantity(&self, key: &str, q: &Quantity) -> Result<Dist, ScenarioError> {
        let spec = match q {
            Quantity::Number(v) => {
                return Dist::fixed(*v).map_err(|e| self.error(format!("key `{key}`: {e}")));
            }
            Quantity::Dist(spec) => spec,
        };
        let need = |field: &str, v: Option<f64>| {
            v.ok_or_else(|| {
                self.error(format!(
                    "key `{key}.{field}`: a {:?} distribution needs it",
                    spec.dist
                ))
            })
        };
        let given = [
            ("value", spec.value.is_some()),
            ("mean", spec.mean.is_some()),
            ("sd", spec.sd.is_some()),
            ("min", spec.min.is_some()),
            ("max", spec.max.is_some()),
            ("values", spec.values.is_some()),
        ];
        let allowed: &[&str] = match spec.dist.as_str() {
            "fixed" => &["value"],
            "uniform" => &["min", "max"],
            "lognormal" => &["mean", "sd"],
            "empirical" => &["values"],
            other => {
                return Err(self.error(format!(
                    "key `{key}.dist`: {other:?} is not one of fixed, uniform, lognormal, empirical"
                )));
            }
        };
        if let Some((field, _)) = given.iter().find(|(f, g)| *g && !allowed.contains(f)) {
            return Err(self.error(format!(
                "key `{key}.{field}`: a {:?} distribution takes only {}",
                spec.dist,
                allowed.join(", ")
            )));
        }
        let dist = match spec.dist.as_str() {
            "fixed" => Dist::fixed(need("value", spec.value)?),
            "uniform" => Dist::uniform(need("min", spec.min)?, need("max", spec.max)?),
            "lognormal" => Dist::lognormal(need("mean", spec.mean)?, need("sd", spec.sd)?),
            _ => Dist::empirical(spec.values.as_deref().unwrap_or(&[])),
        };
        dist.map_err(|e| self.error(format!("key `{key}`: {e}")))
    }

    fn migration(&self, f: &ScenarioFile) -> Result<MigrationSettings, ScenarioError> {
        let vm = &f.vm;
        let mib = |key: &str, v: f64| -> Result<u64, ScenarioError> {
            Ok((self.non_negative(key, v)? * 1_048_576.0).round() as u64)
        };
        let dirty_model = DirtyModel::from_name(&vm.dirty_model)
            .map_err(|e| self.error(format!("key `vm.dirty_model`: {e}")))?;
        let profile = VmProfile::new(
            mib("vm.memory_mib", vm.memory_mib)?,
            mib("vm.working_set_mib", vm.working_set_mib)?,
            self.non_negative("vm.dirty_rate_pps", vm.dirty_rate_pps)?,
            vm.zero_fraction,
            dirty_model,
        )
        .map_err(|e| self.error(format!("key `vm`: {e}")))?;
        let m = &f.migration;
        let technique = Technique::from_name(&m.technique)
            .map_err(|e| self.error(format!("key `migration.technique`: {e}")))?;
        let mut config = MigrationConfig::new(technique);
        config.max_rounds = m.max_rounds;
        config.downtime_target = Duration::from_secs_f64(
            self.non_negative("migration.downtime_target_ms", m.downtime_target_ms)? / 1e3,
        );
        self.fidelity_keys(m, &mut config)?;
        config
            .validate()
            .map_err(|e| self.error(format!("key `migration`: {e}")))?;
        // What is left to check needs the VM's memory.
        config.validate_memory(&profile).map_err(|e| {
            self.error(format!(
                "key `migration.top_data_mib` (within the [vm] memory): {e}"
            ))
        })?;
        Ok(MigrationSettings { profile, config })
    }
}

impl Resolver<'_> {
    /// The optional keys of the migration model's fidelity (queue, cap,
    /// costs, execution set); absent keys keep the model's defaults.
    fn fidelity_keys(
        &self,
        m: &super::schema::MigrationSection,
        config: &mut MigrationConfig,
    ) -> Result<(), ScenarioError> {
        let ms = |key: &str, value: Option<f64>| -> Result<Option<Duration>, ScenarioError> {
            value
                .map(|v| {
                    let v = self.non_negative(key, v)?;
                    if v > 1e12 {
                        return Err(
                            self.error(format!("key `{key}`: must be at most 1e12 ms, got {v}"))
                        );
                    }
                    Ok(Duration::from_secs_f64(v / 1e3))
                })
                .transpose()
        };
        if let Some(kib) = m.queue_kib {
            let kib = self.non_negative("migration.queue_kib", kib)?;
            if !(kib > 0.0 && kib <= 1024.0 * 1024.0) {
                return Err(self.error(format!(
                    "key `migration.queue_kib`: must lie in (0, 1048576] KiB, got {kib}"
                )));
            }
            config.queue_bytes = (kib * 1024.0) as u64;
        }
        if let Some(name) = &m.fault_channel {
            config.fault_channel = FaultChannel::from_name(name)
                .map_err(|e| self.error(format!("key `migration.fault_channel`: {e}")))?;
        }
        if let Some(mbps) = m.rate_cap_mbps {
            let mbps = self.non_negative("migration.rate_cap_mbps", mbps)?;
            if mbps <= 0.0 {
                return Err(self.error(
                    "key `migration.rate_cap_mbps`: must be above 0 Mbit/s (leave it out for no cap)"
                        .to_owned(),
                ));
            }
            config.rate_cap_bps = Some(mbps * 1e6);
        }
        if let Some(name) = &m.cap_scope {
            config.cap_scope = CapScope::from_name(name)
                .map_err(|e| self.error(format!("key `migration.cap_scope`: {e}")))?;
        }
        if let Some(d) = ms("migration.cap_window_ms", m.cap_window_ms)? {
            if !cap_window_is_valid(d) {
                return Err(self.error(format!(
                    "key `migration.cap_window_ms`: must lie in (0, {}] ms (leave it out to pace the cap evenly)",
                    MAX_CAP_WINDOW.as_millis()
                )));
            }
            config.cap_window = Some(d);
        }
        if let Some(name) = &m.pass_end {
            config.pass_end = PassEnd::from_name(name)
                .map_err(|e| self.error(format!("key `migration.pass_end`: {e}")))?;
        }
        if let Some(d) = ms("migration.setup_ms", m.setup_ms)? {
            config.setup = d;
        }
        if let Some(d) = ms("migration.sync_ms", m.sync_ms)? {
            config.sync_cost = d;
        }
        if let Some(d) = ms("migration.resume_ms", m.resume_ms)? {
            config.resume_cost = d;
        }
        if let Some(b) = m.page_header_bytes {
            config.page_header_bytes = b;
        }
        if let Some(p) = m.exec_text_pages {
            config.exec_text_pages = p;
        }
        if let Some(p) = m.exec_data_pages {
            config.exec_data_pages = p;
        }
        if let Some(rate) = m.exec_data_write_rate_pps {
            let rate = self.non_negative("migration.exec_data_write_rate_pps", rate)?;
            config.exec_data_write_rate_pps = Some(rate);
        }
        if let Some(top) = m.top_data_mib {
            let top = self.non_negative("migration.top_data_mib", top)?;
            config.top_data_bytes = (top * 1_048_576.0).ceil() as u64;
        }
        Ok(())
    }
}

/// A name safe to write in a CSV field.
fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| if c == ',' || c.is_control() { '_' } else { c })
        .collect()
}
