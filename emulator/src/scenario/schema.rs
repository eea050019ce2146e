//! The scenario file (TOML) exactly as written: every table and key, with its
//! default. `docs/scenario.md` documents the same fields for users.
//!
//! Unknown keys are errors everywhere, so a misspelt key never silently falls
//! back to a default.

use serde::Deserialize;

use crate::placement;

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// A name for the experiment, shown in outputs.
    #[serde(default = "default_name")]
    pub name: String,
    /// Seed of every random choice in the run.
    #[serde(default)]
    pub seed: u64,
    /// Emulated time the experiment covers, in seconds.
    pub duration_s: f64,
    /// Requests slower than this count as SLA violations, in milliseconds.
    #[serde(default = "default_sla_ms")]
    pub sla_ms: f64,
    /// Requests not answered within this many milliseconds fail as timed out.
    #[serde(default = "default_timeout_ms")]
    pub request_timeout_ms: f64,
    /// How often devices' positions and attachments are updated, in seconds.
    #[serde(default = "default_mobility_step_s")]
    pub mobility_step_s: f64,
    /// Folder the outputs go to (relative to the working directory).
    #[serde(default = "default_output")]
    pub output: String,
    /// The network.
    pub topology: TopologySection,
    /// Capacities that override every cloudlet's own.
    #[serde(default)]
    pub cloudlets: CloudletOverrides,
    /// Radio settings that override every access point's own.
    #[serde(default)]
    pub access_points: AccessPointOverrides,
    /// A generated operator access network under the backbone.
    pub operator: Option<super::network::OperatorSection>,
    /// Where the user plane breaks out.
    pub user_plane: Option<super::network::UserPlaneSection>,
    /// The remote cloud behind the cloudlets.
    pub cloud: Option<super::network::CloudSection>,
    /// Groups of devices.
    pub devices: Vec<DeviceGroup>,
    /// What every device asks of its VM (the default application profile).
    #[serde(default)]
    pub workload: Workload,
    /// User-defined application profiles, by name (`[profiles.NAME]`, the
    /// keys of `[workload]`), for `[[devices]] profile = "NAME"`.
    #[serde(default)]
    pub profiles: std::collections::BTreeMap<String, Workload>,
    /// Every device's VM.
    #[serde(default)]
    pub vm: VmSection,
    /// How VMs move.
    #[serde(default)]
    pub migration: MigrationSection,
    /// When and where VMs move.
    #[serde(default)]
    pub placement: PlacementSection,
    /// The radio access model (absent: the fixed wireless hop of
    /// `[access_points]`).
    pub radio: Option<RadioSection>,
    /// The energy model's parameters (each absent key: its sourced
    /// default, docs/energy.md).
    #[serde(default)]
    pub energy: EnergySection,
}

fn default_name() -> String {
    "experiment".into()
}
fn default_sla_ms() -> f64 {
    50.0
}
fn default_timeout_ms() -> f64 {
    10_000.0
}
fn default_mobility_step_s() -> f64 {
    1.0
}
fn default_output() -> String {
    "out".into()
}

/// `[topology]`: a backbone file and/or site files hung off it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySection {
    /// A topology file: native TOML (`.toml`) or Topology Zoo GraphML (`.graphml`).
    pub file: Option<String>,
    /// Site files (EUA or iFogSim CSV) hung off the topology.
    #[serde(default)]
    pub sites: Vec<SiteSet>,
    /// Positions of backbone nodes, by node id or label, replacing the
    /// file's (GraphML files only: their link latencies are derived again).
    #[serde(default)]
    pub positions: std::collections::BTreeMap<String, Position>,
    /// Capacity of every link whose file gives none (Topology Zoo files
    /// often do not), in Gbit/s; 1 when absent.
    pub link_capacity_gbps: Option<f64>,
    /// Latency added to every link whose latency is derived from its ends'
    /// positions (GraphML links, site links), in ms; 0.1 when absent.
    pub per_hop_latency_ms: Option<f64>,
}

/// `[[topology.sites]]`: one site CSV.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSet {
    /// The CSV file.
    pub file: String,
    /// What a site becomes: `access-point`, `cloudlet` or `both` (an access
    /// point with a co-located cloudlet). iFogSim tiered files always make
    /// level 0 a cloud and level 1 cloudlets; the role applies to level 2.
    /// Default: `both` for EUA files, `access-point` for iFogSim files.
    #[serde(default)]
    pub role: Option<String>,
    /// Move the sites so their centroid lands here, keeping their geometry.
    pub relocate_to: Option<Position>,
}

