//! [`ActiveSpeakerDetector`]: who is speaking in a space, loudest first, from the RFC 6464 audio
//! level header extension of each audio Producer.
//!
//! RFC 6464 carries, per audio packet, the level in -dBov from 0 (loudest) to 127 (silence) and
//! optionally a voice-activity flag. Raw levels jump from packet to packet, so the detector
//!
//! 1. smooths each Producer's level with an exponential moving average over `smoothing`
//!    (300 ms by default; it starts from silence, so a single loud packet is not speech),
//! 2. counts a Producer as *speaking* while its smoothed level is louder than `threshold`
//!    (-50 dBov, i.e. a level below 50) and for `hang` (1 s) after that, so the pauses between
//!    words do not end the turn,
//! 3. and on [`ActiveSpeakerDetector::poll`] reports the speaking Producers, loudest smoothed
//!    level first (ties keep their previous order), at most `max_speakers` of them, only when
//!    that list changed and at most once per `interval` (200 ms).
//!
//! A packet whose voice-activity flag says "no voice" counts as silence whatever its level.
//!
//! All memory is allocated by [`ActiveSpeakerDetector::new`]: at most `max_producers` Producers
//! are tracked (when full, a new Producer replaces the quietest one that is not speaking).
//! [`ActiveSpeakerDetector::handle_level`] is a linear scan over the tracked Producers, which
//! is cheap for the tens of Producers a space has.

use std::time::{Duration, Instant};

/// Settings of an [`ActiveSpeakerDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActiveSpeakerConfig {
    /// How many Producers can be tracked at once. Default 64.
    pub max_producers: usize,
    /// The longest list [`ActiveSpeakerDetector::poll`] returns. Default 5.
    pub max_speakers: usize,
    /// A smoothed level below this (-dBov; 0 is loudest, 127 silence) is speech. Default 50.
    pub threshold: u8,
    /// Time constant of the moving average of levels. Default 300 ms.
    pub smoothing: Duration,
    /// How long a Producer stays speaking after its level last crossed the threshold.
    /// Default 1 s.
    pub hang: Duration,
    /// The least time between two evaluations of the list. Default 200 ms.
    pub interval: Duration,
}

impl Default for ActiveSpeakerConfig {
    fn default() -> Self {
        Self {
            max_producers: 64,
            max_speakers: 5,
            threshold: 50,
            smoothing: Duration::from_millis(300),
            hang: Duration::from_secs(1),
            interval: Duration::from_millis(200),
        }
    }
}

/// The level of silence in RFC 6464.
const SILENCE: f32 = 127.0;
/// Assumed packet duration for a Producer's first sample (a typical Opus frame).
const FIRST_SAMPLE: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy)]
struct Entry<K> {
    key: K,
    /// Smoothed level in -dBov, 0 loudest, 127 silence.
    level: f32,
    /// When the last sample arrived (`None` before the first).
    last_sample: Option<Instant>,
    /// When the smoothed level was last louder than the threshold.
    loud_at: Option<Instant>,
}

/// Detects active speakers from RFC 6464 audio levels. One per space (Router). Sans-IO: feed
/// levels with [`Self::handle_level`], read changes with [`Self::poll`], and come back at
/// [`Self::poll_timeout`] so that the list also updates when audio stops arriving.
#[derive(Debug, Clone)]
pub struct ActiveSpeakerDetector<K> {
    config: ActiveSpeakerConfig,
    entries: Vec<Entry<K>>,
    /// Sorting space for `poll`: (smoothed level, previous rank, entry index, key).
    scratch: Vec<(f32, usize, usize, K)>,
    /// The list last returned by `poll`.
    speakers: Vec<K>,
    /// The earliest time `poll` evaluates again.
    next_eval: Option<Instant>,
}

