//! Locks of the real clock's shared state that a panicked holder does not
//! poison: the state is plain data (lists of tasks, servers, processes),
//! still consistent after any panic, and shutting down must reach all of it.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, poisoned or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes everything `mutex` holds, leaving it empty.
pub(crate) fn take_all<T: Default>(mutex: &Mutex<T>) -> T {
    std::mem::take(&mut *lock(mutex))
}
