//! The mobility steps of a run, computed ahead of the event loop on a thread
//! of their own.
//!
//! Where a device is and which access point it is attached to depend only on
//! its trace, the access points and the attachment rule, never on what the
//! network or the placement policy did. So the whole sequence of hand-overs
//! can be worked out apart from the event loop: [`Mobility`] steps every
//! device along its trace and re-attaches it ([`Attachment`]), and
//! [`MobilityFeed`] runs it on a scoped thread, each step's hand-overs sent
//! through a bounded channel that the event loop reads at the mobility tick
//! ([`Tick::Mobility`](super::ticks::Tick)). Positions and attachments are
//! most of a mobility step's cost, and on two cores this takes them off the
//! event loop's core. On a one-core machine (or if no thread can be
//! started) the feed steps at the tick instead. Either way the hand-overs
//! are the same, in the same order, as if the loop computed them itself.
//!
//! With a radio model, each step also works out every device's radio link
//! from its position ([`RadioModel::quality`]), so that requests only read
//! it: the link depends on the position and the attachment alone too.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::Scope;

use mcc_mobile_client::{ApIndex, TraceCursor};

use super::attachment::Attachment;
use super::ticks::{Tick, Ticks};
use crate::output::HandoverRecord;

use crate::radio::{CachedLink, LinkQuality, RadioModel};

/// How many mobility steps the thread may run ahead of the event loop: enough
/// to ride out scheduling hiccups, small enough that memory stays flat.
const STEPS_AHEAD: usize = 64;

/// Every device's trace cursor and attachment, stepped together.
pub struct Mobility<'w> {
    devices: Vec<(TraceCursor<'w>, Attachment)>,
    index: ApIndex,
    hysteresis_m: f64,
    radio: Option<RadioLinks<'w>>,
}

/// What one mobility step produces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// One record per device whose access point changed, in device order.
    pub handovers: Vec<HandoverRecord>,
    /// Every device's radio link after the step, in device order (empty
    /// without a radio model).
    pub links: Vec<Option<LinkQuality>>,
}

/// The radio model and, per device, its link as last worked out.
struct RadioLinks<'w> {
    model: &'w RadioModel,
    last: Vec<CachedLink>,
}

