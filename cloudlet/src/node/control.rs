//! What a controller asks of a node over gRPC: host a VM (`HostVm`) and
//! move one to another node (`MigrateVm`), so that a node in another
//! process or on another host can be driven like one in process.

use std::sync::Arc;
use std::time::Duration;

use mcc_proto::v1::{HostVmRequest, MigrateVmRequest, MigrateVmResponse, MigrationStep, PathHop};

use super::CloudletNode;
use super::error::NodeError;
use super::migrate::{RealMigration, RealMigrationReport};
use crate::memory::{DirtyModel, VmProfile};
use crate::migration::{MigrationConfig, MigrationReport, PathEstimate, Technique};
use crate::realtime::{Direction, EmulatedLink, EmulatedPath, LinkSpec, Timer};

/// The fastest a migration is taken to go when its path has no shaped hop:
/// 100 Gbit/s (the model's first estimate; it measures the real rate).
const UNSHAPED_ESTIMATE_BPS: f64 = 100e9;

/// The model's report with the downtime the source measured in place of
/// the model's own figure.
pub fn measured_report(report: &RealMigrationReport) -> MigrationReport {
    let mut model = report.model.clone();
    model.downtime_ms = report.source_commit.downtime_us as f64 / 1e3;
    model
}

/// The wire answer of a finished migration.
pub fn migrate_response(report: &RealMigrationReport) -> MigrateVmResponse {
    MigrateVmResponse {
        wire_bytes: report.wire_bytes,
        downtime_us: report.source_commit.downtime_us,
        elapsed_us: u64::try_from(report.elapsed.as_micros()).unwrap_or(u64::MAX),
        report_fields: measured_report(report).flat_fields(3, "").to_vec(),
    }
}

/// A migration's `step`, `after` its start, on the wire
/// (`MigrateVmWatched`); [`super::migrate::Step::from_wire`] reads it back.
pub fn wire_step(step: super::migrate::Step, after: Duration) -> MigrationStep {
    MigrationStep {
        phase: step.name().to_owned(),
        round: step.round(),
        after_us: u64::try_from(after.as_micros()).unwrap_or(u64::MAX),
    }
}

/// `profile` on the wire (`VmProfile` of `HostVm`, `MigrateVm` and the
/// hand-over); [`migration_plan`] reads it back.
pub fn wire_profile(profile: &VmProfile) -> mcc_proto::v1::VmProfile {
    mcc_proto::v1::VmProfile {
        memory_bytes: profile.memory_bytes(),
        working_set_bytes: profile.working_set_pages * profile.page_bytes,
        dirty_rate_pps: profile.dirty_rate_pps,
        zero_page_fraction: profile.zero_fraction,
        page_size_bytes: u32::try_from(profile.page_bytes).unwrap_or(u32::MAX),
    }
}

/// The `MigrateVmRequest` that asks a node to run `plan`: over `path`
/// (the node paces the stream on a private copy of its hops) or, with
/// `None`, paced by whatever carries the calls (the node only starts from
/// `plan.path`'s estimate). [`migration_plan`] is its inverse.
pub fn migrate_request(plan: &RealMigration, path: Option<&EmulatedPath>) -> MigrateVmRequest {
    MigrateVmRequest {
        migration_id: plan.migration_id.clone(),
        vm_id: plan.vm_id.clone(),
        target_host_id: plan.target_host_id.clone(),
        target_address: plan.target_address.clone(),
        source_address: plan.source_address.clone(),
        profile: Some(wire_profile(&plan.profile)),
        dirty_model: plan.profile.dirty_model.name().to_owned(),
        technique: plan.config.technique.name().to_owned(),
        max_rounds: plan.config.max_rounds,
        downtime_target_us: u64::try_from(plan.config.downtime_target.as_micros())
            .unwrap_or(u64::MAX),
        cpu_state_bytes: plan.config.cpu_state_bytes,
        pages_per_request: plan.config.pages_per_request,
        path: path.map(path_hops).unwrap_or_default(),
        estimate_latency_us: u64::try_from(plan.path.one_way_latency.as_micros())
            .unwrap_or(u64::MAX),
        estimate_bandwidth_bps: plan.path.bandwidth_bps,
    }
}

