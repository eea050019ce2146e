//! The event loop: devices move and send requests, requests cross the network
//! and queue at their VM's host, the placement policy moves VMs, and the
//! migration models decide what each move costs.

use std::time::Duration;

use mcc_cloudlet::migration::{Host, Ready};
use mcc_mobile_client::{ApIndex, TraceCursor};

use super::attachment::Attachment;
use super::cpu::CpuQueue;
use super::links::{DirectedLink, LinkSpec, LinkTable, directed};
use super::migrations::{ActiveMigration, MigrationSettings, Wake};
use super::mobility::{Mobility, MobilityFeed, Step};
pub use super::placement_tables::DEFAULT_PLACEMENT_HORIZON_NS;
use super::placement_tables::{PlacementScratch, PlacementTables};
use super::queue::EventQueue;
use super::ticks::{Tick, Ticks};
use super::workload::{RequestClock, RequestSize, SizeStream, request_clock, size_stream};
use super::world::World;
use crate::energy::{SleepConfig, Sleepers};
use crate::output::{Outcome, RecordSink, RequestRecord, RunTotals, Summary};
use crate::placement::{InstanceSize, Move, PlacementPolicy, Trigger};
use crate::radio::{Direction, RadioAccess};

/// How an experiment runs, beyond the world it runs in.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Emulated time covered.
    pub duration_ns: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Requests slower than this are SLA violations.
    pub sla_ns: u64,
    /// Requests slower than this fail as timed out.
    pub timeout_ns: u64,
    /// How often positions and attachments are updated.
    pub mobility_step_ns: u64,
    /// Hysteresis of the attachment rule, in metres.
    pub hysteresis_m: f64,
    /// Run the placement policy this often (`None`: never on a timer).
    pub placement_interval_ns: Option<u64>,
    /// Run the placement policy for a device's VM when the device hands over.
    pub placement_on_handover: bool,
    /// How far ahead the placement view looks along each device's trace
    /// ([`DEFAULT_PLACEMENT_HORIZON_NS`] unless the scenario says).
    pub placement_horizon_ns: u64,
    /// The VM and migration technique every migration uses.
    pub migration: MigrationSettings,
}

/// How many events ahead the loop starts loading the state an event will
/// read (see [`Engine::prefetch_for`]).
const PREFETCH_AHEAD: usize = 6;

/// How often, in emulated time, the progress callback is called.
const PROGRESS_EVERY_NS: u64 = 10_000_000_000;

#[derive(Debug, Clone, Copy)]
enum Event {
    /// A device sends its next request.
    Send { device: u32 },
    /// A request has crossed the wireless hop and enters the backbone
    /// (index into the table of requests in flight).
    Uplinked(u32),
    /// A request can start at its host (index into the table of requests in flight).
    Serve(u32),
    /// A request's host has finished it: its answer leaves (index into the
    /// table of requests in flight).
    Answer(u32),
    /// A migration's model asked to be woken.
    MigrationWake { slot: u32 },
    /// A migration's link is free to send its next transfer.
    MigrationLinkFree { slot: u32 },
    /// A migration transfer reached the target.
    MigrationDelivered { slot: u32, transfer: u64 },
    /// The sleeping cloudlet `to` is awake: VM `vm`'s migration to it
    /// starts.
    CloudletAwake { vm: u32, to: u32 },
}

/// The steps of a request that come through the queue, each of which
/// [`Engine::next_step`] may run at once instead.
#[derive(Debug, Clone, Copy)]
enum RequestStep {
    Uplinked,
    Serve,
    Answer,
}

// The queue holds millions of these: keep them small.
const _: () = assert!(std::mem::size_of::<Event>() <= 16);

/// A request on its way to (or held at) one host.
#[derive(Debug, Clone, Copy)]
pub struct Serve {
    device: u32,
    ap: u32,
    host: u32,
    sent_ns: u64,
    /// When the wireless hop was crossed.
    wireless_up_ns: u64,
    /// When it reached the host.
    arrived_ns: u64,
    /// When the VM can start it (the migration may hold it longer).
    pub(super) ready_ns: u64,
    /// Time it waited for a core (known once its host has started it).
    queueing_ns: u64,
    /// Index in the table of requests answered by two hosts, if it is one.
    dual: Option<u32>,
    /// The migration slot it arrived during, if any.
    migration: Option<u32>,
    /// Bytes of the request (drawn when it was sent).
    request_bytes: u64,
    /// Bytes of its answer (drawn when it was sent).
    response_bytes: u64,
    /// CPU time it costs on one core (drawn when it was sent).
    cpu_ns: u64,
}

impl Serve {
    /// When the host starts on it.
    fn start_ns(&self) -> u64 {
        self.arrived_ns.max(self.ready_ns)
    }
}

