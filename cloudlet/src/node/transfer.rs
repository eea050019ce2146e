//! The receiving side of a `ReceiveVm` stream, as plain code: it checks
//! the order and sizes of the messages and counts what arrived.
//!
//! A stream is a header, then page batches whose rounds never go back,
//! then exactly one execution state; for post-copy and soft, page batches
//! (the background push) may follow the state, else nothing does. Every page lies
//! inside the VM; a data page carries exactly one page of bytes; a zero page
//! carries none. The execution state's `pages_missing` must equal the pages
//! the target still lacks (0 for stop-and-copy and pre-copy; what post-copy
//! and soft leave to push and pull).

use mcc_proto::v1::{ExecutionState, PageBatch, VmHeader};

use super::error::NodeError;
use super::pages::{MAX_PAGE_BYTES, MIN_PAGE_BYTES, PageSet, VmMemory};

/// Largest VM a node accepts: 1 TiB.
pub const MAX_VM_MEMORY_BYTES: u64 = 1 << 40;

/// Checks a header's VM description and turns it into the VM's memory.
pub fn memory_from_header(header: &VmHeader) -> Result<VmMemory, NodeError> {
    if header.migration_id.is_empty() {
        return Err(NodeError::invalid("VmHeader.migration_id is empty"));
    }
    if header.vm_id.is_empty() {
        return Err(NodeError::invalid("VmHeader.vm_id is empty"));
    }
    let Some(profile) = &header.profile else {
        return Err(NodeError::invalid("VmHeader.profile is missing"));
    };
    let most = crate::migration::MAX_PAGES_PER_REQUEST;
    if header.pages_per_request > most {
        return Err(NodeError::invalid(format!(
            "VmHeader.pages_per_request is {}; at most {most} is accepted",
            header.pages_per_request
        )));
    }
    memory_from_profile(&header.vm_id, profile, "VmHeader.profile")
}

/// Checks a VM profile (`field` names it in errors) and turns it into memory.
pub fn memory_from_profile(
    vm_id: &str,
    profile: &mcc_proto::v1::VmProfile,
    field: &str,
) -> Result<VmMemory, NodeError> {
    let page_bytes = if profile.page_size_bytes == 0 {
        super::pages::DEFAULT_PAGE_BYTES
    } else {
        profile.page_size_bytes
    };
    if !(MIN_PAGE_BYTES..=MAX_PAGE_BYTES).contains(&page_bytes) {
        return Err(NodeError::invalid(format!(
            "{field}.page_size_bytes is {page_bytes}; it must lie in [{MIN_PAGE_BYTES}, {MAX_PAGE_BYTES}] \
             (0 means the default {})",
            super::pages::DEFAULT_PAGE_BYTES
        )));
    }
    if profile.memory_bytes == 0 || !profile.memory_bytes.is_multiple_of(u64::from(page_bytes)) {
        return Err(NodeError::invalid(format!(
            "{field}.memory_bytes is {}; it must be a positive multiple of the page size {page_bytes}",
            profile.memory_bytes
        )));
    }
    if profile.memory_bytes > MAX_VM_MEMORY_BYTES {
        return Err(NodeError::invalid(format!(
            "{field}.memory_bytes is {}; at most {MAX_VM_MEMORY_BYTES} (1 TiB) is accepted",
            profile.memory_bytes
        )));
    }
    if !(0.0..=1.0).contains(&profile.zero_page_fraction) {
        return Err(NodeError::invalid(format!(
            "{field}.zero_page_fraction is {}; it must lie in [0, 1]",
            profile.zero_page_fraction
        )));
    }
    Ok(VmMemory::for_vm(
        vm_id,
        profile.memory_bytes,
        page_bytes,
        profile.zero_page_fraction,
    ))
}

/// What a transfer delivered by the time of its execution state.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedVm {
    /// The VM's memory description.
    pub memory: VmMemory,
    /// Pages held at the state (stale pages dropped).
    pub held: PageSet,
    /// Page messages received (a page sent twice counts twice).
    pub pages_received: u64,
    /// Encoded bytes of every message of the stream.
    pub bytes_received: u64,
    /// Rounds seen (highest round + 1).
    pub rounds: u32,
}

/// Progress of one incoming transfer after its header.
///
/// A stream that allows a push (post-copy, hybrid, soft) may carry page batches
/// after its execution state; [`IncomingTransfer::on_pages`] then counts
/// them as pushed and the caller applies them to the installed VM.
#[derive(Debug)]
pub struct IncomingTransfer {
    memory: VmMemory,
    held: PageSet,
    pages_received: u64,
    pages_pushed: u64,
    bytes_received: u64,
    last_round: Option<u32>,
    push_allowed: bool,
    state_seen: bool,
}

