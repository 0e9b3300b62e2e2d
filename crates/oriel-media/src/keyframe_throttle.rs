//! [`KeyframeThrottle`]: when to ask a publisher for a keyframe (RTCP PLI or FIR).
//!
//! Many Consumers of one Producer need keyframes at about the same time: when they start, when
//! they switch layers, when they lose a packet they cannot recover. The publisher must not be
//! flooded (every keyframe is expensive for every subscriber), yet no Consumer may wait forever.
//! Per layer, the throttle keeps one *outstanding* request that all Consumers share:
//!
//! - [`KeyframeThrottle::request`] marks the layer as needing a keyframe. Asking again while a
//!   request is outstanding changes nothing: requests coalesce.
//! - [`KeyframeThrottle::poll_request`] hands out the layers to send a PLI/FIR for now: at most
//!   one per layer per interval (500 ms by default), counted from the previous PLI/FIR.
//! - [`KeyframeThrottle::keyframe_received`] settles the request: any keyframe of the layer that
//!   arrives after the request satisfies every Consumer that was waiting.
//! - If no keyframe arrives within an interval, the request is sent again (the PLI or the
//!   keyframe may have been lost), up to `max_attempts` times in total; then the throttle gives
//!   up until the next [`KeyframeThrottle::request`].
//!
//! Sans-IO like str0m: after any call, drain [`KeyframeThrottle::poll_request`] until `None`,
//! and come back at [`KeyframeThrottle::poll_timeout`].

use std::time::{Duration, Instant};

use crate::MAX_LAYERS;

/// Settings for a [`KeyframeThrottle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyframeThrottleConfig {
    /// The least time between two PLI/FIR for the same layer. Default 500 ms.
    pub interval: Duration,
    /// How many PLI/FIR one outstanding request may cause before the throttle gives up waiting
    /// for a keyframe. Default 4 (2 s of retrying at the default interval). At least 1.
    pub max_attempts: u8,
}

impl Default for KeyframeThrottleConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(500),
            max_attempts: 4,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct LayerState {
    /// A keyframe is needed; `Some(since)`.
    outstanding: Option<Instant>,
    /// When the last PLI/FIR for this layer went out.
    last_sent: Option<Instant>,
    /// PLI/FIR sent for the current outstanding request.
    attempts: u8,
}

/// Decides when to send PLI/FIR to a Producer's publisher: at most one per layer per interval,
/// shared by all Consumers. One per Producer. Fixed size, no allocation.
///
/// Layers are `0..MAX_LAYERS`; calls for other layers are ignored.
#[derive(Debug, Clone)]
pub struct KeyframeThrottle {
    config: KeyframeThrottleConfig,
    layers: [LayerState; MAX_LAYERS],
}

impl Default for KeyframeThrottle {
    fn default() -> Self {
        Self::new(KeyframeThrottleConfig::default())
    }
}

impl KeyframeThrottle {
    /// A throttle with nothing outstanding.
    pub fn new(config: KeyframeThrottleConfig) -> Self {
        Self {
            config: KeyframeThrottleConfig {
                max_attempts: config.max_attempts.max(1),
                ..config
            },
            layers: [LayerState::default(); MAX_LAYERS],
        }
    }

    /// The settings in use.
    pub fn config(&self) -> KeyframeThrottleConfig {
        self.config
    }

    /// A Consumer needs a keyframe of `layer`. Coalesces with an outstanding request.
    pub fn request(&mut self, layer: u8, now: Instant) {
        if let Some(s) = self.layers.get_mut(usize::from(layer)) {
            if s.outstanding.is_none() {
                s.outstanding = Some(now);
                s.attempts = 0;
            }
        }
    }

    /// A keyframe of `layer` arrived from the publisher: every outstanding request for it is
    /// satisfied.
    ///
    /// A keyframe that arrives at the very instant of a request also counts. Call it for the
    /// packet that starts the keyframe.
    pub fn keyframe_received(&mut self, layer: u8, now: Instant) {
        if let Some(s) = self.layers.get_mut(usize::from(layer)) {
            if s.outstanding.is_some_and(|since| since <= now) {
                s.outstanding = None;
                s.attempts = 0;
            }
        }
    }