/// The first of two answers to a dual-served request, waiting for the second.
#[derive(Debug, Clone, Copy)]
struct DualPending {
    first: Option<RequestRecord>,
}

struct Device<'w> {
    /// The device's position at placement decisions (the mobility thread
    /// steps a cursor of its own).
    cursor: TraceCursor<'w>,
    /// Where the trace says the device will be one placement horizon ahead,
    /// and the access point it would be attached to there (with hysteresis
    /// against the previous look-ahead).
    ahead_cursor: TraceCursor<'w>,
    ahead: Attachment,
}

#[derive(Debug, Clone, Copy)]
struct Vm {
    host: u32,
    migration: Option<u32>,
    /// Waiting for a sleeping target to wake before its migration starts:
    /// the migration's reason.
    waking: Option<&'static str>,
}

impl Vm {
    /// Migrating, or about to once its target is awake.
    fn moving(&self) -> bool {
        self.migration.is_some() || self.waking.is_some()
    }
}

/// One experiment on the virtual clock.
pub struct Engine<'w, S: RecordSink> {
    world: &'w World,
    settings: RunSettings,
    policy: Box<dyn PlacementPolicy + Send>,
    sink: S,
    queue: EventQueue<Event>,
    links: LinkTable,
    cpus: Vec<CpuQueue>,
    ap_index: ApIndex,
    devices: Vec<Device<'w>>,
    /// The access point each device is attached to, as of the last mobility
    /// step (`None` out of coverage); apart from [`Device`], as every request
    /// reads it.
    aps: Vec<Option<u32>>,
    /// Each device's request clock (side by side, as each send reads one).
    clocks: Vec<RequestClock>,
    /// Each device's stream of request sizes.
    sizes: Vec<SizeStream>,
    /// Each device's request sizes when its profile's are all fixed (then
    /// its stream draws nothing, and is not asked).
    fixed_sizes: Vec<Option<RequestSize>>,
    /// Positions and attachments, until the run hands them to their thread.
    mobility: Option<Mobility<'w>>,
    vms: Vec<Vm>,
    migrations: Vec<Option<ActiveMigration>>,
    free_migration_slots: Vec<u32>,
    duals: Vec<Option<DualPending>>,
    free_duals: Vec<u32>,
    /// Requests on their way to a host; events refer to them by index, which
    /// keeps the event queue's entries small.
    in_flight: Vec<Serve>,
    free_in_flight: Vec<u32>,
    memory_used_bytes: Vec<u64>,
    placement_tables: PlacementTables,
    placement_scratch: PlacementScratch,
    totals: RunTotals,
    /// The radio hop (`None`: each access point's fixed wireless link).
    radio: Option<RadioAccess>,
    /// Which empty cloudlets sleep (`None`: none do, the default).
    sleep: Option<Sleepers>,
    /// While an event runs: when the loop has something else to do (the
    /// next tick, the next progress report). A request's next step due
    /// before this and before every queued event would be the next thing
    /// the loop runs, so it runs at once instead of through the queue
    /// ([`Engine::next_step`]). 0 outside events.
    inline_before_ns: u64,
}

/// Why a world cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The world has no cloudlet to host VMs.
    #[error("the scenario has no cloudlet to host VMs")]
    NoCloudlets,
    /// The world has no access point for devices to attach to.
    #[error("the scenario has no access point for devices to attach to")]
    NoAccessPoints,
    /// The access points cannot be indexed.
    #[error("access points: {0}")]
    AccessPoints(String),
    /// Not every VM fits in the cloudlets' memory.
    #[error("the cloudlets' memory cannot hold every device's VM ({vms} VMs of {vm_mib} MiB each)")]
    OutOfMemory {
        /// VMs to place.
        vms: usize,
        /// Memory of each.
        vm_mib: u64,
    },
    /// A migration setting is invalid.
    #[error("migration: {0}")]
    Migration(String),
    /// The workload cannot be run.
    #[error("workload: {0}")]
    Workload(String),
    /// The placement policy cannot serve a run of this size.
    #[error("placement: {0}")]
    Placement(String),
}

