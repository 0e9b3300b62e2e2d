//! What a simulated subscriber observed, and the checks the scenarios make on it.
//!
//! Two vantage points per subscriber:
//!
//! * [`RecvTrack`]: the RTP packets its subscriber `Rtc` (RTP mode) handed up, after SRTP,
//!   after RTX repair (str0m unwraps RTX to the original sequence number and drops
//!   duplicates), in arrival order;
//! * [`WireLog`]: the clear RTP headers of every datagram the SFU emitted towards it, in send
//!   order, *before* the downlink lost or queued anything. SRTP leaves the header readable, so
//!   this shows what the SFU's rewriter produced, independently of the network.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use str0m::media::{MediaKind, Mid};

use super::media::{Probe, Vp8Info};

#[derive(Clone, Debug)]
pub struct RecvPacket {
    pub at: Instant,
    /// str0m's extended sequence number (no 16-bit wrap).
    pub seq: u64,
    pub timestamp: u32,
    pub marker: bool,
    pub ssrc: u32,
    pub audio_level: Option<i8>,
    pub probe: Option<Probe>,
    pub vp8: Option<Vp8Info>,
}

/// One m-line of a subscriber PC: one consumer of the SFU.
#[derive(Clone, Debug)]
pub struct RecvTrack {
    pub mid: Mid,
    pub kind: MediaKind,
    /// The msid stream id, which the SDK maps to the publisher's track id.
    pub stream_id: String,
    /// Turned inactive by a later offer (the consumer was removed).
    pub inactive: bool,
    pub packets: Vec<RecvPacket>,
    /// A keyframe arrived, so the decoder can run.
    pub decodable: bool,
    pub last_pli: Option<Instant>,
    /// Keyframe requests this subscriber sent for the track.
    pub plis: u32,
}

impl RecvTrack {
    /// The publishing client, from the payload probes.
    pub fn source(&self) -> Option<u8> {
        self.packets.iter().find_map(|p| p.probe.map(|p| p.source))
    }

    pub fn packets_since(&self, since: Instant) -> usize {
        self.packets.iter().filter(|p| p.at >= since).count()
    }

    /// Packets delivered twice (str0m drops those, so any count here is a str0m matter).
    pub fn duplicates(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        self.packets.iter().filter(|p| !seen.insert(p.seq)).count()
    }

    /// `(received, expected)` distinct sequence numbers between the first one received and
    /// the highest one received before `until` (later ones may still be under repair).
    pub fn completeness(&self, until: Instant) -> (usize, usize) {
        let seqs: std::collections::BTreeSet<u64> = self.packets.iter().map(|p| p.seq).collect();
        let Some(&first) = seqs.first() else {
            return (0, 0);
        };
        let Some(last) = self
            .packets
            .iter()
            .filter(|p| p.at < until)
            .map(|p| p.seq)
            .max()
        else {
            return (0, 0);
        };
        let received = seqs.range(first..=last).count();
        (received, (last - first + 1) as usize)
    }

    /// The forwarded simulcast layer over time: one entry per change, in arrival order of the
    /// original (non-repaired) packets.
    pub fn layer_changes(&self) -> Vec<(Instant, u8)> {
        let mut changes: Vec<(Instant, u8)> = Vec::new();
        let mut max_seq = None;
        for packet in &self.packets {
            // Repairs of older packets arrive late and would flap the timeline.
            if max_seq.is_some_and(|m| packet.seq < m) {
                continue;
            }
            max_seq = Some(packet.seq);
            let Some(probe) = packet.probe else { continue };
            if changes.last().is_none_or(|(_, l)| *l != probe.layer) {
                changes.push((packet.at, probe.layer));
            }
        }
        changes
    }

    /// The layer of the newest packet.
    pub fn current_layer(&self) -> Option<u8> {
        self.packets.last().and_then(|p| p.probe.map(|p| p.layer))
    }

    /// What a decoder would object to, in sequence-number order: timestamps going backwards,
    /// a frame whose packets disagree on the picture id, and picture ids that do not advance
    /// by exactly one from a frame to the next (checked where no packet is missing between
    /// the two frames; across a hole they must still advance, by less than the hole).
    pub fn continuity_violations(&self) -> Vec<String> {
        let mut by_seq: BTreeMap<u64, &RecvPacket> = BTreeMap::new();
        for packet in &self.packets {
            by_seq.entry(packet.seq).or_insert(packet);
        }
        let mut violations = Vec::new();
        let mut previous: Option<&RecvPacket> = None;
        // (timestamp, picture id) of the previous frame seen.
        let mut frame: Option<(u32, Option<u16>)> = None;
        for packet in by_seq.values() {
            if let Some(prev) = previous {
                let adjacent = packet.seq == prev.seq + 1;
                let ts_delta = packet.timestamp.wrapping_sub(prev.timestamp);
                if ts_delta > u32::MAX / 2 {
                    violations.push(format!(
                        "timestamp went back from {} (seq {}) to {} (seq {})",
                        prev.timestamp, prev.seq, packet.timestamp, packet.seq
                    ));
                }
                let picture_id = packet.vp8.and_then(|v| v.picture_id);
                if let (Some((frame_ts, frame_pid)), Some(pid)) = (frame, picture_id) {
                    if frame_ts == packet.timestamp {
                        if frame_pid.is_some_and(|f| f != pid) {
                            violations.push(format!(
                                "picture id {pid} at seq {} differs within frame ts {frame_ts} \
                                 ({frame_pid:?})",
                                packet.seq
                            ));
                        }
                    } else if let Some(frame_pid) = frame_pid {
                        let step = pid.wrapping_sub(frame_pid) & 0x7fff;
                        let hole = packet.seq - prev.seq;
                        let ok = if adjacent {
                            step == 1
                        } else {
                            step >= 1 && u64::from(step) <= hole
                        };
                        if !ok {
                            violations.push(format!(
                                "picture id went {frame_pid} -> {pid} at seq {} \
                                 (after seq {}, {} missing between)",
                                packet.seq,
                                prev.seq,
                                hole - 1
                            ));
                        }
                    }
                }
            }
            if packet.starts_new_frame(frame) {
                frame = Some((packet.timestamp, packet.vp8.and_then(|v| v.picture_id)));
            }
            previous = Some(packet);
        }
        violations
    }
}

