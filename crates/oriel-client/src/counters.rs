//! Counters a client keeps while it runs, readable from any thread without locking.

use std::sync::atomic::{AtomicU64, Ordering};

/// What one client sent and received. All counts are cumulative; reads are relaxed, so a
/// snapshot taken while the client runs may be a packet or two behind.
#[derive(Debug, Default)]
pub struct ClientCounters {
    /// RTP packets written by the publisher's media sources (before SRTP).
    pub rtp_sent: AtomicU64,
    /// Their payload bytes.
    pub rtp_payload_bytes_sent: AtomicU64,
    /// RTP packets received on subscriber peer connections.
    pub rtp_received: AtomicU64,
    /// Their payload bytes.
    pub rtp_payload_bytes_received: AtomicU64,
    /// UDP datagrams received and sent on the client's sockets.
    pub datagrams_received: AtomicU64,
    pub datagrams_sent: AtomicU64,
    /// Datagrams that could not be sent (socket error).
    pub send_errors: AtomicU64,
    /// Keyframes the publisher produced (periodic and requested).
    pub keyframes_sent: AtomicU64,
    /// PLI/FIR the publisher received.
    pub keyframe_requests_received: AtomicU64,
    /// PLIs the subscriber sent while it had no keyframe to start from.
    pub plis_sent: AtomicU64,
    /// Media writes skipped because str0m had no send stream (not negotiated yet).
    pub unwritable: AtomicU64,
    /// Audio and video frames the publisher's sources skipped because they ran more than
    /// 200 ms behind their schedule: the process lacked CPU, so it sent less than asked.
    pub frames_skipped: AtomicU64,
}

impl ClientCounters {
    pub fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn record_sent(&self, payload_bytes: usize) {
        self.rtp_sent.fetch_add(1, Ordering::Relaxed);
        self.rtp_payload_bytes_sent
            .fetch_add(payload_bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn record_received(&self, payload_bytes: usize) {
        self.rtp_received.fetch_add(1, Ordering::Relaxed);
        self.rtp_payload_bytes_received
            .fetch_add(payload_bytes as u64, Ordering::Relaxed);
    }
}