impl<'w, S: RecordSink> Engine<'w, S> {
    /// Prepares a run of `world`: attaches every device and places every VM
    /// on the lowest-latency cloudlet (with room) from its first access point.
    pub fn new(
        world: &'w World,
        settings: RunSettings,
        policy: Box<dyn PlacementPolicy + Send>,
        sink: S,
    ) -> Result<Self, EngineError> {
        if world.cloudlets.is_empty() {
            return Err(EngineError::NoCloudlets);
        }
        if world.access_points.is_empty() {
            return Err(EngineError::NoAccessPoints);
        }
        settings
            .migration
            .validate()
            .map_err(|e| EngineError::Migration(e.to_string()))?;
        if world.workloads.is_empty() {
            return Err(EngineError::Workload("no application profile".into()));
        }
        for w in &world.workloads {
            let rate = w.rate_hz;
            if !(rate.is_finite() && rate > 0.0) {
                return Err(EngineError::Workload(format!(
                    "profile {}: rate_hz must be a positive number, got {rate}",
                    w.name
                )));
            }
        }
        if let Some(d) = world
            .devices
            .iter()
            .find(|d| d.workload as usize >= world.workloads.len())
        {
            return Err(EngineError::Workload(format!(
                "device {} follows profile {}, and there are {}",
                d.name,
                d.workload,
                world.workloads.len()
            )));
        }
        policy
            .check(&InstanceSize {
                vms: world.devices.len(),
                cloudlets: world.cloudlets.len(),
                periodic: settings.placement_interval_ns.is_some(),
            })
            .map_err(EngineError::Placement)?;
        let ap_index = world
            .ap_index()
            .map_err(|e| EngineError::AccessPoints(e.to_string()))?;

        // Backbone links first, then one wireless link per access point.
        let mut specs = world.links.clone();
        specs.extend(world.access_points.iter().map(|ap| LinkSpec {
            capacity_bps: ap.wireless_rate_bps,
            latency_ns: ap.wireless_latency_ns,
        }));
        let links = LinkTable::new(specs);
        let cpus = world
            .cloudlets
            .iter()
            .map(|c| CpuQueue::new(c.cpu_cores))
            .collect();

        let mut engine = Self {
            world,
            policy,
            sink,
            queue: EventQueue::new(),
            links,
            cpus,
            ap_index,
            devices: Vec::with_capacity(world.devices.len()),
            aps: Vec::with_capacity(world.devices.len()),
            clocks: Vec::with_capacity(world.devices.len()),
            sizes: Vec::with_capacity(world.devices.len()),
            fixed_sizes: Vec::with_capacity(world.devices.len()),
            mobility: None,
            vms: Vec::with_capacity(world.devices.len()),
            migrations: Vec::new(),
            free_migration_slots: Vec::new(),
            duals: Vec::new(),
            free_duals: Vec::new(),
            in_flight: Vec::new(),
            free_in_flight: Vec::new(),
            memory_used_bytes: vec![0; world.cloudlets.len()],
            placement_tables: PlacementTables::new(world, &settings.migration),
            placement_scratch: PlacementScratch::default(),
            totals: RunTotals::default(),
            radio: world
                .radio
                .as_ref()
                .map(|model| RadioAccess::new(model, world.devices.len())),
            settings,
            inline_before_ns: 0,
            sleep: None,
        };
        engine.place_initially()?;
        Ok(engine)
    }

    /// Lets empty cloudlets sleep (`docs/energy.md`): a migration onto a
    /// sleeping cloudlet starts once it has woken, and the sink gets the
    /// spans each cloudlet spent asleep and waking when the run is over.
    /// `None` leaves every cloudlet awake.
    pub fn with_cloudlet_sleep(mut self, config: Option<SleepConfig>) -> Self {
        self.sleep = config.map(|config| {
            let mut vms = vec![0u32; self.world.cloudlets.len()];
            for vm in &self.vms {
                vms[vm.host as usize] += 1;
            }
            Sleepers::new(config, &vms)
        });
        self
    }

    fn vm_bytes(&self) -> u64 {
        self.settings.migration.vm_memory_bytes()
    }

    /// Attaches each device at time 0 and gives its VM a host.
    fn place_initially(&mut self) -> Result<(), EngineError> {
        let vm_bytes = self.vm_bytes();
        let mut mobility = Vec::with_capacity(self.world.devices.len());
        for (i, spec) in self.world.devices.iter().enumerate() {
            let mut cursor = spec.trace.cursor(spec.edge);
            let position = cursor.position_at(0.0);
            let attachment =
                Attachment::first(&self.ap_index, position, self.settings.hysteresis_m);
            // Out of coverage at the start: host it near the closest site anyway.
            let host = self
                .placement_tables
                .initial_host(
                    self.world,
                    attachment.ap,
                    position,
                    &self.memory_used_bytes,
                    vm_bytes,
                )
                .ok_or(EngineError::OutOfMemory {
                    vms: self.world.devices.len(),
                    vm_mib: vm_bytes >> 20,
                })?;
            self.memory_used_bytes[host as usize] += vm_bytes;
            let mut clock = request_clock(self.world.workload_of(i), self.settings.seed, i as u32);
            let first_ns = clock.first_ns();
            if first_ns <= self.settings.duration_ns {
                self.queue.push(first_ns, Event::Send { device: i as u32 });
            }
            self.devices.push(Device {
                cursor: cursor.clone(),
                ahead_cursor: spec.trace.cursor(spec.edge),
                ahead: Attachment::undecided(position),
            });
            self.vms.push(Vm {
                host,
                migration: None,
                waking: None,
            });
            self.aps.push(attachment.ap);
            if let (Some(access), Some(model)) = (&mut self.radio, &self.world.radio) {
                access.set_link(
                    i as u32,
                    attachment.ap.and_then(|ap| model.quality(ap, position)),
                );
            }
            self.clocks.push(clock);
            self.sizes.push(size_stream(self.settings.seed, i as u32));
            self.fixed_sizes
                .push(self.world.workload_of(i).sizes.fixed());
            mobility.push((cursor, attachment));
        }
        self.mobility = Some(
            Mobility::new(mobility, self.ap_index.clone(), self.settings.hysteresis_m)
                .with_radio(self.world.radio.as_ref()),
        );
        Ok(())
    }