impl<K: Copy + Eq> ActiveSpeakerDetector<K> {
    /// A detector tracking nobody yet. Allocates all its memory now.
    pub fn new(config: ActiveSpeakerConfig) -> Self {
        Self {
            config,
            entries: Vec::with_capacity(config.max_producers),
            scratch: Vec::with_capacity(config.max_producers),
            speakers: Vec::with_capacity(config.max_speakers),
            next_eval: None,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &ActiveSpeakerConfig {
        &self.config
    }

    /// Feeds one audio packet's level.
    ///
    /// `level` is the RFC 6464 level in -dBov (0 loudest, 127 silence; larger values count as
    /// 127). `voice_activity` is the V flag if the extension carries it; `Some(false)` counts as
    /// silence. Ignored if the detector is full and every tracked Producer is speaking.
    pub fn handle_level(&mut self, key: K, level: u8, voice_activity: Option<bool>, now: Instant) {
        let sample = if voice_activity == Some(false) {
            SILENCE
        } else {
            f32::from(level.min(127))
        };
        let idx = match self.entries.iter().position(|e| e.key == key) {
            Some(i) => i,
            None => {
                let fresh = Entry {
                    key,
                    level: SILENCE,
                    last_sample: None,
                    loud_at: None,
                };
                if self.entries.len() < self.config.max_producers {
                    // Within the capacity reserved in `new`: no reallocation.
                    self.entries.push(fresh);
                    self.entries.len() - 1
                } else {
                    let Some(victim) = self.quietest_silent(now) else {
                        return;
                    };
                    self.entries[victim] = fresh;
                    victim
                }
            }
        };
        let smoothing = self.config.smoothing.as_secs_f32();
        let threshold = f32::from(self.config.threshold);
        let e = &mut self.entries[idx];
        let dt = e
            .last_sample
            .map_or(FIRST_SAMPLE, |t| now.saturating_duration_since(t));
        let alpha = if smoothing > 0.0 {
            1.0 - (-dt.as_secs_f32() / smoothing).exp()
        } else {
            1.0
        };
        e.level += (sample - e.level) * alpha;
        e.last_sample = Some(e.last_sample.map_or(now, |t| t.max(now)));
        if e.level < threshold {
            e.loud_at = Some(e.loud_at.map_or(now, |t| t.max(now)));
        }
    }

    /// Stops tracking a Producer (it was closed). The next evaluation of [`Self::poll`] reports
    /// the list without it.
    pub fn remove(&mut self, key: K) {
        if let Some(i) = self.entries.iter().position(|e| e.key == key) {
            self.entries.swap_remove(i);
        }
    }

    /// The list last returned by [`Self::poll`].
    pub fn speakers(&self) -> &[K] {
        &self.speakers
    }

    /// The Producer counts as speaking at `now` (regardless of the `max_speakers` cut).
    pub fn is_speaking(&self, key: K, now: Instant) -> bool {
        self.entries
            .iter()
            .any(|e| e.key == key && self.speaking(e, now))
    }

    /// The new list of active speakers, loudest first, if it changed since the last one
    /// returned. Evaluates at most once per `interval`; in between it returns `None`.
    pub fn poll(&mut self, now: Instant) -> Option<&[K]> {
        if self.next_eval.is_some_and(|at| now < at) {
            return None;
        }
        self.next_eval = Some(now + self.config.interval);

        self.scratch.clear();
        for (i, e) in self.entries.iter_mut().enumerate() {
            let hang = self.config.hang;
            if e.loud_at
                .is_some_and(|t| now.saturating_duration_since(t) > hang)
            {
                e.loud_at = None;
            }
            if e.loud_at.is_some() {
                let rank = self
                    .speakers
                    .iter()
                    .position(|k| *k == e.key)
                    .unwrap_or(usize::MAX);
                self.scratch.push((e.level, rank, i, e.key));
            }
        }
        // Loudest (lowest level) first; ties keep the previous order, then tracking order.
        // Levels are finite: they start at 127 and move towards samples in 0..=127.
        self.scratch
            .sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        self.scratch.truncate(self.config.max_speakers);

        let unchanged = self.scratch.len() == self.speakers.len()
            && self
                .scratch
                .iter()
                .zip(&self.speakers)
                .all(|(s, k)| s.3 == *k);
        if unchanged {
            return None;
        }
        self.speakers.clear();
        self.speakers.extend(self.scratch.iter().map(|s| s.3));
        Some(&self.speakers)
    }

    /// When to call [`Self::poll`] again even if no audio arrives, so that speakers who went
    /// quiet are dropped. `None` while nobody is or was recently speaking.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let anyone = !self.speakers.is_empty() || self.entries.iter().any(|e| e.loud_at.is_some());
        if !anyone {
            return None;
        }
        match self.next_eval {
            Some(at) => Some(at),
            // Never evaluated: as soon as possible.
            None => self.entries.iter().filter_map(|e| e.last_sample).min(),
        }
    }

    fn speaking(&self, e: &Entry<K>, now: Instant) -> bool {
        e.loud_at
            .is_some_and(|t| now.saturating_duration_since(t) <= self.config.hang)
    }

    /// The tracked Producer to replace when full: the quietest one that is not speaking.
    fn quietest_silent(&self, now: Instant) -> Option<usize> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !self.speaking(e, now))
            .max_by(|a, b| a.1.level.total_cmp(&b.1.level))
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{t0, Rng};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn detector() -> ActiveSpeakerDetector<u32> {
        ActiveSpeakerDetector::new(ActiveSpeakerConfig::default())
    }

