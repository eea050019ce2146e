//! VM memory on a real node: as many real bytes as a transfer needs, no more.
//!
//! A node does not store its VMs' memory. The content of page `i` of a VM
//! is generated on demand from a seed (derived from the VM's id) and `i`
//! with a SplitMix64 stream, so the bytes that cross the wire are real,
//! incompressible and reproducible, while a 4 GiB VM costs the node nothing
//! but its description. A fraction of the pages (chosen by the same seed)
//! are zero pages; they travel as a page header with no data, as QEMU sends
//! them. A receiving node keeps only a bitmap of the pages it holds (one bit
//! per page: 32 KiB for a 1 GiB VM).

/// Default page size on a node, in bytes.
pub const DEFAULT_PAGE_BYTES: u32 = 4096;
/// Smallest page size a node accepts, in bytes (bounds the page bitmap).
pub const MIN_PAGE_BYTES: u32 = 512;
/// Largest page size a node accepts, in bytes (huge pages: 2 MiB).
pub const MAX_PAGE_BYTES: u32 = 2 << 20;

/// The shape and content seed of a VM's memory.
#[derive(Debug, Clone, PartialEq)]
pub struct VmMemory {
    /// Memory size in bytes (a whole number of pages).
    pub memory_bytes: u64,
    /// Page size in bytes.
    pub page_bytes: u32,
    /// Fraction of the pages that hold only zeroes, in [0, 1].
    pub zero_fraction: f64,
    /// Seed of the page content.
    pub seed: u64,
}

impl VmMemory {
    /// The memory of VM `vm_id`: its seed is derived from the id, so every
    /// node generates the same content for the same VM.
    pub fn for_vm(vm_id: &str, memory_bytes: u64, page_bytes: u32, zero_fraction: f64) -> Self {
        Self {
            memory_bytes,
            page_bytes,
            zero_fraction,
            seed: fnv1a(vm_id.as_bytes()),
        }
    }

    /// Number of pages.
    pub fn pages(&self) -> u64 {
        self.memory_bytes / u64::from(self.page_bytes.max(1))
    }

    /// Whether page `index` holds only zeroes.
    pub fn is_zero(&self, index: u64) -> bool {
        let draw = splitmix64(self.seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F));
        ((draw >> 11) as f64 / (1u64 << 53) as f64) < self.zero_fraction
    }

    /// Writes the content of page `index` (not a zero page) into `out`,
    /// which is resized to the page size.
    pub fn fill_page(&self, index: u64, out: &mut Vec<u8>) {
        out.resize(self.page_bytes as usize, 0);
        let mut state = self.seed ^ index.wrapping_mul(0xE703_7ED1_A0B4_28DB);
        let mut next_word = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            splitmix64(state).to_le_bytes()
        };
        // Whole words as fixed-size copies (a slice copy of a length known
        // only at run time is a call to memmove per 8 bytes), then the tail.
        let mut words = out.chunks_exact_mut(8);
        for chunk in &mut words {
            chunk.copy_from_slice(&next_word());
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            let word = next_word();
            tail.copy_from_slice(&word[..tail.len()]);
        }
    }

    /// Page `index` as it travels: a zero page has no data.
    pub fn page(&self, index: u64) -> mcc_proto::v1::Page {
        if self.is_zero(index) {
            return mcc_proto::v1::Page {
                index,
                data: Vec::new(),
                zero: true,
            };
        }
        let mut data = Vec::new();
        self.fill_page(index, &mut data);
        mcc_proto::v1::Page {
            index,
            data,
            zero: false,
        }
    }
}

/// The pages a receiving node holds: one bit per page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSet {
    bits: Vec<u64>,
    pages: u64,
    held: u64,
}

impl PageSet {
    /// An empty set over `pages` pages.
    pub fn new(pages: u64) -> Self {
        Self {
            bits: vec![0; pages.div_ceil(64) as usize],
            pages,
            held: 0,
        }
    }