    /// Runs the experiment to its end and returns the summary (without the
    /// wall-clock figures, which the caller measures) and the sink.
    pub fn run(mut self, progress: impl FnMut(u64)) -> (Summary, S) {
        let ticks = Ticks::new(
            self.settings.mobility_step_ns,
            self.settings.placement_interval_ns,
            Some(self.settings.duration_ns),
        );
        let mobility = self
            .mobility
            .take()
            .expect("Engine::new prepared every device's mobility");
        std::thread::scope(|scope| {
            let mut feed = MobilityFeed::spawn(scope, mobility, ticks.clone());
            self.event_loop(ticks, &mut feed, progress);
        });
        let summary = self.summary();
        if let Some(sleep) = self.sleep.take() {
            self.sink
                .cloudlet_sleep(sleep.finish(self.settings.duration_ns));
        }
        (summary, self.sink)
    }

    /// Runs ticks and events in time order until nothing is left; the
    /// mobility ticks take their hand-overs from `feed`.
    fn event_loop(
        &mut self,
        mut ticks: Ticks,
        feed: &mut MobilityFeed<'w>,
        mut progress: impl FnMut(u64),
    ) {
        let end = self.settings.duration_ns;
        // Nothing new is scheduled past the end, so the queue drains: requests
        // already sent get their answers and migrations under way finish.
        let mut next_progress = 0;
        loop {
            // Ticks due at an instant run before the events due then.
            let next_tick_ns = ticks.peek_ns();
            let Some((now, event)) = self.queue.pop_before(next_tick_ns) else {
                let Some((now, tick)) = ticks.next() else {
                    break;
                };
                match tick {
                    Tick::Mobility => {
                        let Some(step) = feed.next_step(now) else {
                            // The mobility thread panicked; the scope
                            // carries its panic on.
                            return;
                        };
                        self.on_mobility(now, step);
                    }
                    Tick::Placement => self.place(now, Trigger::Periodic),
                }
                continue;
            };
            if now >= next_progress {
                progress(now.min(end));
                next_progress = now.saturating_add(PROGRESS_EVERY_NS);
            }
            self.inline_before_ns = next_tick_ns.unwrap_or(u64::MAX).min(next_progress);
            if let Some(&later) = self.queue.ahead(PREFETCH_AHEAD) {
                self.prefetch_for(later);
            }
            match event {
                Event::Send { device } => self.on_send(now, device),
                Event::Uplinked(slot) => self.on_uplinked(now, slot),
                Event::Serve(slot) => self.on_serve(now, slot),
                Event::Answer(slot) => self.on_answer(now, slot),
                Event::MigrationWake { slot } => self.with_migration(now, slot, Wake::Timer),
                Event::MigrationLinkFree { slot } => self.with_migration(now, slot, Wake::LinkFree),
                Event::MigrationDelivered { slot, transfer } => {
                    self.with_migration(now, slot, Wake::Delivered(transfer))
                }
                Event::CloudletAwake { vm, to } => self.on_cloudlet_awake(now, vm, to),
            }
            self.inline_before_ns = 0;
        }
        progress(end);
    }

    fn summary(&self) -> Summary {
        let run = crate::output::RunLabel {
            policy: self.policy.name(),
            technique: self.settings.migration.config.technique.name(),
        };
        self.totals.summary(
            run,
            self.world.devices.len() as u64,
            self.world.cloudlets.len() as u64,
            self.settings.duration_ns as f64 / 1e9,
        )
    }

