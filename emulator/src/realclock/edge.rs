//! [`RealEdge`]: the emulated edge on the wall clock, and the state its
//! parts share (devices, VMs, the policy, the records).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mcc_cloudlet::realtime::Timer;
use mcc_mobile_client::{ApIndex, Edge, LatLon, Trace};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::clock::ScenarioClock;
use super::counter::Counter;
use super::error::RealClockError;
use super::events::EdgeEvent;
use super::locks::{lock, take_all};
use super::network::Network;
use super::nodes::{NodeLaunch, Nodes};
use super::radio::WallRadio;
use super::tick_gate::TickGate;
use crate::engine::attachment::Attachment;
use crate::engine::placement_tables::{PlacementScratch, PlacementTables};
use crate::output::{
    HandoverRecord, RealClockSummary, RecordWriter, RequestRows, RunFiles, RunTotals, Summary,
};
use crate::placement::{self, PlacementPolicy, Trigger};
use crate::radio::{CachedLink, RadioModel};
use crate::scenario::Scenario;

/// How the edge runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RealOptions {
    /// How fast scenario (trace) time runs against the wall clock (1.0 =
    /// real time). Network delays and CPU costs are not scaled: only
    /// movement, the request schedule and the placement timer are.
    pub speed: f64,
    /// How the cloudlet nodes run.
    pub nodes: NodeLaunch,
    /// Run the scenario's own devices (true for `run --clock real`; `serve`
    /// may start with none and wait for external devices).
    pub scenario_devices: bool,
    /// Folder to write requests.csv, handovers.csv, migrations.csv and
    /// summary.json into (atomically, at shutdown); `None`: no files.
    pub out: Option<PathBuf>,
}

impl Default for RealOptions {
    fn default() -> Self {
        Self {
            speed: 1.0,
            nodes: NodeLaunch::InProcess,
            scenario_devices: true,
            out: None,
        }
    }
}

/// How many finished requests the watchers' tap holds for a slow watcher
/// ([`RealEdge::subscribe_requests`]): a quarter of a second of the
/// default scenario at 10× speed (about 14,400 requests a second).
pub const REQUEST_TAP_CAPACITY: usize = 4096;

/// One device as a watcher sees it ([`RealEdge::view`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceView {
    /// Its name.
    pub name: String,
    /// Where it is at the view's time.
    pub position: LatLon,
    /// Its access point (index into the world's), `None` out of coverage.
    pub ap: Option<u32>,
    /// The cloudlet hosting its VM (index into the world's).
    pub host: u32,
    /// The cloudlet its VM is migrating to, if it is.
    pub migrating_to: Option<u32>,
    /// Its VM was lost with its node.
    pub lost: bool,
    /// It left (unregistered): kept so that indices stay those of the
    /// request records, not to be drawn.
    pub left: bool,
}

/// The edge at one moment, for watchers ([`RealEdge::view`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeView {
    /// Scenario time the edge has covered.
    pub time_ns: u64,
    /// Every device, in registration order (index = the request records'
    /// `device`), those that left included.
    pub devices: Vec<DeviceView>,
    /// Requests sent to each cloudlet and not answered yet.
    pub in_flight: Vec<u64>,
}

/// How a registered device moves.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceMovement {
    /// It follows this trace from the moment it registers (held at its last
    /// point after it ends).
    Trace(Trace),
    /// It stays where it is until it reports a new position.
    Pushed(LatLon),
}

/// What registering a device set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Its VM's id.
    pub vm_id: String,
    /// The cloudlet hosting the VM.
    pub host_id: String,
    /// The access point it is attached to, `None` out of coverage.
    pub access_point_id: Option<String>,
}

/// What a reported position changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionUpdate {
    /// The access point the device is attached to now, `None` out of coverage.
    pub access_point_id: Option<String>,
    /// Whether it changed access point.
    pub handed_over: bool,
}

/// Where a device is, as the edge knows it.
#[derive(Debug, Clone)]
pub(super) enum Movement {
    /// Following a trace that started at scenario time `start_ns`.
    Trace {
        trace: Arc<Trace>,
        edge: Edge,
        start_ns: u64,
    },
    /// At the last reported position.
    Pushed(LatLon),
}

impl Movement {
    /// The position at scenario time `t_ns`.
    pub fn position_at(&self, t_ns: u64) -> LatLon {
        match self {
            Movement::Trace {
                trace,
                edge,
                start_ns,
            } => trace.position_at(t_ns.saturating_sub(*start_ns) as f64 / 1e9, *edge),
            Movement::Pushed(position) => *position,
        }
    }
}

