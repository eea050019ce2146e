//! The event stream of one subscriber: the edge's broadcast, never waited
//! for. A subscriber that falls behind loses the oldest events it had not
//! read and gets one `EventsMissed` saying how many; the stream ends when
//! the edge stops.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use mcc_proto::v1::{self, event::Kind};
use tokio::sync::broadcast;
use tokio_stream::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tonic::Status;

use crate::realclock::EdgeEvent;

/// What the wire events say that the edge's events leave to the scenario.
#[derive(Debug, Clone)]
pub struct EventContext {
    /// The placement policy's name.
    pub policy: String,
    /// The migration technique's wire code.
    pub technique: i32,
}

/// A future that completes when the edge stops.
pub type Stopped = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The wire stream of the events `receiver` gets from now on, until
/// `stopped` completes (or the edge drops its sender).
pub fn stream(
    receiver: broadcast::Receiver<EdgeEvent>,
    context: EventContext,
    stopped: Stopped,
) -> impl Stream<Item = Result<v1::Event, Status>> + Send + 'static {
    WireEvents {
        inner: BroadcastStream::new(receiver),
        context,
        ready: VecDeque::new(),
        stopped,
    }
}

/// The broadcast turned into wire events (one edge event may be two).
struct WireEvents {
    inner: BroadcastStream<EdgeEvent>,
    context: EventContext,
    ready: VecDeque<v1::Event>,
    stopped: Stopped,
}

impl Stream for WireEvents {
    type Item = Result<v1::Event, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            let events = match std::task::ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Ok(event)) => to_wire(&event, &self.context),
                Some(Err(BroadcastStreamRecvError::Lagged(events))) => vec![v1::Event {
                    emu_time_ns: 0,
                    kind: Some(Kind::Missed(v1::EventsMissed { events })),
                }],
            };
            self.ready.extend(events);
        }
    }
}

