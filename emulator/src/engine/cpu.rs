//! A cloudlet's processors: requests of all its VMs share its cores.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// First-come first-served service on `cores` identical cores.
///
/// Requests must be offered in order of arrival (the event loop does that);
/// each gets the core that frees first. The cores are identical, so only
/// the times they free at matter, not which core is which: they are kept
/// in a min-heap, and a request takes the earliest (a tie between cores
/// gives the same times whichever of them it takes).
#[derive(Debug, Clone)]
pub struct CpuQueue {
    free_at_ns: BinaryHeap<Reverse<u64>>,
}

/// When a request starts and ends on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// Time spent waiting for a core.
    pub queueing_ns: u64,
    /// When it finishes.
    pub done_ns: u64,
}

impl CpuQueue {
    /// A host with `cores` cores (at least one).
    pub fn new(cores: u32) -> Self {
        Self {
            free_at_ns: vec![Reverse(0); cores.max(1) as usize].into(),
        }
    }

    /// Serves a request arriving at `arrival_ns` that needs `work_ns` of one core.
    pub fn serve(&mut self, arrival_ns: u64, work_ns: u64) -> Service {
        let Some(mut earliest) = self.free_at_ns.peek_mut() else {
            // `new` gives every queue a core.
            return Service {
                queueing_ns: 0,
                done_ns: arrival_ns + work_ns,
            };
        };
        let start = earliest.0.max(arrival_ns);
        let done_ns = start + work_ns;
        *earliest = Reverse(done_ns);
        Service {
            queueing_ns: start - arrival_ns,
            done_ns,
        }
    }

    /// Work already booked on the cores beyond `now_ns`, summed over cores: the
    /// load placement policies see.
    pub fn backlog_ns(&self, now_ns: u64) -> u64 {
        self.free_at_ns
            .iter()
            .map(|&Reverse(free_at)| free_at.saturating_sub(now_ns))
            .sum()
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.free_at_ns.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_queue_when_every_core_is_busy() {
        let mut cpu = CpuQueue::new(2);
        assert_eq!(cpu.serve(0, 10).queueing_ns, 0);
        assert_eq!(cpu.serve(1, 10).queueing_ns, 0);
        let third = cpu.serve(2, 10);
        assert_eq!(third.queueing_ns, 8);
        assert_eq!(third.done_ns, 20);
        assert_eq!(cpu.serve(100, 5).queueing_ns, 0);
        assert_eq!(cpu.backlog_ns(15), 5 + 90);
    }

    #[test]
    fn matches_taking_the_first_core_that_frees() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut cpu = CpuQueue::new(16);
        let mut cores = [0u64; 16];
        let mut now = 0;
        for _ in 0..20_000 {
            now += rng.random_range(0..400);
            let work = rng.random_range(1..5_000);
            let (core, free_at) = cores
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|&(_, f)| f)
                .unwrap();
            let start = free_at.max(now);
            cores[core] = start + work;
            let service = cpu.serve(now, work);
            assert_eq!(service.queueing_ns, start - now);
            assert_eq!(service.done_ns, start + work);
            let backlog: u64 = cores.iter().map(|f| f.saturating_sub(now)).sum();
            assert_eq!(cpu.backlog_ns(now), backlog);
        }
    }
}
