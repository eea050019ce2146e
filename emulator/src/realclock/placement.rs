//! The placement policy on the real clock and the migrations it asks for.
//!
//! The policy sees the same view as on the virtual clock, built by the same
//! code (`engine::placement_tables`): VM hosts, devices' access points,
//! positions and look-aheads at the decision's scenario time, memory,
//! latencies and migration cost estimates. What differs: a cloudlet's CPU
//! backlog is estimated from the requests outstanding at it (× CPU cost ÷
//! cores) instead of read from a modelled queue, and whether a VM is still
//! migrating depends on how long its real migration takes on the wall clock.
//!
//! Each move is a real migration from the source node to the target node
//! over the emulated backbone path between the two cloudlets, whose links
//! the migration stream shares with requests: `CloudletNode::migrate_over`
//! on that path for an in-process source, else `MigrateVmWatched` with the
//! relay's routes as the two nodes' addresses ([`super::relay`]). Either
//! way the source reports each step (pre-copy round, stop, switch, push) as
//! it reaches it, and the edge emits it as an [`EdgeEvent::MigrationPhase`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mcc_cloudlet::migration::PathEstimate;
use mcc_cloudlet::node::control;
use mcc_cloudlet::node::migrate::{RealMigration, Step};
use mcc_proto::v1::MigrateVmProgress;
use mcc_proto::v1::migrate_vm_progress::Kind as Progress;

use super::edge::{EdgeState, PendingGuard, Shared};
use super::events::EdgeEvent;
use super::relay::RouteEnds;
use crate::engine::migrations::{NO_LINK_RATE_BPS, metric_columns};
use crate::output::MigrationRecord;
use crate::placement::{Move, Trigger};

/// What a committed migration leaves for the records.
struct Moved {
    /// The metric columns of its migrations.csv row.
    metrics: Vec<u8>,
    /// The downtime the source measured.
    downtime_ns: u64,
    /// The model's `stall_ms`, on the wall clock.
    stall_ns: u64,
    /// Bytes streamed to the target.
    bytes: u64,
}

impl Shared {
    /// The relay's addresses of route `from` → `to` and back, opened on
    /// first use.
    async fn relay_routes(&self, from: u32, to: u32) -> Result<(String, String), String> {
        let relay = self
            .nodes
            .relay
            .as_ref()
            .ok_or("the nodes run in this process: there is no relay")?;
        let world = &self.scenario.world;
        let mut addresses = Vec::with_capacity(2);
        for (a, b) in [(from, to), (to, from)] {
            let ends = || {
                let node = |i: u32| {
                    self.nodes.get(i).ok_or_else(|| {
                        super::error::RealClockError::internal(format!("no node for cloudlet {i}"))
                    })
                };
                Ok(RouteEnds {
                    caller: node(a)?.address.clone(),
                    target: super::nodes::client(&node(b)?.address)?,
                    there: self.network.between(world, a, b),
                    back: self.network.between(world, b, a),
                })
            };
            let address = relay
                .route(a, b, &self.timer, ends)
                .await
                .map_err(|e| e.to_string())?;
            addresses.push(address);
        }
        let back = addresses.pop().unwrap_or_default();
        let there = addresses.pop().unwrap_or_default();
        Ok((there, back))
    }

    /// Asks the source node (in another process or on another host) to run
    /// the migration itself (`MigrateVmWatched`), telling `watch` each step
    /// it reports. The nodes reach each other
    /// through the relay, which paces the stream over the shared links; the
    /// source paces nothing itself and only estimates the path (`path`'s
    /// latency and bottleneck) until it has measured the rate.
    async fn migrate_remote(
        &self,
        mut plan: RealMigration,
        from: u32,
        to: u32,
        source: &super::nodes::Node,
        watch: &(dyn Fn(Step) + Send + Sync),
    ) -> Result<Moved, String> {
        let (target_address, source_address) = self.relay_routes(from, to).await?;
        plan.target_address = target_address;
        plan.source_address = source_address;
        let request = control::migrate_request(&plan, None);
        let failed = |e: tonic::Status| format!("cloudlet {}: {}", source.name, e.message());
        let mut progress = source
            .client
            .clone()
            .migrate_vm_watched(request)
            .await
            .map_err(failed)?
            .into_inner();
        let answer = loop {
            match progress.message().await.map_err(failed)? {
                Some(MigrateVmProgress {
                    kind: Some(Progress::Step(step)),
                }) => {
                    if let Some(step) = Step::from_wire(&step.phase, step.round) {
                        watch(step);
                    }
                }
                Some(MigrateVmProgress {
                    kind: Some(Progress::Done(answer)),
                }) => break answer,
                Some(MigrateVmProgress { kind: None }) => {}
                None => {
                    return Err(format!(
                        "cloudlet {}: the migration's stream ended without its answer",
                        source.name
                    ));
                }
            }
        };
        Ok(Moved {
            metrics: answer.report_fields.join(",").into_bytes(),
            downtime_ns: answer.downtime_us.saturating_mul(1_000),
            stall_ns: stall_ns_of(&answer.report_fields),
            bytes: answer.wire_bytes,
        })
    }