    /// Feeds `key` a constant level every 20 ms over `[from, to)` ms.
    fn talk(
        d: &mut ActiveSpeakerDetector<u32>,
        key: u32,
        level: u8,
        t: Instant,
        from: u64,
        to: u64,
    ) {
        let mut at = from;
        while at < to {
            d.handle_level(key, level, None, t + ms(at));
            at += 20;
        }
    }

    fn polled(d: &mut ActiveSpeakerDetector<u32>, now: Instant) -> Option<Vec<u32>> {
        d.poll(now).map(<[u32]>::to_vec)
    }

    #[test]
    fn defaults() {
        let c = ActiveSpeakerConfig::default();
        assert_eq!(c.threshold, 50);
        assert_eq!(c.hang, ms(1000));
        assert_eq!(c.interval, ms(200));
        assert_eq!(c.max_speakers, 5);
        assert_eq!(detector().config(), &c);
    }

    #[test]
    fn silence_and_quiet_noise_are_not_speech() {
        let t = t0();
        let mut d = detector();
        talk(&mut d, 1, 127, t, 0, 5000);
        talk(&mut d, 2, 60, t, 0, 5000);
        assert!(!d.is_speaking(1, t + ms(5000)));
        assert!(!d.is_speaking(2, t + ms(5000)));
        assert_eq!(d.poll(t + ms(5000)), None);
        assert_eq!(d.poll_timeout(), None);
    }

    #[test]
    fn a_single_loud_packet_is_not_speech() {
        let t = t0();
        let mut d = detector();
        d.handle_level(1, 0, None, t);
        assert!(!d.is_speaking(1, t));
        talk(&mut d, 1, 127, t, 20, 1000);
        assert_eq!(d.poll(t + ms(1000)), None);
    }

    #[test]
    fn sustained_speech_is_detected_within_half_a_second() {
        let t = t0();
        let mut d = detector();
        // Smoothed: 30 + 97 * exp(-t / 300 ms) drops below 50 after about 474 ms.
        talk(&mut d, 7, 30, t, 0, 440);
        assert!(!d.is_speaking(7, t + ms(440)));
        talk(&mut d, 7, 30, t, 440, 520);
        assert!(d.is_speaking(7, t + ms(520)));
        assert_eq!(polled(&mut d, t + ms(520)), Some(vec![7]));
        assert_eq!(d.speakers(), &[7]);
        // Unchanged: nothing new to report.
        talk(&mut d, 7, 30, t, 520, 1000);
        assert_eq!(d.poll(t + ms(1000)), None);
    }

    #[test]
    fn hang_time_after_the_voice_stops() {
        let t = t0();
        let mut d = detector();
        talk(&mut d, 1, 20, t, 0, 2000);
        assert_eq!(polled(&mut d, t + ms(2000)), Some(vec![1]));
        // Silence packets: the smoothed level crosses 50 within ~100 ms, then 1 s of hang.
        talk(&mut d, 1, 127, t, 2000, 5000);
        assert!(d.is_speaking(1, t + ms(2900)));
        assert!(!d.is_speaking(1, t + ms(3300)));
        let mut dropped_at = None;
        for step in 0..30 {
            let now = t + ms(2000 + step * 100);
            if let Some(list) = d.poll(now) {
                assert!(list.is_empty());
                dropped_at = Some(2000 + step * 100);
            }
        }
        let dropped_at = dropped_at.expect("dropped");
        assert!((3000..=3400).contains(&dropped_at), "{dropped_at}");
    }

    #[test]
    fn pauses_between_words_do_not_end_the_turn() {
        let t = t0();
        let mut d = detector();
        let mut changes = 0;
        // Alternate 600 ms of speech and 400 ms of silence for 10 s.
        for cycle in 0..10 {
            let base = cycle * 1000;
            talk(&mut d, 1, 25, t, base, base + 600);
            talk(&mut d, 1, 127, t, base + 600, base + 1000);
            if d.poll(t + ms(base + 999)).is_some() {
                changes += 1;
            }
        }
        assert_eq!(changes, 1, "reported once, never dropped");
    }