/// One device.
#[derive(Debug, Clone)]
pub(super) struct DeviceState {
    pub name: String,
    pub movement: Movement,
    pub attachment: Attachment,
    /// The look-ahead's attachment (placement view).
    pub ahead: Attachment,
    /// Its radio link (with a `[radio]` section), worked out when it moves.
    pub link: CachedLink,
    pub next_request_id: u64,
    /// Its requests from outside in flight (`admission.rs`).
    pub in_flight: Arc<std::sync::atomic::AtomicU32>,
}

/// One VM (VM `i` belongs to device `i`).
#[derive(Debug, Clone)]
pub(super) struct VmState {
    pub id: String,
    pub host: u32,
    pub migrating: bool,
    /// The other host of a soft handoff, while its answers name one.
    pub handoff: Option<u32>,
    /// Its device left (`unregister.rs`): pinned where it was, never moved.
    pub retired: bool,
    /// Lost with its node (`node_loss.rs`): its requests fail at once.
    pub lost: bool,
    /// The target of the migration under way, if any.
    pub migrating_to: Option<u32>,
    /// Being started again elsewhere after its node died (`node_loss.rs`):
    /// changes (or closes) when that is over; its requests wait for it.
    pub restarting: Option<watch::Receiver<()>>,
}

impl VmState {
    /// Whether placement must leave it where it is: migrating, restarting
    /// after its node died, or its device left.
    pub fn pinned(&self) -> bool {
        self.migrating || self.retired || self.restarting.is_some()
    }
}

/// Counters of the summary: those both clocks keep, and the real clock's own.
#[derive(Debug, Default)]
pub(super) struct Totals {
    pub run: RunTotals,
    pub migrations_failed: u64,
    /// Migrations started (their numbers); `run.migrations` counts those
    /// that completed.
    pub migrations_started: u64,
    pub answered_by_handoff_peer: u64,
    pub redirected: u64,
    /// What the emulator added to each answered request beyond the
    /// model's delay (`request.rs`, `Exchange::due`).
    pub added: crate::output::DelayStatsBuilder,
}

/// A device whose VM is being hosted: its name and memory are reserved (no
/// other registration takes them) but it is not visible yet.
#[derive(Debug)]
pub(super) struct Reserved {
    name: String,
    movement: Movement,
    attachment: Attachment,
    position: LatLon,
    host: u32,
    vm_id: String,
}

/// What changes as the edge runs (one lock; never held across an await).
pub(super) struct EdgeState {
    pub devices: Vec<DeviceState>,
    pub by_name: BTreeMap<String, u32>,
    /// Devices whose VM is being hosted (not visible yet).
    pub registering: BTreeSet<String>,
    pub vms: Vec<VmState>,
    pub memory_used_bytes: Vec<u64>,
    pub policy: Box<dyn PlacementPolicy + Send>,
    pub scratch: PlacementScratch,
    pub outputs: Option<RunFiles>,
    pub totals: Totals,
    /// Scenario time the edge has covered (the last tick).
    pub covered_ns: u64,
    /// Nodes found dead and the VMs lost with them.
    pub losses: super::node_loss::Losses,
    /// Which empty cloudlets sleep (`sleep.rs`; `None`: none do).
    pub sleep: Option<crate::energy::Sleepers>,
}

/// What the parts of the edge share.
pub(super) struct Shared {
    pub scenario: Scenario,
    pub options: RealOptions,
    pub clock: ScenarioClock,
    pub timer: Timer,
    pub network: Network,
    /// The cells of the radio model (with a `[radio]` section; without
    /// one, the wireless hops are links of `network`).
    pub radio: Option<WallRadio>,
    pub nodes: Nodes,
    pub tables: PlacementTables,
    pub ap_index: ApIndex,
    pub runtime: tokio::runtime::Handle,
    pub state: Mutex<EdgeState>,
    /// Where the records go (the output files' writer, which works out
    /// their energy too); `None` without outputs. A lock of its own, so
    /// that requests write their records without holding the edge's: taken
    /// alone, or inside the edge's lock (handovers, migrations, new
    /// devices, whose order with the edge's state matters), never the
    /// other way round.
    pub sink: Mutex<Option<RecordWriter>>,
    /// Requests sent to each cloudlet and not answered yet (the placement
    /// view's CPU backlog): counters of their own, so that a request counts
    /// itself in and out without the edge's lock.
    pub host_load: Vec<std::sync::atomic::AtomicU64>,
    /// The Prometheus metrics' handles (`metrics.rs`).
    pub metrics: super::metrics::EdgeMetrics,
    pub events: broadcast::Sender<EdgeEvent>,
    /// Every finished request's record, for watchers (the live view); the
    /// outputs get theirs from the sink, never from here.
    pub requests: super::tap::RequestTap,
    /// The device and tick loops, aborted at shutdown.
    pub loops: Mutex<Vec<JoinHandle<()>>>,
    /// How many of those loops are still running.
    pub loops_running: Counter,
    /// Requests and migrations under way (shutdown waits for them).
    pub pending: Counter,
    /// Set when the edge shuts down: no new request or migration starts.
    pub stopping: watch::Sender<bool>,
    /// Keeps ticks and the scenario devices' requests in the engine's order.
    pub tick_gate: TickGate,
    /// Requests from outside in flight, and those refused (`admission.rs`).
    pub in_flight: Arc<super::admission::InFlight>,
    /// The health checks of nodes suspected dead (`node_loss.rs`).
    pub node_checks: super::node_loss::Checks,
}