    /// Refills the placement buffers for scenario time `now_ns`.
    fn fill_view(&self, state: &mut EdgeState, now_ns: u64) {
        let world = &self.scenario.world;
        let settings = &self.scenario.settings;
        // The queue counts requests, not their sizes: each costs the
        // fleet's mean CPU time.
        let cpu_ns = world.mean_cpu_ns();
        let backlog: Vec<u64> = self
            .host_loads()
            .into_iter()
            .zip(&world.cloudlets)
            .map(|(n, c)| n.saturating_mul(cpu_ns) / u64::from(c.cpu_cores.max(1)))
            .collect();
        let EdgeState {
            scratch,
            vms,
            devices,
            policy,
            ..
        } = state;
        scratch.fill_vms(
            world.cloudlets.len(),
            vms.iter().map(|vm| (vm.host, vm.pinned())),
        );
        scratch.fill_backlog(backlog);
        if !scratch.begin_devices(now_ns) {
            return;
        }
        let needs = policy.needs();
        let ahead_ns = now_ns.saturating_add(settings.placement_horizon_ns);
        for device in devices.iter_mut() {
            let position = needs.positions.then(|| device.movement.position_at(now_ns));
            let ahead = needs.look_ahead.then(|| {
                let ahead = device.movement.position_at(ahead_ns);
                device
                    .ahead
                    .update(&self.ap_index, ahead, settings.hysteresis_m);
                (device.ahead.ap, ahead)
            });
            scratch.push_device(device.attachment.ap, position, ahead);
        }
    }

    /// Runs the policy at scenario time `now_ns` and starts the migrations
    /// it asks for.
    pub fn place(self: &Arc<Self>, state: &mut EdgeState, now_ns: u64, trigger: Trigger) {
        if self.is_stopping() {
            return;
        }
        self.fill_view(state, now_ns);
        let settings = &self.scenario.settings;
        let moves = {
            let EdgeState {
                scratch,
                policy,
                memory_used_bytes,
                losses,
                ..
            } = &mut *state;
            let room = super::node_loss::room_view(memory_used_bytes, losses);
            let view = self.tables.view(
                &self.scenario.world,
                scratch,
                now_ns,
                settings.placement_horizon_ns,
                settings.migration.vm_memory_bytes(),
                &room,
            );
            policy.decide(&view, trigger)
        };
        for Move { vm, to } in moves {
            self.start_migration(state, now_ns, vm, to, trigger.reason());
        }
    }

    /// Starts moving `vm` to cloudlet `to`, as the engine would: not if it
    /// is migrating already, is there already, or the target has no room.
    fn start_migration(
        self: &Arc<Self>,
        state: &mut EdgeState,
        now_ns: u64,
        vm: u32,
        to: u32,
        reason: &'static str,
    ) {
        let vm_bytes = self.scenario.settings.migration.vm_memory_bytes();
        let Some(current) = state.vms.get(vm as usize).cloned() else {
            return;
        };
        let room = self
            .scenario
            .world
            .cloudlets
            .get(to as usize)
            .is_some_and(|c| state.memory_used_bytes[to as usize] + vm_bytes <= c.memory_bytes);
        if current.pinned()
            || current.lost
            || current.host == to
            || !room
            || state.losses.is_lost(to)
        {
            return;
        }
        let index = state.totals.migrations_started;
        state.totals.migrations_started += 1;
        state.memory_used_bytes[to as usize] += vm_bytes;
        if let Some(v) = state.vms.get_mut(vm as usize) {
            v.migrating = true;
            v.migrating_to = Some(to);
        }
        let from = current.host;
        // A sleeping target wakes first (`sleep.rs`): the copy starts, and
        // the migration is announced, when it is awake.
        let ready_ns = self.sleep_arrive(state, to, now_ns);
        if ready_ns == now_ns {
            self.announce_migration(&current.id, from, to, now_ns, reason);
        }
        let shared = self.clone();
        let pending = PendingGuard::new(self);
        self.runtime.spawn(async move {
            let _pending = pending;
            if ready_ns > now_ns {
                if !shared.wait_until_awake(ready_ns).await {
                    shared.abandon_migration(vm, to);
                    return;
                }
                shared.announce_migration(&current.id, from, to, ready_ns, reason);
            }
            shared
                .migrate(index, vm, current.id, from, to, ready_ns, reason)
                .await;
        });
    }

