//! What subscribers measure, shared by all of them: lock-free counters and a delay histogram.
//!
//! Each subscriber's [`Probe`] runs inside its client task and updates the shared atomics per
//! packet (a handful of relaxed increments). Snapshots taken at the start and end of the
//! measurement window give steady-state numbers by difference.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use oriel_client::str0m::media::MediaKind;
use oriel_client::{stamp, MediaSink, ReceivedPacket};

/// Delay buckets: 10 µs wide up to 20 ms, then 1 ms wide up to 2 s, then one overflow bucket.
const FINE_US: u64 = 10;
const FINE_BUCKETS: u64 = 2_000;
const COARSE_US: u64 = 1_000;
const COARSE_BUCKETS: u64 = 1_980;
const BUCKETS: usize = (FINE_BUCKETS + COARSE_BUCKETS + 1) as usize;

pub struct Histogram {
    buckets: Vec<AtomicU64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

fn bucket_of(micros: u64) -> usize {
    let fine_end = FINE_US * FINE_BUCKETS;
    if micros < fine_end {
        (micros / FINE_US) as usize
    } else {
        let coarse = ((micros - fine_end) / COARSE_US).min(COARSE_BUCKETS);
        (FINE_BUCKETS + coarse) as usize
    }
}

/// Upper edge of a bucket, in milliseconds.
fn bucket_ms(index: usize) -> f64 {
    let index = index as u64;
    let micros = if index < FINE_BUCKETS {
        (index + 1) * FINE_US
    } else {
        FINE_US * FINE_BUCKETS + (index - FINE_BUCKETS + 1) * COARSE_US
    };
    micros as f64 / 1000.0
}

impl Histogram {
    pub fn record_micros(&self, micros: u64) {
        self.buckets[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot(
            self.buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
        )
    }
}

#[derive(Clone, Debug, Default)]
pub struct HistogramSnapshot(Vec<u64>);

impl HistogramSnapshot {
    pub fn since(&self, earlier: &Self) -> Self {
        Self(
            self.0
                .iter()
                .enumerate()
                .map(|(i, n)| n.saturating_sub(earlier.0.get(i).copied().unwrap_or(0)))
                .collect(),
        )
    }

    pub fn count(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The upper edge of the bucket holding quantile `q` (0..=1), in ms; `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
        let mut seen = 0;
        for (index, n) in self.0.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(bucket_ms(index));
            }
        }
        None
    }

    /// p50, p95, p99 and max, in ms.
    pub fn percentiles(&self) -> crate::run::Percentiles {
        crate::run::Percentiles {
            p50: self.quantile_ms(0.50),
            p95: self.quantile_ms(0.95),
            p99: self.quantile_ms(0.99),
            max: self.max_ms(),
        }
    }

    pub fn max_ms(&self) -> Option<f64> {
        self.0.iter().rposition(|n| *n > 0).map(bucket_ms)
    }
}

/// Totals over every subscriber.
#[derive(Default)]
pub struct Metrics {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub audio_packets: AtomicU64,
    pub video_packets: AtomicU64,
    /// Packets the subscribers should have had, from the sequence numbers they saw.
    pub expected: AtomicU64,
    /// Packets that carried no readable send stamp.
    pub unstamped: AtomicU64,
    pub delay: Histogram,
    pub audio_delay: Histogram,
    pub video_delay: Histogram,
}

/// A point-in-time copy of [`Metrics`].
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

/// One subscriber's measuring sink.
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
}

impl MediaSink for Probe {
    fn on_packet(&mut self, packet: &ReceivedPacket<'_>) {
        self.record(&Received {
            kind: packet.kind,
            ssrc: packet.ssrc,
            seq: packet.seq,
            payload_len: packet.payload.len(),
            arrival: packet.arrival,
            sent_at: packet.sent_at,
        });
    }
}

/// One received RTP packet, as a [`Probe`] counts it.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub kind: MediaKind,
    pub ssrc: u32,
    /// Extended sequence number.
    pub seq: u64,
    pub payload_len: usize,
    /// When it reached the host (the kernel's receive time when known).
    pub arrival: Instant,
    /// The publisher's send stamp, if the payload carries one ([`stamp::read`]).
    pub sent_at: Option<Instant>,
}

impl Probe {
    /// Counts one packet: for generators that do not go through `oriel-client`'s sessions.
    pub fn record(&mut self, packet: &Received) {
        let m = &self.metrics;
        m.packets.fetch_add(1, Ordering::Relaxed);
        m.bytes
            .fetch_add(packet.payload_len as u64, Ordering::Relaxed);
        match packet.kind {
            MediaKind::Audio => m.audio_packets.fetch_add(1, Ordering::Relaxed),
            MediaKind::Video => m.video_packets.fetch_add(1, Ordering::Relaxed),
        };
        // Loss: every sequence number between the first and the highest seen was expected.
        // Late (retransmitted) packets count as received without moving the highest.
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
        match packet.sent_at {
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

/// Percentiles of a list of milliseconds.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
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
        assert_eq!(s.count(), 10);
        assert_eq!(s.quantile_ms(0.5), Some(0.05));
        assert_eq!(s.quantile_ms(0.9), Some(0.09));
        assert_eq!(s.quantile_ms(0.99), Some(31.0));
        assert_eq!(s.max_ms(), Some(31.0));
        h.record_micros(u64::MAX);
        assert_eq!(h.snapshot().since(&s).count(), 1);
        assert_eq!(HistogramSnapshot::default().quantile_ms(0.5), None);
    }

    #[test]
    fn loss_from_sequence_gaps() {
        let metrics = Arc::new(Metrics::default());
        let mut probe = Probe::new(Arc::clone(&metrics), Arc::new(AtomicU64::new(0)));
        let now = Instant::now();
        // 12 arrives late: received, and it does not move the highest.
        for seq in [10, 11, 13, 14, 12] {
            probe.record(&Received {
                kind: MediaKind::Audio,
                ssrc: 7,
                seq,
                payload_len: 3,
                arrival: now,
                sent_at: None,
            });
        }
        // A gap of two on another stream.
        for seq in [100, 103] {
            probe.record(&Received {
                kind: MediaKind::Video,
                ssrc: 8,
                seq,
                payload_len: 1000,
                arrival: now,
                sent_at: Some(now),
            });
        }
        let s = metrics.snapshot();
        assert_eq!(s.packets, 7);
        assert_eq!(s.expected, 9);
        assert_eq!(s.lost(), 2);
        assert_eq!((s.audio_packets, s.video_packets), (5, 2));
        assert_eq!(s.unstamped, 5);
        assert_eq!(s.video_delay.count(), 2);
    }

    #[test]
    fn percentiles_of_lists() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), Some(2.0));
        assert_eq!(percentile(&v, 0.99), Some(4.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