/// Counts one request or migration as pending while it lives.
pub(super) struct PendingGuard(Arc<Shared>);

impl PendingGuard {
    pub fn new(shared: &Arc<Shared>) -> Self {
        shared.pending.increment();
        Self(shared.clone())
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0.pending.decrement();
    }
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, EdgeState> {
        lock(&self.state)
    }

    /// Requests sent to each cloudlet and not answered yet, now.
    pub fn host_loads(&self) -> Vec<u64> {
        self.host_load
            .iter()
            .map(|n| n.load(std::sync::atomic::Ordering::Relaxed))
            .collect()
    }

    /// Hands the sink, if the edge writes outputs, to `write`. Takes the
    /// sink's lock: call it with the edge's lock held or not, never the
    /// other way round.
    pub fn record(&self, write: impl FnOnce(&mut RecordWriter)) {
        if let Some(sink) = lock(&self.sink).as_mut() {
            write(sink);
        }
    }

    /// The radio model and its cells, with a `[radio]` section.
    pub fn radio(&self) -> Option<(&RadioModel, &WallRadio)> {
        self.scenario.world.radio.as_ref().zip(self.radio.as_ref())
    }

    /// The name of access point `ap`.
    pub fn ap_name(&self, ap: Option<u32>) -> Option<String> {
        ap.and_then(|a| self.scenario.world.access_points.get(a as usize))
            .map(|a| a.name.clone())
    }

    /// The name of cloudlet `cloudlet`.
    pub fn cloudlet_name(&self, cloudlet: u32) -> String {
        self.scenario
            .world
            .cloudlets
            .get(cloudlet as usize)
            .map_or_else(|| "?".to_owned(), |c| c.name.clone())
    }

    /// Offers a finished request to watchers; nobody listening is fine,
    /// and a watcher that falls behind loses the oldest.
    pub fn tap_request(&self, record: crate::output::RequestRecord) {
        self.requests.offer(record);
    }

