//! [`BitrateMeter`]: how many bits per second one incoming stream (one simulcast layer of a
//! Producer) carried over the last second.
//!
//! The meter is a fixed ring of ten 100 ms buckets of byte counts. Recording a packet adds its
//! size to the bucket of its arrival time, clearing buckets that time has moved past; reading
//! sums the buckets still inside the window and divides by the time they span, so a stream that
//! stops reads 0 one second later without anyone recording anything. The [`crate::LayerSelector`]
//! uses these rates to decide which layer fits a subscriber, and treats 0 as "layer not sent".

use std::time::{Duration, Instant};

/// Number of buckets in the window.
const BUCKETS: usize = 10;
/// Width of one bucket.
const BUCKET: Duration = Duration::from_millis(100);
/// The whole window.
const WINDOW: Duration = Duration::from_millis(100 * BUCKETS as u64);

/// Sliding one-second bitrate of a packet stream, from ten 100 ms buckets. Fixed size.
#[derive(Debug, Clone)]
pub struct BitrateMeter {
    /// Byte counts; bucket number `n` lives at `n % BUCKETS`.
    bytes: [u64; BUCKETS],
    /// Time origin of bucket numbers: the first recorded packet.
    origin: Option<Instant>,
    /// Number of the newest bucket written (valid when `origin` is set).
    head: u64,
    /// When the newest packet arrived.
    last: Option<Instant>,
}

impl Default for BitrateMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl BitrateMeter {
    /// An empty meter; it reads 0 until the first packet.
    pub fn new() -> Self {
        Self {
            bytes: [0; BUCKETS],
            origin: None,
            head: 0,
            last: None,
        }
    }

    /// Records a packet of `bytes` bytes (payload or whole packet; be consistent with what the
    /// bandwidth estimate counts) that arrived at `now`.
    ///
    /// Times are expected not to go backwards; a packet stamped earlier than the newest bucket
    /// still counts, in the newest bucket.
    pub fn record(&mut self, bytes: usize, now: Instant) {
        let origin = *self.origin.get_or_insert(now);
        self.last = Some(self.last.map_or(now, |last| last.max(now)));
        let n = bucket_number(origin, now);
        if n > self.head {
            // Clear the buckets between the old head and the new one (at most all of them).
            let stale = (n - self.head).min(BUCKETS as u64);
            for k in 0..stale {
                self.bytes[slot(n - k)] = 0;
            }
            self.head = n;
        }
        let s = slot(self.head);
        self.bytes[s] = self.bytes[s].saturating_add(bytes as u64);
    }

    /// Whether a packet arrived less than `within` ago. The bitrate reads a stream that stopped
    /// for a second more; a caller that must know sooner (a publisher pausing a simulcast layer
    /// stops it between two frames) asks this.
    pub fn is_flowing(&self, now: Instant, within: Duration) -> bool {
        self.last
            .is_some_and(|last| now.saturating_duration_since(last) < within)
    }

    /// Bits per second over the last second (or since the first packet, if that was less than a
    /// second ago, but over at least one bucket, 100 ms).
    pub fn bitrate_bps(&self, now: Instant) -> u64 {
        let Some(origin) = self.origin else {
            return 0;
        };
        let n = bucket_number(origin, now).max(self.head);
        // Buckets n-9..=n are in the window; only those up to head hold data.
        let oldest = n.saturating_sub(BUCKETS as u64 - 1);
        if self.head < oldest {
            return 0;
        }
        let total: u64 = (oldest..=self.head)
            .map(|b| self.bytes[slot(b)])
            .fold(0, u64::saturating_add);
        // The window runs from the start of bucket `oldest` to now.
        let start = origin + BUCKET * (oldest as u32);
        let span = now.saturating_duration_since(start).clamp(BUCKET, WINDOW);
        let bits = u128::from(total) * 8;
        (bits * 1_000_000 / span.as_micros().max(1)).min(u128::from(u64::MAX)) as u64
    }
}

fn bucket_number(origin: Instant, now: Instant) -> u64 {
    (now.saturating_duration_since(origin).as_micros() / BUCKET.as_micros()) as u64
}