/// The hops of `path` for a `MigrateVmRequest`.
fn path_hops(path: &EmulatedPath) -> Vec<PathHop> {
    path.specs()
        .into_iter()
        .map(|spec| PathHop {
            latency_us: u64::try_from(spec.latency.as_micros()).unwrap_or(u64::MAX),
            bandwidth_bps: spec.bandwidth_bps.unwrap_or(0.0),
        })
        .collect()
}

/// The plan and path a `MigrateVmRequest` asks for; links are private to
/// the migration and wait with `timer`.
pub fn migration_plan(
    request: &MigrateVmRequest,
    timer: &Timer,
) -> Result<(RealMigration, Option<EmulatedPath>), NodeError> {
    let wire = request
        .profile
        .ok_or_else(|| NodeError::invalid("MigrateVmRequest.profile is missing"))?;
    let dirty_model = DirtyModel::from_name(&request.dirty_model)
        .map_err(|e| NodeError::invalid(format!("MigrateVmRequest.dirty_model: {e}")))?;
    let page_bytes = if wire.page_size_bytes == 0 {
        super::pages::DEFAULT_PAGE_BYTES
    } else {
        wire.page_size_bytes
    };
    let profile = VmProfile::with_page_bytes(
        u64::from(page_bytes),
        wire.memory_bytes,
        wire.working_set_bytes,
        wire.dirty_rate_pps,
        wire.zero_page_fraction,
        dirty_model,
    )
    .map_err(|e| NodeError::invalid(format!("MigrateVmRequest.profile: {e}")))?;
    let technique = Technique::from_name(&request.technique)
        .map_err(|e| NodeError::invalid(format!("MigrateVmRequest.technique: {e}")))?;
    let mut config = MigrationConfig::new(technique);
    config.max_rounds = request.max_rounds;
    config.downtime_target = Duration::from_micros(request.downtime_target_us);
    config.cpu_state_bytes = request.cpu_state_bytes;
    config.pages_per_request = request.pages_per_request;
    config
        .validate()
        .map_err(|e| NodeError::invalid(format!("MigrateVmRequest: {e}")))?;
    let mut hops = Vec::with_capacity(request.path.len());
    for (i, hop) in request.path.iter().enumerate() {
        let latency = Duration::from_micros(hop.latency_us);
        let spec = if hop.bandwidth_bps == 0.0 {
            LinkSpec::latency_only(latency)
        } else {
            LinkSpec::new(latency, hop.bandwidth_bps)
                .map_err(|e| NodeError::invalid(format!("MigrateVmRequest.path[{i}]: {e}")))?
        };
        let link = Arc::new(EmulatedLink::symmetric(spec, timer.clone()));
        hops.push((link, Direction::AToB));
    }
    let path = (!hops.is_empty()).then(|| EmulatedPath::new(hops, timer.clone()));
    let estimate = match &path {
        Some(path) => PathEstimate {
            one_way_latency: path.latency(),
            bandwidth_bps: path.bottleneck_bps().unwrap_or(UNSHAPED_ESTIMATE_BPS),
        },
        None => estimate_without_path(request)?,
    };
    let plan = RealMigration {
        migration_id: request.migration_id.clone(),
        vm_id: request.vm_id.clone(),
        profile,
        config,
        path: estimate,
        target_host_id: request.target_host_id.clone(),
        target_address: request.target_address.clone(),
        source_address: request.source_address.clone(),
    };
    Ok((plan, path))
}

