//! [`StreamRewriter`]: one continuous outgoing RTP stream per Consumer out of a Producer whose
//! layer changes.
//!
//! A simulcast Producer publishes several independent RTP streams (layers), each with its own
//! sequence numbers and RTP timestamps. A Consumer forwards one of them at a time, and the
//! subscriber must see one stream: sequence numbers without jumps, timestamps that never go
//! backwards, and a switch only where the decoder can follow (a keyframe).
//!
//! # Epochs
//!
//! The outgoing stream is a series of *epochs*. An epoch is one stretch of one layer, from the
//! keyframe that started it onwards. Inside an epoch, outgoing = incoming + a constant offset
//! (for sequence numbers and for timestamps), so gaps and reordering are preserved exactly and
//! the subscriber's NACKs ask for the right packets. A new epoch starts only when
//!
//! 1. the SFU asked for a layer with [`StreamRewriter::switch_to`] (or [`StreamRewriter::resync`]),
//! 2. and a packet of that layer arrives that starts a keyframe and is newer than anything of
//!    that layer seen since (a stale retransmitted keyframe does not count).
//!
//! Until then the old layer keeps flowing. The new epoch's first packet gets the highest
//! outgoing sequence number so far + 1, and the newest outgoing timestamp + the wall time elapsed
//! since that timestamp was first sent, in the stream's clock rate (at least +1).
//!
//! # Late retransmissions
//!
//! The rewriter remembers the last [`HISTORY`] finished epochs in a fixed ring: their layer,
//! the range of incoming sequence numbers they forwarded and their offsets. A packet that
//! belongs to one of them (typically an RTX repair of a packet lost just before a switch, asked
//! for by the subscriber's NACK) is mapped to exactly the outgoing sequence number and timestamp
//! it would have had. Anything else from a layer that is not current is dropped.
//!
//! Because an epoch is a range, not a list of packets, this also maps packets that were lost and
//! never forwarded, which is the whole point of NACK. Packets that arrive after their epoch
//! ended, with a sequence number above the last one forwarded in it, are dropped: their outgoing
//! numbers now belong to the next epoch.

use std::time::Instant;

/// How many finished epochs a [`StreamRewriter`] remembers for late retransmissions. Older
/// epochs' packets are dropped.
pub const HISTORY: usize = 8;

/// One incoming packet, as the SFU core has it from str0m's `RtpPacket`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePacket {
    /// The layer (simulcast encoding) the packet belongs to. An opaque id: if a source restarts
    /// its sequence numbers (new SSRC), give it a fresh id and [`StreamRewriter::switch_to`] it.
    pub layer: u8,
    /// The extended (64-bit, never wrapping) incoming sequence number, `RtpPacket::seq_no`.
    pub seq: u64,
    /// The incoming RTP timestamp, `RtpPacket::header.timestamp`.
    pub timestamp: u32,
    /// The RTP clock rate of the payload type, e.g. 90 000 for video, 48 000 for Opus.
    pub clock_rate: u32,
    /// When the packet arrived.
    pub arrival: Instant,
    /// The packet is the first one of a keyframe (see [`crate::vp8::is_keyframe`] and
    /// [`crate::h264::is_keyframe`]).
    pub is_keyframe_start: bool,
}

/// Where a forwarded packet goes in the outgoing stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    /// The outgoing extended sequence number, for `RtpWrite`'s `SeqNo`.
    pub seq: u64,
    /// The outgoing RTP timestamp.
    pub timestamp: u32,
    /// The epoch the packet belongs to (see the module docs). Epochs are numbered from 0 and
    /// grow by one at every switch; pass this to [`crate::Vp8PictureRewriter`].
    pub epoch: u32,
    /// This packet starts a new epoch: the Consumer now forwards `SourcePacket::layer`.
    pub switched: bool,
}

/// One stretch of one layer in the outgoing stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Epoch {
    id: u32,
    layer: u8,
    /// The incoming sequence number of the keyframe start that opened the epoch.
    first_in: u64,
    /// The highest incoming sequence number forwarded in this epoch.
    max_in: u64,
    /// outgoing seq = incoming seq + `seq_offset` (wrapping).
    seq_offset: u64,
    /// outgoing timestamp = incoming timestamp + `ts_offset` (wrapping).
    ts_offset: u32,
}

impl Epoch {
    /// The packet was (or would have been) forwarded in this finished epoch.
    fn covers(&self, layer: u8, seq: u64) -> bool {
        self.layer == layer && (self.first_in..=self.max_in).contains(&seq)
    }

    fn map(&self, p: &SourcePacket, switched: bool) -> Rewritten {
        Rewritten {
            seq: p.seq.wrapping_add(self.seq_offset),
            timestamp: p.timestamp.wrapping_add(self.ts_offset),
            epoch: self.id,
            switched,
        }
    }