impl IncomingTransfer {
    /// Starts after a valid header of `header_bytes` encoded bytes; pages
    /// may follow the state when `push_allowed`.
    pub fn new(memory: VmMemory, header_bytes: u64, push_allowed: bool) -> Self {
        let held = PageSet::new(memory.pages());
        Self {
            memory,
            held,
            pages_received: 0,
            pages_pushed: 0,
            bytes_received: header_bytes,
            last_round: None,
            push_allowed,
            state_seen: false,
        }
    }

    /// Takes one batch of `encoded_bytes`.
    pub fn on_pages(&mut self, batch: &PageBatch, encoded_bytes: u64) -> Result<(), NodeError> {
        if self.state_seen && !self.push_allowed {
            return Err(NodeError::invalid(
                "a stop-and-copy or pre-copy transfer ends with its execution state; a page batch followed it",
            ));
        }
        if let Some(last) = self.last_round
            && batch.round < last
        {
            return Err(NodeError::invalid(format!(
                "PageBatch.round went back from {last} to {}",
                batch.round
            )));
        }
        self.last_round = Some(batch.round);
        let page_bytes = self.memory.page_bytes as usize;
        for page in &batch.pages {
            if page.zero && !page.data.is_empty() {
                return Err(NodeError::invalid(format!(
                    "page {} is marked zero but carries {} bytes",
                    page.index,
                    page.data.len()
                )));
            }
            if !page.zero && page.data.len() != page_bytes {
                return Err(NodeError::invalid(format!(
                    "page {} carries {} bytes; a page of this VM is {page_bytes} bytes",
                    page.index,
                    page.data.len()
                )));
            }
            if !self.held.insert(page.index) {
                return Err(NodeError::invalid(format!(
                    "page {} lies outside the VM ({} pages)",
                    page.index,
                    self.memory.pages()
                )));
            }
            self.pages_received += 1;
            if self.state_seen {
                self.pages_pushed += 1;
            }
        }
        self.bytes_received += encoded_bytes;
        Ok(())
    }

    /// Takes the execution state: drops the stale pages it names and checks
    /// its `pages_missing`; returns what the target holds now.
    pub fn on_state(
        &mut self,
        state: &ExecutionState,
        encoded_bytes: u64,
    ) -> Result<ReceivedVm, NodeError> {
        if self.state_seen {
            return Err(NodeError::invalid(
                "a VM transfer stream has one execution state only",
            ));
        }
        for range in &state.stale {
            let end = range.first.checked_add(range.count);
            if end.is_none_or(|end| end > self.memory.pages()) {
                return Err(NodeError::invalid(format!(
                    "ExecutionState.stale names pages [{}, +{}) outside the VM ({} pages)",
                    range.first,
                    range.count,
                    self.memory.pages()
                )));
            }
            if !self.push_allowed {
                return Err(NodeError::invalid(
                    "ExecutionState.stale is only for post-copy and soft transfers",
                ));
            }
            for index in range.first..range.first + range.count {
                self.held.remove(index);
            }
        }
        if state.pages_missing != self.held.missing() {
            return Err(NodeError::invalid(format!(
                "ExecutionState.pages_missing is {} but the target lacks {} of {} pages",
                state.pages_missing,
                self.held.missing(),
                self.memory.pages()
            )));
        }
        self.bytes_received += encoded_bytes;
        self.state_seen = true;
        Ok(ReceivedVm {
            memory: self.memory.clone(),
            held: self.held.clone(),
            pages_received: self.pages_received,
            bytes_received: self.bytes_received,
            rounds: self.rounds(),
        })
    }

    /// Whether the execution state has arrived.
    pub fn state_seen(&self) -> bool {
        self.state_seen
    }

    /// Page messages received so far.
    pub fn pages_received(&self) -> u64 {
        self.pages_received
    }

    /// Of those, pages received after the state (the push).
    pub fn pages_pushed(&self) -> u64 {
        self.pages_pushed
    }