/// A position in a scenario file.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// `[cloudlets]`: capacities applied to every cloudlet (each key optional;
/// an absent key keeps what the topology says).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudletOverrides {
    /// Cores per cloudlet.
    pub cpu_cores: Option<u32>,
    /// Memory per cloudlet for VMs, in MiB.
    pub memory_mib: Option<u64>,
    /// Real clock (`--spawn remote`): the gRPC address of the node already
    /// running each cloudlet, by cloudlet id (`http://host:port`).
    #[serde(default)]
    pub addresses: std::collections::BTreeMap<String, String>,
}

/// `[access_points]`: radio settings applied to every access point (each key
/// optional; an absent key keeps what the topology says).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPointOverrides {
    /// Coverage radius, in metres.
    pub coverage_radius_m: Option<f64>,
    /// One-way latency of the wireless hop, in milliseconds.
    pub wireless_latency_ms: Option<f64>,
    /// Rate of the wireless hop, in Mbit/s.
    pub wireless_rate_mbps: Option<f64>,
    /// Attachment hysteresis, in metres (see docs/traces.md).
    pub hysteresis_m: Option<f64>,
}

/// `[[devices]]`: devices that follow one trace file (or glob), or move by
/// random waypoint.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceGroup {
    /// A trace file or glob (GPX, PLT, CSV); each trace in it drives `count` devices.
    pub trace: Option<String>,
    /// Which traces of a file holding several to use (1-based, in file
    /// order); all when absent.
    pub traces: Option<Vec<usize>>,
    /// Random-waypoint movement, when no trace is given.
    pub random_waypoint: Option<RandomWaypoint>,
    /// Devices per trace (or in all, for random waypoint).
    #[serde(default = "default_count")]
    pub count: u32,
    /// Trace time at which the first device starts, in seconds.
    #[serde(default)]
    pub offset_s: f64,
    /// Each further device of a trace starts this much later in its trace.
    #[serde(default)]
    pub stagger_s: f64,
    /// Movement speed-up factor (2 = twice as fast as recorded).
    #[serde(default = "default_speedup")]
    pub speedup: f64,
    /// Move the trace so it starts here, keeping its distances, speeds and pauses.
    pub transplant_to: Option<Position>,
    /// After the trace ends: `loop` or `hold`.
    #[serde(default = "default_end")]
    pub end: String,
    /// The CSV layout of the trace file, by preset name (`dublin-siri`,
    /// `capmetro`, `movingpandas-geolife`, `simple`); detected from the
    /// file when absent.
    pub format: Option<String>,
    /// Fleet files: keep only fixes between these two date-times
    /// (RFC 3339, e.g. `["2013-01-31T00:00:00Z", "2013-01-31T01:00:00Z"]`).
    pub window: Option<[String; 2]>,
    /// Fleet files: drop vehicles (or pieces) with fewer fixes (default 1:
    /// keep all).
    #[serde(default = "default_min_fixes")]
    pub min_fixes: usize,
    /// Fleet files: consecutive fixes further apart than this, in seconds,
    /// are a gap the vehicle is not driven across (see `gap`); no limit when
    /// absent.
    pub max_gap_s: Option<f64>,
    /// What a gap does: `hold` (the vehicle waits at its last fix) or
    /// `split` (each piece becomes a device of its own). Default `hold`.
    #[serde(default = "default_gap")]
    pub gap: String,
    /// `each`: every trace starts at scenario time 0 (default); `file`:
    /// the traces of a file keep their real times relative to each other,
    /// scenario time 0 being the window's start or the earliest fix.
    #[serde(default = "default_align")]
    pub align: String,
    /// The application profile of these devices' requests: a built-in name
    /// (see docs/workloads.md) or a `[profiles.NAME]` table; the
    /// `[workload]` table when absent.
    pub profile: Option<String>,
}

fn default_min_fixes() -> usize {
    1
}
fn default_gap() -> String {
    "hold".into()
}
fn default_align() -> String {
    "each".into()
}

fn default_count() -> u32 {
    1
}
fn default_speedup() -> f64 {
    1.0
}
fn default_end() -> String {
    "loop".into()
}

