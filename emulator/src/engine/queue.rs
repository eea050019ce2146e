//! The discrete-event queue: events in time order, ties in insertion order.
//!
//! Most events of a run are due within a few seconds of now (the next
//! request of every device, answers a few milliseconds away, the next chunk
//! of a migration), so the queue is a timing wheel: time is cut into slots of
//! 2^[`SLOT_NS_LOG2`] ns, the next [`SLOTS`] slots each keep an unsorted list,
//! and only the slot being emptied is sorted (latest first, in place; its
//! list then becomes the one events are popped from the end of, so no event
//! is copied on the way out). Events further ahead wait in a
//! binary heap until the wheel reaches them. A push and a pop cost a few
//! steps instead of the heap's dozens of comparisons, and the order is
//! exactly the heap's: by time, then by insertion.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Width of one slot of the wheel: 2^22 ns, about 4 ms. Wide enough that
/// consecutive pushes a second ahead (the next sends of devices sending in
/// turn) mostly land in the slot the previous one did, whose list is still
/// in the cache: on bench-1k, 1 ms slots missed a 512 KiB cache four times
/// as often on push, and ran slower in 14 of 16 alternated pairs, though
/// the fuller slots cost 0.6 % more instructions to sort (and the `queue`
/// bench, whose events all fit in the cache, is 7 % slower with them).
pub const SLOT_NS_LOG2: u32 = 22;
/// Slots on the wheel: 1,024 of them cover about 4.3 s ahead of now.
pub const SLOTS: usize = 1_024;

/// A time-ordered queue of events.
///
/// Events due at the same nanosecond come out in the order they went in, so a
/// run never depends on how ties happen to be broken.
#[derive(Debug)]
pub struct EventQueue<E> {
    /// log2 of the slot width in nanoseconds.
    slot_ns_log2: u32,
    /// Slots on the wheel minus one (the count is a power of two).
    slot_mask: u64,
    /// Events of slots up to `current_slot`, sorted latest first (the next
    /// event is the last).
    current: Vec<Entry<E>>,
    /// The slot being emptied.
    current_slot: u64,
    /// Events of slot `s` for `current_slot < s < current_slot + slots`, in
    /// `wheel[s & slot_mask]`, unsorted.
    wheel: Vec<Vec<Entry<E>>>,
    /// Events on the wheel (not counting `current`).
    on_wheel: usize,
    /// Events of later slots.
    overflow: BinaryHeap<Reverse<Entry<E>>>,
    next_seq: u64,
    len: usize,
}

#[derive(Debug)]
struct Entry<E> {
    at_ns: u64,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    fn key(&self) -> (u64, u64) {
        (self.at_ns, self.seq)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue with the default wheel ([`SLOT_NS_LOG2`], [`SLOTS`]).
    pub fn new() -> Self {
        Self::with_wheel(SLOT_NS_LOG2, SLOTS)
    }

    /// An empty queue whose wheel has `slots` slots (rounded up to a power of
    /// two, at least 2) of 2^`slot_ns_log2` ns each (at most 2^32 ns). The
    /// order events come out in does not depend on these; only the speed does.
    pub fn with_wheel(slot_ns_log2: u32, slots: usize) -> Self {
        let slots = slots.clamp(2, 1 << 24).next_power_of_two();
        Self {
            slot_ns_log2: slot_ns_log2.min(32),
            slot_mask: slots as u64 - 1,
            current: Vec::new(),
            current_slot: 0,
            wheel: (0..slots).map(|_| Vec::new()).collect(),
            on_wheel: 0,
            overflow: BinaryHeap::new(),
            next_seq: 0,
            len: 0,
        }
    }

    fn slot_of(&self, at_ns: u64) -> u64 {
        at_ns >> self.slot_ns_log2
    }

    /// Schedules `event` at `at_ns`.
    pub fn push(&mut self, at_ns: u64, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        self.place(Entry { at_ns, seq, event });
    }

    /// Puts `entry` where its slot says: the sorted current list, the wheel,
    /// or the overflow heap.
    fn place(&mut self, entry: Entry<E>) {
        let slot = self.slot_of(entry.at_ns);
        if slot <= self.current_slot {
            // Due in the slot being emptied (or, if ever, in the past: then
            // it is the earliest of all, as the heap would have it).
            let key = entry.key();
            let at = self.current.partition_point(|e| e.key() > key);
            self.current.insert(at, entry);
        } else if slot - self.current_slot <= self.slot_mask {
            self.wheel[(slot & self.slot_mask) as usize].push(entry);
            self.on_wheel += 1;
        } else {
            self.overflow.push(Reverse(entry));
        }
    }

    /// Takes the earliest event, with its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        self.pop_before(None)
    }