    pub fn emit(&self, event: EdgeEvent) {
        // Nobody listening is fine.
        let _ = self.events.send(event);
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Reserves a device and its VM at scenario time `now_ns`: attaches it
    /// and picks the host the engine's initial placement would, and holds
    /// the name and the host's memory for it. The device is not visible
    /// until [`admit_device`](Self::admit_device); undo with
    /// [`release_device`](Self::release_device).
    pub fn reserve_device(
        &self,
        state: &mut EdgeState,
        name: &str,
        movement: Movement,
        now_ns: u64,
    ) -> Result<Reserved, RealClockError> {
        if name.is_empty() {
            return Err(RealClockError::invalid("a device id must not be empty"));
        }
        if state.by_name.contains_key(name) || state.registering.contains(name) {
            return Err(RealClockError::new(
                super::ErrorKind::AlreadyExists,
                format!("device {name:?} is registered already"),
            ));
        }
        let settings = &self.scenario.settings;
        let position = movement.position_at(now_ns);
        let attachment = Attachment::first(&self.ap_index, position, settings.hysteresis_m);
        let vm_bytes = settings.migration.vm_memory_bytes();
        let host = self
            .tables
            .initial_host(
                &self.scenario.world,
                attachment.ap,
                position,
                &super::node_loss::room_view(&state.memory_used_bytes, &state.losses),
                vm_bytes,
            )
            .ok_or_else(|| {
                RealClockError::precondition(format!(
                    "no cloudlet has room for the VM of device {name:?} ({} MiB)",
                    vm_bytes >> 20
                ))
            })?;
        let used = state
            .memory_used_bytes
            .get_mut(host as usize)
            .ok_or_else(|| RealClockError::internal(format!("no cloudlet {host}")))?;
        *used += vm_bytes;
        state.registering.insert(name.to_owned());
        Ok(Reserved {
            name: name.to_owned(),
            movement,
            attachment,
            position,
            host,
            vm_id: crate::engine::world::vm_name(name),
        })
    }

    /// Makes a reserved device visible (its VM is hosted now).
    pub fn admit_device(
        &self,
        state: &mut EdgeState,
        reserved: Reserved,
        named_in_outputs: bool,
    ) -> Registration {
        let Reserved {
            name,
            movement,
            attachment,
            position,
            host,
            vm_id,
        } = reserved;
        state.registering.remove(&name);
        let mut link = CachedLink::default();
        if let Some(model) = &self.scenario.world.radio {
            link.update(model, position, attachment.ap);
        }
        let index = state.devices.len() as u32;
        state.by_name.insert(name.clone(), index);
        if !named_in_outputs {
            self.record(|sink| sink.add_device(name.clone(), vm_id.clone()));
        }
        state.devices.push(DeviceState {
            name,
            movement,
            attachment,
            ahead: Attachment::undecided(position),
            link,
            next_request_id: 0,
            in_flight: Default::default(),
        });
        state.vms.push(VmState {
            id: vm_id.clone(),
            host,
            migrating: false,
            handoff: None,
            retired: false,
            lost: false,
            migrating_to: None,
            restarting: None,
        });
        state.scratch.devices_at_ns = None;
        Registration {
            vm_id,
            host_id: self.cloudlet_name(host),
            access_point_id: self.ap_name(attachment.ap),
        }
    }

    /// Gives back what [`reserve_device`](Self::reserve_device) held.
    pub fn release_device(&self, state: &mut EdgeState, reserved: &Reserved) {
        state.registering.remove(&reserved.name);
        let vm_bytes = self.scenario.settings.migration.vm_memory_bytes();
        if let Some(used) = state.memory_used_bytes.get_mut(reserved.host as usize) {
            *used = used.saturating_sub(vm_bytes);
        }
    }

    /// Hosts a reserved device's VM on its node: a call in process, a
    /// `HostVm` RPC to a node outside it. A refusal (no room, the VM exists
    /// there) is `FAILED_PRECONDITION`, a node that cannot be reached
    /// `UNAVAILABLE`.
    pub async fn host_vm(&self, reserved: &Reserved) -> Result<(), RealClockError> {
        self.host_vm_on(&reserved.vm_id, reserved.host).await
    }

    /// Hosts a new VM `vm_id` on cloudlet `host`'s node.
    pub async fn host_vm_on(&self, vm_id: &str, host: u32) -> Result<(), RealClockError> {
        let node = self
            .nodes
            .get(host)
            .ok_or_else(|| RealClockError::internal(format!("no node for cloudlet {host}")))?;
        let request = mcc_proto::v1::HostVmRequest {
            vm_id: vm_id.to_owned(),
            profile: Some(mcc_cloudlet::node::control::wire_profile(
                &self.scenario.settings.migration.profile,
            )),
        };
        let hosted = match &node.local {
            Some(local) => local.host_vm_request(&request).map_err(tonic::Status::from),
            None => node.client.clone().host_vm(request).await.map(|_| ()),
        };
        hosted.map_err(|status| {
            // What the node's service answers when it will not take the
            // VM; anything else (a refused connection, a broken HTTP/2
            // stream: UNAVAILABLE, INTERNAL, ...) means it was not reached.
            let kind = match status.code() {
                tonic::Code::FailedPrecondition
                | tonic::Code::InvalidArgument
                | tonic::Code::AlreadyExists
                | tonic::Code::ResourceExhausted
                | tonic::Code::OutOfRange
                | tonic::Code::NotFound => super::ErrorKind::FailedPrecondition,
                _ => super::ErrorKind::Unavailable,
            };
            RealClockError::new(
                kind,
                format!(
                    "cloudlet {}: cannot host {vm_id}: {}",
                    node.name,
                    status.message()
                ),
            )
        })
    }

    /// Moves device `device` to `position` at scenario time `now_ns`:
    /// re-attaches it with hysteresis, works out its radio link (with a
    /// `[radio]` section; reused when it did not move), records a hand-over and runs the
    /// policy for its VM if the scenario says so. True if it handed over.
    pub fn move_device(
        self: &Arc<Self>,
        state: &mut EdgeState,
        device: u32,
        position: LatLon,
        now_ns: u64,
    ) -> bool {
        let settings = &self.scenario.settings;
        let Some(d) = state.devices.get_mut(device as usize) else {
            return false;
        };
        let handed_over = d
            .attachment
            .update(&self.ap_index, position, settings.hysteresis_m);
        if let Some(model) = &self.scenario.world.radio {
            d.link.update(model, position, d.attachment.ap);
        }
        let Some(from) = handed_over else {
            return false;
        };
        let to = d.attachment.ap;
        let name = d.name.clone();
        self.record(|sink| {
            sink.handover(HandoverRecord {
                time_ns: now_ns,
                device,
                from,
                to,
            });
        });
        self.emit(EdgeEvent::Handover {
            time_ns: now_ns,
            device: name,
            from: self.ap_name(from),
            to: self.ap_name(to),
        });
        state.scratch.devices_at_ns = None;
        if to.is_some() && settings.placement_on_handover {
            self.place(state, now_ns, Trigger::Handover { device });
        }
        true
    }

    /// The summary of what happened so far.
    pub fn summary(&self, state: &EdgeState, interrupted: bool, wall_s: f64) -> Summary {
        let mut summary = Summary {
            real_clock: Some(RealClockSummary {
                speed: self.clock.speed(),
                nodes: self.options.nodes.name().to_owned(),
                interrupted,
                migrations_failed: state.totals.migrations_failed,
                answered_by_handoff_peer: state.totals.answered_by_handoff_peer,
                redirected: state.totals.redirected,
                refused_overload: self.in_flight.refused(),
                added_delay_ms: state.totals.added.stats(),
                nodes_lost: state.losses.nodes.clone(),
                vms_lost: state.losses.vms.clone(),
                node_rtt_ms: self
                    .nodes
                    .nodes
                    .iter()
                    .zip(&self.nodes.round_trips)
                    .map(|(node, rtt)| (node.name.clone(), rtt.as_secs_f64() * 1e3))
                    .collect(),
                node_path_excess_ms: self.network.node_path_excess_ms.clone(),
            }),
            ..state.totals.run.summary(
                crate::output::RunLabel {
                    policy: &self.scenario.policy,
                    technique: self.scenario.settings.migration.config.technique.name(),
                },
                state.devices.len() as u64,
                self.scenario.world.cloudlets.len() as u64,
                (state.covered_ns as f64 / 1e6).round() / 1e3,
            )
        };
        summary.set_wall_time(wall_s);
        summary
    }
}

/// The emulated edge on the wall clock: cloudlet nodes, the emulated
/// network, devices, the placement policy and the records. Cheap to clone
/// (an `Arc` inside); must be used inside a Tokio runtime.
#[derive(Clone)]
pub struct RealEdge {
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for RealEdge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealEdge")
            .field("scenario", &self.shared.scenario.name)
            .field("speed", &self.shared.clock.speed())
            .finish_non_exhaustive()
    }
}

