//! A count of things under way that one can wait to reach zero (loops,
//! requests and migrations the shutdown waits for).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// A count and a way to wait until it is zero.
#[derive(Debug, Default)]
pub struct Counter {
    count: AtomicUsize,
    zero: Notify,
}

impl Counter {
    /// One more.
    pub fn increment(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    /// One fewer; wakes the waiters when none is left.
    pub fn decrement(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.zero.notify_waiters();
        }
    }

    /// How many now.
    pub fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Completes when the count is zero.
    pub async fn zero(&self) {
        loop {
            let notified = self.zero.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.get() == 0 {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_ends_when_the_count_drops_to_zero() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let counter = std::sync::Arc::new(Counter::default());
        counter.increment();
        counter.increment();
        let waiter = counter.clone();
        rt.block_on(async move {
            let wait = tokio::spawn(async move { waiter.zero().await });
            tokio::task::yield_now().await;
            counter.decrement();
            tokio::task::yield_now().await;
            assert!(!wait.is_finished());
            counter.decrement();
            wait.await.expect("waited");
        });
    }
}
