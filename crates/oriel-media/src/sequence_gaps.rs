//! [`SequenceGaps`]: packets of an incoming stream that stayed missing, so are lost for good.
//!
//! The SFU repairs what a publisher's packets lose on the way in by NACK, but not always: str0m
//! stops asking after a few attempts, and on a bad uplink the retransmissions are lost too. A
//! packet that never comes breaks its frame for every subscriber, and with it every frame that
//! refers to it until the next keyframe. A subscriber's browser cannot repair it (the SFU does
//! not have it), and Chromium asks for a keyframe only seconds later. So the SFU watches each
//! incoming layer's sequence numbers: a gap still open after a patience (longer than NACK
//! repair normally takes) is reported once, and the SFU asks the publisher for a keyframe.
//!
//! Fixed size, no allocation: the last [`WINDOW`] sequence numbers as a bitmap and up to
//! [`MAX_GAPS`] open gaps. Sans-IO: time is a parameter; checked on every packet of the stream,
//! which flows at least a few times a second while it matters.

use std::time::{Duration, Instant};

/// Sequence numbers remembered behind the highest one. A jump further ahead restarts the
/// stream (a new SSRC or an encoder restart), and a packet further behind is ignored.
pub const WINDOW: u64 = 1024;
/// Open gaps tracked at once; more are merged into the newest.
pub const MAX_GAPS: usize = 16;
/// Default patience: NACK repair takes one or two round trips (str0m asks up to 5 times), and
/// a subscriber's browser waits for a frame at most its playout delay (up to 400 ms here).
pub const DEFAULT_PATIENCE: Duration = Duration::from_millis(500);

const WORDS: usize = (WINDOW / 64) as usize;

#[derive(Debug, Clone, Copy)]
struct Gap {
    /// First and last missing sequence number.
    first: u64,
    last: u64,
    /// When it opened.
    since: Instant,
}

/// Watches one incoming stream's sequence numbers for packets lost for good.
#[derive(Debug, Clone)]
pub struct SequenceGaps {
    patience: Duration,
    highest: Option<u64>,
    /// Bit `seq % WINDOW` set: that packet arrived (for seqs within WINDOW of `highest`).
    received: [u64; WORDS],
    gaps: [Option<Gap>; MAX_GAPS],
}

impl Default for SequenceGaps {
    fn default() -> Self {
        Self::new(DEFAULT_PATIENCE)
    }
}

impl SequenceGaps {
    /// Gaps older than `patience` count as lost.
    pub fn new(patience: Duration) -> Self {
        Self {
            patience,
            highest: None,
            received: [0; WORDS],
            gaps: [None; MAX_GAPS],
        }
    }

    /// A packet with the (extended, never wrapping) sequence number `seq` arrived, first time
    /// or repaired. `keyframe_start`: it starts a keyframe, after which nothing before it
    /// matters. Returns whether a gap has now been open longer than the patience: packets lost
    /// for good (reported once per gap).
    pub fn record(&mut self, seq: u64, keyframe_start: bool, now: Instant) -> bool {
        match self.highest {
            Some(highest) if seq > highest && seq - highest <= WINDOW => {
                for missing in highest + 1..seq {
                    self.set_received(missing, false);
                }
                self.set_received(seq, true);
                if seq > highest + 1 {
                    self.open(highest + 1, seq - 1, now);
                }
                self.highest = Some(seq);
            }
            Some(highest) if seq <= highest && highest - seq < WINDOW => {
                self.set_received(seq, true);
            }
            Some(highest) if seq <= highest => return self.expire(now),
            _ => {
                // The first packet, or a jump no gap can describe: start afresh.
                self.received = [0; WORDS];
                self.gaps = [None; MAX_GAPS];
                self.set_received(seq, true);
                self.highest = Some(seq);
            }
        }
        if keyframe_start {
            self.forget_before(seq);
        }
        self.expire(now)
    }

    /// How many gaps are open (for tests and diagnostics).
    pub fn open_gaps(&self) -> usize {
        self.gaps.iter().flatten().count()
    }

    fn open(&mut self, first: u64, last: u64, since: Instant) {
        let gap = Gap { first, last, since };
        if let Some(slot) = self.gaps.iter_mut().find(|g| g.is_none()) {
            *slot = Some(gap);
        } else if let Some(newest) = self.gaps.iter_mut().flatten().max_by_key(|g| g.last) {
            // Full: the newest gap grows to cover this one too (its packets in between, which
            // arrived, are skipped when it is checked).
            newest.last = last;
        }
    }

    /// Closes gaps that are repaired, and reports (and closes) those open past the patience.
    fn expire(&mut self, now: Instant) -> bool {
        let highest = self.highest.unwrap_or(0);
        let mut lost = false;
        for slot in 0..MAX_GAPS {
            let Some(gap) = self.gaps[slot] else { continue };
            // Out of the window: its packets can no longer be looked up.
            let forgotten = highest - gap.first >= WINDOW;
            let repaired = !forgotten && (gap.first..=gap.last).all(|s| self.is_received(s));
            if repaired {
                self.gaps[slot] = None;
            } else if forgotten || now.saturating_duration_since(gap.since) >= self.patience {
                self.gaps[slot] = None;
                lost = true;
            }
        }
        lost
    }