/// Random-waypoint movement parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomWaypoint {
    /// Centre of the area.
    pub center: Position,
    /// Radius of the area, in metres.
    pub radius_m: f64,
    /// Slowest and fastest speed, in m/s.
    #[serde(default = "default_speed_range")]
    pub speed_mps: [f64; 2],
    /// Shortest and longest pause at a waypoint, in seconds.
    #[serde(default = "default_pause_range")]
    pub pause_s: [f64; 2],
}

fn default_speed_range() -> [f64; 2] {
    [0.5, 2.0]
}
fn default_pause_range() -> [f64; 2] {
    [0.0, 60.0]
}

/// `[workload]` (and each `[profiles.NAME]`): the requests a device sends
/// to its VM.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Requests per second per device.
    #[serde(default = "default_rate_hz")]
    pub rate_hz: f64,
    /// `periodic` or `poisson`.
    #[serde(default = "default_arrival")]
    pub arrival: String,
    /// Request size, in bytes: a number or a distribution.
    #[serde(default = "default_request_bytes")]
    pub request_bytes: Quantity,
    /// Answer size, in bytes: a number or a distribution.
    #[serde(default = "default_response_bytes")]
    pub response_bytes: Quantity,
    /// CPU time per request on one core, in milliseconds: a number or a
    /// distribution.
    #[serde(default = "default_cpu_ms")]
    pub cpu_ms: Quantity,
}

/// A per-request figure: a plain number (every request the same) or a
/// distribution table, e.g. `{ dist = "lognormal", mean = 58.9, sd = 15.4 }`,
/// `{ dist = "uniform", min = 1000, max = 3000 }` or
/// `{ dist = "empirical", values = [20, 24, 66] }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    /// The same value for every request.
    Number(f64),
    /// Drawn per request.
    Dist(DistSpec),
}

/// A distribution table of a [`Quantity`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistSpec {
    /// `fixed`, `uniform`, `lognormal` or `empirical`.
    pub dist: String,
    /// `fixed`: the value.
    pub value: Option<f64>,
    /// `lognormal`: the mean.
    pub mean: Option<f64>,
    /// `lognormal`: the standard deviation.
    pub sd: Option<f64>,
    /// `uniform`: the smallest value.
    pub min: Option<f64>,
    /// `uniform`: the largest value.
    pub max: Option<f64>,
    /// `empirical`: the values, each equally likely.
    pub values: Option<Vec<f64>>,
}

fn default_rate_hz() -> f64 {
    1.0
}
fn default_arrival() -> String {
    "periodic".into()
}
fn default_request_bytes() -> Quantity {
    Quantity::Number(1_024.0)
}
fn default_response_bytes() -> Quantity {
    Quantity::Number(4_096.0)
}
fn default_cpu_ms() -> Quantity {
    Quantity::Number(2.0)
}

impl Default for Workload {
    fn default() -> Self {
        Self {
            rate_hz: default_rate_hz(),
            arrival: default_arrival(),
            request_bytes: default_request_bytes(),
            response_bytes: default_response_bytes(),
            cpu_ms: default_cpu_ms(),
        }
    }
}

/// `[vm]`: the VM profile every device gets.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSection {
    /// Memory, in MiB.
    #[serde(default = "default_vm_memory_mib")]
    pub memory_mib: f64,
    /// Writable working set, in MiB.
    #[serde(default = "default_working_set_mib")]
    pub working_set_mib: f64,
    /// Pages dirtied per second.
    #[serde(default = "default_dirty_rate_pps")]
    pub dirty_rate_pps: f64,
    /// Dirty model: `linear`, `uniform` or `hot-cold`.
    #[serde(default = "default_dirty_model")]
    pub dirty_model: String,
    /// Fraction of pages that are all zeros.
    #[serde(default)]
    pub zero_fraction: f64,
}

fn default_vm_memory_mib() -> f64 {
    1_024.0
}
fn default_working_set_mib() -> f64 {
    256.0
}
fn default_dirty_rate_pps() -> f64 {
    5_000.0
}
fn default_dirty_model() -> String {
    "linear".into()
}

impl Default for VmSection {
    fn default() -> Self {
        Self {
            memory_mib: default_vm_memory_mib(),
            working_set_mib: default_working_set_mib(),
            dirty_rate_pps: default_dirty_rate_pps(),
            dirty_model: default_dirty_model(),
            zero_fraction: 0.0,
        }
    }
}

