//! What a media worker has done, for `/metrics`: the worker counts in plain integers on its own
//! thread (nothing shared per packet) and publishes them to [`WorkerMeters`] once per wake-up,
//! where a scrape reads them.

use std::sync::atomic::{AtomicU64, Ordering};

/// A worker's own counts, updated per datagram.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MediaTotals {
    pub datagrams_in: u64,
    pub bytes_in: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    /// Datagrams that no space of the worker took (stray, or for a connection gone).
    pub datagrams_unrouted: u64,
    /// Keyframe requests (PLI) the SFU sent to publishers for its subscribers.
    pub keyframe_requests: u64,
    /// ICE-TCP frames dropped: the connection's send queue was full, or it was gone.
    pub tcp_frames_dropped: u64,
    /// NACKs subscribers sent, and packets they reported lost (before repair).
    pub nacks_received: u64,
    pub packets_lost_reported: u64,
    /// Gauge: the sum of the bandwidth estimates towards every subscriber, bits per second.
    pub egress_estimate_bps: u64,
    /// Gauges: spaces and connections on the worker now.
    pub spaces: u64,
    pub connections: u64,
    /// ICE-TCP connections open on the worker now.
    pub tcp_connections: u64,
    /// Packets of a spread space not relayed to another worker because it was too far behind.
    pub relayed_packets_dropped: u64,
}

impl MediaTotals {
    /// Sums several workers' totals.
    pub fn add(&mut self, other: &Self) {
        self.datagrams_in += other.datagrams_in;
        self.bytes_in += other.bytes_in;
        self.datagrams_out += other.datagrams_out;
        self.bytes_out += other.bytes_out;
        self.datagrams_unrouted += other.datagrams_unrouted;
        self.keyframe_requests += other.keyframe_requests;
        self.spaces += other.spaces;
        self.connections += other.connections;
        self.tcp_frames_dropped += other.tcp_frames_dropped;
        self.nacks_received += other.nacks_received;
        self.packets_lost_reported += other.packets_lost_reported;
        self.egress_estimate_bps += other.egress_estimate_bps;
        self.tcp_connections += other.tcp_connections;
        self.relayed_packets_dropped += other.relayed_packets_dropped;
    }
}

/// The last totals a worker published.
#[derive(Debug, Default)]
pub struct WorkerMeters {
    values: [AtomicU64; 14],
}

impl WorkerMeters {
    pub(crate) fn publish(&self, totals: &MediaTotals) {
        let values = [
            totals.datagrams_in,
            totals.bytes_in,
            totals.datagrams_out,
            totals.bytes_out,
            totals.datagrams_unrouted,
            totals.keyframe_requests,
            totals.spaces,
            totals.connections,
            totals.tcp_frames_dropped,
            totals.tcp_connections,
            totals.nacks_received,
            totals.packets_lost_reported,
            totals.egress_estimate_bps,
            totals.relayed_packets_dropped,
        ];
        for (slot, value) in self.values.iter().zip(values) {
            slot.store(value, Ordering::Relaxed);
        }
    }

    pub fn read(&self) -> MediaTotals {
        let [datagrams_in, bytes_in, datagrams_out, bytes_out, datagrams_unrouted, keyframe_requests, spaces, connections, tcp_frames_dropped, tcp_connections, nacks_received, packets_lost_reported, egress_estimate_bps, relayed_packets_dropped] =
            self.values.each_ref().map(|v| v.load(Ordering::Relaxed));
        MediaTotals {
            datagrams_in,
            bytes_in,
            datagrams_out,
            bytes_out,
            datagrams_unrouted,
            keyframe_requests,
            spaces,
            connections,
            tcp_frames_dropped,
            tcp_connections,
            nacks_received,
            packets_lost_reported,
            egress_estimate_bps,
            relayed_packets_dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_totals_read_back_and_sum() {
        let meters = WorkerMeters::default();
        let a = MediaTotals {
            datagrams_in: 1,
            bytes_in: 2,
            datagrams_out: 3,
            bytes_out: 4,
            datagrams_unrouted: 5,
            keyframe_requests: 6,
            spaces: 7,
            connections: 8,
            tcp_frames_dropped: 9,
            tcp_connections: 10,
            nacks_received: 11,
            packets_lost_reported: 12,
            egress_estimate_bps: 13,
            relayed_packets_dropped: 14,
        };
        meters.publish(&a);
        assert_eq!(meters.read(), a);
        let mut sum = a;
        sum.add(&a);
        assert_eq!(sum.bytes_out, 8);
        assert_eq!(sum.connections, 16);
    }
}