    /// Marks page `index` held; false when it lies outside the VM.
    pub fn insert(&mut self, index: u64) -> bool {
        if index >= self.pages {
            return false;
        }
        let (word, bit) = ((index / 64) as usize, index % 64);
        if let Some(slot) = self.bits.get_mut(word) {
            if *slot & (1 << bit) == 0 {
                *slot |= 1 << bit;
                self.held += 1;
            }
            return true;
        }
        false
    }

    /// Marks page `index` not held (a stale copy); false when outside the VM.
    pub fn remove(&mut self, index: u64) -> bool {
        if index >= self.pages {
            return false;
        }
        let (word, bit) = ((index / 64) as usize, index % 64);
        if let Some(slot) = self.bits.get_mut(word) {
            if *slot & (1 << bit) != 0 {
                *slot &= !(1 << bit);
                self.held -= 1;
            }
            return true;
        }
        false
    }

    /// Whether page `index` is held.
    pub fn contains(&self, index: u64) -> bool {
        let (word, bit) = ((index / 64) as usize, index % 64);
        index < self.pages && self.bits.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Pages in the set's range (held or not).
    pub fn len(&self) -> u64 {
        self.pages
    }

    /// True for a set over no pages.
    pub fn is_empty(&self) -> bool {
        self.pages == 0
    }

    /// Pages held.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Pages not held yet.
    pub fn missing(&self) -> u64 {
        self.pages - self.held
    }
}

/// FNV-1a, 64 bits: a stable hash of a VM id (never changes between versions).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// SplitMix64's output function.
fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_reproducible_and_differ_between_pages_and_vms() {
        let a = VmMemory::for_vm("vm-a", 1 << 20, 4096, 0.0);
        let b = VmMemory::for_vm("vm-b", 1 << 20, 4096, 0.0);
        assert_eq!(a.page(3), a.page(3));
        assert_ne!(a.page(3).data, a.page(4).data);
        assert_ne!(a.page(3).data, b.page(3).data);
        assert_eq!(a.page(3).data.len(), 4096);
        assert_eq!(a.pages(), 256);
    }

    #[test]
    fn page_content_is_the_same_from_version_to_version() {
        // Two nodes of different builds must agree on every byte: digests
        // of pages generated before the word-at-a-time fill was rewritten,
        // a whole-word page size and one with a tail.
        for (page_bytes, digest) in [(4096, DIGEST_4096), (1000, DIGEST_1000)] {
            let memory = VmMemory::for_vm("vm-a", u64::from(page_bytes) * 16, page_bytes, 0.0);
            let data = memory.page(3).data;
            assert_eq!(data.len(), page_bytes as usize);
            assert_eq!(fnv1a(&data), digest, "{page_bytes}-byte page");
        }
    }

    const DIGEST_4096: u64 = 0xddf0_7696_8690_32cb;
    const DIGEST_1000: u64 = 0x8e1f_f862_361c_b075;

    #[test]
    fn the_zero_fraction_is_honoured_and_zero_pages_carry_no_data() {
        let memory = VmMemory::for_vm("vm", 4096 * 10_000, 4096, 0.25);
        let zero = (0..memory.pages()).filter(|&i| memory.is_zero(i)).count();
        assert!((2_300..2_700).contains(&zero), "{zero} zero pages of 10000");
        let index = (0..memory.pages())
            .find(|&i| memory.is_zero(i))
            .unwrap_or(0);
        assert!(memory.page(index).zero && memory.page(index).data.is_empty());
        let none = VmMemory::for_vm("vm", 4096 * 1000, 4096, 0.0);
        assert!((0..none.pages()).all(|i| !none.is_zero(i)));
    }

    #[test]
    fn a_page_set_counts_each_page_once_and_refuses_outsiders() {
        let mut set = PageSet::new(130);
        assert!(set.insert(0) && set.insert(129) && set.insert(129));
        assert!(!set.insert(130));
        assert_eq!((set.held(), set.missing()), (2, 128));
        assert!(set.contains(129) && !set.contains(1) && !set.contains(130));
        assert!(set.remove(129) && set.remove(129) && !set.remove(130));
        assert_eq!((set.held(), set.missing()), (1, 129));
    }
}