    /// A keyframe of `layer` has been requested and has not arrived yet (and the throttle has not
    /// given up).
    pub fn is_outstanding(&self, layer: u8) -> bool {
        self.layers
            .get(usize::from(layer))
            .is_some_and(|s| s.outstanding.is_some())
    }

    /// The next layer to send a PLI/FIR for now, if any. Call until `None`.
    pub fn poll_request(&mut self, now: Instant) -> Option<u8> {
        let interval = self.config.interval;
        let max_attempts = self.config.max_attempts;
        for (layer, s) in self.layers.iter_mut().enumerate() {
            if s.outstanding.is_none() {
                continue;
            }
            let due = s.last_sent.is_none_or(|t| now >= t + interval);
            if !due {
                continue;
            }
            if s.attempts >= max_attempts {
                // The publisher did not answer; stop until someone asks again.
                s.outstanding = None;
                s.attempts = 0;
                continue;
            }
            s.attempts += 1;
            s.last_sent = Some(now);
            // `layer < MAX_LAYERS`, which fits a u8.
            return Some(layer as u8);
        }
        None
    }

    /// When [`Self::poll_request`] next has something to do, if anything is outstanding. May be
    /// in the past (call it now).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.layers
            .iter()
            .filter_map(|s| {
                let since = s.outstanding?;
                Some(s.last_sent.map_or(since, |t| t + self.config.interval))
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{t0, Rng};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn drain(k: &mut KeyframeThrottle, now: Instant) -> Vec<u8> {
        std::iter::from_fn(|| k.poll_request(now)).collect()
    }

    #[test]
    fn default_config() {
        let k = KeyframeThrottle::default();
        assert_eq!(k.config().interval, ms(500));
        assert_eq!(k.config().max_attempts, 4);
        let k = KeyframeThrottle::new(KeyframeThrottleConfig {
            interval: ms(100),
            max_attempts: 0,
        });
        assert_eq!(k.config().max_attempts, 1, "at least one attempt");
    }

    #[test]
    fn first_request_goes_out_immediately() {
        let t = t0();
        let mut k = KeyframeThrottle::default();
        assert_eq!(k.poll_timeout(), None);
        assert_eq!(k.poll_request(t), None);
        k.request(1, t);
        assert!(k.is_outstanding(1));
        assert_eq!(k.poll_timeout(), Some(t));
        assert_eq!(drain(&mut k, t), vec![1]);
        assert_eq!(k.poll_timeout(), Some(t + ms(500)));
    }

    #[test]
    fn many_consumers_coalesce_into_one_pli() {
        let t = t0();
        let mut k = KeyframeThrottle::default();
        for i in 0..50 {
            k.request(0, t + ms(i));
            let sent = drain(&mut k, t + ms(i));
            assert_eq!(sent, if i == 0 { vec![0] } else { vec![] });
        }
        k.keyframe_received(0, t + ms(80));
        assert!(!k.is_outstanding(0));
        assert_eq!(k.poll_timeout(), None);
        assert!(drain(&mut k, t + ms(600)).is_empty());
    }

    #[test]
    fn at_most_one_per_interval_even_after_a_keyframe() {
        let t = t0();
        let mut k = KeyframeThrottle::default();
        k.request(2, t);
        assert_eq!(drain(&mut k, t), vec![2]);
        k.keyframe_received(2, t + ms(100));
        // A new Consumer joins 200 ms after the PLI: it waits until 500 ms.
        k.request(2, t + ms(200));
        assert!(drain(&mut k, t + ms(200)).is_empty());
        assert!(drain(&mut k, t + ms(499)).is_empty());
        assert_eq!(k.poll_timeout(), Some(t + ms(500)));
        assert_eq!(drain(&mut k, t + ms(500)), vec![2]);
    }

    #[test]
    fn keyframe_before_the_deferred_pli_settles_it() {
        let t = t0();
        let mut k = KeyframeThrottle::default();
        k.request(0, t);
        drain(&mut k, t);
        k.request(0, t + ms(10)); // coalesced with the first one
        k.keyframe_received(0, t + ms(300));
        assert!(drain(&mut k, t + ms(500)).is_empty());
    }

    #[test]
    fn keyframe_before_the_request_does_not_settle_it() {
        let t = t0();
        let mut k = KeyframeThrottle::default();
        k.request(0, t + ms(10));
        // A keyframe stamped earlier than the request (reported late) does not count.
        k.keyframe_received(0, t);
        assert!(k.is_outstanding(0));
        // The same instant counts.
        k.keyframe_received(0, t + ms(10));
        assert!(!k.is_outstanding(0));
    }

    #[test]
    fn retries_until_max_attempts_then_gives_up() {
        let t = t0();
        let mut k = KeyframeThrottle::default();
        k.request(1, t);
        let mut sent_at = Vec::new();
        for step in 0..=60 {
            let now = t + ms(step * 50);
            if !drain(&mut k, now).is_empty() {
                sent_at.push(step * 50);
            }
        }
        assert_eq!(sent_at, vec![0, 500, 1000, 1500]);
        assert!(!k.is_outstanding(1), "gave up after 4 attempts");
        assert_eq!(k.poll_timeout(), None);
        // A new request starts over, still respecting the interval.
        k.request(1, t + ms(1700));
        assert!(drain(&mut k, t + ms(1700)).is_empty());
        assert_eq!(drain(&mut k, t + ms(2000)), vec![1]);
    }

    #[test]
    fn layers_are_independent() {
        let t = t0();
        let mut k = KeyframeThrottle::default();
        k.request(0, t);
        k.request(2, t);
        assert_eq!(drain(&mut k, t), vec![0, 2]);
        k.request(1, t + ms(100));
        assert_eq!(drain(&mut k, t + ms(100)), vec![1]);
        k.keyframe_received(0, t + ms(150));
        assert_eq!(k.poll_timeout(), Some(t + ms(500)));
        assert_eq!(drain(&mut k, t + ms(500)), vec![2]);
        assert_eq!(drain(&mut k, t + ms(600)), vec![1]);
    }

    #[test]
    fn out_of_range_layers_are_ignored() {
        let t = t0();
        let mut k = KeyframeThrottle::default();
        k.request(MAX_LAYERS as u8, t);
        k.request(255, t);
        k.keyframe_received(255, t);
        assert!(!k.is_outstanding(255));
        assert_eq!(k.poll_timeout(), None);
        assert!(drain(&mut k, t).is_empty());
    }

    /// Random requests and keyframes: never two PLI for a layer within the interval, never a PLI
    /// without an outstanding request, and every request is answered by a PLI or a keyframe
    /// within one interval (or was given up on after max_attempts).
    #[test]
    fn property_spacing_and_liveness() {
        for seed in 0..30 {
            let mut rng = Rng::new(seed);
            let t = t0();
            let interval = ms(100 + rng.below(900));
            let mut k = KeyframeThrottle::new(KeyframeThrottleConfig {
                interval,
                max_attempts: 1 + rng.below(5) as u8,
            });
            let mut last_sent: [Option<Instant>; MAX_LAYERS] = [None; MAX_LAYERS];
            let mut waiting_since: [Option<Instant>; MAX_LAYERS] = [None; MAX_LAYERS];
            let mut now = t;
            for _ in 0..20_000 {
                now += ms(1 + rng.below(40));
                let layer = rng.below(MAX_LAYERS as u64) as u8;
                if rng.chance(10) {
                    k.request(layer, now);
                    if waiting_since[layer as usize].is_none() {
                        waiting_since[layer as usize] = Some(now);
                    }
                }
                if rng.chance(5) {
                    k.keyframe_received(layer, now);
                    waiting_since[layer as usize] = None;
                }
                while let Some(l) = k.poll_request(now) {
                    let l = l as usize;
                    if let Some(prev) = last_sent[l] {
                        assert!(now >= prev + interval, "seed {seed}: PLI spacing");
                    }
                    assert!(
                        waiting_since[l].is_some(),
                        "seed {seed}: PLI without a request"
                    );
                    last_sent[l] = Some(now);
                }
                for l in 0..MAX_LAYERS {
                    if !k.is_outstanding(l as u8) {
                        // Answered by a keyframe or given up on.
                        waiting_since[l] = None;
                    }
                    if let Some(since) = waiting_since[l] {
                        let answered = last_sent[l].is_some_and(|s| s + interval >= since);
                        assert!(
                            answered || now < since + interval,
                            "seed {seed}: request starved"
                        );
                    }
                }
                if let Some(at) = k.poll_timeout() {
                    assert!(at <= now + interval);
                }
            }
        }
    }
}