    /// Applies the hand-overs of the mobility step at `now` (in device
    /// order) and its radio links, and runs the policy for the devices that
    /// handed over.
    fn on_mobility(&mut self, now: u64, step: Step) {
        let Step {
            handovers,
            mut links,
        } = step;
        if let Some(radio) = &mut self.radio {
            radio.replace_links(&mut links);
        }
        for handover in &handovers {
            self.aps[handover.device as usize] = handover.to;
            self.sink.handover(*handover);
        }
        // Devices moved: the placement view's device entries are stale even if
        // a decision was already taken at this instant.
        self.placement_scratch.devices_at_ns = None;
        if self.settings.placement_on_handover {
            for handover in handovers {
                if handover.to.is_some() {
                    self.place(
                        now,
                        Trigger::Handover {
                            device: handover.device,
                        },
                    );
                }
            }
        }
    }

    /// Refills the placement buffers with the world at `now` (and each
    /// device's position and access point at `now + horizon`).
    fn fill_placement_scratch(&mut self, now: u64) {
        let scratch = &mut self.placement_scratch;
        if !scratch.vms_fresh() {
            scratch.fill_vms(
                self.world.cloudlets.len(),
                self.vms.iter().map(|vm| (vm.host, vm.moving())),
            );
        }
        scratch.fill_backlog(self.cpus.iter().map(|c| c.backlog_ns(now)));
        if !scratch.begin_devices(now) {
            return;
        }
        let needs = self.policy.needs();
        if !needs.positions && !needs.look_ahead {
            scratch.push_device_aps(&self.aps);
            return;
        }
        let ahead_s = now.saturating_add(self.settings.placement_horizon_ns) as f64 / 1e9;
        for (device, &ap) in self.devices.iter_mut().zip(&self.aps) {
            let position = needs
                .positions
                .then(|| device.cursor.position_at(now as f64 / 1e9));
            let ahead = needs.look_ahead.then(|| {
                let ahead = device.ahead_cursor.position_at(ahead_s);
                device
                    .ahead
                    .update(&self.ap_index, ahead, self.settings.hysteresis_m);
                (device.ahead.ap, ahead)
            });
            scratch.push_device(ap, position, ahead);
        }
    }

    fn place(&mut self, now: u64, trigger: Trigger) {
        self.fill_placement_scratch(now);
        let view = self.placement_tables.view(
            self.world,
            &self.placement_scratch,
            now,
            self.settings.placement_horizon_ns,
            self.settings.migration.vm_memory_bytes(),
            &self.memory_used_bytes,
        );
        let moves = self.policy.decide(&view, trigger);
        for Move { vm, to } in moves {
            self.start_migration(now, vm, to, trigger.reason());
        }
    }

    fn start_migration(&mut self, now: u64, vm: u32, to: u32, reason: &'static str) {
        let vm_bytes = self.vm_bytes();
        let Some(state) = self.vms.get(vm as usize).copied() else {
            return;
        };
        let room = self
            .world
            .cloudlets
            .get(to as usize)
            .is_some_and(|c| self.memory_used_bytes[to as usize] + vm_bytes <= c.memory_bytes);
        if state.moving() || state.host == to || !room {
            return;
        }
        // A sleeping target wakes first: the memory is the VM's from now
        // on, the copy starts when the target is awake.
        let ready = self.sleep.as_mut().map_or(now, |s| s.arrive(to, now));
        if ready > now {
            self.memory_used_bytes[to as usize] += vm_bytes;
            self.vms[vm as usize].waking = Some(reason);
            self.placement_scratch.vms_changed();
            self.queue.push(ready, Event::CloudletAwake { vm, to });
            return;
        }
        self.begin_migration(now, vm, to, reason);
    }

    /// Starts loading the per-device state `event` will read (and the
    /// sink's, for an answer), so that with
    /// many devices the loop does not wait for each cache miss in turn.
    /// Changes nothing but timing.
    fn prefetch_for(&self, event: Event) {
        use mcc_mobile_client::prefetch::prefetch;
        let device = match event {
            Event::Send { device } => {
                if let Some(clock) = self.clocks.get(device as usize) {
                    clock.prefetch();
                }
                device
            }
            Event::Uplinked(slot) => match self.in_flight.get(slot as usize) {
                Some(serve) => serve.device,
                None => return,
            },
            Event::Answer(slot) => match self.in_flight.get(slot as usize) {
                Some(serve) => {
                    self.sink.prefetch_device(serve.device);
                    serve.device
                }
                None => return,
            },
            _ => return,
        };
        let d = device as usize;
        if let (Some(vm), Some(ap)) = (self.vms.get(d), self.aps.get(d)) {
            prefetch(vm, 1);
            prefetch(ap, 1);
        }
    }