/// The wire events of one edge event: a started migration is a placement
/// decision and a `start` phase; its steps on the source node `precopy`
/// (with the round), `stop`, `switch` and `postcopy`; a finished one a
/// `done` or `aborted` phase.
pub fn to_wire(event: &EdgeEvent, context: &EventContext) -> Vec<v1::Event> {
    let at = |time_ns: u64, kind: Kind| v1::Event {
        emu_time_ns: i64::try_from(time_ns).unwrap_or(i64::MAX),
        kind: Some(kind),
    };
    let phase = |vm: &str, from: &str, to: &str, phase: &str| v1::MigrationPhaseEvent {
        migration_id: format!("{vm}:{from}->{to}"),
        vm_id: vm.to_owned(),
        technique: context.technique,
        phase: phase.to_owned(),
        from_host_id: from.to_owned(),
        to_host_id: to.to_owned(),
        ..Default::default()
    };
    match event {
        EdgeEvent::Handover {
            time_ns,
            device,
            from,
            to,
        } => vec![at(
            *time_ns,
            Kind::Handover(v1::HandoverEvent {
                device_id: device.clone(),
                from_access_point_id: from.clone().unwrap_or_default(),
                to_access_point_id: to.clone().unwrap_or_default(),
            }),
        )],
        EdgeEvent::MigrationStarted {
            time_ns,
            vm,
            from,
            to,
            reason,
        } => vec![
            at(
                *time_ns,
                Kind::Placement(v1::PlacementEvent {
                    policy: context.policy.clone(),
                    moves: vec![v1::PlacementMove {
                        vm_id: vm.clone(),
                        from_host_id: from.clone(),
                        to_host_id: to.clone(),
                        reason: (*reason).to_owned(),
                    }],
                    decision_us: 0,
                }),
            ),
            at(*time_ns, Kind::MigrationPhase(phase(vm, from, to, "start"))),
        ],
        EdgeEvent::MigrationPhase {
            time_ns,
            vm,
            from,
            to,
            step,
        } => vec![at(
            *time_ns,
            Kind::MigrationPhase(v1::MigrationPhaseEvent {
                round: step.round(),
                ..phase(vm, from, to, step.name())
            }),
        )],
        EdgeEvent::MigrationDone {
            time_ns,
            vm,
            from,
            to,
            downtime_ms,
            bytes,
            ..
        } => vec![at(
            *time_ns,
            Kind::MigrationPhase(v1::MigrationPhaseEvent {
                bytes: *bytes,
                downtime_ms: *downtime_ms,
                ..phase(vm, from, to, "done")
            }),
        )],
        EdgeEvent::NodeLost {
            time_ns,
            node,
            reason,
            vms,
        } => vec![at(
            *time_ns,
            Kind::NodeLost(v1::NodeLostEvent {
                host_id: node.clone(),
                reason: reason.clone(),
                vm_ids: vms.clone(),
            }),
        )],
        EdgeEvent::VmRestarted {
            time_ns,
            vm,
            from,
            to,
            wall_ms,
        } => vec![at(
            *time_ns,
            Kind::VmRestarted(v1::VmRestartedEvent {
                vm_id: vm.clone(),
                from_host_id: from.clone(),
                to_host_id: to.clone(),
                restart_ms: *wall_ms,
            }),
        )],
        EdgeEvent::MigrationFailed {
            time_ns,
            vm,
            from,
            to,
            error,
        } => vec![at(
            *time_ns,
            Kind::MigrationPhase(v1::MigrationPhaseEvent {
                error: error.clone(),
                ..phase(vm, from, to, "aborted")
            }),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;

    fn context() -> EventContext {
        EventContext {
            policy: "nearest".into(),
            technique: 2,
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_how_many_events_it_missed() {
        let (sender, receiver) = broadcast::channel(4);
        let mut events = Box::pin(stream(
            receiver,
            context(),
            Box::pin(std::future::pending()),
        ));
        for i in 0..10u64 {
            sender
                .send(EdgeEvent::Handover {
                    time_ns: i,
                    device: format!("d{i}"),
                    from: None,
                    to: Some("ap".into()),
                })
                .unwrap();
        }
        let first = events.next().await.unwrap().unwrap();
        assert_eq!(
            first.kind,
            Some(Kind::Missed(v1::EventsMissed { events: 6 }))
        );
        // Then the four newest, in order.
        for i in 6..10 {
            let event = events.next().await.unwrap().unwrap();
            assert_eq!(event.emu_time_ns, i);
        }
        drop(sender);
        assert!(
            events.next().await.is_none(),
            "the stream ends with the edge"
        );
    }

    #[tokio::test]
    async fn the_stream_ends_when_the_edge_stops_even_if_the_broadcast_lives_on() {
        let (sender, receiver) = broadcast::channel(4);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut events = Box::pin(stream(
            receiver,
            context(),
            Box::pin(async move {
                let _ = stopped.await;
            }),
        ));
        stop.send(()).unwrap();
        assert!(events.next().await.is_none());
        drop(sender);
    }

    #[test]
    fn a_step_on_the_source_node_is_a_phase_with_its_round() {
        use mcc_cloudlet::node::migrate::Step;
        let wire = |step| {
            let events = to_wire(
                &EdgeEvent::MigrationPhase {
                    time_ns: 7,
                    vm: "vm-a".into(),
                    from: "c1".into(),
                    to: "c2".into(),
                    step,
                },
                &context(),
            );
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].emu_time_ns, 7);
            let Some(Kind::MigrationPhase(phase)) = &events[0].kind else {
                panic!("{events:?}")
            };
            assert_eq!(phase.migration_id, "vm-a:c1->c2", "the start's id");
            (phase.phase.clone(), phase.round)
        };
        assert_eq!(wire(Step::PreCopy { round: 3 }), ("precopy".into(), 3));
        assert_eq!(wire(Step::Stop), ("stop".into(), 0));
        assert_eq!(wire(Step::Switch), ("switch".into(), 0));
        assert_eq!(wire(Step::PostCopy), ("postcopy".into(), 0));
    }

    #[test]
    fn a_started_migration_is_a_placement_and_a_start_phase() {
        let events = to_wire(
            &EdgeEvent::MigrationStarted {
                time_ns: 5,
                vm: "vm-a".into(),
                from: "c1".into(),
                to: "c2".into(),
                reason: "handover",
            },
            &context(),
        );
        assert_eq!(events.len(), 2);
        let Some(Kind::Placement(placement)) = &events[0].kind else {
            panic!("{events:?}")
        };
        assert_eq!(placement.policy, "nearest");
        assert_eq!(placement.moves[0].reason, "handover");
        let Some(Kind::MigrationPhase(phase)) = &events[1].kind else {
            panic!("{events:?}")
        };
        assert_eq!(
            (
                phase.phase.as_str(),
                phase.migration_id.as_str(),
                phase.technique
            ),
            ("start", "vm-a:c1->c2", 2)
        );
        let failed = to_wire(
            &EdgeEvent::MigrationFailed {
                time_ns: 9,
                vm: "vm-a".into(),
                from: "c1".into(),
                to: "c2".into(),
                error: "target gone".into(),
            },
            &context(),
        );
        let Some(Kind::MigrationPhase(phase)) = &failed[0].kind else {
            panic!("{failed:?}")
        };
        assert_eq!(
            (phase.phase.as_str(), phase.error.as_str()),
            ("aborted", "target gone")
        );
    }
}
