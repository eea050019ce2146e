//! Waiting until a wall-clock deadline, precisely.
//!
//! The real-clock driver injects network delay in-process (the kernel here
//! has no `netem`), so every emulated message waits until its delivery
//! instant. How late that wait ends is the error the emulation adds to every
//! delay it reports. Three ways to wait, all behind [`Timer`]:
//!
//! - [`TimerKind::Tokio`]: plain `tokio::time::sleep_until`. Tokio's timer
//!   wheel has a 1 ms resolution and rounds deadlines up, so it is late by
//!   up to about 1 ms plus scheduling noise (1–3 ms at p99 on a loaded
//!   2-core VM). Costs nothing while waiting. The baseline.
//! - [`TimerKind::SleepSpin`]: `sleep_until(deadline - margin)`, then the
//!   task yields (`tokio::task::yield_now`) until the deadline. Precise when
//!   the margin covers Tokio's lateness, but every waiting task spins
//!   through the whole margin on a runtime worker: with many messages in
//!   flight the workers are always busy and the CPU cost grows with the
//!   message rate times the margin.
//! - [`TimerKind::Thread`]: one dedicated OS thread keeps a deadline heap.
//!   It blocks on a condition variable (high-resolution `futex` timeout,
//!   the thread's timer slack set to 1 ns) until `margin` before the
//!   earliest deadline, then spins (`std::hint::spin_loop`) until it, and
//!   completes the waiter's oneshot channel. However many messages are in
//!   flight, at most one thread spins, only while a deadline is within
//!   `margin`, and never more than [`SPIN_BUDGET`] of a core: the margin
//!   shrinks as deadlines come faster. The default: it is the
//!   one that meets the sub-0.5 ms p99 target at 10 k messages/s without
//!   burning a core per worker (`mcc-emu bench delay` measures all three).
//!
//! The waiter still has to be scheduled by Tokio after the timer thread
//! fires; that hop (a few µs to tens of µs when a worker is idle, more when
//! all workers are busy) is inside the measured error.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Default margin for [`TimerKind::Thread`]: the condition variable wakes
/// its thread this long before the deadline and the thread spins the rest.
pub const DEFAULT_THREAD_MARGIN: Duration = Duration::from_micros(300);

/// Default margin for [`TimerKind::SleepSpin`]: Tokio's timer is late by up
/// to its 1 ms tick plus scheduling noise, so the margin must cover both.
pub const DEFAULT_SLEEP_SPIN_MARGIN: Duration = Duration::from_micros(2000);

/// Most of one core the timer thread may spend spinning: its margin
/// shrinks to `SPIN_BUDGET / rate` when deadlines come at `rate` per
/// second. At 300 µs a deadline, 3,000 deadlines/s (1,000 requests/s of
/// `serve`, three waits each) kept the thread spinning nearly all the
/// time, a whole core taken from the runtime workers it must wake on a
/// 2-core machine; with the kernel's slack at 1 ns ([`exact_timeouts`])
/// the condition variable alone wakes within tens of µs.
pub const SPIN_BUDGET: f64 = 0.2;

/// How often the timer thread measures its deadline rate for [`SPIN_BUDGET`].
const RATE_WINDOW: Duration = Duration::from_millis(100);

/// Longest stretch the timer thread spins without looking at the heap again
/// (a new, earlier deadline may have been added meanwhile).
const SPIN_RECHECK: Duration = Duration::from_micros(20);

/// How a [`Timer`] waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// `tokio::time::sleep_until` alone (the baseline).
    Tokio,
    /// Tokio sleep until `margin` before the deadline, then yield-spin.
    SleepSpin {
        /// How long before the deadline the task starts spinning.
        margin: Duration,
    },
    /// A dedicated timer thread with a deadline heap that spins only when
    /// the earliest deadline is within `margin`.
    Thread {
        /// How long before the earliest deadline the thread starts spinning.
        margin: Duration,
    },
}