    /// The incoming sequence number that `out_seq` was or would be mapped from, if any.
    fn original(&self, out_seq: u64) -> Option<u64> {
        let seq = out_seq.wrapping_sub(self.seq_offset);
        (self.first_in..=self.max_in).contains(&seq).then_some(seq)
    }
}

/// Maps the packets of a layered Producer to one continuous outgoing stream for one Consumer.
///
/// Layer state uses mediasoup's words: the SFU picks a *target* layer (from the subscriber's
/// preferred layer and its bandwidth, see [`crate::LayerSelector`]) and calls
/// [`Self::switch_to`]; the *current* layer becomes the target at its next keyframe.
///
/// Usage, per Consumer:
///
/// 1. [`Self::switch_to`] the initial target layer and request a keyframe for it (a
///    [`crate::KeyframeThrottle`] on the Producer). Nothing is forwarded before that keyframe.
/// 2. For every packet of every layer of the Producer, call [`Self::rewrite`]: `Some` means send
///    it with the given sequence number and timestamp, `None` means drop it for this Consumer.
///    Packets of layers that are neither current nor target can be skipped without calling it
///    (except late retransmissions, which it maps; calling it for everything is simplest).
/// 3. When the target changes, call [`Self::switch_to`] and request a keyframe of the new
///    layer. The old layer keeps flowing until that keyframe arrives.
/// 4. When a paused Consumer resumes, call [`Self::resync`].
///
/// Fixed size (a ring of [`HISTORY`] epochs), no allocation, O([`HISTORY`]) per packet at worst.
#[derive(Debug, Clone)]
pub struct StreamRewriter {
    /// The epoch being forwarded, if any.
    current: Option<Epoch>,
    /// The layer to switch to at its next keyframe start.
    target: Option<u8>,
    /// The highest sequence number of the target layer seen since it became the target; a
    /// keyframe start below it is a stale retransmission.
    target_max_seq: Option<u64>,
    /// Ring of finished epochs, for late retransmissions.
    history: [Option<Epoch>; HISTORY],
    history_next: usize,
    /// The highest outgoing sequence number sent.
    max_out_seq: Option<u64>,
    /// The newest outgoing timestamp and when it was first sent.
    newest_ts: Option<(u32, Instant)>,
    next_epoch: u32,
}

impl Default for StreamRewriter {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamRewriter {
    /// A rewriter that forwards nothing until [`Self::switch_to`] and a keyframe.
    ///
    /// The first epoch passes sequence numbers and timestamps through unchanged.
    pub fn new() -> Self {
        Self {
            current: None,
            target: None,
            target_max_seq: None,
            history: [None; HISTORY],
            history_next: 0,
            max_out_seq: None,
            newest_ts: None,
            next_epoch: 0,
        }
    }

    /// The layer being forwarded now, if any.
    pub fn current_layer(&self) -> Option<u8> {
        self.current.map(|e| e.layer)
    }

    /// The layer waiting for its keyframe, if a switch is pending.
    pub fn target_layer(&self) -> Option<u8> {
        self.target
    }

    /// A switch is pending: the SFU should make sure a keyframe of [`Self::target_layer`] is
    /// requested.
    pub fn is_waiting_for_keyframe(&self) -> bool {
        self.target.is_some()
    }

    /// The highest outgoing sequence number sent so far.
    pub fn max_seq(&self) -> Option<u64> {
        self.max_out_seq
    }

    /// The newest outgoing RTP timestamp sent so far.
    pub fn newest_timestamp(&self) -> Option<u32> {
        self.newest_ts.map(|(ts, _)| ts)
    }

    /// Asks to forward `layer` from its next keyframe start on.
    ///
    /// The current layer keeps flowing until then. Asking for the current layer cancels a
    /// pending switch. Asking again for the pending target changes nothing.
    pub fn switch_to(&mut self, layer: u8) {
        if self.current_layer() == Some(layer) {
            self.target = None;
            self.target_max_seq = None;
        } else if self.target != Some(layer) {
            self.target = Some(layer);
            self.target_max_seq = None;
        }
    }

    /// Stops forwarding now and restarts at the next keyframe start of the current (or pending)
    /// layer, continuing the outgoing numbering without a gap.
    ///
    /// Use it when a paused Consumer resumes: the incoming numbers moved on meanwhile, and
    /// forwarding on would open a gap the subscriber would NACK. Late retransmissions of what
    /// was already sent are still mapped.
    ///
    /// Not for a source that restarted its sequence numbers lower (new SSRC): its keyframes would
    /// look like stale retransmissions of the remembered epochs. Give the restarted stream a
    /// fresh layer id and [`Self::switch_to`] it instead.
    pub fn resync(&mut self) {
        if let Some(cur) = self.current.take() {
            self.push_history(cur);
            self.target = self.target.or(Some(cur.layer));
            self.target_max_seq = None;
        }
    }

