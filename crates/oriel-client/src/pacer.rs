//! The send pacer of a publisher's video, as every WebRTC sender has one.
//!
//! An encoder hands a whole frame over at once (a keyframe of the top layer is some twenty
//! packets), but a browser does not put it on the wire in one burst: Chrome's paced sender
//! lets packets out at 2.5 times the target bitrate, so a frame is spread over a few
//! milliseconds and a keyframe over tens of them. Audio skips the queue. Without this, a load
//! generator sends bursts that no real client sends and measures its own burstiness.
//!
//! A leaky bucket: the queue drains in order at the pacing rate, with a small
//! allowance for a late wake-up so that the average rate holds. A packet that has waited longer
//! than [`MAX_QUEUE_TIME`] (a starved task) leaves at once, as Chrome's pacer speeds up rather
//! than let its queue grow.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use str0m::media::{Mid, Pt, Rid};

/// How far behind `now` the bucket may be when a packet leaves: what a late wake-up may send
/// in one go to keep the average rate.
const LATE_ALLOWANCE: Duration = Duration::from_millis(2);
/// Past this wait in the queue, packets leave without pacing.
pub const MAX_QUEUE_TIME: Duration = Duration::from_millis(200);
/// Chrome's pacing factor: packets leave at this multiple of the media's target bitrate.
pub const PACING_FACTOR: f64 = 2.5;

/// One RTP packet waiting to be sent.
#[derive(Debug)]
pub struct PacedPacket {
    pub mid: Mid,
    pub rid: Option<Rid>,
    pub pt: Pt,
    pub seq: u64,
    pub rtp_time: u32,
    pub marker: bool,
    /// When the frame was captured (str0m uses it for sender reports).
    pub captured_at: Instant,
    pub payload: Vec<u8>,
    /// Where the send stamp sits in `payload`, to be written as the packet leaves.
    pub stamp_offset: usize,
}

#[derive(Debug)]
pub struct Pacer {
    rate_bytes_per_second: f64,
    queue: VecDeque<(Instant, PacedPacket)>,
    /// When the bucket has drained what already left.
    free_at: Option<Instant>,
}

impl Pacer {
    /// A pacer for media whose target is `bitrate_bps` in all.
    pub fn new(bitrate_bps: u64) -> Self {
        Self {
            rate_bytes_per_second: (bitrate_bps as f64 * PACING_FACTOR / 8.0).max(1_000.0),
            queue: VecDeque::new(),
            free_at: None,
        }
    }

    pub fn push(&mut self, now: Instant, packet: PacedPacket) {
        self.queue.push_back((now, packet));
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// When the next packet may leave, if one is waiting.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (queued_at, _) = self.queue.front()?;
        let paced = self.free_at.unwrap_or(*queued_at).max(*queued_at);
        Some(paced.min(*queued_at + MAX_QUEUE_TIME))
    }

    /// The next packet allowed to leave at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<PacedPacket> {
        let due = self.poll_timeout()?;
        if due > now {
            return None;
        }
        let (_, packet) = self.queue.pop_front()?;
        let floor = now.checked_sub(LATE_ALLOWANCE).unwrap_or(now);
        let start = self.free_at.map_or(now, |free| free.max(floor));
        let cost =
            Duration::from_secs_f64(packet.payload.len() as f64 / self.rate_bytes_per_second);
        self.free_at = Some(start + cost);
        Some(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(bytes: usize, at: Instant) -> PacedPacket {
        PacedPacket {
            mid: Mid::from("1"),
            rid: None,
            pt: Pt::from(96),
            seq: 0,
            rtp_time: 0,
            marker: false,
            captured_at: at,
            payload: vec![0; bytes],
            stamp_offset: 0,
        }
    }

    #[test]
    fn spreads_a_burst_at_the_pacing_rate() {
        let t0 = Instant::now();
        // 400 kbit/s target: 125,000 bytes/s paced, so 1,000 bytes every 8 ms.
        let mut pacer = Pacer::new(400_000);
        for _ in 0..5 {
            pacer.push(t0, packet(1_000, t0));
        }
        let mut sent_at = Vec::new();
        let mut now = t0;
        while pacer.len() > 0 {
            now = pacer.poll_timeout().unwrap().max(now);
            while pacer.pop_due(now).is_some() {
                sent_at.push(now - t0);
            }
        }
        let ms: Vec<u128> = sent_at.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![0, 8, 16, 24, 32]);
    }

    #[test]
    fn a_late_wake_up_catches_up_only_a_little() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(400_000);
        for _ in 0..10 {
            pacer.push(t0, packet(1_000, t0));
        }
        assert!(pacer.pop_due(t0).is_some());
        // Woken 30 ms late: one packet leaves, not the backlog of the missed 30 ms.
        let late = t0 + Duration::from_millis(38);
        let mut burst = 0;
        while pacer.pop_due(late).is_some() {
            burst += 1;
        }
        assert_eq!(burst, 1);
    }

    #[test]
    fn a_starved_queue_drains_at_once() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(8_000);
        for _ in 0..4 {
            pacer.push(t0, packet(1_000, t0));
        }
        let later = t0 + MAX_QUEUE_TIME;
        let mut sent = 0;
        while pacer.pop_due(later).is_some() {
            sent += 1;
        }
        assert_eq!(sent, 4);
        assert_eq!(pacer.poll_timeout(), None);
    }
}
