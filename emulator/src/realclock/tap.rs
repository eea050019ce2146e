//! The finished-request tap for watchers (the live view): every request's
//! record offered to a bounded broadcast, at no cost when nobody listens.
//!
//! Tokio's broadcast takes a mutex on every send, subscribers or not, and
//! every request of the edge offers its record here. The tap keeps its own
//! count of receivers in an atomic, so a request with nobody listening
//! reads one integer and returns. With a receiver, the broadcast's bounded
//! buffer applies as before: a receiver that falls behind loses the oldest
//! and learns how many (`Lagged`), the edge never waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::output::RequestRecord;

/// The sending side, owned by the edge.
#[derive(Debug)]
pub struct RequestTap {
    sender: broadcast::Sender<RequestRecord>,
    receivers: Arc<AtomicUsize>,
}

impl RequestTap {
    /// A tap keeping at most `capacity` unread records per receiver.
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity.max(1)).0,
            receivers: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Offers `record` to the receivers; with none, returns at once
    /// without locking. A record offered while a receiver subscribes may
    /// miss it (receivers get what finishes from about their start on).
    pub fn offer(&self, record: RequestRecord) {
        if self.receivers.load(Ordering::Relaxed) == 0 {
            return;
        }
        // A receiver that left meanwhile is fine.
        let _ = self.sender.send(record);
    }

    /// A receiver of the records offered from now on.
    pub fn subscribe(&self) -> TapReceiver {
        let receiver = self.sender.subscribe();
        self.receivers.fetch_add(1, Ordering::Relaxed);
        TapReceiver {
            receiver,
            receivers: self.receivers.clone(),
        }
    }

    /// Receivers now.
    pub fn receivers(&self) -> usize {
        self.receivers.load(Ordering::Relaxed)
    }
}

/// One watcher's side; dropping it makes the tap free again if it was the
/// last.
#[derive(Debug)]
pub struct TapReceiver {
    receiver: broadcast::Receiver<RequestRecord>,
    receivers: Arc<AtomicUsize>,
}

impl TapReceiver {
    /// The next record without waiting, as [`broadcast::Receiver::try_recv`]:
    /// `Lagged(n)` after the buffer overflowed (`n` lost).
    pub fn try_recv(&mut self) -> Result<RequestRecord, TryRecvError> {
        self.receiver.try_recv()
    }
}

impl Drop for TapReceiver {
    fn drop(&mut self) {
        self.receivers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sent_ns: u64) -> RequestRecord {
        RequestRecord::no_coverage(sent_ns, 0)
    }

    #[test]
    fn with_no_receiver_nothing_is_kept_and_a_receiver_sees_what_follows() {
        let tap = RequestTap::new(4);
        tap.offer(record(1));
        assert_eq!(tap.receivers(), 0);
        let mut receiver = tap.subscribe();
        assert_eq!(tap.receivers(), 1);
        assert_eq!(receiver.try_recv(), Err(TryRecvError::Empty));
        tap.offer(record(2));
        assert_eq!(receiver.try_recv().map(|r| r.sent_ns), Ok(2));
        drop(receiver);
        assert_eq!(tap.receivers(), 0, "the last receiver gone frees the tap");
    }

    #[test]
    fn a_receiver_that_falls_behind_loses_the_oldest_and_is_told_how_many() {
        let tap = RequestTap::new(4);
        let mut receiver = tap.subscribe();
        for i in 0..10 {
            tap.offer(record(i));
        }
        assert_eq!(receiver.try_recv(), Err(TryRecvError::Lagged(6)));
        let rest: Vec<u64> = std::iter::from_fn(|| receiver.try_recv().ok())
            .map(|r| r.sent_ns)
            .collect();
        assert_eq!(rest, [6, 7, 8, 9]);
    }
}