    /// Says that `vm_id`'s migration from `from` to `to` starts at scenario
    /// time `time_ns` (the metrics and the event stream).
    fn announce_migration(
        &self,
        vm_id: &str,
        from: u32,
        to: u32,
        time_ns: u64,
        reason: &'static str,
    ) {
        self.metrics.migration(super::metrics::Phase::Start);
        self.emit(EdgeEvent::MigrationStarted {
            time_ns,
            vm: vm_id.to_owned(),
            from: self.cloudlet_name(from),
            to: self.cloudlet_name(to),
            reason,
        });
    }

    /// The edge stopped while `vm`'s migration to `to` waited for `to` to
    /// wake: it never starts (no row, as on the virtual clock, whose run
    /// ends before the wake-up's event), and the VM stays where it is.
    fn abandon_migration(&self, vm: u32, to: u32) {
        let now_ns = self.clock.now_ns();
        let vm_bytes = self.scenario.settings.migration.vm_memory_bytes();
        let mut state = self.lock();
        if let Some(v) = state.vms.get_mut(vm as usize) {
            v.migrating = false;
            v.migrating_to = None;
        }
        if let Some(used) = state.memory_used_bytes.get_mut(to as usize) {
            *used = used.saturating_sub(vm_bytes);
        }
        self.sleep_leave(&mut state, to, now_ns);
    }