    /// Cloudlet `to` has woken for VM `vm`: its migration starts.
    fn on_cloudlet_awake(&mut self, now: u64, vm: u32, to: u32) {
        let Some(reason) = self.vms.get_mut(vm as usize).and_then(|v| v.waking.take()) else {
            return;
        };
        // `begin_migration` books the memory again.
        let used = &mut self.memory_used_bytes[to as usize];
        *used = used.saturating_sub(self.settings.migration.vm_memory_bytes());
        self.begin_migration(now, vm, to, reason);
    }

    /// Starts moving `vm` to `to` at `now` (its target is awake and has
    /// room).
    fn begin_migration(&mut self, now: u64, vm: u32, to: u32, reason: &'static str) {
        let vm_bytes = self.vm_bytes();
        let Some(state) = self.vms.get(vm as usize).copied() else {
            return;
        };
        let path: Vec<DirectedLink> = self.world.paths.between(state.host, to).to_vec();
        let latency_ns = self.world.paths.between_latency_ns(state.host, to);
        let Ok(migration) = ActiveMigration::start(
            &self.settings.migration,
            now,
            vm,
            state.host,
            to,
            self.policy.name(),
            reason,
            path,
            latency_ns,
            self.settings.seed,
            self.totals.migrations,
            &mut self.links,
        ) else {
            // Only a path without capacity gets here; the VM stays put.
            if let Some(sleep) = &mut self.sleep {
                sleep.leave(to, now);
            }
            self.placement_scratch.vms_changed();
            return;
        };
        self.totals.migrations += 1;
        self.memory_used_bytes[to as usize] += vm_bytes;
        let slot = match self.free_migration_slots.pop() {
            Some(slot) => {
                self.migrations[slot as usize] = Some(migration);
                slot
            }
            None => {
                self.migrations.push(Some(migration));
                (self.migrations.len() - 1) as u32
            }
        };
        self.vms[vm as usize].migration = Some(slot);
        self.placement_scratch.vms_changed();
        self.with_migration(now, slot, Wake::Start);
    }

    /// Lets migration `slot` react to `wake`, then carries out what it asks.
    fn with_migration(&mut self, now: u64, slot: u32, wake: Wake) {
        let Some(Some(migration)) = self.migrations.get_mut(slot as usize) else {
            return;
        };
        let actions = migration.wake(now, wake, &mut self.links);
        if let Some((at, transfer)) = actions.delivered {
            self.queue
                .push(at, Event::MigrationDelivered { slot, transfer });
        }
        if let Some(at) = actions.link_free_at {
            self.queue.push(at, Event::MigrationLinkFree { slot });
        }
        if let Some(at) = actions.wake_at {
            self.queue.push(at, Event::MigrationWake { slot });
        }
        for serve in actions.released {
            self.schedule_serve(serve.start_ns().max(now), serve);
        }
        if let Some(switched) = actions.switched {
            // From now on the VM lives at the target only.
            self.vms[switched.vm as usize] = Vm {
                host: switched.to,
                migration: None,
                waking: None,
            };
            if let Some(sleep) = &mut self.sleep {
                sleep.leave(switched.from, now);
            }
            self.placement_scratch.vms_changed();
            let bytes = self.vm_bytes();
            let used = &mut self.memory_used_bytes[switched.from as usize];
            *used = used.saturating_sub(bytes);
        }
        self.finish_migration_if_over(slot);
    }

    /// Writes migration `slot`'s row and frees the slot once the migration is
    /// done and every request that arrived during it has its answer.
    fn finish_migration_if_over(&mut self, slot: u32) {
        let Some(Some(migration)) = self.migrations.get(slot as usize) else {
            return;
        };
        let Some(finished) = migration.finished() else {
            return;
        };
        self.totals.downtime_ns_total += finished.downtime_ns;
        self.totals.stall_ns_max = self.totals.stall_ns_max.max(finished.stall_ns);
        self.totals.bytes_migrated += finished.bytes;
        self.sink.migration(finished.record);
        self.migrations[slot as usize] = None;
        self.free_migration_slots.push(slot);
    }

    fn wireless(&self, ap: u32, up: bool) -> [DirectedLink; 1] {
        [directed(self.world.links.len() as u32 + ap, up)]
    }

    /// When `bytes` ready at `at_ns` cross the wireless hop between
    /// `device` and access point `ap`: the radio model's cell, or the
    /// access point's fixed link without one. `None`: the device has no
    /// radio link now.
    fn wireless_hop(
        &mut self,
        device: u32,
        ap: u32,
        up: bool,
        bytes: u64,
        at_ns: u64,
    ) -> Option<u64> {
        match (&mut self.radio, &self.world.radio) {
            (Some(access), Some(model)) => {
                let direction = if up { Direction::Up } else { Direction::Down };
                access.transfer(model, device, ap, direction, bytes, at_ns)
            }
            _ => Some(self.links.send_message(self.wireless(ap, up), bytes, at_ns)),
        }
    }