    /// Takes the earliest event if it is due before `limit_ns` (strictly;
    /// any event with `None`), with its time: what a caller with other
    /// things due at `limit_ns` may run first.
    pub fn pop_before(&mut self, limit_ns: Option<u64>) -> Option<(u64, E)> {
        if self.current.is_empty() && !self.advance() {
            return None;
        }
        if limit_ns.is_some_and(|limit| self.current.last().is_none_or(|e| e.at_ns >= limit)) {
            return None;
        }
        let entry = self.current.pop()?;
        self.len -= 1;
        Some((entry.at_ns, entry.event))
    }

    /// The event that comes `k` places after the next one, if the queue
    /// already holds it in order (`None` when it does not yet: a hint for
    /// prefetching what it will read, not a way to look ahead reliably).
    pub fn ahead(&self, k: usize) -> Option<&E> {
        let index = self.current.len().checked_sub(k + 2)?;
        self.current.get(index).map(|entry| &entry.event)
    }

    /// When the earliest event is due (`None`: no event waits). An event
    /// pushed now due strictly before that would be the next to come out
    /// (one due at the same time comes out after it).
    pub fn next_at_ns(&mut self) -> Option<u64> {
        if self.current.is_empty() && !self.advance() {
            return None;
        }
        self.current.last().map(|e| e.at_ns)
    }

    /// Moves on to the next slot that holds events, sorts them and makes
    /// them `current` (which is empty); false when no event is left.
    fn advance(&mut self) -> bool {
        loop {
            if self.on_wheel == 0 {
                // Nothing within the wheel's reach: jump to the next event.
                let Some(Reverse(next)) = self.overflow.peek() else {
                    return false;
                };
                self.current_slot = self.slot_of(next.at_ns).saturating_sub(1);
            }
            self.current_slot += 1;
            // Events of the slot that just came within reach leave the heap.
            while let Some(Reverse(next)) = self.overflow.peek()
                && self.slot_of(next.at_ns) - self.current_slot <= self.slot_mask
            {
                if let Some(Reverse(entry)) = self.overflow.pop() {
                    let index = (self.slot_of(entry.at_ns) & self.slot_mask) as usize;
                    self.wheel[index].push(entry);
                    self.on_wheel += 1;
                }
            }
            let bucket = &mut self.wheel[(self.current_slot & self.slot_mask) as usize];
            if !bucket.is_empty() {
                self.on_wheel -= bucket.len();
                bucket.sort_unstable_by_key(|e| Reverse(e.key()));
                // The emptied list keeps its room for the slot it serves next.
                std::mem::swap(&mut self.current, bucket);
                return true;
            }
        }
    }