/// Longest shutdown waits for requests and migrations under way.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

impl RealEdge {
    /// Starts the cloudlet nodes, the emulated links, the scenario's
    /// devices (if `options.scenario_devices`) and the tick loop that moves
    /// devices and runs the placement policy at the scenario's times.
    pub async fn start(
        scenario: Scenario,
        options: RealOptions,
    ) -> Result<RealEdge, RealClockError> {
        super::clock::check_speed(
            "the speed",
            options.speed,
            scenario.settings.mobility_step_ns,
        )
        .map_err(RealClockError::invalid)?;
        let world = &scenario.world;
        if world.cloudlets.is_empty() {
            return Err(RealClockError::invalid(
                "the scenario has no cloudlet to host VMs",
            ));
        }
        let settings = &scenario.settings;
        settings
            .migration
            .validate()
            .map_err(|e| RealClockError::invalid(format!("migration: {e}")))?;
        if scenario.energy.sleep.is_some() && !options.scenario_devices {
            // Why serve cannot: `sleep.rs`.
            return Err(RealClockError::invalid(
                "key `energy.sleep_empty_cloudlets`: sleeping cloudlets need the scenario's own devices (`mcc-emu run`, either clock); `serve`, where devices register and leave while it runs, does not support them; set it to false",
            ));
        }
        let policy = placement::build(&scenario.policy, &scenario.policy_configs)
            .map_err(RealClockError::invalid)?;
        if options.scenario_devices {
            policy
                .check(&placement::InstanceSize {
                    vms: world.devices.len(),
                    cloudlets: world.cloudlets.len(),
                    periodic: settings.placement_interval_ns.is_some(),
                })
                .map_err(|e| RealClockError::invalid(format!("placement: {e}")))?;
        }
        let ap_index = world
            .ap_index()
            .map_err(|e| RealClockError::invalid(format!("access points: {e}")))?;
        let timer = Timer::precise()
            .map_err(|e| RealClockError::internal(format!("cannot start the timer thread: {e}")))?;
        let mut network = Network::new(world, timer.clone())?;
        let radio = world.radio.as_ref().map(WallRadio::new);
        let tables = PlacementTables::new(world, &settings.migration);
        let nodes = Nodes::start(
            world,
            &options.nodes,
            &scenario.node_addresses,
            &timer,
            &network,
        )
        .await?;
        let mut nodes = nodes;
        if options.nodes == NodeLaunch::Remote {
            nodes.probe_remote().await?;
            network.subtract_real(world, &nodes.round_trips)?;
        }
        // The output folder is touched only once the nodes run.
        let (sink, outputs) = match &options.out {
            Some(out) => match RunFiles::open(
                out,
                world.output_names(options.scenario_devices),
                RequestRows::Write,
                Some(scenario.energy_meter()),
            ) {
                Ok((sink, outputs)) => (Some(sink), Some(outputs)),
                Err(e) => {
                    nodes.stop().await;
                    return Err(RealClockError::internal(format!("{e:#}")));
                }
            },
            None => (None, None),
        };
        let (events, _) = broadcast::channel(1024);
        let requests = super::tap::RequestTap::new(REQUEST_TAP_CAPACITY);
        let cloudlets = world.cloudlets.len();
        let state = EdgeState {
            devices: Vec::new(),
            by_name: BTreeMap::new(),
            registering: BTreeSet::new(),
            vms: Vec::new(),
            memory_used_bytes: vec![0; cloudlets],
            policy,
            scratch: PlacementScratch::default(),
            outputs,
            totals: Totals::default(),
            covered_ns: 0,
            losses: super::node_loss::Losses::new(cloudlets),
            sleep: None,
        };
        let gated_devices = if options.scenario_devices {
            scenario.world.devices.len()
        } else {
            0
        };
        let shared = Arc::new(Shared {
            clock: ScenarioClock::start(options.speed),
            options,
            timer,
            network,
            radio,
            nodes,
            tables,
            ap_index,
            runtime: tokio::runtime::Handle::current(),
            state: Mutex::new(state),
            sink: Mutex::new(sink),
            host_load: (0..cloudlets).map(|_| Default::default()).collect(),
            metrics: super::metrics::EdgeMetrics::register(),
            events,
            requests,
            loops: Mutex::new(Vec::new()),
            loops_running: Counter::default(),
            pending: Counter::default(),
            stopping: watch::channel(false).0,
            tick_gate: TickGate::new(gated_devices),
            in_flight: Default::default(),
            node_checks: super::node_loss::Checks::new(cloudlets),
            scenario,
        });
        if shared.options.scenario_devices {
            // Reserved under the lock, then hosted one by one outside it.
            let hosted = async {
                let devices = {
                    let mut state = shared.lock();
                    shared
                        .scenario
                        .world
                        .devices
                        .iter()
                        .map(|device| {
                            let movement = Movement::Trace {
                                trace: Arc::new(device.trace.clone()),
                                edge: device.edge,
                                start_ns: 0,
                            };
                            shared.reserve_device(&mut state, &device.name, movement, 0)
                        })
                        .collect::<Result<Vec<_>, _>>()?
                };
                for device in &devices {
                    shared.host_vm(device).await?;
                }
                Ok::<_, RealClockError>(devices)
            }
            .await;
            match hosted {
                Ok(devices) => {
                    let mut state = shared.lock();
                    for device in devices {
                        shared.admit_device(&mut state, device, true);
                    }
                    shared.start_sleep(&mut state);
                }
                Err(error) => {
                    shared.nodes.stop().await;
                    return Err(error);
                }
            }
        }
        let edge = RealEdge { shared };
        edge.spawn_loops();
        Ok(edge)
    }

