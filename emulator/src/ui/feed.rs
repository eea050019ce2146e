//! The page's feed: JSON messages fanned out to every open page, never
//! waited for.
//!
//! A producer ([`super::live`], [`super::replay`]) publishes; each page's
//! server-sent-event stream reads from a bounded broadcast
//! ([`FEED_CAPACITY`] messages). A page that reads too slowly (a stalled
//! tab, a slow link) loses the oldest messages it had not read: they are
//! counted ([`Feed::dropped`], and the page is told its own count in a
//! `dropped` message), and the producer, and so the emulator, never waits.
//! The outputs never go through here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use tokio_stream::Stream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

/// Messages a page may be behind before it loses the oldest: 64 s of
/// frames at four a second, with the events between them.
pub const FEED_CAPACITY: usize = 256;

/// The fan-out of JSON messages to the open pages.
#[derive(Debug)]
pub struct Feed {
    sender: Mutex<Option<broadcast::Sender<Arc<str>>>>,
    dropped: AtomicU64,
    published: AtomicU64,
    /// The map pages read from `/world.json`.
    world: Mutex<Arc<str>>,
}

impl Feed {
    /// A feed keeping at most `capacity` unread messages per page.
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            sender: Mutex::new(Some(broadcast::channel(capacity.max(1)).0)),
            dropped: AtomicU64::new(0),
            published: AtomicU64::new(0),
            world: Mutex::new(Arc::from("{}")),
        })
    }

    /// The map's JSON that `/world.json` serves now.
    pub fn world(&self) -> Arc<str> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the map (`serve` started a scenario a caller loaded, or
    /// another policy or technique); returns whether it changed (the
    /// producer then tells the pages, `{"type":"world"}`).
    pub fn set_world(&self, json: String) -> bool {
        let mut world = self
            .world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *world.as_ref() == *json {
            return false;
        }
        *world = Arc::from(json);
        true
    }

    /// Offers `message` (one JSON object) to every open page; returns at
    /// once whatever the pages do.
    pub fn publish(&self, message: String) {
        self.published.fetch_add(1, Ordering::Relaxed);
        if let Some(sender) = self.lock().as_ref() {
            // No page open is fine.
            let _ = sender.send(Arc::from(message));
        }
    }

    /// Counts `n` messages lost for a page (or, upstream, events the
    /// producer lost before they became messages).
    pub fn count_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Messages (and upstream events) dropped for pages so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Messages published so far.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Pages reading now.
    pub fn readers(&self) -> usize {
        self.lock().as_ref().map_or(0, |s| s.receiver_count())
    }

    /// Ends every page's stream (after what it still has to read); later
    /// messages go nowhere.
    pub fn close(&self) {
        self.lock().take();
    }

    /// The messages from now on, for one page: each one as it was
    /// published, and after a loss a `{"type":"dropped","count":N}` with
    /// the page's total so far. Ends when the feed is closed.
    pub fn subscribe(self: &Arc<Self>) -> impl Stream<Item = Arc<str>> + Send + use<> {
        let receiver = match self.lock().as_ref() {
            Some(sender) => sender.subscribe(),
            // Closed: a receiver whose sender is already gone ends at once.
            None => broadcast::channel(1).1,
        };
        let feed = self.clone();
        let mut lost = 0u64;
        BroadcastStream::new(receiver).map(move |item| match item {
            Ok(message) => message,
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                feed.count_dropped(n);
                lost += n;
                Arc::from(format!(r#"{{"type":"dropped","count":{lost}}}"#))
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<broadcast::Sender<Arc<str>>>> {
        self.sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_page_that_falls_behind_loses_the_oldest_and_is_told_how_many() {
        let feed = Feed::new(4);
        let mut page = Box::pin(feed.subscribe());
        for i in 0..10 {
            feed.publish(format!("{{\"n\":{i}}}"));
        }
        assert_eq!(
            &*page.next().await.unwrap(),
            r#"{"type":"dropped","count":6}"#
        );
        for i in 6..10 {
            assert_eq!(&*page.next().await.unwrap(), format!("{{\"n\":{i}}}"));
        }
        assert_eq!(feed.dropped(), 6);
        assert_eq!(feed.published(), 10);
        feed.close();
        assert!(page.next().await.is_none(), "closing ends the stream");
        assert!(Box::pin(feed.subscribe()).next().await.is_none());
    }
}