    /// Maps one incoming packet to the outgoing stream, or returns `None` to drop it.
    pub fn rewrite(&mut self, p: &SourcePacket) -> Option<Rewritten> {
        // 1. The current epoch, from its keyframe on.
        if let Some(cur) = &mut self.current {
            if cur.layer == p.layer && p.seq >= cur.first_in {
                cur.max_in = cur.max_in.max(p.seq);
                let out = cur.map(p, false);
                self.note_sent(&out, p.arrival);
                return Some(out);
            }
        }

        // 2. The target layer: switch at a fresh keyframe start.
        if self.target == Some(p.layer) {
            let stale = self.target_max_seq.is_some_and(|m| p.seq < m)
                || self
                    .history
                    .iter()
                    .flatten()
                    .any(|e| e.layer == p.layer && p.seq <= e.max_in);
            self.target_max_seq = Some(self.target_max_seq.map_or(p.seq, |m| m.max(p.seq)));
            if p.is_keyframe_start && !stale {
                return Some(self.start_epoch(p));
            }
        }

        // 3. A late packet of a finished epoch.
        self.history
            .iter()
            .flatten()
            .find(|e| e.covers(p.layer, p.seq))
            .map(|e| e.map(p, false))
    }

    /// The layer and incoming sequence number that an outgoing sequence number was (or, for a
    /// packet lost upstream, would have been) mapped from, if it is within the current epoch
    /// or one of the remembered ones. Use it to turn a subscriber's NACK into a request to the
    /// Producer.
    pub fn original(&self, out_seq: u64) -> Option<(u8, u64)> {
        self.current
            .iter()
            .chain(self.history.iter().flatten())
            .find_map(|e| e.original(out_seq).map(|seq| (e.layer, seq)))
    }

    fn start_epoch(&mut self, p: &SourcePacket) -> Rewritten {
        let (seq_offset, ts_offset) = match (self.max_out_seq, self.newest_ts) {
            (Some(max), Some((newest_ts, sent_at))) => {
                let elapsed = p.arrival.saturating_duration_since(sent_at);
                let ticks = elapsed.as_micros() * u128::from(p.clock_rate) / 1_000_000;
                // At least +1 so timestamps strictly advance; at most half the timestamp space so
                // that receivers still read it as forward after a very long pause.
                let delta = ticks.clamp(1, i32::MAX as u128) as u32;
                let ts = newest_ts.wrapping_add(delta);
                (
                    max.wrapping_add(1).wrapping_sub(p.seq),
                    ts.wrapping_sub(p.timestamp),
                )
            }
            // The very first epoch passes through.
            _ => (0, 0),
        };
        let epoch = Epoch {
            id: self.next_epoch,
            layer: p.layer,
            first_in: p.seq,
            max_in: p.seq,
            seq_offset,
            ts_offset,
        };
        self.next_epoch = self.next_epoch.wrapping_add(1);
        if let Some(old) = self.current.replace(epoch) {
            self.push_history(old);
        }
        self.target = None;
        self.target_max_seq = None;
        let out = epoch.map(p, true);
        self.note_sent(&out, p.arrival);
        out
    }

    fn push_history(&mut self, e: Epoch) {
        self.history[self.history_next] = Some(e);
        self.history_next = (self.history_next + 1) % HISTORY;
    }

