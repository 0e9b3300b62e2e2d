//! What a load generator's participants report as they go: joins, connected media, failed
//! joins and the first errors. Shared by `oriel load-test` and the Janus generator of `bench/`,
//! so that both count and report the same way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::progress::PeerCounts;

/// Errors kept for the report; later ones are dropped (a broken run repeats the same one).
const MAX_ERRORS: usize = 20;

#[derive(Default)]
pub struct Tally {
    pub joined_publishers: AtomicUsize,
    pub joined_subscribers: AtomicUsize,
    pub connected_publishers: AtomicUsize,
    pub connected_subscribers: AtomicUsize,
    pub join_failures: AtomicUsize,
    errors: Mutex<Vec<String>>,
}

impl Tally {
    pub fn error(&self, error: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() < MAX_ERRORS {
            errors.push(error);
        }
    }

    /// The errors kept so far, oldest first.
    pub fn errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Joined and connected counts now, against how many of each were wanted.
    pub fn counts(&self, publishers_wanted: usize, subscribers_wanted: usize) -> PeerCounts {
        PeerCounts {
            publishers_wanted,
            publishers_joined: self.joined_publishers.load(Ordering::Relaxed),
            publishers_connected: self.connected_publishers.load(Ordering::Relaxed),
            subscribers_wanted,
            subscribers_joined: self.joined_subscribers.load(Ordering::Relaxed),
            subscribers_connected: self.connected_subscribers.load(Ordering::Relaxed),
        }
    }
}