    /// Scenario time now (wall time since start × speed).
    pub fn now(&self) -> Duration {
        self.shared.clock.now()
    }

    /// The scenario the edge runs.
    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// Scenario seconds per wall second.
    pub fn speed(&self) -> f64 {
        self.shared.clock.speed()
    }

    /// Adds a device with its own VM, hosted where the scenario's initial
    /// placement would put it (the lowest-latency cloudlet with room from
    /// its access point). The device is visible (to requests, positions,
    /// the policy) only once its VM is hosted: in process at once, on a
    /// node outside it after a `HostVm` call. If hosting fails nothing of
    /// the device is left and the error says why (`FAILED_PRECONDITION`:
    /// the node refused; `UNAVAILABLE`: it cannot be reached). A caller
    /// that goes away does not cancel the registration: it runs to its end.
    pub async fn register_device(
        &self,
        device_id: &str,
        movement: DeviceMovement,
    ) -> Result<Registration, RealClockError> {
        if self.shared.is_stopping() {
            return Err(RealClockError::precondition("the edge is shutting down"));
        }
        let now_ns = self.shared.clock.now_ns();
        let movement = match movement {
            DeviceMovement::Trace(trace) => Movement::Trace {
                trace: Arc::new(trace),
                edge: Edge::Hold,
                start_ns: now_ns,
            },
            DeviceMovement::Pushed(position) => Movement::Pushed(position),
        };
        let reserved = {
            let mut state = self.shared.lock();
            self.shared
                .reserve_device(&mut state, device_id, movement, now_ns)?
        };
        let shared = self.shared.clone();
        let pending = PendingGuard::new(&self.shared);
        let registration = self.shared.runtime.spawn(async move {
            let _pending = pending;
            let hosted = shared.host_vm(&reserved).await;
            if let Err(error) = &hosted
                && error.kind == super::ErrorKind::Unavailable
            {
                shared.suspect(reserved.host, &error.message);
            }
            let mut state = shared.lock();
            match hosted {
                Ok(()) => Ok(shared.admit_device(&mut state, reserved, false)),
                Err(error) => {
                    shared.release_device(&mut state, &reserved);
                    Err(error)
                }
            }
        });
        registration.await.map_err(|e| {
            RealClockError::internal(format!("the registration of {device_id:?} failed: {e}"))
        })?
    }

