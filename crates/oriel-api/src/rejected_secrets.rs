//! Secrets already found wrong, remembered (as digests) so that repeating one costs no Argon2
//! run. Bounded: the oldest are forgotten first, and forgetting one only means hashing it again.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

pub struct RejectedSecrets {
    capacity: usize,
    inner: Mutex<Fifo>,
}

#[derive(Default)]
struct Fifo {
    members: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl RejectedSecrets {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Fifo::default()),
        }
    }

    pub fn contains(&self, token_id: &str, secret: &str) -> bool {
        self.lock().members.contains(&digest(token_id, secret))
    }

    pub fn insert(&self, token_id: &str, secret: &str) {
        let key = digest(token_id, secret);
        let mut fifo = self.lock();
        if !fifo.members.insert(key) {
            return;
        }
        fifo.order.push_back(key);
        while fifo.order.len() > self.capacity {
            if let Some(oldest) = fifo.order.pop_front() {
                fifo.members.remove(&oldest);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Fifo> {
        // Nothing panics while holding it; a poisoned set is still a valid set.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One digest for the pair: the id's length first, so no two pairs share their bytes.
fn digest(token_id: &str, secret: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((token_id.len() as u64).to_le_bytes());
    hasher.update(token_id.as_bytes());
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_newest_within_capacity() {
        let rejected = RejectedSecrets::new(2);
        rejected.insert("t", "a");
        rejected.insert("t", "b");
        rejected.insert("t", "a");
        assert!(rejected.contains("t", "a") && rejected.contains("t", "b"));
        assert!(!rejected.contains("u", "a"), "keyed by token as well");
        rejected.insert("t", "c");
        assert!(!rejected.contains("t", "a"), "the oldest went first");
        assert!(rejected.contains("t", "b") && rejected.contains("t", "c"));
    }
}
