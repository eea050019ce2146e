//! A cloudlet's processors: requests of all its VMs share its cores.

/// First-come first-served service on `cores` identical cores.
///
/// Requests must be offered in order of arrival (the event loop does that);
/// each gets the core that frees first.
#[derive(Debug, Clone)]
pub struct CpuQueue {
    free_at_ns: Vec<u64>,
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
            free_at_ns: vec![0; cores.max(1) as usize],
        }
    }

    /// Serves a request arriving at `arrival_ns` that needs `work_ns` of one core.
    pub fn serve(&mut self, arrival_ns: u64, work_ns: u64) -> Service {
        let (core, free_at) = self
            .free_at_ns
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|&(_, free_at)| free_at)
            .unwrap_or((0, 0));
        let start = free_at.max(arrival_ns);
        let done_ns = start + work_ns;
        if let Some(slot) = self.free_at_ns.get_mut(core) {
            *slot = done_ns;
        }
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
            .map(|&free_at| free_at.saturating_sub(now_ns))
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
}