    /// A position pushed by a device: re-attaches it with the scenario's
    /// hysteresis (a hand-over may run the placement policy).
    pub fn report_position(
        &self,
        device_id: &str,
        position: LatLon,
    ) -> Result<PositionUpdate, RealClockError> {
        let now_ns = self.shared.clock.now_ns();
        let mut state = self.shared.lock();
        let device = *state
            .by_name
            .get(device_id)
            .ok_or_else(|| RealClockError::not_found(format!("no device {device_id:?}")))?;
        if let Some(d) = state.devices.get_mut(device as usize) {
            d.movement = Movement::Pushed(position);
        }
        let handed_over = self
            .shared
            .move_device(&mut state, device, position, now_ns);
        let ap = state
            .devices
            .get(device as usize)
            .and_then(|d| d.attachment.ap);
        Ok(PositionUpdate {
            access_point_id: self.shared.ap_name(ap),
            handed_over,
        })
    }

    /// Fault injection: stops the node of cloudlet `cloudlet_id` abruptly,
    /// as a crash would. Its gRPC server task is aborted (open connections
    /// drop, calls in flight fail, no new call is taken) and the edge
    /// carries on with the others: a migration to or from it fails (the
    /// VM stays at its source, [`EdgeEvent::MigrationFailed`]) and requests
    /// to VMs it hosts fail with `Unavailable`. NOT_FOUND for an unknown
    /// cloudlet, FAILED_PRECONDITION if it was stopped already.
    pub fn kill_node(&self, cloudlet_id: &str) -> Result<(), RealClockError> {
        let index = self
            .shared
            .nodes
            .index_of(cloudlet_id)
            .ok_or_else(|| RealClockError::not_found(format!("no cloudlet {cloudlet_id:?}")))?;
        if self.shared.nodes.kill(index) {
            Ok(())
        } else {
            Err(RealClockError::precondition(format!(
                "the node of cloudlet {cloudlet_id:?} is not running here (stopped already, or remote)"
            )))
        }
    }

    /// Bytes booked so far on one direction of a topology link (`hop`:
    /// link index × 2, + 1 for B→A, as `World::paths` lists them), by
    /// whatever crossed it: requests, answers, migration streams and
    /// node-to-node calls. `None` for a link the scenario does not have.
    pub fn booked_bytes(&self, hop: crate::engine::links::DirectedLink) -> Option<u64> {
        self.shared.network.booked_bytes(hop)
    }