impl TimerKind {
    /// The kind's short name (`tokio`, `sleep-spin`, `thread`).
    pub fn name(&self) -> &'static str {
        match self {
            TimerKind::Tokio => "tokio",
            TimerKind::SleepSpin { .. } => "sleep-spin",
            TimerKind::Thread { .. } => "thread",
        }
    }

    /// The margin, when the kind has one.
    pub fn margin(&self) -> Option<Duration> {
        match self {
            TimerKind::Tokio => None,
            TimerKind::SleepSpin { margin } | TimerKind::Thread { margin } => Some(*margin),
        }
    }
}

/// Waits until wall-clock deadlines. Cheap to clone; clones share the timer
/// thread (if any), which stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Timer {
    kind: TimerKind,
    thread: Option<Arc<TimerThread>>,
}

impl Timer {
    /// A timer of `kind`; [`TimerKind::Thread`] starts its thread now.
    pub fn new(kind: TimerKind) -> std::io::Result<Self> {
        let thread = match kind {
            TimerKind::Thread { margin } => Some(Arc::new(TimerThread::start(margin)?)),
            _ => None,
        };
        Ok(Self { kind, thread })
    }

    /// The recommended timer: a timer thread with [`DEFAULT_THREAD_MARGIN`].
    pub fn precise() -> std::io::Result<Self> {
        Self::new(TimerKind::Thread {
            margin: DEFAULT_THREAD_MARGIN,
        })
    }

    /// How this timer waits.
    pub fn kind(&self) -> TimerKind {
        self.kind
    }

    /// Completes at `deadline` (at once when it has passed). Must be awaited
    /// inside a Tokio runtime with the time driver enabled.
    pub async fn sleep_until(&self, deadline: Instant) {
        match (&self.kind, &self.thread) {
            (TimerKind::Thread { .. }, Some(thread)) => {
                if deadline <= Instant::now() {
                    return;
                }
                let receiver = thread.register(deadline);
                // The sender is dropped only after it fired or when the
                // thread stops; either way the wait is over.
                let _ = receiver.await;
            }
            (TimerKind::SleepSpin { margin }, _) => {
                if let Some(early) = deadline.checked_sub(*margin) {
                    tokio::time::sleep_until(early.into()).await;
                }
                while Instant::now() < deadline {
                    tokio::task::yield_now().await;
                }
            }
            _ => tokio::time::sleep_until(deadline.into()).await,
        }
    }

    /// Completes `delay` from now.
    pub async fn sleep(&self, delay: Duration) {
        self.sleep_until(Instant::now() + delay).await;
    }
}

/// One waiter in the heap: its deadline, an insertion number (ties fire in
/// insertion order) and the channel that wakes it.
struct Entry {
    deadline: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

#[derive(Default)]
struct Heap {
    entries: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
    stop: bool,
}

struct Shared {
    heap: Mutex<Heap>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Heap> {
        // A panic while holding the lock cannot leave the heap half-updated
        // (every change is one push or pop), so a poisoned lock is usable.
        self.heap.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The dedicated thread behind [`TimerKind::Thread`].
struct TimerThread {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TimerThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerThread").finish_non_exhaustive()
    }
}

impl TimerThread {
    fn start(margin: Duration) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            heap: Mutex::new(Heap::default()),
            changed: Condvar::new(),
        });
        let for_thread = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("mcc-precise-timer".into())
            .spawn(move || run_timer_thread(&for_thread, margin))?;
        Ok(Self {
            shared,
            handle: Some(handle),
        })
    }

    fn register(&self, deadline: Instant) -> oneshot::Receiver<()> {
        let (wake, receiver) = oneshot::channel();
        let mut heap = self.shared.lock();
        let seq = heap.next_seq;
        heap.next_seq += 1;
        let earliest = heap
            .entries
            .peek()
            .is_none_or(|Reverse(head)| deadline < head.deadline);
        heap.entries.push(Reverse(Entry {
            deadline,
            seq,
            wake,
        }));
        drop(heap);
        if earliest {
            self.shared.changed.notify_one();
        }
        receiver
    }
}