    fn on_send(&mut self, now: u64, device: u32) {
        let d = device as usize;
        let gap = self.clocks[d].gap_ns();
        // Saturating: a rate so small its gap overflows sends no more.
        let next = now.saturating_add(gap);
        if next <= self.settings.duration_ns {
            self.queue.push(next, Event::Send { device });
        }
        self.totals.requests += 1;
        // Drawn for every request, attached or not, so the n-th request of
        // a device has the same sizes on both clocks.
        let size = match self.fixed_sizes[d] {
            Some(fixed) => fixed,
            None => self.sizes[d].draw(&self.world.workload_of(d).sizes),
        };
        let Some(ap) = self.aps[d] else {
            self.finish_request(RequestRecord::no_coverage(now, device), None);
            return;
        };
        let bytes = size.request_bytes;
        let Some(wireless_up_ns) = self.wireless_hop(device, ap, true, bytes, now) else {
            // In range of the site, but too weak a signal to decode.
            self.finish_request(RequestRecord::no_coverage(now, device), None);
            return;
        };
        let uplinked = Serve {
            device,
            ap,
            host: 0,
            sent_ns: now,
            wireless_up_ns,
            arrived_ns: 0,
            ready_ns: 0,
            queueing_ns: 0,
            dual: None,
            migration: None,
            request_bytes: bytes,
            response_bytes: size.response_bytes,
            cpu_ns: size.cpu_ns,
        };
        // The backbone is booked when the request reaches it, not now: a
        // link serves messages in the order they reach it, and requests
        // cross the wireless hop in times that differ by device.
        let slot = self.keep_in_flight(uplinked);
        self.next_step(wireless_up_ns, slot, RequestStep::Uplinked);
    }

    /// A request that crossed the wireless hop at `now` goes on to its VM's
    /// host (or, during a migration, to the host(s) the model says).
    fn on_uplinked(&mut self, now: u64, request: u32) {
        let uplinked = &mut self.in_flight[request as usize];
        let (d, ap, bytes) = (
            uplinked.device as usize,
            uplinked.ap,
            uplinked.request_bytes,
        );
        let wireless_up_ns = now;
        let vm = self.vms[d];
        let Some(slot) = vm.migration else {
            // The request keeps its entry in the table.
            let arrived_ns =
                self.links
                    .send_message(self.world.paths.up(ap, vm.host), bytes, wireless_up_ns);
            uplinked.host = vm.host;
            uplinked.arrived_ns = arrived_ns;
            self.next_step(arrived_ns, request, RequestStep::Serve);
            return;
        };
        let base = Serve {
            host: vm.host,
            migration: vm.migration,
            ..self.take_in_flight(request)
        };
        let Some(Some(migration)) = self.migrations.get_mut(slot as usize) else {
            return;
        };
        // The model is asked when the request would reach the source.
        let at_vm_ns = wireless_up_ns + self.world.paths.ap_latency_ns(ap, migration.from());
        let outcome = migration.on_request(at_vm_ns);
        let (from, to) = (migration.from(), migration.to());
        let dual = (outcome.answers.len() > 1).then(|| self.new_dual());
        for answer in &outcome.answers {
            let host = match answer.host {
                Host::Source => from,
                Host::Target => to,
            };
            let arrived_ns =
                self.links
                    .send_message(self.world.paths.up(ap, host), bytes, wireless_up_ns);
            let mut serve = Serve {
                host,
                arrived_ns,
                dual,
                ..base
            };
            match answer.ready {
                Ready::At(ready) => {
                    serve.ready_ns = duration_ns(ready);
                    self.schedule_serve(serve.start_ns(), serve);
                }
                Ready::AtResume => {
                    if let Some(Some(migration)) = self.migrations.get_mut(slot as usize) {
                        migration.hold(serve);
                    }
                }
            }
        }
    }

    /// Keeps `serve` in the table of requests in flight and schedules it
    /// to start at its host.
    fn schedule_serve(&mut self, at_ns: u64, serve: Serve) {
        let slot = self.keep_in_flight(serve);
        self.queue.push(at_ns, Event::Serve(slot));
    }

    /// The request in flight in `slot`, whose slot is free again.
    fn take_in_flight(&mut self, slot: u32) -> Serve {
        self.free_in_flight.push(slot);
        self.in_flight[slot as usize]
    }

    /// Keeps `serve` in the table of requests in flight: its index there.
    fn keep_in_flight(&mut self, serve: Serve) -> u32 {
        match self.free_in_flight.pop() {
            Some(slot) => {
                self.in_flight[slot as usize] = serve;
                slot
            }
            None => {
                self.in_flight.push(serve);
                (self.in_flight.len() - 1) as u32
            }
        }
    }

