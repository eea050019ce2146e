//! A hint to the processor to start loading memory that will be read soon,
//! so that a loop touching many devices' state in an order it knows a few
//! steps ahead does not wait for each cache miss in turn. No effect on
//! results; on targets without the instruction it does nothing.

/// Asks for the cache lines holding `value` (up to `lines` of them, 64
/// bytes each, from its start) to be loaded.
#[inline(always)]
pub fn prefetch<T>(value: &T, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = std::ptr::from_ref(value).cast::<i8>();
        let size = std::mem::size_of::<T>();
        for line in 0..lines.min(size.div_ceil(64)) {
            // SAFETY: a prefetch is a hint that never faults and reads
            // nothing into the program; the address is inside `value`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(line * 64)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (value, lines);
    }
}