impl Drop for TimerThread {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_one();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The timer thread: fire what is due, block until `margin` before the next
/// deadline, spin the rest.
fn run_timer_thread(shared: &Shared, margin: Duration) {
    exact_timeouts();
    let mut budget = SpinBudget::new(margin);
    let mut heap = shared.lock();
    loop {
        if heap.stop {
            return;
        }
        let now = Instant::now();
        while heap
            .entries
            .peek()
            .is_some_and(|Reverse(head)| head.deadline <= now || head.wake.is_closed())
        {
            if let Some(Reverse(entry)) = heap.entries.pop() {
                // The waiter may have gone away (then its entry is dropped
                // early, so abandoned waits do not pile up at the head).
                let _ = entry.wake.send(());
                budget.fired += 1;
            }
        }
        let margin = budget.margin(now);
        let Some(next) = heap.entries.peek().map(|Reverse(head)| head.deadline) else {
            heap = shared
                .changed
                .wait(heap)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        let until_next = next.saturating_duration_since(now);
        if until_next > margin {
            heap = shared
                .changed
                .wait_timeout(heap, until_next - margin)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        // Spin without the lock so that waiters can register meanwhile.
        drop(heap);
        let spin_end = next.min(now + SPIN_RECHECK);
        while Instant::now() < spin_end {
            std::hint::spin_loop();
        }
        heap = shared.lock();
    }
}

/// The timer thread's spin margin under [`SPIN_BUDGET`].
struct SpinBudget {
    /// The margin when deadlines are rare.
    most: Duration,
    /// The margin now.
    now: Duration,
    /// Deadlines fired since `since`.
    fired: u32,
    since: Instant,
}

impl SpinBudget {
    fn new(most: Duration) -> Self {
        Self {
            most,
            now: most,
            fired: 0,
            since: Instant::now(),
        }
    }

    /// The margin at `now`: the configured one, or less when the last
    /// window's deadline rate times it would exceed the budget.
    fn margin(&mut self, now: Instant) -> Duration {
        let window = now.saturating_duration_since(self.since);
        if window >= RATE_WINDOW {
            let rate = f64::from(self.fired) / window.as_secs_f64();
            self.now = if rate > 0.0 {
                self.most.min(Duration::from_secs_f64(SPIN_BUDGET / rate))
            } else {
                self.most
            };
            self.fired = 0;
            self.since = now;
        }
        self.now
    }
}

/// Asks the kernel to end this thread's timed waits at their time: by
/// default Linux may end a thread's timeout up to its *timer slack*, 50 µs,
/// late, to batch wake-ups (`prctl(2)`, `PR_SET_TIMERSLACK`); the timer
/// thread's waits are its precision. 1 ns is the least slack the kernel
/// takes (0 means "the default"). A failure leaves the default: the thread
/// still spins its margin.
fn exact_timeouts() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes an integer and touches no memory of
    // the caller.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test runtime")
    }

    // Ordering only, never timing precision: every kind must not end early.
    #[test]
    fn no_kind_wakes_before_its_deadline() {
        let rt = runtime();
        for kind in [
            TimerKind::Tokio,
            TimerKind::SleepSpin {
                margin: DEFAULT_SLEEP_SPIN_MARGIN,
            },
            TimerKind::Thread {
                margin: DEFAULT_THREAD_MARGIN,
            },
        ] {
            let timer = Timer::new(kind).expect("timer");
            rt.block_on(async {
                let mut tasks = Vec::new();
                for i in 0..50u64 {
                    let timer = timer.clone();
                    tasks.push(tokio::spawn(async move {
                        let deadline = Instant::now() + Duration::from_micros(100 * (i % 7));
                        timer.sleep_until(deadline).await;
                        Instant::now() >= deadline
                    }));
                }
                for task in tasks {
                    assert!(task.await.expect("task"), "{} woke early", kind.name());
                }
            });
        }
    }

    #[test]
    fn a_past_deadline_completes_and_dropped_waiters_do_not_stall_the_thread() {
        let rt = runtime();
        let timer = Timer::precise().expect("timer");
        rt.block_on(async {
            timer
                .sleep_until(Instant::now() - Duration::from_millis(1))
                .await;
            // A waiter that goes away before its deadline.
            let abandoned = tokio::time::timeout(
                Duration::from_millis(1),
                timer.sleep(Duration::from_secs(3600)),
            )
            .await;
            assert!(abandoned.is_err());
            let deadline = Instant::now() + Duration::from_millis(2);
            timer.sleep_until(deadline).await;
            assert!(Instant::now() >= deadline);
        });
        drop(timer);
    }
}