    /// Hand-overs, placement decisions and migrations as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<EdgeEvent> {
        self.shared.events.subscribe()
    }

    /// Every request as it finishes (the record requests.csv gets), for
    /// watchers such as the live view; a receiver that falls behind loses
    /// the oldest ([`REQUEST_TAP_CAPACITY`] are kept), the outputs never.
    pub fn subscribe_requests(&self) -> super::tap::TapReceiver {
        self.shared.requests.subscribe()
    }

    /// Copies the figures the edge keeps, rather than records as they
    /// happen, into the process's metrics registry (a scrape calls it just
    /// before the render): each cloudlet's requests in flight and the
    /// in-process nodes' own figures (`realclock::metrics`).
    pub fn publish_metrics(&self) {
        let shared = &self.shared;
        for (i, n) in shared.host_loads().into_iter().enumerate() {
            let cloudlet = shared.cloudlet_name(i as u32);
            metrics::gauge!(super::metrics::CLOUDLET_IN_FLIGHT, "cloudlet" => cloudlet)
                .set(n as f64);
            if let Some(local) = shared.nodes.get(i as u32).and_then(|n| n.local.as_ref()) {
                mcc_cloudlet::node::metrics::publish(local);
            }
        }
    }

    /// Whether `self` and `other` are the same edge (not two runs).
    pub fn same_edge(&self, other: &RealEdge) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// What a watcher draws now: the scenario time, every visible device
    /// (position, access point, host, migration target) and the requests
    /// each cloudlet has in flight. Holds the edge's lock for one pass
    /// over the devices.
    pub fn view(&self) -> EdgeView {
        let state = self.shared.lock();
        let time_ns = state.covered_ns;
        let devices = state
            .devices
            .iter()
            .zip(&state.vms)
            .map(|(device, vm)| DeviceView {
                name: device.name.clone(),
                position: device.movement.position_at(time_ns),
                ap: device.attachment.ap,
                host: vm.host,
                migrating_to: vm.migrating_to,
                lost: vm.lost,
                left: vm.retired,
            })
            .collect();
        EdgeView {
            time_ns,
            devices,
            in_flight: self.shared.host_loads(),
        }
    }

    /// The summary so far (the figures of summary.json).
    pub fn summary(&self) -> Summary {
        let state = self.shared.lock();
        let wall_s = self.shared.clock.now().as_secs_f64() / self.shared.clock.speed();
        self.shared.summary(&state, false, wall_s)
    }

    /// Resolves when every scenario device has sent its last request and
    /// the scenario's duration is over (never, without scenario devices).
    pub async fn scenario_done(&self) {
        if !self.shared.options.scenario_devices {
            std::future::pending::<()>().await;
        }
        // The loops end after the last tick and the last request due
        // within the duration.
        self.shared.loops_running.zero().await;
    }

    /// Stops devices, placement and nodes, waits (at most
    /// [`DRAIN_TIMEOUT`]) for requests and migrations under way, writes the
    /// outputs and returns the final summary.
    pub async fn shutdown(self) -> Result<Summary, RealClockError> {
        let shared = self.shared;
        let now_ns = shared.clock.now_ns();
        let duration_ns = shared.scenario.settings.duration_ns;
        let interrupted = shared.options.scenario_devices && now_ns < duration_ns;
        let _ = shared.stopping.send(true);
        for handle in take_all(&shared.loops) {
            handle.abort();
        }
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, shared.pending.zero())
            .await
            .is_ok();
        let wall_s = shared.clock.now().as_secs_f64() / shared.clock.speed();
        shared.nodes.stop().await;
        let (mut summary, sink, outputs) = {
            let mut state = shared.lock();
            state.covered_ns = if shared.options.scenario_devices {
                now_ns.min(duration_ns)
            } else {
                now_ns
            };
            let summary = shared.summary(&state, interrupted || !drained, wall_s);
            let mut sink = lock(&shared.sink).take();
            if let Some(sink) = sink.as_mut() {
                shared.finish_sleep(&mut state, sink);
            }
            (summary, sink, state.outputs.take())
        };
        if let (Some(sink), Some(outputs)) = (sink, outputs) {
            outputs
                .finish(sink, &mut summary)
                .map_err(|e| RealClockError::internal(format!("{e:#}")))?;
        }
        if !drained {
            return Err(RealClockError::unavailable(format!(
                "requests or migrations were still under way {DRAIN_TIMEOUT:?} after the stop"
            )));
        }
        Ok(summary)
    }
}