impl RecvPacket {
    /// Whether this packet starts a new frame relative to `frame` (a new timestamp).
    fn starts_new_frame(&self, frame: Option<(u32, Option<u16>)>) -> bool {
        self.vp8.is_some() && frame.is_none_or(|(ts, _)| ts != self.timestamp)
    }
}

/// A clear RTP header the SFU sent.
#[derive(Clone, Copy, Debug)]
pub struct WirePacket {
    pub at: Instant,
    pub seq: u16,
    pub timestamp: u32,
    pub payload_type: u8,
    /// The whole datagram (SRTP), in bytes.
    pub len: usize,
}

/// The SFU's RTP output towards one client, per SSRC, in send order.
#[derive(Default, Debug)]
pub struct WireLog {
    pub by_ssrc: HashMap<u32, Vec<WirePacket>>,
}

impl WireLog {
    /// Records a datagram if it is RTP (not STUN, DTLS or RTCP).
    pub fn record(&mut self, at: Instant, datagram: &[u8]) {
        let Some(header) = datagram.get(..12) else {
            return;
        };
        // RFC 7983: RTP/RTCP starts with 128..=191; RFC 5761: RTCP types 192..=223.
        let is_rtp = (128..=191).contains(&header[0]) && !(64..=95).contains(&(header[1] & 0x7f));
        if !is_rtp {
            return;
        }
        let ssrc = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        self.by_ssrc.entry(ssrc).or_default().push(WirePacket {
            at,
            seq: u16::from_be_bytes([header[2], header[3]]),
            timestamp: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
            payload_type: header[1] & 0x7f,
            len: datagram.len(),
        });
    }

    /// Places where the SFU's sequence numbers on `ssrc` did not go up by exactly one from a
    /// packet to the next one it sent: `(previous, next)`.
    pub fn seq_jumps(&self, ssrc: u32) -> Vec<(u16, u16)> {
        let Some(packets) = self.by_ssrc.get(&ssrc) else {
            return Vec::new();
        };
        packets
            .windows(2)
            .filter(|w| w[1].seq != w[0].seq.wrapping_add(1))
            .map(|w| (w[0].seq, w[1].seq))
            .collect()
    }

    /// Sequence numbers the SFU sent more than once on `ssrc` (retransmissions belong on
    /// the RTX SSRC, never on the media one).
    pub fn duplicate_seqs(&self, ssrc: u32) -> usize {
        let Some(packets) = self.by_ssrc.get(&ssrc) else {
            return 0;
        };
        let mut seen = std::collections::HashSet::new();
        packets.iter().filter(|p| !seen.insert(p.seq)).count()
    }

    /// Bits per second the SFU sent in `[from, to)`, over all SSRCs: `(media, other)` where
    /// media is the SSRCs in `media` and other is everything else (RTX, padding, probes).
    pub fn bitrates(&self, media: &[u32], from: Instant, to: Instant) -> (u64, u64) {
        let secs = (to - from).as_secs_f64().max(1e-9);
        let (mut media_bytes, mut other_bytes) = (0usize, 0usize);
        for (ssrc, packets) in &self.by_ssrc {
            let bytes: usize = packets
                .iter()
                .filter(|p| p.at >= from && p.at < to)
                .map(|p| p.len)
                .sum();
            if media.contains(ssrc) {
                media_bytes += bytes;
            } else {
                other_bytes += bytes;
            }
        }
        let bps = |bytes: usize| (bytes as f64 * 8.0 / secs) as u64;
        (bps(media_bytes), bps(other_bytes))
    }

    /// Timestamps that went backwards from one packet to the next the SFU sent on `ssrc`.
    pub fn timestamp_regressions(&self, ssrc: u32) -> usize {
        let Some(packets) = self.by_ssrc.get(&ssrc) else {
            return 0;
        };
        packets
            .windows(2)
            .filter(|w| w[1].timestamp.wrapping_sub(w[0].timestamp) > u32::MAX / 2)
            .count()
    }
}