    #[test]
    fn producer_that_stops_sending_is_dropped_via_poll_timeout() {
        let t = t0();
        let mut d = detector();
        talk(&mut d, 3, 20, t, 0, 1000);
        assert_eq!(polled(&mut d, t + ms(1000)), Some(vec![3]));
        // Muted: no packets at all. The shell only calls poll at poll_timeout.
        let mut now = t + ms(1000);
        let mut dropped = false;
        for _ in 0..20 {
            now = d.poll_timeout().expect("a timeout while someone speaks");
            if let Some(list) = d.poll(now) {
                assert!(list.is_empty());
                dropped = true;
                break;
            }
        }
        assert!(dropped);
        assert!(now <= t + ms(2000 + 200));
        assert_eq!(d.poll_timeout(), None, "idle again");
    }

    #[test]
    fn voice_activity_false_counts_as_silence() {
        let t = t0();
        let mut d = detector();
        let mut at = 0;
        while at < 2000 {
            d.handle_level(1, 10, Some(false), t + ms(at));
            d.handle_level(2, 10, Some(true), t + ms(at));
            at += 20;
        }
        assert_eq!(polled(&mut d, t + ms(2000)), Some(vec![2]));
    }

    #[test]
    fn loudest_first_capped_at_max_speakers() {
        let t = t0();
        let mut d = ActiveSpeakerDetector::new(ActiveSpeakerConfig {
            max_speakers: 3,
            ..ActiveSpeakerConfig::default()
        });
        for (key, level) in [(10, 40), (11, 10), (12, 30), (13, 20), (14, 45)] {
            talk(&mut d, key, level, t, 0, 3000);
        }
        assert_eq!(polled(&mut d, t + ms(3000)), Some(vec![11, 13, 12]));
        // 14 gets loud; it enters at the top.
        talk(&mut d, 14, 0, t, 3000, 5000);
        for key in [10, 11, 12, 13] {
            let level = match key {
                10 => 40,
                11 => 10,
                12 => 30,
                _ => 20,
            };
            talk(&mut d, key, level, t, 3000, 5000);
        }
        assert_eq!(polled(&mut d, t + ms(5000)), Some(vec![14, 11, 13]));
    }

    #[test]
    fn equal_levels_keep_their_previous_order() {
        let t = t0();
        let mut d = detector();
        talk(&mut d, 2, 30, t, 0, 2000);
        assert_eq!(polled(&mut d, t + ms(2000)), Some(vec![2]));
        talk(&mut d, 1, 30, t, 0, 4000);
        talk(&mut d, 2, 30, t, 2000, 4000);
        assert_eq!(
            polled(&mut d, t + ms(4000)),
            Some(vec![2, 1]),
            "the incumbent stays first"
        );
        talk(&mut d, 1, 30, t, 4000, 6000);
        talk(&mut d, 2, 30, t, 4000, 6000);
        assert_eq!(d.poll(t + ms(6000)), None);
    }

    #[test]
    fn evaluates_at_most_every_interval() {
        let t = t0();
        let mut d = detector();
        talk(&mut d, 1, 10, t, 0, 1000);
        assert!(d.poll(t + ms(1000)).is_some());
        talk(&mut d, 1, 10, t, 1000, 1200);
        talk(&mut d, 2, 20, t, 0, 1100);
        assert_eq!(
            d.poll(t + ms(1100)),
            None,
            "within 200 ms of the last evaluation"
        );
        assert_eq!(d.poll_timeout(), Some(t + ms(1200)));
        assert_eq!(polled(&mut d, t + ms(1200)), Some(vec![1, 2]));
    }

    #[test]
    fn remove_reports_at_the_next_poll() {
        let t = t0();
        let mut d = detector();
        talk(&mut d, 1, 20, t, 0, 1000);
        talk(&mut d, 2, 25, t, 0, 1000);
        assert_eq!(polled(&mut d, t + ms(1000)), Some(vec![1, 2]));
        d.remove(1);
        d.remove(99);
        assert!(!d.is_speaking(1, t + ms(1001)));
        assert_eq!(d.poll(t + ms(1001)), None, "the interval still applies");
        assert_eq!(polled(&mut d, t + ms(1200)), Some(vec![2]));
    }

