//! Fault injection: a real migration between two nodes served in-process,
//! one side killed (its server task aborted: listener closed, connections
//! cut; for the source, the migration driver it runs is killed with it) at
//! each phase it can be caught in, and where the VM is afterwards checked
//! against the table of docs/real-clock.md ("When a node dies during a
//! migration").
//!
//! Phases are found by watching the nodes' `Status` (the source's VM state,
//! whether the target lists the VM), over a 20 Mbit/s emulated link so that
//! each phase lasts long enough to be caught: 4 MiB of memory take 1.7 s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcc_cloudlet::memory::{DirtyModel, VmProfile};
use mcc_cloudlet::migration::{MigrationConfig, PathEstimate, Technique};
use mcc_cloudlet::node::CloudletNode;
use mcc_cloudlet::node::migrate::{MigrateError, RealMigration};
use mcc_cloudlet::realtime::{EmulatedLink, LinkSpec, Timer};

mod common;
use common::{Running, request, start};

const MIB: u64 = 1 << 20;
const VM_BYTES: u64 = 4 * MIB;

/// The side that dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dies {
    Source,
    Target,
}

/// Where the migration is when it dies, as the nodes show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Live copy rounds: the source runs the VM (`MIGRATING_OUT`), the
    /// target does not list it yet.
    Rounds,
    /// The VM is suspended at the source (`SUSPENDED`): stop-and-copy's
    /// whole copy, pre-copy's stop phase, post-copy's sending of the state.
    Suspended,
    /// After the switch: the target lists the VM (it has the execution
    /// state) and the pushes go on (post-copy, soft).
    Switched,
}

/// Where the VM is once the dust settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Running at the source, answering requests there.
    AtSource,
    /// Nowhere: the survivor does not host it.
    Lost,
}

/// `vm-1` as `node` lists it, if it does.
fn vm(node: &CloudletNode) -> Option<mcc_proto::v1::VmStatus> {
    node.status().vms.into_iter().find(|vm| vm.vm_id == "vm-1")
}

fn status(node: &CloudletNode) -> Option<String> {
    vm(node).map(|vm| vm.state)
}

/// Pages the target still lacks of `vm-1`, if it lists the VM.
fn pages_missing(node: &CloudletNode) -> Option<u64> {
    vm(node).map(|vm| vm.pages_missing)
}

fn in_phase(phase: Phase, a: &CloudletNode, b: &CloudletNode) -> bool {
    let (source, target) = (status(a), status(b));
    match phase {
        Phase::Rounds => source.as_deref() == Some("MIGRATING_OUT") && target.is_none(),
        Phase::Suspended => source.as_deref() == Some("SUSPENDED"),
        // The source forwards (post-copy) or serves beside the target
        // (soft) only once the target acknowledged the state.
        Phase::Switched => {
            target.is_some()
                && a.status()
                    .vms
                    .iter()
                    .any(|vm| vm.vm_id == "vm-1" && (vm.state == "MOVED" || vm.dual_serving))
        }
    }
}

/// The migration's settings: the technique's defaults, except that hybrid
/// is held to two rounds with no downtime it can meet, so that it switches
/// as post-copy (as the data's hybrid rows do) and has a post-copy phase to
/// be caught in.
fn config(technique: Technique) -> MigrationConfig {
    let mut config = MigrationConfig::new(technique);
    if technique == Technique::Hybrid {
        config.max_rounds = 2;
        config.downtime_target = Duration::ZERO;
    }
    config
}

/// A source killed after the switch, but the push brought the target
/// every page anyway (its last bytes were already on the link, or the
/// test's task ran late between seeing the switch and the kill): the row
/// "after the switch, before the commit" of docs/real-clock.md (the VM runs
/// on at the target), not the pushing phase the case is about. Seen in
/// about one run in four of this file for hybrid, whose push after two
/// rounds is short.
#[derive(Debug)]
struct PushEndedFirst;

/// [`kill_during_once`], again when the kill came after the push had ended
/// (at most three tries).
async fn kill_during(technique: Technique, phase: Phase, dies: Dies) -> (Fate, Option<String>) {
    for _ in 0..3 {
        if let Ok(outcome) = kill_during_once(technique, phase, dies).await {
            return outcome;
        }
    }
    panic!("{technique:?}/{phase:?}: three times the push ended before the source was killed");
}