    /// Encoded bytes received so far.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// Rounds seen so far (highest round + 1).
    pub fn rounds(&self) -> u32 {
        self.last_round.map_or(0, |r| r.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use mcc_proto::v1::{Page, VmProfile};

    use super::*;

    fn memory() -> VmMemory {
        VmMemory::for_vm("vm", 4 * 4096, 4096, 0.0)
    }

    fn batch(round: u32, indices: &[u64]) -> PageBatch {
        let memory = memory();
        PageBatch {
            round,
            pages: indices.iter().map(|&i| memory.page(i)).collect(),
        }
    }

    #[test]
    fn a_full_transfer_is_counted() {
        let mut t = IncomingTransfer::new(memory(), 10, false);
        t.on_pages(&batch(0, &[0, 1, 2, 3]), 100).expect("round 0");
        t.on_pages(&batch(1, &[2]), 20).expect("round 1");
        let vm = t
            .on_state(
                &ExecutionState {
                    cpu_state: vec![1; 8],
                    pages_missing: 0,
                    ..Default::default()
                },
                5,
            )
            .expect("state");
        assert_eq!(
            (vm.pages_received, vm.bytes_received, vm.rounds),
            (5, 135, 2)
        );
    }

    #[test]
    fn bad_streams_are_refused() {
        let mut t = IncomingTransfer::new(memory(), 0, false);
        t.on_pages(&batch(1, &[0]), 1).expect("round 1");
        assert!(t.on_pages(&batch(0, &[1]), 1).is_err(), "round went back");
        assert!(t.on_pages(&batch(1, &[4]), 1).is_err(), "outside the VM");
        let short = PageBatch {
            round: 1,
            pages: vec![Page {
                index: 1,
                data: vec![0; 100],
                zero: false,
            }],
        };
        assert!(t.on_pages(&short, 1).is_err(), "short page");
        let fake_zero = PageBatch {
            round: 1,
            pages: vec![Page {
                index: 1,
                data: vec![0; 4096],
                zero: true,
            }],
        };
        assert!(t.on_pages(&fake_zero, 1).is_err(), "zero page with data");
        let state = ExecutionState {
            cpu_state: Vec::new(),
            pages_missing: 0,
            ..Default::default()
        };
        assert!(t.on_state(&state, 1).is_err(), "3 pages are missing, not 0");
    }

    #[test]
    fn a_push_transfer_drops_stale_pages_and_takes_pages_after_the_state() {
        let mut t = IncomingTransfer::new(memory(), 0, true);
        t.on_pages(&batch(0, &[0, 1, 2, 3]), 10).expect("round 0");
        let state = ExecutionState {
            cpu_state: Vec::new(),
            pages_missing: 2,
            stale: vec![mcc_proto::v1::PageRange { first: 1, count: 2 }],
        };
        let vm = t.on_state(&state, 1).expect("state with 2 stale pages");
        assert_eq!(vm.held.missing(), 2);
        t.on_pages(&batch(1, &[1, 2]), 10).expect("push");
        assert_eq!((t.pages_received(), t.pages_pushed()), (6, 2));
        assert!(t.on_state(&state, 1).is_err(), "a second state");
        let mut closed = IncomingTransfer::new(memory(), 0, false);
        closed
            .on_pages(&batch(0, &[0, 1, 2, 3]), 10)
            .expect("round 0");
        let full = ExecutionState::default();
        closed.on_state(&full, 1).expect("state");
        assert!(
            closed.on_pages(&batch(1, &[1]), 1).is_err(),
            "pre-copy: no push"
        );
        let mut outside = IncomingTransfer::new(memory(), 0, true);
        let beyond = ExecutionState {
            stale: vec![mcc_proto::v1::PageRange { first: 3, count: 2 }],
            pages_missing: 4,
            ..Default::default()
        };
        assert!(
            outside.on_state(&beyond, 1).is_err(),
            "stale outside the VM"
        );
    }

    #[test]
    fn a_header_asking_too_many_pages_per_request_is_refused() {
        let header = VmHeader {
            migration_id: "m".to_owned(),
            vm_id: "vm".to_owned(),
            profile: Some(VmProfile {
                memory_bytes: 8192,
                page_size_bytes: 4096,
                ..Default::default()
            }),
            pages_per_request: 8,
            ..Default::default()
        };
        assert!(memory_from_header(&header).is_ok());
        let greedy = VmHeader {
            pages_per_request: u32::MAX,
            ..header
        };
        let error = memory_from_header(&greedy).expect_err("too many pages");
        assert!(error.message.contains("pages_per_request"), "{error}");
    }

    #[test]
    fn bad_profiles_are_refused() {
        let good = VmProfile {
            memory_bytes: 8192,
            page_size_bytes: 4096,
            ..Default::default()
        };
        assert!(memory_from_profile("vm", &good, "p").is_ok());
        for bad in [
            VmProfile {
                memory_bytes: 0,
                ..good
            },
            VmProfile {
                memory_bytes: 5000,
                ..good
            },
            VmProfile {
                zero_page_fraction: 1.5,
                ..good
            },
            VmProfile {
                page_size_bytes: 1 << 30,
                memory_bytes: 1 << 30,
                ..good
            },
            VmProfile {
                memory_bytes: 1 << 41,
                ..good
            },
            VmProfile {
                page_size_bytes: 1,
                ..good
            },
        ] {
            assert!(
                memory_from_profile("vm", &bad, "p").is_err(),
                "{bad:?} accepted"
            );
        }
    }
}