    fn note_sent(&mut self, out: &Rewritten, arrival: Instant) {
        self.max_out_seq = Some(self.max_out_seq.map_or(out.seq, |m| m.max(out.seq)));
        let newer = match self.newest_ts {
            None => true,
            Some((ts, _)) => ts_is_newer(out.timestamp, ts),
        };
        if newer {
            self.newest_ts = Some((out.timestamp, arrival));
        }
    }
}

/// `a` is newer than `b` in the 32-bit RTP timestamp space.
fn ts_is_newer(a: u32, b: u32) -> bool {
    let diff = a.wrapping_sub(b);
    diff != 0 && diff < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{t0, Rng};
    use std::collections::HashMap;
    use std::time::Duration;

    const VIDEO: u32 = 90_000;

    fn pkt(layer: u8, seq: u64, ts: u32, at: Instant, key: bool) -> SourcePacket {
        SourcePacket {
            layer,
            seq,
            timestamp: ts,
            clock_rate: VIDEO,
            arrival: at,
            is_keyframe_start: key,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn seq_ts(r: Option<Rewritten>) -> Option<(u64, u32)> {
        r.map(|r| (r.seq, r.timestamp))
    }

    #[test]
    fn nothing_before_switch_to() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        assert_eq!(rw.rewrite(&pkt(0, 10, 1000, t, true)), None);
        assert_eq!(rw.current_layer(), None);
        assert_eq!(rw.target_layer(), None);
        assert_eq!(rw.max_seq(), None);
    }

    #[test]
    fn waits_for_a_keyframe_then_passes_through() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        assert!(rw.is_waiting_for_keyframe());
        assert_eq!(rw.rewrite(&pkt(0, 10, 1000, t, false)), None);
        assert_eq!(rw.rewrite(&pkt(0, 11, 1000, t, false)), None);
        let r = rw.rewrite(&pkt(0, 12, 4000, t, true)).unwrap();
        assert_eq!(
            r,
            Rewritten {
                seq: 12,
                timestamp: 4000,
                epoch: 0,
                switched: true
            }
        );
        assert_eq!(rw.current_layer(), Some(0));
        assert!(!rw.is_waiting_for_keyframe());
        let r = rw.rewrite(&pkt(0, 13, 4000, t, false)).unwrap();
        assert_eq!(
            r,
            Rewritten {
                seq: 13,
                timestamp: 4000,
                epoch: 0,
                switched: false
            }
        );
        // Packets from before the keyframe are still dropped.
        assert_eq!(rw.rewrite(&pkt(0, 11, 1000, t, false)), None);
        // Other layers are dropped.
        assert_eq!(rw.rewrite(&pkt(1, 500, 9, t, true)), None);
    }

    #[test]
    fn gaps_and_reordering_inside_an_epoch_are_preserved() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(1);
        rw.rewrite(&pkt(1, 100, 0, t, true)).unwrap();
        assert_eq!(
            seq_ts(rw.rewrite(&pkt(1, 103, 3000, t, false))),
            Some((103, 3000))
        );
        assert_eq!(
            seq_ts(rw.rewrite(&pkt(1, 101, 0, t, false))),
            Some((101, 0))
        );
        assert_eq!(
            seq_ts(rw.rewrite(&pkt(1, 102, 3000, t, false))),
            Some((102, 3000))
        );
        assert_eq!(
            seq_ts(rw.rewrite(&pkt(1, 102, 3000, t, false))),
            Some((102, 3000)),
            "duplicate"
        );
        assert_eq!(rw.max_seq(), Some(103));
        assert_eq!(rw.newest_timestamp(), Some(3000));
    }