/// `[migration]`: the technique and its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationSection {
    /// `stop-and-copy`, `pre-copy`, `post-copy`, `soft` or `hybrid`.
    #[serde(default = "default_technique")]
    pub technique: String,
    /// Most pre-copy rounds.
    #[serde(default = "default_max_rounds")]
    pub max_rounds: u32,
    /// Pre-copy stops when the rest fits this downtime, in milliseconds.
    #[serde(default = "default_downtime_target_ms")]
    pub downtime_target_ms: f64,
    /// Bytes queued on the stream ahead of a fault after the switch, in KiB
    /// (absent: 4096, Linux's `tcp_wmem` max).
    #[serde(default)]
    pub queue_kib: Option<f64>,
    /// `shared` (absent: QEMU's default) or `preempt` (QEMU 8's postcopy-preempt).
    #[serde(default)]
    pub fault_channel: Option<String>,
    /// Bandwidth cap of a migration in megabits/s (absent: none).
    #[serde(default)]
    pub rate_cap_mbps: Option<f64>,
    /// `except-completion` (absent: QEMU's) or `all`.
    #[serde(default)]
    pub cap_scope: Option<String>,
    /// Apply the cap in rate-limit windows of this many ms, as QEMU does
    /// (100); absent: the cap paces every transfer evenly.
    #[serde(default)]
    pub cap_window_ms: Option<f64>,
    /// When a copy round ends: `drained` (absent) or `below-target` (QEMU 7.2's sync rule).
    #[serde(default)]
    pub pass_end: Option<String>,
    /// Setup time before the first byte, in milliseconds (absent: 0).
    #[serde(default)]
    pub setup_ms: Option<f64>,
    /// Dirty-bitmap sync time per round and at the switch, in milliseconds (absent: 0).
    #[serde(default)]
    pub sync_ms: Option<f64>,
    /// Target's start-up time after its last needed byte, in milliseconds (absent: 0).
    #[serde(default)]
    pub resume_ms: Option<f64>,
    /// Header bytes per non-zero page on the wire (absent: 0; QEMU sends 8).
    #[serde(default)]
    pub page_header_bytes: Option<u64>,
    /// Read-only pages the guest needs before any progress (absent: 0).
    #[serde(default)]
    pub exec_text_pages: Option<u64>,
    /// Written pages the guest needs before any progress (absent: 0).
    #[serde(default)]
    pub exec_data_pages: Option<u64>,
    /// Pages/s the kernel writes its execution data pages at, outside the
    /// working set (absent: they lie in the working set).
    #[serde(default)]
    pub exec_data_write_rate_pps: Option<f64>,
    /// MiB of the idle data at the top of memory, sent last in a pass,
    /// after the zero pages (absent: 0).
    #[serde(default)]
    pub top_data_mib: Option<f64>,
}

fn default_technique() -> String {
    "pre-copy".into()
}
fn default_max_rounds() -> u32 {
    30
}
fn default_downtime_target_ms() -> f64 {
    300.0
}

impl Default for MigrationSection {
    fn default() -> Self {
        Self {
            technique: default_technique(),
            max_rounds: default_max_rounds(),
            downtime_target_ms: default_downtime_target_ms(),
            queue_kib: None,
            fault_channel: None,
            rate_cap_mbps: None,
            cap_scope: None,
            cap_window_ms: None,
            pass_end: None,
            setup_ms: None,
            sync_ms: None,
            resume_ms: None,
            page_header_bytes: None,
            exec_text_pages: None,
            exec_data_pages: None,
            exec_data_write_rate_pps: None,
            top_data_mib: None,
        }
    }
}

/// `[placement]`: the policy, when it runs, and each policy's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementSection {
    /// Policy name: `never`, `nearest`, `threshold`, `least-loaded`, `ga`, `optimal`.
    #[serde(default = "default_policy")]
    pub policy: String,
    /// How far ahead policies look along each device's trace, in seconds.
    #[serde(default = "default_horizon_s")]
    pub horizon_s: f64,
    /// `[placement.never]`.
    #[serde(default)]
    pub never: placement::NeverConfig,
    /// `[placement.nearest]`.
    #[serde(default)]
    pub nearest: placement::NearestConfig,
    /// `[placement.threshold]`.
    #[serde(default)]
    pub threshold: placement::ThresholdConfig,
    /// `[placement.least-loaded]`.
    #[serde(default, rename = "least-loaded")]
    pub least_loaded: placement::LeastLoadedConfig,
    /// `[placement.ga]`.
    #[serde(default)]
    pub ga: placement::GaConfig,
    /// `[placement.optimal]`.
    #[serde(default)]
    pub optimal: placement::OptimalConfig,
    /// Run the policy every this many seconds (0 = never on a timer).
    #[serde(default = "default_interval_s")]
    pub interval_s: f64,
    /// Run the policy for a device's VM when the device changes access point.
    #[serde(default = "default_on_handover")]
    pub on_handover: bool,
    /// What the real clock does with the VMs of a cloudlet node that dies.
    #[serde(default)]
    pub on_node_loss: OnNodeLoss,
    /// With `on_node_loss = "restart"`: how long a VM started again from
    /// scratch takes to boot before it answers, in scenario milliseconds.
    #[serde(default = "default_restart_boot_ms")]
    pub restart_boot_ms: f64,
}