    /// Runs one real migration and records how it went.
    #[allow(clippy::too_many_arguments)]
    async fn migrate(
        self: Arc<Self>,
        index: u64,
        vm: u32,
        vm_id: String,
        from: u32,
        to: u32,
        start_ns: u64,
        reason: &'static str,
    ) {
        let world = &self.scenario.world;
        let settings = &self.scenario.settings;
        let (Some(source), Some(target)) = (self.nodes.get(from), self.nodes.get(to)) else {
            return;
        };
        let path = self.network.between(world, from, to);
        let plan = RealMigration {
            migration_id: format!("migration-{index}-{vm_id}"),
            vm_id: vm_id.clone(),
            profile: settings.migration.profile.clone(),
            config: settings.migration.config.clone(),
            path: PathEstimate {
                one_way_latency: path.latency(),
                bandwidth_bps: path.bottleneck_bps().unwrap_or(NO_LINK_RATE_BPS),
            },
            target_host_id: target.name.clone(),
            target_address: target.address.clone(),
            source_address: source.address.clone(),
        };
        let started = Instant::now();
        let names = (self.cloudlet_name(from), self.cloudlet_name(to));
        // When the VM switched to the target (the source leaves it then).
        let switched_ns = AtomicU64::new(u64::MAX);
        // Each step as the source reaches it, on the edge's event stream.
        let watch = |step: Step| {
            if step == Step::Switch {
                switched_ns.store(self.clock.now_ns(), Ordering::Relaxed);
            }
            self.emit(EdgeEvent::MigrationPhase {
                time_ns: self.clock.now_ns(),
                vm: vm_id.clone(),
                from: names.0.clone(),
                to: names.1.clone(),
                step,
            });
        };
        let result = match &source.local {
            Some(local) => {
                let path = (!path.is_empty()).then_some(path);
                local
                    .migrate_watched(&mut target.client.clone(), plan, path, &|step, _| {
                        watch(step)
                    })
                    .await
                    .map(|report| Moved {
                        metrics: metric_columns(&control::measured_report(&report)),
                        downtime_ns: report.source_commit.downtime_us.saturating_mul(1_000),
                        stall_ns: (report.model.stall_ms * 1e6).round() as u64,
                        bytes: report.wire_bytes,
                    })
                    .map_err(|e| e.to_string())
            }
            None => self.migrate_remote(plan, from, to, source, &watch).await,
        };
        let now_ns = self.clock.now_ns();
        let vm_bytes = settings.migration.vm_memory_bytes();
        let mut state = self.lock();
        let source_lost = state.vms.get(vm as usize).is_some_and(|v| v.lost);
        let arrived = match result {
            Ok(moved) => {
                let downtime_ns = moved.downtime_ns;
                if let Some(v) = state.vms.get_mut(vm as usize) {
                    v.host = to;
                    v.migrating = false;
                    v.migrating_to = None;
                    v.handoff = None;
                }
                // Only completed migrations count.
                state.totals.run.migrations += 1;
                if !source_lost {
                    // A lost source was left when it was found lost.
                    let switched_ns = switched_ns.load(Ordering::Relaxed).min(now_ns);
                    self.sleep_leave(&mut state, from, switched_ns);
                }
                let used = &mut state.memory_used_bytes[from as usize];
                *used = used.saturating_sub(vm_bytes);
                state.totals.run.downtime_ns_total += downtime_ns;
                state.totals.run.stall_ns_max = state.totals.run.stall_ns_max.max(moved.stall_ns);
                state.totals.run.bytes_migrated += moved.bytes;
                let record = MigrationRecord {
                    start_ns,
                    vm,
                    from,
                    to,
                    policy: state.policy.name(),
                    reason,
                    bytes: bytes_total_of(&moved.metrics),
                    metrics: moved.metrics,
                    failure: None,
                    energy: None,
                };
                self.record(|sink| sink.migration(record));
                self.metrics.migration(super::metrics::Phase::Done);
                self.emit(EdgeEvent::MigrationDone {
                    time_ns: now_ns,
                    vm: vm_id,
                    from: self.cloudlet_name(from),
                    to: self.cloudlet_name(to),
                    downtime_ms: downtime_ns as f64 / 1e6,
                    bytes: moved.bytes,
                    wall_ms: started.elapsed().as_secs_f64() * 1e3,
                });
                drop(state);
                Some(to)
            }
            Err(error) => {
                if let Some(v) = state.vms.get_mut(vm as usize) {
                    v.migrating = false;
                    v.migrating_to = None;
                    v.handoff = None;
                }
                let used = &mut state.memory_used_bytes[to as usize];
                *used = used.saturating_sub(vm_bytes);
                self.sleep_leave(&mut state, to, now_ns);
                state.totals.migrations_failed += 1;
                // A row of its own, with why it failed (metrics empty).
                let record = MigrationRecord {
                    start_ns,
                    vm,
                    from,
                    to,
                    policy: state.policy.name(),
                    reason,
                    metrics: Vec::new(),
                    failure: Some(error.clone()),
                    bytes: 0,
                    energy: None,
                };
                self.record(|sink| sink.migration(record));
                drop(state);
                // Either side may have died: each is checked.
                self.suspect(from, &error);
                self.suspect(to, &error);
                self.metrics.migration(super::metrics::Phase::Aborted);
                self.emit(EdgeEvent::MigrationFailed {
                    time_ns: now_ns,
                    vm: vm_id,
                    from: self.cloudlet_name(from),
                    to: self.cloudlet_name(to),
                    error,
                });
                None
            }
        };
        if source_lost {
            // Its node died while it left (`node_loss.rs`).
            self.after_migration_of_lost(vm, arrived);
        }
    }
}

/// The `stall_ms` column of a remote migration's report fields, in
/// nanoseconds (0 when the source did not report it).
/// The model's `bytes_total` in a row's metric columns (what the virtual
/// clock's energy meter reads too, so both clocks cost the same bytes).
fn bytes_total_of(metrics: &[u8]) -> u64 {
    let position = mcc_cloudlet::migration::MigrationReport::FLAT_FIELDS
        .iter()
        .position(|name| *name == "bytes_total");
    position
        .and_then(|i| metrics.split(|&b| b == b',').nth(i))
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

fn stall_ns_of(fields: &[String]) -> u64 {
    mcc_cloudlet::migration::MigrationReport::FLAT_FIELDS
        .iter()
        .position(|name| *name == "stall_ms")
        .and_then(|i| fields.get(i))
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map_or(0, |ms| (ms * 1e6).round() as u64)
}