impl<'w> Mobility<'w> {
    /// Devices that start with these cursors and attachments (in device
    /// order), attaching among `index`'s access points with `hysteresis_m`.
    pub fn new(
        devices: Vec<(TraceCursor<'w>, Attachment)>,
        index: ApIndex,
        hysteresis_m: f64,
    ) -> Self {
        Self {
            devices,
            index,
            hysteresis_m,
            radio: None,
        }
    }

    /// Also works out every device's radio link under `model` at each step.
    pub fn with_radio(mut self, model: Option<&'w RadioModel>) -> Self {
        self.radio = model.map(|model| RadioLinks {
            model,
            last: vec![CachedLink::default(); self.devices.len()],
        });
        self
    }

    /// Moves every device to its position at `at_ns` and re-attaches it
    /// (and works out its radio link).
    pub fn step(&mut self, at_ns: u64) -> Step {
        let t_s = at_ns as f64 / 1e9;
        let mut step = Step::default();
        if self.radio.is_some() {
            step.links.reserve_exact(self.devices.len());
        }
        for (i, (cursor, attachment)) in self.devices.iter_mut().enumerate() {
            let position = cursor.position_at(t_s);
            if let Some(from) = attachment.update(&self.index, position, self.hysteresis_m) {
                step.handovers.push(HandoverRecord {
                    time_ns: at_ns,
                    device: i as u32,
                    from,
                    to: attachment.ap,
                });
            }
            if let Some(radio) = &mut self.radio {
                let link = radio
                    .last
                    .get_mut(i)
                    .and_then(|last| last.update(radio.model, position, attachment.ap));
                step.links.push(link);
            }
        }
        step
    }
}

/// The hand-overs of each mobility tick: computed ahead on a thread of
/// their own, or at the tick when the machine has one core (or no thread
/// can be started), with the same results.
pub enum MobilityFeed<'w> {
    /// Steps computed by a thread, read in tick order.
    Ahead(Receiver<(u64, Step)>),
    /// Steps computed when asked for, at the mobility ticks of the
    /// [`Ticks`].
    Inline(Box<Mobility<'w>>, Ticks),
}

impl<'w> MobilityFeed<'w> {
    /// Starts stepping `mobility` on a thread of `scope` at every mobility
    /// tick of `ticks` (its placement ticks are ignored), if the machine has
    /// a core to spare for it.
    pub fn spawn<'scope>(
        scope: &'scope Scope<'scope, '_>,
        mobility: Mobility<'w>,
        ticks: Ticks,
    ) -> Self
    where
        'w: 'scope,
    {
        if std::thread::available_parallelism().is_ok_and(|n| n.get() < 2) {
            return Self::Inline(Box::new(mobility), ticks);
        }
        let (sender, steps) = sync_channel(STEPS_AHEAD);
        // The mobility goes to the thread once it runs, so that it stays
        // here if the thread cannot be started.
        let (handoff, handed) = sync_channel::<(Mobility<'w>, Ticks)>(1);
        let started = std::thread::Builder::new()
            .name("mcc-emu-mobility".into())
            .spawn_scoped(scope, move || {
                if let Ok((mut mobility, ticks)) = handed.recv() {
                    feed(&mut mobility, ticks, &sender);
                }
            });
        if started.is_err() {
            return Self::Inline(Box::new(mobility), ticks);
        }
        match handoff.send((mobility, ticks)) {
            Ok(()) => Self::Ahead(steps),
            Err(returned) => {
                let (mobility, ticks) = returned.0;
                Self::Inline(Box::new(mobility), ticks)
            }
        }
    }

    /// The hand-overs (and radio links) of the next mobility tick, which
    /// must be at `at_ns`; `None` after the last tick, or once the thread
    /// has stopped (it only stops early by panicking, and the scope then
    /// carries the panic on).
    pub fn next_step(&mut self, at_ns: u64) -> Option<Step> {
        let (step_ns, step) = match self {
            Self::Ahead(steps) => steps.recv().ok()?,
            Self::Inline(mobility, ticks) => next_step(mobility, ticks)?,
        };
        debug_assert_eq!(step_ns, at_ns, "mobility ticks out of step");
        Some(step)
    }
}

/// Steps `mobility` at the next mobility tick of `ticks`: its time and
/// step, `None` after the last tick.
fn next_step(mobility: &mut Mobility<'_>, ticks: &mut Ticks) -> Option<(u64, Step)> {
    let (at_ns, _) = ticks.find(|(_, tick)| *tick == Tick::Mobility)?;
    Some((at_ns, mobility.step(at_ns)))
}

fn feed(mobility: &mut Mobility<'_>, mut ticks: Ticks, steps: &SyncSender<(u64, Step)>) {
    while let Some(step) = next_step(mobility, &mut ticks) {
        if steps.send(step).is_err() {
            // The event loop is gone.
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::example::TwoSites;
    use crate::engine::world::World;

    const S: u64 = 1_000_000_000;

    fn mobility(world: &World) -> Mobility<'_> {
        let index = world.ap_index().expect("the example's sites index");
        let devices = world
            .devices
            .iter()
            .map(|d| {
                let mut cursor = d.trace.cursor(d.edge);
                let first = Attachment::first(&index, cursor.position_at(0.0), 50.0);
                (cursor, first)
            })
            .collect();
        Mobility::new(devices, index, 50.0)
    }

    #[test]
    fn the_feed_hands_over_where_stepping_in_place_does() {
        let world = TwoSites::default().world();
        let ticks = Ticks::new(10 * S, Some(25 * S), Some(600 * S));
        let mut inline = mobility(&world);
        let mut expected = Vec::new();
        for (at_ns, tick) in ticks.clone() {
            if tick == Tick::Mobility {
                expected.push((at_ns, inline.step(at_ns)));
            }
        }
        // The walker crosses from the western cell to the eastern one once.
        let handovers: Vec<_> = expected.iter().flat_map(|(_, s)| &s.handovers).collect();
        assert_eq!(handovers.len(), 1, "{handovers:?}");
        assert_eq!((handovers[0].from, handovers[0].to), (Some(0), Some(1)));

        let fed = std::thread::scope(|scope| {
            let mut feed = MobilityFeed::spawn(scope, mobility(&world), ticks.clone());
            let fed: Vec<_> = expected
                .iter()
                .map(|(at_ns, _)| (*at_ns, feed.next_step(*at_ns).expect("a step per tick")))
                .collect();
            assert_eq!(
                feed.next_step(u64::MAX),
                None,
                "no step after the last tick"
            );
            fed
        });
        assert_eq!(fed, expected);
        let mut inline = MobilityFeed::Inline(Box::new(mobility(&world)), ticks);
        let stepped: Vec<_> = expected
            .iter()
            .map(|(at_ns, _)| (*at_ns, inline.next_step(*at_ns).expect("a step per tick")))
            .collect();
        assert_eq!(stepped, expected);
        assert_eq!(
            inline.next_step(u64::MAX),
            None,
            "no step after the last tick"
        );
    }

    #[test]
    fn a_reader_that_stops_early_does_not_hold_the_thread() {
        let world = TwoSites::default().world();
        // Far more steps than the channel holds; the reader takes one.
        let ticks = Ticks::new(S / 100, None, Some(600 * S));
        std::thread::scope(|scope| {
            let mut feed = MobilityFeed::spawn(scope, mobility(&world), ticks);
            assert!(feed.next_step(S / 100).is_some());
        });
    }
}