/// Firecracker's specification (SPECIFICATION.md, "Boot time"): at most
/// 125 ms from the InstanceStart call to the guest's `/sbin/init`, the
/// least any VM restarted from scratch takes (docs/scenario.md).
fn default_restart_boot_ms() -> f64 {
    125.0
}

/// `[placement] on_node_loss`: what becomes of the VMs of a cloudlet node
/// that dies during a real-clock run (docs/scenario.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum OnNodeLoss {
    /// They are lost: their requests fail from then on.
    #[default]
    Drop,
    /// Each is started again from scratch on another cloudlet (chosen as at
    /// registration); its requests wait for it.
    Restart,
}

impl TryFrom<String> for OnNodeLoss {
    type Error = String;

    fn try_from(word: String) -> Result<Self, String> {
        match word.as_str() {
            "drop" => Ok(OnNodeLoss::Drop),
            "restart" => Ok(OnNodeLoss::Restart),
            _ => Err(format!(
                "on_node_loss {word:?} is not one of \"restart\", \"drop\""
            )),
        }
    }
}

impl OnNodeLoss {
    /// The word of the scenario file.
    pub fn as_str(self) -> &'static str {
        match self {
            OnNodeLoss::Drop => "drop",
            OnNodeLoss::Restart => "restart",
        }
    }
}

fn default_policy() -> String {
    "nearest".into()
}
fn default_horizon_s() -> f64 {
    crate::engine::DEFAULT_PLACEMENT_HORIZON_NS as f64 / 1e9
}
fn default_interval_s() -> f64 {
    0.0
}
fn default_on_handover() -> bool {
    true
}

impl Default for PlacementSection {
    fn default() -> Self {
        Self {
            policy: default_policy(),
            horizon_s: default_horizon_s(),
            never: Default::default(),
            nearest: Default::default(),
            threshold: Default::default(),
            least_loaded: Default::default(),
            ga: Default::default(),
            optimal: Default::default(),
            interval_s: default_interval_s(),
            on_handover: default_on_handover(),
            on_node_loss: OnNodeLoss::default(),
            restart_boot_ms: default_restart_boot_ms(),
        }
    }
}