    /// How many events wait.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn ahead_shows_the_events_after_the_next_in_order_within_the_sorted_slot() {
        let mut q = EventQueue::new();
        // A later slot's events wait unsorted on the wheel.
        let base = 10 << SLOT_NS_LOG2;
        for (at, e) in [(base + 30, 'c'), (base + 10, 'a'), (base + 20, 'b')] {
            q.push(at, e);
        }
        assert_eq!(q.ahead(0), None);
        // Asking for the next event sorts the slot.
        assert_eq!(q.next_at_ns(), Some(base + 10));
        assert_eq!(
            (q.ahead(0), q.ahead(1), q.ahead(2)),
            (Some(&'b'), Some(&'c'), None)
        );
        assert_eq!(q.pop(), Some((base + 10, 'a')));
        assert_eq!(q.ahead(0), Some(&'c'));
    }

    #[test]
    fn events_come_out_in_time_then_insertion_order() {
        let mut queue = EventQueue::new();
        queue.push(20, "c");
        queue.push(10, "a");
        queue.push(20, "d");
        queue.push(10, "b");
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(order, vec![(10, "a"), (10, "b"), (20, "c"), (20, "d")]);
    }

    #[test]
    fn pop_before_leaves_events_at_or_after_the_limit_and_later_pushes_still_sort_first() {
        let mut queue = EventQueue::new();
        assert_eq!(queue.pop_before(Some(10)), None);
        queue.push(5_000_000_000, "far");
        queue.push(30_000_000, "near");
        assert_eq!(queue.pop_before(Some(30_000_000)), None, "a tie stays");
        // Looking moved the wheel on to the event's slot; an event pushed
        // before it (same slot, or one already passed) still comes first.
        queue.push(29_000_000, "earlier");
        queue.push(1_000, "long before");
        assert_eq!(queue.pop_before(Some(1_000)), None);
        assert_eq!(queue.pop_before(Some(1_001)), Some((1_000, "long before")));
        assert_eq!(queue.len(), 3);
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, vec!["earlier", "near", "far"]);
    }

    #[test]
    fn interleaved_pushes_and_pops_match_a_sorted_list() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut queue = EventQueue::new();
        let mut reference: Vec<(u64, u64)> = Vec::new();
        let mut now = 0;
        for n in 0..20_000u64 {
            if rng.random_range(0..3) > 0 || reference.is_empty() {
                let at = now + rng.random_range(0..1_000);
                queue.push(at, n);
                reference.push((at, n));
            } else {
                reference.sort();
                let expected = reference.remove(0);
                assert_eq!(queue.pop(), Some(expected));
                now = expected.0;
            }
        }
        reference.sort();
        for expected in reference {
            assert_eq!(queue.pop(), Some(expected));
        }
        assert!(queue.is_empty());
    }

    #[test]
    fn far_events_wait_in_the_overflow_and_come_back_in_order() {
        // A wheel of 4 slots of 16 ns: anything 64 ns ahead overflows.
        let mut queue = EventQueue::with_wheel(4, 4);
        let times = [5_000, 3, 1_000_000, 70, 64, 5_000, 17, u64::MAX, 0, 65];
        for (i, &at) in times.iter().enumerate() {
            queue.push(at, i);
        }
        assert_eq!(queue.len(), times.len());
        let mut expected: Vec<(u64, usize)> =
            times.iter().enumerate().map(|(i, &at)| (at, i)).collect();
        expected.sort();
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(order, expected);
        assert!(queue.is_empty());
    }

    #[test]
    fn an_event_pushed_in_the_past_comes_out_first() {
        let mut queue = EventQueue::with_wheel(4, 4);
        queue.push(1_000, 'a');
        queue.push(1_001, 'b');
        assert_eq!(queue.pop(), Some((1_000, 'a')));
        queue.push(10, 'c');
        assert_eq!(queue.pop(), Some((10, 'c')));
        assert_eq!(queue.pop(), Some((1_001, 'b')));
        assert_eq!(queue.pop(), None);
    }

    /// What the queue is checked against: the standard binary heap ordered
    /// by (time, insertion number).
    #[derive(Default)]
    struct Reference {
        heap: BinaryHeap<Reverse<(u64, u64)>>,
        next: u64,
    }

    impl Reference {
        fn push(&mut self, at: u64) -> u64 {
            let n = self.next;
            self.next += 1;
            self.heap.push(Reverse((at, n)));
            n
        }
        fn pop(&mut self) -> Option<(u64, u64)> {
            self.heap.pop().map(|Reverse(e)| e)
        }
    }

    /// One step of a random workload: push `count` events `ahead_ns` after
    /// now (or before now when `past`), or pop `count` events.
    #[derive(Debug, Clone)]
    enum Op {
        Push {
            ahead_ns: u64,
            count: u8,
            past: bool,
        },
        Pop {
            count: u8,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        let ahead = prop_oneof![
            4 => 0u64..64,
            4 => 0u64..5_000,
            2 => 0u64..1_000_000,
            1 => 0u64..u64::MAX / 4,
        ];
        prop_oneof![
            3 => (ahead, 1u8..4, proptest::bool::weighted(0.05)).prop_map(
                |(ahead_ns, count, past)| Op::Push { ahead_ns, count, past }
            ),
            2 => (1u8..5).prop_map(|count| Op::Pop { count }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Random pushes (near, far, tied, occasionally in the past) and pops
        /// come out exactly as from the binary heap, whatever the wheel, and a
        /// `pop_before` the popped event's time takes nothing.
        #[test]
        fn pops_exactly_like_the_binary_heap(
            ops in proptest::collection::vec(op(), 1..400),
            slot_ns_log2 in 0u32..12,
            slots in 2usize..64,
        ) {
            let mut queue = EventQueue::with_wheel(slot_ns_log2, slots);
            let mut reference = Reference::default();
            let mut now = 0u64;
            for op in ops {
                match op {
                    Op::Push { ahead_ns, count, past } => {
                        for _ in 0..count {
                            let at = if past {
                                now.saturating_sub(ahead_ns)
                            } else {
                                now.saturating_add(ahead_ns)
                            };
                            let n = reference.push(at);
                            queue.push(at, n);
                        }
                    }
                    Op::Pop { count } => {
                        for _ in 0..count {
                            let expected = reference.pop();
                            // Nothing is due before the earliest event.
                            if let Some((at, _)) = expected {
                                prop_assert_eq!(queue.pop_before(Some(at)), None);
                            }
                            prop_assert_eq!(queue.next_at_ns(), expected.map(|(at, _)| at));
                            prop_assert_eq!(queue.pop(), expected);
                            if let Some((at, _)) = expected {
                                now = at;
                            }
                        }
                    }
                }
                prop_assert_eq!(queue.len(), reference.heap.len());
            }
            while let Some(expected) = reference.pop() {
                prop_assert_eq!(queue.pop(), Some(expected));
            }
            prop_assert_eq!(queue.pop(), None);
            prop_assert!(queue.is_empty());
        }
    }
}