fn slot(bucket: u64) -> usize {
    (bucket % BUCKETS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{t0, Rng};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn flowing_until_a_packet_is_overdue() {
        let t = t0();
        let mut m = BitrateMeter::new();
        assert!(!m.is_flowing(t, ms(300)));
        for i in 0..20 {
            m.record(1000, t + ms(i * 50));
        }
        let last = t + ms(950);
        assert!(m.is_flowing(last + ms(299), ms(300)));
        assert!(!m.is_flowing(last + ms(300), ms(300)));
        // The bitrate still reads the stopped stream for a while.
        assert!(m.bitrate_bps(last + ms(300)) > 0);
    }

    #[test]
    fn empty_reads_zero() {
        let m = BitrateMeter::new();
        assert_eq!(m.bitrate_bps(t0()), 0);
    }

    #[test]
    fn steady_stream() {
        let t = t0();
        let mut m = BitrateMeter::new();
        // 1000 bytes every 10 ms = 800 kbit/s.
        for i in 0..500 {
            m.record(1000, t + ms(i * 10));
        }
        let now = t + ms(4990);
        let bps = m.bitrate_bps(now);
        assert!((780_000..=820_000).contains(&bps), "{bps}");
    }

    #[test]
    fn startup_uses_the_elapsed_time_but_at_least_a_bucket() {
        let t = t0();
        let mut m = BitrateMeter::new();
        m.record(1250, t);
        // One packet, 100 ms minimum span: 1250 * 8 / 0.1 s.
        assert_eq!(m.bitrate_bps(t), 100_000);
        m.record(1250, t + ms(150));
        // 2500 bytes over 200 ms.
        assert_eq!(m.bitrate_bps(t + ms(200)), 100_000);
    }

    #[test]
    fn stopped_stream_decays_to_zero() {
        let t = t0();
        let mut m = BitrateMeter::new();
        for i in 0..100 {
            m.record(1000, t + ms(i * 10));
        }
        let at_stop = m.bitrate_bps(t + ms(1000));
        assert!(at_stop > 700_000, "{at_stop}");
        let half = m.bitrate_bps(t + ms(1500));
        assert!(half < at_stop && half > 300_000, "{half}");
        assert_eq!(m.bitrate_bps(t + ms(2000)), 0);
        assert_eq!(m.bitrate_bps(t + ms(60_000)), 0);
    }

    #[test]
    fn resumes_after_a_long_gap_without_old_data() {
        let t = t0();
        let mut m = BitrateMeter::new();
        for i in 0..100 {
            m.record(10_000, t + ms(i * 10));
        }
        // 30 s later, a slow trickle: the old burst is gone.
        for i in 0..100 {
            m.record(100, t + ms(30_000 + i * 10));
        }
        let bps = m.bitrate_bps(t + ms(31_000));
        assert!((70_000..=90_000).contains(&bps), "{bps}");
    }

    #[test]
    fn exact_gap_of_one_window() {
        let t = t0();
        let mut m = BitrateMeter::new();
        m.record(1000, t);
        m.record(1000, t + ms(1000));
        // The first packet's bucket (0) is now out of the window, which spans 100..1000 ms.
        assert_eq!(m.bitrate_bps(t + ms(1000)), 8000 * 1000 / 900);
        // Bucket 10 reuses bucket 0's slot: its count restarted.
        m.record(1000, t + ms(1099));
        assert_eq!(m.bitrate_bps(t + ms(1099)), 16_000 * 1000 / 999);
    }

    #[test]
    fn reading_does_not_need_mutation_and_late_stamps_count() {
        let t = t0();
        let mut m = BitrateMeter::new();
        m.record(1000, t);
        m.record(1000, t + ms(500));
        m.record(1000, t + ms(400)); // stamped earlier than the newest bucket
        let m2 = m.clone();
        assert_eq!(m.bitrate_bps(t + ms(500)), 24_000 * 2);
        assert_eq!(m2.bitrate_bps(t + ms(500)), m.bitrate_bps(t + ms(500)));
    }

    #[test]
    fn huge_counts_saturate() {
        let t = t0();
        let mut m = BitrateMeter::new();
        m.record(usize::MAX, t);
        m.record(usize::MAX, t);
        assert_eq!(m.bitrate_bps(t + ms(100)), u64::MAX);
    }

    /// Against a brute-force model that keeps every packet: same result whenever the window is
    /// aligned to buckets (the meter counts whole buckets).
    #[test]
    fn property_matches_a_model_on_bucket_boundaries() {
        for seed in 0..20 {
            let mut rng = Rng::new(seed);
            let t = t0();
            let mut m = BitrateMeter::new();
            let mut log: Vec<(u64, u64)> = Vec::new(); // (ms since t, bytes)
            let mut at = 0u64;
            for _ in 0..3_000 {
                let bytes = rng.below(1500);
                m.record(bytes as usize, t + ms(at));
                log.push((at, bytes));
                if rng.chance(10) {
                    // Read at the end of the current bucket.
                    let now = (at / 100) * 100 + 99;
                    let from = (now / 100).saturating_sub(9) * 100;
                    let total: u64 = log.iter().filter(|(a, _)| *a >= from).map(|(_, b)| b).sum();
                    let span_ms = (now - from).clamp(100, 1000);
                    let want = total * 8 * 1000 / span_ms;
                    let got = m.bitrate_bps(t + ms(now));
                    assert!(
                        got.abs_diff(want) <= 1,
                        "seed {seed} at {now}: {got} vs {want}"
                    );
                }
                at += if rng.chance(2) {
                    rng.below(3_000)
                } else {
                    rng.below(30)
                };
            }
        }
    }
}