/// `[radio]`: the radio access model (`docs/radio.md`). `preset` picks every
/// default; each other key overrides one value of it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadioSection {
    /// `lte` or `nr`.
    pub preset: String,
    /// TR 38.901 scenario: `uma`, `umi` or `rma`.
    pub environment: Option<String>,
    /// Line of sight to the serving and interfering sites.
    pub line_of_sight: Option<bool>,
    /// Carrier frequency, GHz.
    pub carrier_ghz: Option<f64>,
    /// Base station antenna height, m.
    pub bs_height_m: Option<f64>,
    /// UE antenna height, m.
    pub ue_height_m: Option<f64>,
    /// Transmission bandwidth (resource blocks × their width), MHz.
    pub bandwidth_mhz: Option<f64>,
    /// Width of one resource block, kHz.
    pub resource_block_khz: Option<f64>,
    /// Base station transmit power over the bandwidth, dBm.
    pub bs_power_dbm: Option<f64>,
    /// UE transmit power, dBm.
    pub ue_power_dbm: Option<f64>,
    /// Base station antenna gain, dBi.
    pub bs_antenna_gain_dbi: Option<f64>,
    /// UE antenna gain, dBi.
    pub ue_antenna_gain_dbi: Option<f64>,
    /// Base station noise figure, dB.
    pub bs_noise_figure_db: Option<f64>,
    /// UE noise figure, dB.
    pub ue_noise_figure_db: Option<f64>,
    /// Neighbouring cells' activity (0 to 1), scaling downlink interference.
    pub downlink_load: Option<f64>,
    /// How many nearest other sites interfere in the downlink.
    pub interfering_cells: Option<u32>,
    /// Uplink interference rise over thermal noise, dB.
    pub uplink_interference_margin_db: Option<f64>,
    /// Downlink share of the time (TDD), 0 to 1.
    pub downlink_fraction: Option<f64>,
    /// Uplink share of the time (TDD), 0 to 1.
    pub uplink_fraction: Option<f64>,
    /// Downlink resources without user data, 0 to 1.
    pub downlink_overhead: Option<f64>,
    /// Uplink resources without user data, 0 to 1.
    pub uplink_overhead: Option<f64>,
    /// Downlink Shannon attenuation α.
    pub downlink_alpha: Option<f64>,
    /// Uplink Shannon attenuation α.
    pub uplink_alpha: Option<f64>,
    /// Lowest downlink SINR that decodes, dB.
    pub downlink_sinr_min_db: Option<f64>,
    /// Lowest uplink SINR that decodes, dB.
    pub uplink_sinr_min_db: Option<f64>,
    /// Downlink spectral efficiency cap, bit/s/Hz.
    pub downlink_max_bps_hz: Option<f64>,
    /// Uplink spectral efficiency cap, bit/s/Hz.
    pub uplink_max_bps_hz: Option<f64>,
    /// Base one-way downlink access delay, ms.
    pub downlink_access_ms: Option<f64>,
    /// Base one-way uplink access delay, ms.
    pub uplink_access_ms: Option<f64>,
    /// `equal-share` or `proportional-fair`.
    pub scheduler: Option<String>,
}

/// `[energy]`: the energy model (`docs/energy.md`); every key overrides one
/// sourced default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergySection {
    /// Watts of one reference server at evenly spaced utilisations from
    /// 0 % to 100 % (2 to 101 values; two: linear from idle to peak).
    pub server_power_w: Option<Vec<f64>>,
    /// Hardware threads of that server (a cloudlet of n cores draws n /
    /// server_threads times its curve).
    pub server_threads: Option<u32>,
    /// Window over which CPU utilisation is averaged, s.
    pub utilisation_window_s: Option<f64>,
    /// The radio hop's energy per bit, nJ.
    pub radio_access_nj_per_bit: Option<f64>,
    /// Each aggregation hop's energy per bit, nJ.
    pub aggregation_nj_per_bit: Option<f64>,
    /// Each metro/core hop's energy per bit, nJ.
    pub metro_core_nj_per_bit: Option<f64>,
    /// A data centre's energy per bit at each host end, nJ.
    pub data_centre_nj_per_bit: Option<f64>,
    /// Device radio: promotion power, mW.
    pub device_promotion_mw: Option<f64>,
    /// Device radio: promotion time, ms.
    pub device_promotion_ms: Option<f64>,
    /// Device radio: tail power, mW.
    pub device_tail_mw: Option<f64>,
    /// Device radio: tail time, s.
    pub device_tail_s: Option<f64>,
    /// Device radio: transfer base power β, mW.
    pub device_transfer_base_mw: Option<f64>,
    /// Device radio: uplink power per Mbit/s α_u, mW.
    pub device_uplink_mw_per_mbps: Option<f64>,
    /// Device radio: downlink power per Mbit/s α_d, mW.
    pub device_downlink_mw_per_mbps: Option<f64>,
    /// Migration copy: host joules per MiB moved.
    pub migration_j_per_mib: Option<f64>,
    /// Migration copy: host joules per migration.
    pub migration_fixed_j: Option<f64>,
    /// Whether cloudlets with no VM fall asleep (default false; the four
    /// keys below apply only when true).
    pub sleep_empty_cloudlets: Option<bool>,
    /// How long a cloudlet stays empty before it sleeps, s (default: the
    /// break-even time of the other three).
    pub sleep_after_s: Option<f64>,
    /// Power of one reference server asleep, W.
    pub sleep_power_w: Option<f64>,
    /// How long a wake-up takes, s; a migration onto a sleeping cloudlet
    /// starts after it.
    pub wake_delay_s: Option<f64>,
    /// Power of one reference server while it wakes, W (default: the
    /// curve's peak).
    pub wake_power_w: Option<f64>,
}
