//! The run's clockwork: the mobility step (positions and attachments) and the
//! placement timer, as one time-ordered sequence both clocks follow.
//!
//! Ticks are not queue events. At any instant, the ticks due then run before
//! every other event due then (a request sent at the instant of a mobility
//! step sees the attachment of that step, whatever the order events were
//! scheduled in), and ticks due at one instant run in a fixed order: the
//! placement timer first when its interval is longer than the mobility step
//! (it then reacts to the positions the devices had since the last step, as
//! a timer scheduled before the step would), otherwise the mobility step
//! first. The real clock applies the same sequence, so both clocks see the
//! same attachments at the same scenario times.

/// What happens at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Every device moves to its position at the tick and (re)attaches.
    Mobility,
    /// The placement policy runs on its timer.
    Placement,
}

/// The ticks of a run with mobility step `step_ns` and placement interval
/// `interval_ns`, in the order they run, up to and including `end_ns`.
#[derive(Debug, Clone)]
pub struct Ticks {
    step_ns: u64,
    interval_ns: Option<u64>,
    next_mobility: u64,
    next_placement: Option<u64>,
    end_ns: Option<u64>,
}

impl Ticks {
    /// The ticks of a run: a mobility step every `step_ns` (at least 1 ns)
    /// from `step_ns` on, the placement timer every `interval_ns` (none when
    /// `None` or zero), none after `end_ns` (`None`: endless).
    pub fn new(step_ns: u64, interval_ns: Option<u64>, end_ns: Option<u64>) -> Self {
        let interval_ns = interval_ns.filter(|&i| i > 0);
        Self {
            step_ns: step_ns.max(1),
            interval_ns,
            next_mobility: step_ns.max(1),
            next_placement: interval_ns,
            end_ns,
        }
    }

    /// The scenario time of the next tick, without taking it.
    pub fn peek_ns(&self) -> Option<u64> {
        let at = match self.next_placement {
            Some(p) => p.min(self.next_mobility),
            None => self.next_mobility,
        };
        self.end_ns.is_none_or(|end| at <= end).then_some(at)
    }
}

impl Iterator for Ticks {
    type Item = (u64, Tick);

    fn next(&mut self) -> Option<(u64, Tick)> {
        let placement_first = match self.next_placement {
            None => false,
            Some(p) if p < self.next_mobility => true,
            Some(p) if p == self.next_mobility => {
                self.interval_ns.is_some_and(|i| i > self.step_ns)
            }
            Some(_) => false,
        };
        let (at, tick) = match self.next_placement {
            Some(at) if placement_first => (at, Tick::Placement),
            _ => (self.next_mobility, Tick::Mobility),
        };
        if self.end_ns.is_some_and(|end| at > end) {
            return None;
        }
        match tick {
            Tick::Placement => self.next_placement = self.interval_ns.map(|i| at + i),
            Tick::Mobility => self.next_mobility += self.step_ns,
        }
        Some((at, tick))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_longer_placement_interval_runs_before_the_step_at_its_instant() {
        let ticks: Vec<_> = Ticks::new(S, Some(2 * S), Some(4 * S)).collect();
        assert_eq!(
            ticks,
            vec![
                (S, Tick::Mobility),
                (2 * S, Tick::Placement),
                (2 * S, Tick::Mobility),
                (3 * S, Tick::Mobility),
                (4 * S, Tick::Placement),
                (4 * S, Tick::Mobility),
            ]
        );
    }

    #[test]
    fn an_equal_or_shorter_interval_runs_after_the_step_at_its_instant() {
        let equal: Vec<_> = Ticks::new(S, Some(S), Some(2 * S)).collect();
        assert_eq!(
            equal,
            vec![
                (S, Tick::Mobility),
                (S, Tick::Placement),
                (2 * S, Tick::Mobility),
                (2 * S, Tick::Placement),
            ]
        );
        let shorter: Vec<_> = Ticks::new(2 * S, Some(S), Some(2 * S)).collect();
        assert_eq!(
            shorter,
            vec![
                (S, Tick::Placement),
                (2 * S, Tick::Mobility),
                (2 * S, Tick::Placement),
            ]
        );
    }

    #[test]
    fn nothing_runs_after_the_end_and_peek_agrees_with_next() {
        let mut ticks = Ticks::new(S, None, Some(2 * S));
        let mut seen = Vec::new();
        while let Some(at) = ticks.peek_ns() {
            let (next_at, tick) = ticks.next().expect("peek saw a tick");
            assert_eq!(at, next_at);
            seen.push((at, tick));
        }
        assert_eq!(ticks.next(), None);
        assert_eq!(seen, vec![(S, Tick::Mobility), (2 * S, Tick::Mobility)]);
        // A step longer than the run: no tick at all.
        assert_eq!(Ticks::new(3 * S, Some(5 * S), Some(2 * S)).peek_ns(), None);
        // No end: endless.
        assert_eq!(
            Ticks::new(S, None, None).nth(9_999),
            Some((10_000 * S, Tick::Mobility))
        );
    }
}