/// Migrates `vm-1` from a to b by `technique`, kills `dies` once the
/// migration is in `phase`, and says where the VM is then (and, when the
/// target died, the driver's error).
async fn kill_during_once(
    technique: Technique,
    phase: Phase,
    dies: Dies,
) -> Result<(Fate, Option<String>), PushEndedFirst> {
    let a = start("a", 2, 64 * MIB).await;
    let b = start("b", 2, 64 * MIB).await;
    a.node.host_vm("vm-1", VM_BYTES, 0.0).expect("host");
    let plan = RealMigration {
        migration_id: format!("m-{}", technique.name()),
        vm_id: "vm-1".to_owned(),
        // 1 MiB working set written at 2,000 pages/s: pre-copy needs a few
        // rounds, then a stop phase.
        profile: VmProfile::new(VM_BYTES, MIB, 2_000.0, 0.0, DirtyModel::Linear).expect("profile"),
        config: config(technique),
        path: PathEstimate {
            one_way_latency: Duration::from_millis(1),
            bandwidth_bps: 20e6,
        },
        target_host_id: "b".to_owned(),
        target_address: b.address.clone(),
        source_address: a.address.clone(),
    };
    let link = Arc::new(EmulatedLink::symmetric(
        LinkSpec::new(Duration::from_millis(1), 20e6).expect("link"),
        Timer::precise().expect("timer"),
    ));
    let source = a.node.clone();
    let mut to_b = b.client.clone();
    let driver = tokio::spawn(async move { source.migrate_to(&mut to_b, plan, Some(link)).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !in_phase(phase, &a.node, &b.node) {
        assert!(
            !driver.is_finished(),
            "{technique:?}: the migration ended before {phase:?}"
        );
        assert!(
            Instant::now() < deadline,
            "{technique:?}: never in {phase:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    match dies {
        Dies::Target => {
            let target = b.node.clone();
            b.kill();
            let error = tokio::time::timeout(Duration::from_secs(15), driver)
                .await
                .expect("the driver gives up within 15 s")
                .expect("driver task")
                .expect_err("a migration to a dead target fails");
            drop(target);
            let fate = fate_at_source(&a).await;
            a.stop().await;
            Ok((fate, Some(error_text(&error))))
        }
        Dies::Source => {
            driver.abort();
            let target = b.node.clone();
            a.kill();
            // The target drops what it was receiving once the stream is cut.
            let deadline = Instant::now() + Duration::from_secs(5);
            while status(&target).is_some() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let fate = match status(&target) {
                None => Fate::Lost,
                // The push had brought every page before the stream was cut
                // (its last bytes may still have been on the link): the
                // phase was missed, not the row.
                Some(_) if phase == Phase::Switched && pages_missing(&target) == Some(0) => {
                    b.stop().await;
                    return Err(PushEndedFirst);
                }
                Some(state) => panic!(
                    "{technique:?}/{phase:?}: the target kept it as {state}, lacking {:?} pages",
                    pages_missing(&target)
                ),
            };
            b.stop().await;
            Ok((fate, None))
        }
    }
}

fn error_text(error: &MigrateError) -> String {
    match error {
        MigrateError::LostAfterSwitch { .. } => format!("LostAfterSwitch: {error}"),
        other => other.to_string(),
    }
}

/// The VM's fate at a source that survived: it must run and answer there.
async fn fate_at_source(a: &Running) -> Fate {
    match status(&a.node).as_deref() {
        Some("RUNNING") => {
            let answer = a
                .client
                .clone()
                .execute(request("vm-1", 0))
                .await
                .expect("the VM answers at the source")
                .into_inner();
            assert_eq!(answer.host_id, "a");
            Fate::AtSource
        }
        None => Fate::Lost,
        Some(other) => panic!("the source left the VM {other}"),
    }
}

/// One row of the table: `technique` killed on `dies` in `phase` leaves
/// the VM `fate`; a target lost after a switch is said so by the driver.
macro_rules! row {
    ($name:ident, $technique:ident, $phase:ident, $dies:ident, $fate:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (fate, error) =
                kill_during(Technique::$technique, Phase::$phase, Dies::$dies).await;
            assert_eq!(fate, Fate::$fate, "{error:?}");
            if let Some(error) = error {
                let after_switch = Phase::$phase == Phase::Switched
                    && matches!(
                        Technique::$technique,
                        Technique::PostCopy | Technique::Hybrid
                    );
                assert_eq!(
                    error.starts_with("LostAfterSwitch"),
                    after_switch,
                    "post-copy says the target's execution was lost: {error}"
                );
            }
        }
    };
}

row!(
    stop_and_copy_target_dies_while_suspended,
    StopAndCopy,
    Suspended,
    Target,
    AtSource
);
row!(
    stop_and_copy_source_dies_while_suspended,
    StopAndCopy,
    Suspended,
    Source,
    Lost
);
row!(
    pre_copy_target_dies_in_the_rounds,
    PreCopy,
    Rounds,
    Target,
    AtSource
);
row!(
    pre_copy_source_dies_in_the_rounds,
    PreCopy,
    Rounds,
    Source,
    Lost
);
row!(
    pre_copy_target_dies_in_the_stop_phase,
    PreCopy,
    Suspended,
    Target,
    AtSource
);
row!(
    pre_copy_source_dies_in_the_stop_phase,
    PreCopy,
    Suspended,
    Source,
    Lost
);
row!(
    post_copy_target_dies_while_suspended,
    PostCopy,
    Suspended,
    Target,
    AtSource
);
row!(
    post_copy_source_dies_while_suspended,
    PostCopy,
    Suspended,
    Source,
    Lost
);
row!(
    post_copy_target_dies_after_the_switch,
    PostCopy,
    Switched,
    Target,
    AtSource
);
row!(
    post_copy_source_dies_after_the_switch,
    PostCopy,
    Switched,
    Source,
    Lost
);
row!(
    soft_target_dies_in_the_rounds,
    Soft,
    Rounds,
    Target,
    AtSource
);
row!(soft_source_dies_in_the_rounds, Soft, Rounds, Source, Lost);
row!(
    soft_target_dies_in_the_handoff,
    Soft,
    Switched,
    Target,
    AtSource
);
row!(
    soft_source_dies_in_the_handoff,
    Soft,
    Switched,
    Source,
    Lost
);
row!(
    hybrid_target_dies_in_the_rounds,
    Hybrid,
    Rounds,
    Target,
    AtSource
);
row!(
    hybrid_source_dies_in_the_rounds,
    Hybrid,
    Rounds,
    Source,
    Lost
);
row!(
    hybrid_target_dies_while_suspended,
    Hybrid,
    Suspended,
    Target,
    AtSource
);
row!(
    hybrid_source_dies_while_suspended,
    Hybrid,
    Suspended,
    Source,
    Lost
);
row!(
    hybrid_target_dies_after_the_switch,
    Hybrid,
    Switched,
    Target,
    AtSource
);
row!(
    hybrid_source_dies_after_the_switch,
    Hybrid,
    Switched,
    Source,
    Lost
);
