//! Flushing a growing file to disk while it is still being written.
//!
//! Outputs are synced to disk before they are renamed into place. Left to
//! itself, the kernel keeps hundreds of megabytes of a long run's
//! `requests.csv` in memory until that final sync, which then waits for all
//! of it at once. A [`BackgroundSync`] thread syncs the file whenever the
//! writer says another stretch was written, so the writing to disk overlaps
//! the run and the final sync has little left to do.

use std::fs::File;
use std::io;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

/// A thread that syncs one file to disk when asked.
pub struct BackgroundSync {
    sender: Option<SyncSender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl BackgroundSync {
    /// Starts a thread that syncs `file` (through a handle of its own).
    pub fn start(file: &File) -> io::Result<Self> {
        let file = file.try_clone()?;
        // One pending request at most: asking while a sync runs is a no-op.
        let (sender, receiver) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("mcc-emu-sync".into())
            .spawn(move || {
                for () in receiver {
                    file.sync_data()?;
                }
                Ok(())
            })?;
        Ok(Self {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Asks for a sync of what was written so far, without waiting for it.
    pub fn request(&self) {
        if let Some(sender) = &self.sender {
            // Full: a sync already waits. Disconnected: the thread stopped
            // on an error, which `finish` reports.
            let _: Result<(), TrySendError<()>> = sender.try_send(());
        }
    }

    /// Stops the thread and reports the first error a sync met (a write-back
    /// error seen by the background sync is not seen again by a later one).
    pub fn finish(mut self) -> io::Result<()> {
        self.sender = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the background sync thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for BackgroundSync {
    fn drop(&mut self) {
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn syncs_on_request_while_the_file_keeps_growing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("growing.csv");
        let mut file = File::create(&path).unwrap();
        let sync = BackgroundSync::start(&file).unwrap();
        for i in 0..50 {
            file.write_all(format!("line {i}\n").as_bytes()).unwrap();
            sync.request();
        }
        sync.finish().unwrap();
        file.sync_all().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 50);
        assert!(text.ends_with("line 49\n"));
    }
}
