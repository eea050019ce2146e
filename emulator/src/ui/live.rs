//! The feed of a running edge (`serve`, `run --clock real`): its
//! `StreamEvents` events as they come, and a frame every [`FRAME`] of wall
//! time with where the devices are and the requests that finished.
//!
//! Everything is taken without waiting on the edge: the events and the
//! finished requests from the edge's bounded broadcasts (a watcher that
//! falls behind loses the oldest; the loss is counted in the feed), the
//! positions from [`RealEdge::view`] (one pass over the devices under the
//! edge's lock, four times a second). The finished requests are taken only
//! while a page is open: with none, the edge's request tap has no
//! receiver and costs its requests nothing ([`crate::realclock::tap`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::realclock::tap::TapReceiver;

use super::feed::Feed;
use super::messages::{self, FrameDevice, FrameRequest, MAX_FRAME_REQUESTS};
use crate::output::Outcome;
use crate::realclock::{EdgeEvent, RealEdge};
use crate::serve::events::{EventContext, to_wire};
use crate::serve::{ControlService, input};

/// How often the page gets a frame: four a second, smooth enough to
/// follow a device and light enough to leave the edge its cores.
pub const FRAME: Duration = Duration::from_millis(250);

/// One edge being watched.
pub struct Watching {
    edge: RealEdge,
    events: broadcast::Receiver<EdgeEvent>,
    /// The finished requests, while a page is open.
    requests: Option<TapReceiver>,
    context: EventContext,
}

impl Watching {
    /// Subscribes to `edge`'s events and finished requests from now on.
    pub fn new(edge: RealEdge) -> Self {
        let context = EventContext {
            policy: edge.scenario().policy.clone(),
            technique: input::technique_code(edge.scenario().settings.migration.config.technique),
        };
        Self {
            events: edge.subscribe(),
            requests: None,
            context,
            edge,
        }
    }

    /// Publishes the events that came since the last call, then a frame.
    pub fn publish(&mut self, feed: &Feed) {
        loop {
            match self.events.try_recv() {
                Ok(event) => {
                    for wire in to_wire(&event, &self.context) {
                        if let Some(json) = messages::event_json(&wire) {
                            feed.publish(json);
                        }
                    }
                }
                Err(TryRecvError::Lagged(n)) => {
                    feed.count_dropped(n);
                    feed.publish(format!(
                        r#"{{"type":"event","t":null,"kind":"missed","events":{n}}}"#
                    ));
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        // The requests' tap is held only while a page reads: what finishes
        // with no page open is drawn by nobody.
        if feed.readers() == 0 {
            self.requests = None;
        } else if self.requests.is_none() {
            self.requests = Some(self.edge.subscribe_requests());
        }
        let mut records = Vec::new();
        let mut skipped = 0u64;
        while let Some(requests) = &mut self.requests {
            match requests.try_recv() {
                Ok(record) if records.len() < MAX_FRAME_REQUESTS => records.push(record),
                Ok(_) => skipped += 1,
                Err(TryRecvError::Lagged(n)) => skipped += n,
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        feed.count_dropped(skipped);
        // After the requests: every device they name is in the view.
        let view = self.edge.view();
        let name = |i: u32| {
            view.devices
                .get(i as usize)
                .map_or_else(|| "?".to_owned(), |d| d.name.clone())
        };
        let requests: Vec<FrameRequest> = records
            .iter()
            .map(|r| FrameRequest {
                device: name(r.device),
                sent_s: r.sent_ns as f64 / 1e9,
                delay_ms: r.total_ns as f64 / 1e6,
                host: (r.outcome != Outcome::NoCoverage).then_some(r.host),
                outcome: r.outcome.as_str().to_owned(),
            })
            .collect();
        let devices: Vec<FrameDevice> = view
            .devices
            .iter()
            .filter(|d| !d.left)
            .map(|d| FrameDevice {
                name: d.name.clone(),
                lat: d.position.lat_deg,
                lon: d.position.lon_deg,
                ap: d.ap,
                host: (!d.lost).then_some(d.host),
                migrating_to: d.migrating_to,
            })
            .collect();
        feed.publish(messages::frame_json(
            view.time_ns as f64 / 1e9,
            &devices,
            Some(&view.in_flight),
            &requests,
            skipped,
            &[],
        ));
    }
}

/// Publishes `edge`'s feed until the task is aborted.
pub async fn watch_edge(edge: RealEdge, feed: Arc<Feed>) {
    let mut watching = Watching::new(edge);
    let mut ticker = tokio::time::interval(FRAME);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        watching.publish(&feed);
    }
}

/// Publishes the feed of whatever edge `service` runs (`serve`: `Stop`
/// and `Start` replace it) until the task is aborted. When a new edge's
/// map or run differs from the pages' (a scenario loaded with
/// `LoadScenario`, another policy, technique or speed at `Start`), the
/// map is replaced and the pages are told (`{"type":"world"}`: they
/// reload it) before `started`.
pub async fn watch_service(service: ControlService, feed: Arc<Feed>) {
    let mut watching: Option<Watching> = None;
    let mut ticker = tokio::time::interval(FRAME);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let running = service.running_edge().await;
        match (&mut watching, running) {
            (Some(w), Some(edge)) if w.edge.same_edge(&edge) => {}
            (_, Some(edge)) => {
                let info = messages::RunInfo::live(edge.scenario(), "serve", edge.speed());
                if feed.set_world(messages::world_json(&edge.scenario().world, &info)) {
                    feed.publish(r#"{"type":"world"}"#.to_owned());
                }
                feed.publish(r#"{"type":"started"}"#.to_owned());
                watching = Some(Watching::new(edge));
            }
            (Some(_), None) => {
                feed.publish(r#"{"type":"stopped"}"#.to_owned());
                watching = None;
            }
            (None, None) => {}
        }
        if let Some(w) = &mut watching {
            w.publish(&feed);
        }
    }
}