    #[test]
    fn full_detector_replaces_the_quietest_silent_producer() {
        let t = t0();
        let mut d = ActiveSpeakerDetector::new(ActiveSpeakerConfig {
            max_producers: 3,
            ..ActiveSpeakerConfig::default()
        });
        talk(&mut d, 1, 20, t, 0, 1000); // speaking
        talk(&mut d, 2, 127, t, 0, 1000); // silent
        talk(&mut d, 3, 70, t, 0, 1000); // quiet but not silent
                                         // 4 replaces 2, the quietest non-speaker.
        talk(&mut d, 4, 20, t, 1000, 2000);
        talk(&mut d, 1, 20, t, 1000, 2000);
        assert_eq!(polled(&mut d, t + ms(2000)), Some(vec![1, 4]));
        // 3 is now the only non-speaker: 5 replaces it. Then everyone speaks and 6 is ignored.
        talk(&mut d, 5, 20, t, 2000, 3000);
        talk(&mut d, 1, 20, t, 2000, 3000);
        talk(&mut d, 4, 20, t, 2000, 3000);
        talk(&mut d, 6, 0, t, 2000, 3000);
        assert!(!d.is_speaking(6, t + ms(3000)));
        assert_eq!(polled(&mut d, t + ms(3000)), Some(vec![1, 4, 5]));
    }

    #[test]
    fn zero_capacity_tracks_nobody() {
        let t = t0();
        let mut d = ActiveSpeakerDetector::new(ActiveSpeakerConfig {
            max_producers: 0,
            ..ActiveSpeakerConfig::default()
        });
        talk(&mut d, 1, 0, t, 0, 1000);
        assert_eq!(d.poll(t + ms(1000)), None);
    }

    #[test]
    fn out_of_range_levels_count_as_silence() {
        let t = t0();
        let mut d = detector();
        talk(&mut d, 1, 255, t, 0, 2000);
        assert!(!d.is_speaking(1, t + ms(2000)));
    }

    #[test]
    fn zero_smoothing_follows_the_samples() {
        let t = t0();
        let mut d = ActiveSpeakerDetector::new(ActiveSpeakerConfig {
            smoothing: Duration::ZERO,
            ..ActiveSpeakerConfig::default()
        });
        d.handle_level(1, 10, None, t);
        assert!(d.is_speaking(1, t));
    }

    /// Random talkers: the reported list is short enough, has no duplicates, holds only
    /// speakers, is sorted loudest first, comes only when changed and at most every interval,
    /// and the detector never reallocates.
    #[test]
    fn property_invariants() {
        for seed in 0..20 {
            let mut rng = Rng::new(seed);
            let t = t0();
            let config = ActiveSpeakerConfig {
                max_producers: 8,
                max_speakers: 3,
                ..ActiveSpeakerConfig::default()
            };
            let mut d: ActiveSpeakerDetector<u32> = ActiveSpeakerDetector::new(config);
            let caps = (
                d.entries.capacity(),
                d.scratch.capacity(),
                d.speakers.capacity(),
            );
            let mut talking = [false; 12];
            let mut last_report: Option<Instant> = None;
            let mut last_list: Vec<u32> = Vec::new();
            for step in 0..20_000u64 {
                let now = t + ms(step * 5);
                if rng.chance(1) {
                    let k = rng.below(12) as usize;
                    talking[k] = !talking[k];
                }
                if step % 4 == 0 {
                    for (k, on) in talking.iter().enumerate() {
                        if rng.chance(90) {
                            let level = if *on {
                                10 + rng.below(30) as u8
                            } else {
                                90 + rng.below(38) as u8
                            };
                            d.handle_level(k as u32, level, None, now);
                        }
                    }
                }
                if rng.chance(1) {
                    d.remove(rng.below(12) as u32);
                }
                if let Some(list) = d.poll(now) {
                    let list = list.to_vec();
                    assert_ne!(list, last_list, "seed {seed}: only changes are reported");
                    assert!(list.len() <= 3);
                    for (i, k) in list.iter().enumerate() {
                        assert!(!list[..i].contains(k), "no duplicates");
                        assert!(d.is_speaking(*k, now), "only speakers");
                    }
                    let levels: Vec<f32> = list
                        .iter()
                        .map(|k| d.entries.iter().find(|e| e.key == *k).unwrap().level)
                        .collect();
                    assert!(levels.windows(2).all(|w| w[0] <= w[1]), "loudest first");
                    if let Some(prev) = last_report {
                        assert!(now >= prev + ms(200), "seed {seed}: at most every 200 ms");
                    }
                    last_report = Some(now);
                    last_list = list;
                }
                assert_eq!(d.speakers(), &last_list[..]);
                assert!(d.entries.len() <= 8);
            }
            assert_eq!(
                caps,
                (
                    d.entries.capacity(),
                    d.scratch.capacity(),
                    d.speakers.capacity()
                ),
                "no reallocation"
            );
            assert!(last_report.is_some());
        }
    }
}