    #[test]
    fn switch_up_is_contiguous_and_timestamps_follow_wall_time() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 1000, 50_000, t, true)).unwrap();
        rw.rewrite(&pkt(0, 1001, 50_000, t + ms(1), false)).unwrap();
        rw.rewrite(&pkt(0, 1002, 53_000, t + ms(33), false))
            .unwrap();
        rw.switch_to(2);
        assert_eq!(rw.current_layer(), Some(0));
        assert_eq!(rw.target_layer(), Some(2));
        // Layer 2 non-keyframes are dropped; layer 0 keeps flowing.
        assert_eq!(
            rw.rewrite(&pkt(2, 70_000, 7_000_000, t + ms(40), false)),
            None
        );
        assert_eq!(
            seq_ts(rw.rewrite(&pkt(0, 1003, 53_000, t + ms(41), false))),
            Some((1003, 53_000))
        );
        // Keyframe of layer 2, 100 ms after the newest timestamp (53 000) was first sent.
        let r = rw
            .rewrite(&pkt(2, 70_001, 7_003_000, t + ms(133), true))
            .unwrap();
        assert_eq!(
            r,
            Rewritten {
                seq: 1004,
                timestamp: 53_000 + 9_000,
                epoch: 1,
                switched: true
            }
        );
        assert_eq!(rw.current_layer(), Some(2));
        assert_eq!(rw.target_layer(), None);
        // Layer 2 continues with its own spacing.
        assert_eq!(
            seq_ts(rw.rewrite(&pkt(2, 70_002, 7_003_000, t + ms(134), false))),
            Some((1005, 62_000))
        );
        assert_eq!(
            seq_ts(rw.rewrite(&pkt(2, 70_004, 7_006_000, t + ms(166), false))),
            Some((1007, 65_000))
        );
        // Layer 0 is now dropped.
        assert_eq!(rw.rewrite(&pkt(0, 1004, 56_000, t + ms(166), false)), None);
        assert_eq!(rw.rewrite(&pkt(0, 1010, 70_000, t + ms(200), true)), None);
    }

    #[test]
    fn switch_down_then_up_again() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(2);
        rw.rewrite(&pkt(2, 5, 100, t, true)).unwrap();
        rw.rewrite(&pkt(2, 6, 3100, t + ms(33), false)).unwrap();
        rw.switch_to(0);
        let r = rw.rewrite(&pkt(0, 40_000, 1, t + ms(66), true)).unwrap();
        assert_eq!((r.seq, r.timestamp, r.epoch), (7, 3100 + 2970, 1));
        rw.rewrite(&pkt(0, 40_001, 3001, t + ms(99), false))
            .unwrap();
        rw.switch_to(2);
        // A layer-2 keyframe start older than what layer 2 had forwarded is a retransmission
        // of epoch 0, not a switch point.
        let old = rw.rewrite(&pkt(2, 5, 100, t + ms(100), true)).unwrap();
        assert_eq!(
            (old.seq, old.timestamp, old.epoch, old.switched),
            (5, 100, 0, false)
        );
        assert_eq!(rw.current_layer(), Some(0));
        let r = rw.rewrite(&pkt(2, 12, 20_000, t + ms(132), true)).unwrap();
        assert_eq!((r.seq, r.epoch, r.switched), (9, 2, true));
        assert_eq!(r.timestamp, 9070 + 33 * 90);
    }

    #[test]
    fn timestamp_advances_at_least_one_tick() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 1, 900, t, true)).unwrap();
        rw.switch_to(1);
        // Same instant, and even an arrival "before" the last one (caller clock quirk).
        let r = rw.rewrite(&pkt(1, 1, 5, t, true)).unwrap();
        assert_eq!((r.seq, r.timestamp), (2, 901));
        rw.switch_to(0);
        let r = rw
            .rewrite(&pkt(0, 2, 5, t.checked_sub(ms(5)).unwrap_or(t), true))
            .unwrap();
        assert_eq!((r.seq, r.timestamp), (3, 902));
    }

    #[test]
    fn elapsed_time_uses_the_packets_clock_rate() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        let mut p = pkt(0, 1, 0, t, true);
        p.clock_rate = 48_000;
        rw.rewrite(&p).unwrap();
        rw.switch_to(1);
        let mut p = pkt(1, 1, 12_345, t + ms(20), true);
        p.clock_rate = 48_000;
        assert_eq!(rw.rewrite(&p).unwrap().timestamp, 960);
    }

    #[test]
    fn very_long_pause_is_clamped_to_half_the_timestamp_space() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 1, 0, t, true)).unwrap();
        rw.switch_to(1);
        let r = rw
            .rewrite(&pkt(1, 1, 0, t + Duration::from_secs(100_000), true))
            .unwrap();
        assert_eq!(r.timestamp, i32::MAX as u32);
        assert!(ts_is_newer(r.timestamp, 0));
    }

    #[test]
    fn timestamp_wraparound_across_a_switch() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 1, u32::MAX - 3000, t, true)).unwrap();
        rw.rewrite(&pkt(0, 2, u32::MAX - 3000, t, false)).unwrap();
        assert_eq!(
            rw.rewrite(&pkt(0, 3, 2999, t + ms(66), false))
                .unwrap()
                .timestamp,
            2999,
            "input wrap"
        );
        // A late packet from before the wrap does not make the newest timestamp go back.
        rw.rewrite(&pkt(0, 2, u32::MAX - 3000, t + ms(70), false))
            .unwrap();
        assert_eq!(rw.newest_timestamp(), Some(2999));
        rw.switch_to(1);
        let r = rw.rewrite(&pkt(1, 9, 123, t + ms(66 + 33), true)).unwrap();
        assert_eq!((r.seq, r.timestamp), (4, 2999 + 2970));
        // Switch where the output itself wraps.
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 1, u32::MAX - 100, t, true)).unwrap();
        rw.switch_to(1);
        let r = rw.rewrite(&pkt(1, 1, 0, t + ms(10), true)).unwrap();
        assert_eq!(r.timestamp, (u32::MAX - 100).wrapping_add(900));
        assert_eq!(
            seq_ts(rw.rewrite(&pkt(1, 2, 3000, t + ms(43), false))),
            Some((3, r.timestamp.wrapping_add(3000)))
        );
    }

    #[test]
    fn sequence_numbers_across_the_16_bit_boundary_stay_extended() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 65_534, 0, t, true)).unwrap();
        assert_eq!(
            rw.rewrite(&pkt(0, 65_536, 0, t, false)).unwrap().seq,
            65_536
        );
        rw.switch_to(1);
        // Layer 1's numbers are far lower: the offset goes "negative", wrapping in u64.
        let r = rw.rewrite(&pkt(1, 3, 0, t + ms(1), true)).unwrap();
        assert_eq!(r.seq, 65_537);
        assert_eq!(
            rw.rewrite(&pkt(1, 4, 0, t + ms(1), false)).unwrap().seq,
            65_538
        );
        assert_eq!(rw.original(65_538), Some((1, 4)));
        assert_eq!(
            rw.original(65_535),
            Some((0, 65_535)),
            "lost upstream, still mappable"
        );
    }

    #[test]
    fn late_retransmission_of_the_old_layer_maps_to_its_original_seq() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 100, 0, t, true)).unwrap();
        rw.rewrite(&pkt(0, 101, 0, t, false)).unwrap();
        // 102 is lost.
        rw.rewrite(&pkt(0, 103, 3000, t + ms(33), false)).unwrap();
        rw.switch_to(1);
        let r = rw.rewrite(&pkt(1, 9000, 1, t + ms(40), true)).unwrap();
        assert_eq!(r.seq, 104);
        // The subscriber NACKs 102; the SFU finds its source and the RTX repair arrives late.
        assert_eq!(rw.original(102), Some((0, 102)));
        let late = rw.rewrite(&pkt(0, 102, 0, t + ms(80), false)).unwrap();
        assert_eq!(
            late,
            Rewritten {
                seq: 102,
                timestamp: 0,
                epoch: 0,
                switched: false
            }
        );
        // State was not disturbed by it.
        assert_eq!(rw.max_seq(), Some(104));
        assert_eq!(
            rw.rewrite(&pkt(1, 9001, 1, t + ms(81), false)).unwrap().seq,
            105
        );
        // Layer 0 packets newer than what epoch 0 forwarded are dropped: 104 belongs to layer 1.
        assert_eq!(rw.rewrite(&pkt(0, 104, 3000, t + ms(82), false)), None);
        // And so are packets from before epoch 0 started.
        assert_eq!(rw.rewrite(&pkt(0, 99, 0, t + ms(82), false)), None);
    }

    #[test]
    fn tail_lost_before_a_switch_is_not_mapped_over_the_new_epoch() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 100, 0, t, true)).unwrap();
        // 101 and 102 lost, switch happens.
        rw.switch_to(1);
        assert_eq!(
            rw.rewrite(&pkt(1, 50, 0, t + ms(30), true)).unwrap().seq,
            101
        );
        // 101 from layer 0 arrives late: its number is taken by layer 1 now, so drop it.
        assert_eq!(rw.rewrite(&pkt(0, 101, 0, t + ms(31), false)), None);
        assert_eq!(rw.original(101), Some((1, 50)));
    }

    #[test]
    fn retransmission_of_the_new_layer_from_before_the_switch_is_dropped() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 1, 0, t, true)).unwrap();
        rw.switch_to(1);
        assert_eq!(rw.rewrite(&pkt(1, 500, 0, t, false)), None);
        rw.rewrite(&pkt(1, 501, 0, t, true)).unwrap();
        assert_eq!(rw.rewrite(&pkt(1, 500, 0, t, false)), None);
    }

    #[test]
    fn stale_keyframe_of_target_does_not_switch() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 1, 0, t, true)).unwrap();
        rw.switch_to(1);
        assert_eq!(rw.rewrite(&pkt(1, 300, 0, t, false)), None);
        // A retransmitted keyframe start from before 300.
        assert_eq!(rw.rewrite(&pkt(1, 250, 0, t, true)), None);
        assert_eq!(rw.current_layer(), Some(0));
        assert_eq!(rw.rewrite(&pkt(1, 301, 0, t, true)).unwrap().seq, 2);
    }

    #[test]
    fn changing_target_before_the_keyframe() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 1, 0, t, true)).unwrap();
        rw.switch_to(2);
        rw.switch_to(1);
        assert_eq!(rw.target_layer(), Some(1));
        assert_eq!(rw.rewrite(&pkt(2, 10, 0, t, true)), None);
        assert_eq!(rw.rewrite(&pkt(1, 10, 0, t, true)).unwrap().seq, 2);
        // Cancel: switch_to(current) drops the pending target.
        rw.switch_to(2);
        rw.switch_to(1);
        assert_eq!(rw.target_layer(), None);
        assert_eq!(rw.rewrite(&pkt(2, 11, 0, t, true)), None);
        assert_eq!(rw.current_layer(), Some(1));
        // Repeating the same target keeps its stale-keyframe memory.
        rw.switch_to(2);
        assert_eq!(rw.rewrite(&pkt(2, 20, 0, t, false)), None);
        rw.switch_to(2);
        assert_eq!(rw.rewrite(&pkt(2, 19, 0, t, true)), None);
    }

    #[test]
    fn resync_after_pause_continues_without_gap() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 10, 0, t, true)).unwrap();
        rw.rewrite(&pkt(0, 11, 3000, t + ms(33), false)).unwrap();
        rw.resync();
        assert_eq!(rw.current_layer(), None);
        assert_eq!(rw.target_layer(), Some(0));
        // Paused: the Consumer skipped packets 12..=500. On resume the next packets are dropped
        // until a keyframe.
        assert_eq!(
            rw.rewrite(&pkt(0, 501, 900_000, t + ms(10_000), false)),
            None
        );
        let r = rw
            .rewrite(&pkt(0, 502, 903_000, t + ms(10_033), true))
            .unwrap();
        assert_eq!(
            (r.seq, r.timestamp, r.switched),
            (12, 3000 + 10_000 * 90, true)
        );
        // A late retransmission of what was sent before the pause still maps.
        assert_eq!(
            seq_ts(rw.rewrite(&pkt(0, 11, 3000, t + ms(10_040), false))),
            Some((11, 3000))
        );
        // Resync before anything was forwarded is harmless.
        let mut fresh = StreamRewriter::new();
        fresh.resync();
        assert_eq!(fresh.target_layer(), None);
    }

    #[test]
    fn source_restart_with_lower_numbers_takes_a_fresh_layer_id() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 60_000, 0, t, true)).unwrap();
        rw.rewrite(&pkt(0, 60_001, 0, t, false)).unwrap();
        // The Producer restarted: its numbers are now far lower. Under the same id, its
        // keyframes look like stale retransmissions and never start an epoch.
        rw.resync();
        assert_eq!(rw.rewrite(&pkt(0, 12, 0, t + ms(100), true)), None);
        // Under a fresh id they do.
        rw.switch_to(7);
        let r = rw.rewrite(&pkt(7, 12, 0, t + ms(100), true)).unwrap();
        assert_eq!(r.seq, 60_002);
        assert_eq!(
            rw.rewrite(&pkt(7, 13, 0, t + ms(100), false)).unwrap().seq,
            60_003
        );
    }

    #[test]
    fn history_is_bounded() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        let mut first_seq = 0;
        for i in 0..(HISTORY as u64 + 2) {
            let layer = (i % 2) as u8;
            rw.switch_to(layer);
            let r = rw
                .rewrite(&pkt(layer, 1000 * (i + 1), 0, t + ms(i), true))
                .unwrap();
            rw.rewrite(&pkt(layer, 1000 * (i + 1) + 2, 0, t + ms(i), false))
                .unwrap();
            if i == 0 {
                first_seq = r.seq;
            }
        }
        // Epoch 0 (layer 0, 1000..=1002) has been pushed out of the ring.
        assert_eq!(rw.rewrite(&pkt(0, 1001, 0, t, false)), None);
        assert_eq!(rw.original(first_seq + 1), None);
        // Epoch 2 (layer 0, 3000..=3002) is still there.
        assert!(rw.rewrite(&pkt(0, 3001, 0, t, false)).is_some());
    }

    #[test]
    fn original_for_unknown_numbers() {
        let t = t0();
        let mut rw = StreamRewriter::new();
        assert_eq!(rw.original(5), None);
        rw.switch_to(0);
        rw.rewrite(&pkt(0, 10, 0, t, true)).unwrap();
        rw.rewrite(&pkt(0, 12, 0, t, false)).unwrap();
        assert_eq!(rw.original(9), None);
        assert_eq!(rw.original(11), Some((0, 11)));
        assert_eq!(rw.original(13), None, "not sent yet");
    }

    /// A randomized simulcast session: three layers send continuously with their own numbering,
    /// random loss, reordering, duplication, keyframes (periodic and on request), late RTX
    /// repairs, and the SFU changing its target often. Checks every invariant on every packet.
    #[test]
    fn property_random_sessions() {
        for seed in 0..40 {
            run_session(seed, 4_000);
        }
    }

    struct Layer {
        seq: u64,
        ts: u32,
        keyframe_due: bool,
    }

    /// What the property test knows about the outgoing stream so far.
    #[derive(Default)]
    struct Oracle {
        /// (layer, in seq) -> outgoing packet.
        by_in: HashMap<(u8, u64), Rewritten>,
        /// out seq -> (layer, in seq).
        by_out: HashMap<u64, (u8, u64)>,
        /// epoch -> (layer, seq offset, ts offset).
        offsets: HashMap<u32, (u8, u64, u32)>,
        max_out: Option<u64>,
        newest_ts: Option<u32>,
        target: Option<u8>,
        current: Option<u8>,
        epochs_started: u32,
    }

    impl Oracle {
        fn check(&mut self, p: &SourcePacket, r: Option<Rewritten>) {
            let Some(r) = r else {
                return;
            };
            if r.switched {
                assert_eq!(Some(p.layer), self.target, "switched only to the target");
                assert!(p.is_keyframe_start, "switched only at a keyframe start");
                assert_eq!(r.epoch, self.epochs_started, "epochs count up");
                self.epochs_started += 1;
                if let Some(m) = self.max_out {
                    assert_eq!(r.seq, m + 1, "contiguous across the switch");
                }
                if let Some(n) = self.newest_ts {
                    assert!(
                        ts_is_newer(r.timestamp, n),
                        "timestamps move forward across a switch"
                    );
                }
                self.current = Some(p.layer);
                self.target = None;
            } else {
                assert!(r.epoch < self.epochs_started);
                assert!(
                    r.epoch + HISTORY as u32 >= self.epochs_started - 1,
                    "only remembered epochs"
                );
            }
            // One mapping per epoch: constant offsets.
            let off = (
                p.layer,
                r.seq.wrapping_sub(p.seq),
                r.timestamp.wrapping_sub(p.timestamp),
            );
            assert_eq!(
                *self.offsets.entry(r.epoch).or_insert(off),
                off,
                "constant offsets in an epoch"
            );
            // An incoming packet always maps to the same outgoing one.
            if let Some(prev) = self.by_in.get(&(p.layer, p.seq)) {
                assert_eq!(
                    (prev.seq, prev.timestamp),
                    (r.seq, r.timestamp),
                    "stable mapping"
                );
            }
            self.by_in.insert((p.layer, p.seq), r);
            // No two different incoming packets share an outgoing number.
            let who = *self.by_out.entry(r.seq).or_insert((p.layer, p.seq));
            assert_eq!(who, (p.layer, p.seq), "outgoing seq {} reused", r.seq);
            // Only the current epoch moves the stream forward.
            if r.epoch + 1 != self.epochs_started {
                assert!(
                    self.max_out.is_some_and(|m| r.seq < m),
                    "a late packet stays behind"
                );
            }
            self.max_out = Some(self.max_out.map_or(r.seq, |m| m.max(r.seq)));
            if self.newest_ts.is_none_or(|n| ts_is_newer(r.timestamp, n)) {
                self.newest_ts = Some(r.timestamp);
            }
        }
    }

    fn run_session(seed: u64, frames: u64) {
        let mut rng = Rng::new(seed);
        let mut rw = StreamRewriter::new();
        let mut layers: Vec<Layer> = (0..3)
            .map(|_| Layer {
                seq: rng.below(1 << 20),
                ts: rng.next_u64() as u32,
                keyframe_due: false,
            })
            .collect();
        let mut o = Oracle::default();
        // Everything each layer produced, for RTX repairs: (in seq, ts).
        let mut produced: Vec<Vec<(u64, u32)>> = vec![Vec::new(), Vec::new(), Vec::new()];
        let mut delayed: Vec<SourcePacket> = Vec::new();

        let mut now = t0();
        for frame in 0..frames {
            now += Duration::from_millis(33);
            // The SFU changes its mind now and then and asks for a keyframe of the new target.
            if rng.chance(3) {
                rw.switch_to(rng.below(3) as u8);
                o.target = rw.target_layer();
                if let Some(l) = o.target {
                    layers[l as usize].keyframe_due = true;
                }
            }
            for l in 0..3u8 {
                let layer = &mut layers[l as usize];
                // Keyframes: on request (sometimes delayed a few frames), and periodically.
                let key = (layer.keyframe_due && rng.chance(40)) || frame % 150 == u64::from(l) * 7;
                if key {
                    layer.keyframe_due = false;
                }
                layer.ts = layer.ts.wrapping_add(3000);
                let packets = 1 + rng.below(if key { 6 } else { 3 });
                for i in 0..packets {
                    let p = pkt(l, layer.seq, layer.ts, now, key && i == 0);
                    layer.seq += 1;
                    produced[l as usize].push((p.seq, p.timestamp));
                    if rng.chance(3) {
                        continue; // lost
                    }
                    if rng.chance(5) {
                        delayed.push(p); // reordered: arrives a little later
                        continue;
                    }
                    let r = rw.rewrite(&p);
                    o.check(&p, r);
                    if rng.chance(2) {
                        let again = rw.rewrite(&p);
                        assert_eq!(seq_ts(r), seq_ts(again), "duplicate maps the same");
                    }
                }
            }
            // Deliver some delayed packets, with a later arrival time.
            while !delayed.is_empty() && rng.chance(60) {
                let i = rng.below(delayed.len() as u64) as usize;
                let mut p = delayed.swap_remove(i);
                p.arrival = now;
                let r = rw.rewrite(&p);
                o.check(&p, r);
            }
            // Late RTX repairs of random recent packets of any layer.
            if rng.chance(20) {
                let l = rng.below(3) as usize;
                let n = produced[l].len();
                if n > 0 {
                    let back = rng.below(n.min(300) as u64) as usize;
                    let (seq, ts) = produced[l][n - 1 - back];
                    let p = pkt(l as u8, seq, ts, now, false);
                    let r = rw.rewrite(&p);
                    o.check(&p, r);
                }
            }
            assert_eq!(rw.current_layer(), o.current);
            assert_eq!(rw.max_seq(), o.max_out);
            assert_eq!(rw.newest_timestamp(), o.newest_ts);
        }
        assert!(
            o.epochs_started > 10,
            "seed {seed}: the session switched layers ({})",
            o.epochs_started
        );
        // Every outgoing number the rewriter can still trace maps back to what was sent.
        let mut traced = 0;
        for (out, who) in &o.by_out {
            if let Some(orig) = rw.original(*out) {
                assert_eq!(orig, *who);
                traced += 1;
            }
        }
        assert!(traced > 0);
    }
}
