//! Failed credential checks per key (an access-token id, an email, a client address) in a fixed
//! window. Only failures and checks still running count, so a caller who gets it right is never
//! slowed by its own successes, and a guesser is stopped before its checks cost Argon2 time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ApiError;

pub struct FailureLimit {
    max_failures: u32,
    window: Duration,
    /// Keys remembered at most; past it a new key goes uncounted (the Argon2 slots still bound
    /// its cost), so no stream of fresh keys grows memory.
    max_keys: usize,
    counts: Mutex<HashMap<String, Count>>,
}

#[derive(Clone, Copy)]
struct Count {
    window_start: Instant,
    failures: u32,
    running: u32,
}

/// A check in progress under one key: a failure until told otherwise.
pub struct Attempt<'a> {
    limit: &'a FailureLimit,
    key: Option<String>,
}

impl FailureLimit {
    pub fn new(max_failures: u32, window: Duration, max_keys: usize) -> Self {
        Self {
            max_failures,
            window,
            max_keys,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a check under `key`, or refuses it with 429 while the key has failed
    /// `max_failures` times (checks still running included) in its window.
    pub fn begin(&self, key: &str, now: Instant) -> Result<Attempt<'_>, ApiError> {
        let mut counts = self.lock();
        if !counts.contains_key(key) && counts.len() >= self.max_keys {
            counts.retain(|_, count| count.running > 0 || !count.expired(now, self.window));
            if counts.len() >= self.max_keys {
                return Ok(Attempt {
                    limit: self,
                    key: None,
                });
            }
        }
        let count = counts.entry(key.to_owned()).or_insert(Count {
            window_start: now,
            failures: 0,
            running: 0,
        });
        if count.expired(now, self.window) {
            count.window_start = now;
            count.failures = 0;
        }
        if count.failures + count.running >= self.max_failures {
            let retry = (count.window_start + self.window).saturating_duration_since(now);
            return Err(ApiError::too_many_requests(retry.as_secs().max(1)));
        }
        count.running += 1;
        Ok(Attempt {
            limit: self,
            key: Some(key.to_owned()),
        })
    }

    fn finish(&self, key: &str, failed: bool) {
        if let Some(count) = self.lock().get_mut(key) {
            count.running = count.running.saturating_sub(1);
            if failed {
                count.failures += 1;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Count>> {
        // Nothing panics while holding it; a poisoned map is still a valid map.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Count {
    fn expired(&self, now: Instant, window: Duration) -> bool {
        now.saturating_duration_since(self.window_start) >= window
    }
}

impl Attempt<'_> {
    /// The check passed: it no longer counts.
    pub fn succeeded(mut self) {
        if let Some(key) = self.key.take() {
            self.limit.finish(&key, false);
        }
    }
}

impl Drop for Attempt<'_> {
    /// Failed, or abandoned halfway (the client went away): counted as a failure either way,
    /// so dropping connections mid-check is no way around the limit.
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.limit.finish(&key, true);
        }
    }
}

/// The key of a client address: IPv6 clients get a /64 each (what one subscriber is usually
/// given), so rotating addresses within it buys nothing.
pub fn client_key(address: Option<IpAddr>) -> String {
    match address.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit() -> FailureLimit {
        FailureLimit::new(3, Duration::from_secs(60), 2)
    }

    #[test]
    fn failures_are_refused_past_the_limit_until_the_window_ends() {
        let limit = limit();
        let t0 = Instant::now();
        for _ in 0..3 {
            drop(limit.begin("a", t0).unwrap());
        }
        assert_eq!(limit.begin("a", t0).err().unwrap().status(), 429);
        assert!(limit.begin("b", t0).is_ok(), "another key is not affected");
        let later = t0 + Duration::from_secs(61);
        assert!(
            limit.begin("a", later).is_ok(),
            "a new window starts afresh"
        );
    }

    #[test]
    fn successes_do_not_count_but_running_checks_do() {
        let limit = limit();
        let t0 = Instant::now();
        for _ in 0..10 {
            limit.begin("a", t0).unwrap().succeeded();
        }
        let running: Vec<_> = (0..3).map(|_| limit.begin("a", t0).unwrap()).collect();
        assert!(
            limit.begin("a", t0).is_err(),
            "three checks in flight fill the limit"
        );
        for attempt in running {
            attempt.succeeded();
        }
        assert!(limit.begin("a", t0).is_ok());
    }

    #[test]
    fn memory_is_bounded_by_the_key_count() {
        let limit = limit();
        let t0 = Instant::now();
        for i in 0..100 {
            drop(limit.begin(&format!("k{i}"), t0).unwrap());
        }
        assert_eq!(limit.lock().len(), 2);
        let later = t0 + Duration::from_secs(61);
        drop(limit.begin("fresh", later).unwrap());
        assert_eq!(limit.lock().len(), 1, "expired keys make room");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_key(Some(a)), client_key(Some(b)));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_key(Some(mapped)), "10.0.0.1");
        assert_eq!(client_key(None), "unknown");
    }
}
