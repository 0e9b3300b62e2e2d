//! Argon2 work (hashing and verifying access-token secrets and dashboard passwords), bounded for
//! the whole process.
//!
//! One Argon2id run holds 19 MiB and tens of milliseconds of a core. Run on demand, 64
//! concurrent wrong guesses took a node from 62 MiB to 1.3 GiB; through a fixed number of slots
//! the memory stays at `SLOTS` x 19 MiB whatever arrives, and a request that cannot get a slot
//! soon is answered 503 instead of queueing without end.

use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Argon2 runs at once: enough to keep a small machine's cores busy, never more memory.
const SLOTS: usize = 2;
/// Longest a request waits for a slot before it is told to come back later.
const MAX_WAIT: Duration = Duration::from_secs(5);

static FREE_SLOTS: Semaphore = Semaphore::const_new(SLOTS);

/// Runs `work` on the blocking pool once a slot is free. The slot moves into the blocking task,
/// so a request dropped halfway (client gone, timeout) still holds it until the work ends.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let slot = tokio::time::timeout(MAX_WAIT, FREE_SLOTS.acquire())
        .await
        .map_err(|_| ApiError::busy(MAX_WAIT.as_secs()))?
        .map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        work()
    })
    .await
    .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_more_than_the_slots_at_once() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), SLOTS);
    }
}