    /// A keyframe starts at `seq`: what is missing before it no longer matters.
    fn forget_before(&mut self, seq: u64) {
        for slot in self.gaps.iter_mut() {
            if slot.is_some_and(|g| g.last < seq) {
                *slot = None;
            }
        }
    }

    fn set_received(&mut self, seq: u64, received: bool) {
        let bit = seq % WINDOW;
        let word = &mut self.received[(bit / 64) as usize];
        if received {
            *word |= 1 << (bit % 64);
        } else {
            *word &= !(1 << (bit % 64));
        }
    }

    fn is_received(&self, seq: u64) -> bool {
        let bit = seq % WINDOW;
        self.received[(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{t0, Rng};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds `seqs` 10 ms apart from `start`; returns when (ms after start) a loss was reported.
    fn feed(g: &mut SequenceGaps, start: Instant, seqs: impl IntoIterator<Item = u64>) -> Vec<u64> {
        let mut reported = Vec::new();
        for (i, seq) in seqs.into_iter().enumerate() {
            let at = 10 * i as u64;
            if g.record(seq, false, start + ms(at)) {
                reported.push(at);
            }
        }
        reported
    }

    #[test]
    fn an_unbroken_stream_has_no_gaps() {
        let mut g = SequenceGaps::default();
        assert_eq!(feed(&mut g, t0(), 1000..1200), Vec::<u64>::new());
        assert_eq!(g.open_gaps(), 0);
    }

    #[test]
    fn a_gap_never_filled_is_reported_once_after_the_patience() {
        let mut g = SequenceGaps::default();
        let seqs = (1000..1010).chain(1012..1200);
        // Seq 1010 and 1011 went missing at 100 ms; 500 ms later they are lost.
        assert_eq!(feed(&mut g, t0(), seqs), vec![600]);
        assert_eq!(g.open_gaps(), 0);
    }

    #[test]
    fn a_repaired_gap_is_not_reported() {
        let mut g = SequenceGaps::default();
        // 1010 and 1011 arrive 200 ms late (out of order), as NACK repairs do.
        let seqs = (1000..1010)
            .chain(1012..1030)
            .chain([1010, 1011])
            .chain(1030..1200);
        assert_eq!(feed(&mut g, t0(), seqs), Vec::<u64>::new());
        assert_eq!(g.open_gaps(), 0);
    }

    #[test]
    fn a_gap_half_repaired_is_still_lost() {
        let mut g = SequenceGaps::default();
        let seqs = (1000..1010)
            .chain(1013..1030)
            .chain([1011])
            .chain(1030..1200);
        assert_eq!(feed(&mut g, t0(), seqs), vec![600]);
    }

    #[test]
    fn a_keyframe_after_the_gap_makes_it_irrelevant() {
        let t = t0();
        let mut g = SequenceGaps::default();
        for seq in (1000..1010).chain(1012..1020) {
            assert!(!g.record(seq, false, t));
        }
        assert!(!g.record(1020, true, t + ms(100)));
        assert_eq!(g.open_gaps(), 0);
        assert!(!g.record(1021, false, t + ms(2000)));
    }

    #[test]
    fn reordering_within_the_patience_is_not_loss() {
        let t = t0();
        let mut g = SequenceGaps::default();
        let mut rng = Rng::new(7);
        // Each packet delayed by 0-60 ms: arrival order shuffles within a few packets.
        let mut arrivals: Vec<(u64, u64)> = (0..2000u64)
            .map(|i| (i * 5 + rng.below(60), 5000 + i))
            .collect();
        arrivals.sort();
        for (at, seq) in arrivals {
            assert!(!g.record(seq, false, t + ms(at)), "seq {seq} at {at} ms");
        }
    }

    #[test]
    fn many_gaps_at_once_are_all_watched() {
        let mut g = SequenceGaps::default();
        // Every third packet lost for a while: more gaps than MAX_GAPS.
        let seqs = (1000..1100).filter(|s| s % 3 != 0).chain(1100..1300);
        let reported = feed(&mut g, t0(), seqs);
        assert!(!reported.is_empty(), "lost packets reported");
        assert_eq!(g.open_gaps(), 0, "everything settled");
    }

    #[test]
    fn jumps_and_stale_packets_restart_or_are_ignored() {
        let t = t0();
        let mut g = SequenceGaps::default();
        for seq in 1000..1010 {
            g.record(seq, false, t);
        }
        // A jump far ahead (a new stream): no gap of thousands of packets.
        assert!(!g.record(1_000_000, false, t + ms(10)));
        assert_eq!(g.open_gaps(), 0);
        // A packet from far behind: ignored.
        assert!(!g.record(1005, false, t + ms(20)));
        assert!(!g.record(1_000_001, false, t + ms(2000)));
        assert_eq!(g.open_gaps(), 0);
    }

    #[test]
    fn random_sequences_never_panic() {
        let t = t0();
        let mut rng = Rng::new(3);
        let mut g = SequenceGaps::default();
        for i in 0..20_000u64 {
            let seq = match rng.below(4) {
                0 => rng.below(u64::MAX),
                1 => rng.below(3000),
                _ => 10_000 + i / 2 + rng.below(40),
            };
            let _ = g.record(seq, rng.below(50) == 0, t + ms(i));
            assert!(g.open_gaps() <= MAX_GAPS);
        }
    }
}