    /// Request `request` (in the table of requests in flight) takes `step`
    /// at `at_ns`: at once when that is what the loop would run next (due
    /// strictly before every queued event and before the loop's next tick
    /// or progress report, so nothing can happen in between and the run is
    /// the same), otherwise through the queue.
    fn next_step(&mut self, at_ns: u64, request: u32, step: RequestStep) {
        if at_ns < self.inline_before_ns && self.queue.next_at_ns().is_none_or(|next| at_ns < next)
        {
            match step {
                RequestStep::Uplinked => self.on_uplinked(at_ns, request),
                RequestStep::Serve => self.on_serve(at_ns, request),
                RequestStep::Answer => self.on_answer(at_ns, request),
            }
            return;
        }
        let event = match step {
            RequestStep::Uplinked => Event::Uplinked(request),
            RequestStep::Serve => Event::Serve(request),
            RequestStep::Answer => Event::Answer(request),
        };
        self.queue.push(at_ns, event);
    }

    fn new_dual(&mut self) -> u32 {
        let pending = Some(DualPending { first: None });
        match self.free_duals.pop() {
            Some(i) => {
                self.duals[i as usize] = pending;
                i
            }
            None => {
                self.duals.push(pending);
                (self.duals.len() - 1) as u32
            }
        }
    }

    /// A request starts at its host at `now`: it waits for a core and
    /// runs; its answer leaves when it is done.
    fn on_serve(&mut self, now: u64, request: u32) {
        let serve = &mut self.in_flight[request as usize];
        let service = self.cpus[serve.host as usize].serve(now, serve.cpu_ns);
        serve.queueing_ns = service.queueing_ns;
        // The way back is booked when the answer leaves, for the same
        // reason as the way up (see `on_send`).
        self.next_step(service.done_ns, request, RequestStep::Answer);
    }

    /// The host finished `serve` at `now`: its answer crosses the backbone
    /// and the wireless hop back to the device.
    fn on_answer(&mut self, now: u64, request: u32) {
        let serve = self.take_in_flight(request);
        let work = serve.cpu_ns;
        let started_ns = now - work - serve.queueing_ns;
        let bytes = serve.response_bytes;
        let back_ns =
            self.links
                .send_message(self.world.paths.down(serve.ap, serve.host), bytes, now);
        // A device that lost its radio link meanwhile never gets the answer.
        let at_device_ns = self
            .wireless_hop(serve.device, serve.ap, false, bytes, back_ns)
            .unwrap_or(back_ns.saturating_add(self.settings.timeout_ns));
        let total_ns = at_device_ns - serve.sent_ns;
        let record = RequestRecord {
            sent_ns: serve.sent_ns,
            device: serve.device,
            vm: serve.device,
            host: serve.host,
            access_ns: (serve.wireless_up_ns - serve.sent_ns) + (at_device_ns - back_ns),
            backbone_ns: (serve.arrived_ns - serve.wireless_up_ns) + (back_ns - now),
            queueing_ns: serve.queueing_ns,
            processing_ns: work,
            migration_stall_ns: started_ns - serve.arrived_ns,
            total_ns,
            outcome: if total_ns > self.settings.timeout_ns {
                Outcome::TimedOut
            } else {
                Outcome::Ok
            },
            ap: serve.ap,
            request_bytes: serve.request_bytes,
            response_bytes: bytes,
            dual_host: None,
            device_energy_uj: 0,
        };
        match serve.dual {
            None => self.finish_request(record, serve.migration),
            Some(index) => {
                let Some(Some(pending)) = self.duals.get_mut(index as usize) else {
                    return;
                };
                match pending.first.take() {
                    None => pending.first = Some(record),
                    Some(first) => {
                        self.duals[index as usize] = None;
                        self.free_duals.push(index);
                        let (mut best, other) = if first.total_ns <= record.total_ns {
                            (first, record)
                        } else {
                            (record, first)
                        };
                        // Both hosts executed it: the energy meter counts
                        // the second execution against the migration.
                        best.dual_host = Some(other.host);
                        self.finish_request(best, serve.migration);
                    }
                }
            }
        }
    }

    fn finish_request(&mut self, record: RequestRecord, migration: Option<u32>) {
        self.totals
            .count_outcome(record.outcome, record.total_ns, self.settings.sla_ns);
        // The request's row before its migration's: the sink sees every
        // request of a migration before the migration (the energy meter
        // charges a soft handoff's duplicated requests to it).
        self.sink.request(record);
        if let Some(slot) = migration {
            if let Some(Some(active)) = self.migrations.get_mut(slot as usize) {
                active.answered(record.total_ns);
            }
            self.finish_migration_if_over(slot);
        }
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
