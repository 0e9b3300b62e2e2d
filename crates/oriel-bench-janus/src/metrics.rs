//! What subscribers measure, counted exactly as `oriel load-test` counts it (same histogram
//! buckets, same loss rule), so that the two tools' numbers can be compared.
//!
//! * **Packets:** every RTP packet str0m hands a subscriber (retransmissions included).
//! * **Loss:** per SSRC, every sequence number between the first and the highest seen was
//!   expected; late packets count as received without moving the highest.
//! * **Delay:** socket read minus the send stamp the publisher wrote into the payload
//!   ([`oriel_client::stamp`]; one process, one monotonic clock).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use oriel_client::stamp;
use oriel_client::str0m::media::MediaKind;
use oriel_loadtest::{Histogram, HistogramSnapshot};

/// Totals over every subscriber.
#[derive(Default)]
pub struct Metrics {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub audio_packets: AtomicU64,
    pub video_packets: AtomicU64,
    pub expected: AtomicU64,
    pub unstamped: AtomicU64,
    pub delay: Histogram,
    pub audio_delay: Histogram,
    pub video_delay: Histogram,
}

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub packets: u64,
    pub bytes: u64,
    pub audio_packets: u64,
    pub video_packets: u64,
    pub expected: u64,
    pub unstamped: u64,
    pub delay: HistogramSnapshot,
    pub audio_delay: HistogramSnapshot,
    pub video_delay: HistogramSnapshot,
}

impl Metrics {
    pub fn snapshot(&self) -> Snapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            packets: get(&self.packets),
            bytes: get(&self.bytes),
            audio_packets: get(&self.audio_packets),
            video_packets: get(&self.video_packets),
            expected: get(&self.expected),
            unstamped: get(&self.unstamped),
            delay: self.delay.snapshot(),
            audio_delay: self.audio_delay.snapshot(),
            video_delay: self.video_delay.snapshot(),
        }
    }
}

impl Snapshot {
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            packets: self.packets.saturating_sub(earlier.packets),
            bytes: self.bytes.saturating_sub(earlier.bytes),
            audio_packets: self.audio_packets.saturating_sub(earlier.audio_packets),
            video_packets: self.video_packets.saturating_sub(earlier.video_packets),
            expected: self.expected.saturating_sub(earlier.expected),
            unstamped: self.unstamped.saturating_sub(earlier.unstamped),
            delay: self.delay.since(&earlier.delay),
            audio_delay: self.audio_delay.since(&earlier.audio_delay),
            video_delay: self.video_delay.since(&earlier.video_delay),
        }
    }

    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.packets)
    }

    pub fn loss_ratio(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            self.lost() as f64 / self.expected as f64
        }
    }
}

/// One received RTP packet, as a subscriber's probe sees it.
pub struct Received<'a> {
    pub kind: MediaKind,
    pub ssrc: u32,
    /// Extended sequence number.
    pub seq: u64,
    pub payload: &'a [u8],
    /// When the datagram was read from the socket.
    pub arrival: Instant,
}

/// One subscriber's measuring state.
pub struct Probe {
    metrics: Arc<Metrics>,
    /// (ssrc, highest extended sequence number) of every stream seen.
    streams: Vec<(u32, u64)>,
    /// Arrival of the first media packet, on the stamp clock (0: none yet).
    first_media: Arc<AtomicU64>,
}

impl Probe {
    pub fn new(metrics: Arc<Metrics>, first_media: Arc<AtomicU64>) -> Self {
        Self {
            metrics,
            streams: Vec::new(),
            first_media,
        }
    }

    pub fn on_packet(&mut self, packet: &Received<'_>) {
        let m = &self.metrics;
        m.packets.fetch_add(1, Ordering::Relaxed);
        m.bytes
            .fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
        match packet.kind {
            MediaKind::Audio => m.audio_packets.fetch_add(1, Ordering::Relaxed),
            MediaKind::Video => m.video_packets.fetch_add(1, Ordering::Relaxed),
        };
        match self
            .streams
            .iter_mut()
            .find(|(ssrc, _)| *ssrc == packet.ssrc)
        {
            Some((_, highest)) => {
                if packet.seq > *highest {
                    m.expected
                        .fetch_add(packet.seq - *highest, Ordering::Relaxed);
                    *highest = packet.seq;
                }
            }
            None => {
                m.expected.fetch_add(1, Ordering::Relaxed);
                self.streams.push((packet.ssrc, packet.seq));
            }
        }
        match stamp::read(packet.kind, packet.payload) {
            Some(sent_at) => {
                let delay = packet.arrival.saturating_duration_since(sent_at);
                let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
                m.delay.record_micros(micros);
                match packet.kind {
                    MediaKind::Audio => m.audio_delay.record_micros(micros),
                    MediaKind::Video => m.video_delay.record_micros(micros),
                }
            }
            None => {
                m.unstamped.fetch_add(1, Ordering::Relaxed);
            }
        }
        if self.first_media.load(Ordering::Relaxed) == 0 {
            self.first_media.store(
                stamp::nanos_since_epoch(packet.arrival).max(1),
                Ordering::Relaxed,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles() {
        let h = Histogram::default();
        for us in [5, 15, 25, 35, 45, 55, 65, 75, 85, 30_000] {
            h.record_micros(us);
        }
        let s = h.snapshot();
        assert_eq!(s.quantile_ms(0.5), Some(0.05));
        assert_eq!(s.quantile_ms(0.99), Some(31.0));
        assert_eq!(s.max_ms(), Some(31.0));
    }

    #[test]
    fn loss_from_sequence_gaps() {
        let metrics = Arc::new(Metrics::default());
        let mut probe = Probe::new(Arc::clone(&metrics), Arc::new(AtomicU64::new(0)));
        let now = Instant::now();
        for seq in [10, 11, 13, 14, 12] {
            probe.on_packet(&Received {
                kind: MediaKind::Audio,
                ssrc: 7,
                seq,
                payload: &[0x78, 0, 0],
                arrival: now,
            });
        }
        let s = metrics.snapshot();
        assert_eq!(s.packets, 5);
        assert_eq!(s.expected, 5);
        assert_eq!(s.lost(), 0);
        assert_eq!(s.unstamped, 5);
    }
}