/// The model's first view of a path the node does not pace itself
/// (`MigrateVmRequest.estimate_*`; unshaped when no bandwidth is given).
fn estimate_without_path(request: &MigrateVmRequest) -> Result<PathEstimate, NodeError> {
    let bandwidth_bps = request.estimate_bandwidth_bps;
    if !(bandwidth_bps.is_finite() && bandwidth_bps >= 0.0) {
        return Err(NodeError::invalid(format!(
            "MigrateVmRequest.estimate_bandwidth_bps is {bandwidth_bps}; it must be a number >= 0"
        )));
    }
    Ok(PathEstimate {
        one_way_latency: Duration::from_micros(request.estimate_latency_us),
        bandwidth_bps: if bandwidth_bps == 0.0 {
            UNSHAPED_ESTIMATE_BPS
        } else {
            bandwidth_bps
        },
    })
}

impl CloudletNode {
    /// Hosts the VM a `HostVmRequest` describes.
    pub fn host_vm_request(&self, request: &HostVmRequest) -> Result<(), NodeError> {
        let profile = request
            .profile
            .ok_or_else(|| NodeError::invalid("HostVmRequest.profile is missing"))?;
        let memory = super::transfer::memory_from_profile(&request.vm_id, &profile, "VM")?;
        self.inner.lock().host_vm(&request.vm_id, memory)
    }

    /// Takes VM `vm_id` off this node (see `NodeState::release_vm`).
    pub fn release_vm(&self, vm_id: &str) -> Result<(), NodeError> {
        self.inner.lock().release_vm(vm_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> RealMigration {
        let mut config = MigrationConfig::new(Technique::PostCopy);
        config.max_rounds = 7;
        config.downtime_target = Duration::from_micros(12_345);
        config.cpu_state_bytes = 65_536;
        config.pages_per_request = 3;
        RealMigration {
            migration_id: "m-7".into(),
            vm_id: "vm-a".into(),
            // The wire names the dirty model; hot-cold travels with its
            // default fractions (the only ones a scenario can ask for).
            profile: VmProfile::new(
                8 << 20,
                2 << 20,
                1_500.0,
                0.25,
                DirtyModel::from_name("hot-cold").expect("a model"),
            )
            .expect("profile"),
            config,
            path: PathEstimate {
                one_way_latency: Duration::from_micros(4_200),
                bandwidth_bps: 250e6,
            },
            target_host_id: "b".into(),
            target_address: "http://127.0.0.1:1".into(),
            source_address: "http://127.0.0.1:2".into(),
        }
    }

    #[test]
    fn a_plan_survives_the_wire_with_or_without_a_path() {
        let timer = Timer::new(crate::realtime::TimerKind::Tokio).expect("timer");
        let plan = plan();
        let (read, path) = migration_plan(&migrate_request(&plan, None), &timer).expect("valid");
        assert!(path.is_none());
        assert_eq!(format!("{read:?}"), format!("{plan:?}"));

        let link = LinkSpec::new(Duration::from_millis(3), 80e6).expect("spec");
        let hops = vec![
            (
                Arc::new(EmulatedLink::symmetric(link, timer.clone())),
                Direction::AToB,
            ),
            (
                Arc::new(EmulatedLink::symmetric(link, timer.clone())),
                Direction::BToA,
            ),
        ];
        let shaped = EmulatedPath::new(hops, timer.clone());
        let (read, path) =
            migration_plan(&migrate_request(&plan, Some(&shaped)), &timer).expect("valid");
        let path = path.expect("the node paces the stream itself");
        assert_eq!(path.latency(), shaped.latency());
        assert_eq!(path.bottleneck_bps(), Some(80e6));
        // With a path the node estimates from it, not from the plan's guess.
        assert_eq!(read.path.one_way_latency, Duration::from_millis(6));
        assert_eq!(read.path.bandwidth_bps, 80e6);
        assert_eq!(format!("{:?}", read.profile), format!("{:?}", plan.profile));
    }
}
