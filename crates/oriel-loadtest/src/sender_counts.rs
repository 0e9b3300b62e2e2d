//! What the participants sent, summed from their [`ClientCounters`], and how it enters the
//! report: the same for `oriel load-test` and the Janus generator of `bench/`.

use oriel_client::ClientCounters;

use crate::run::Report;

/// The senders' counters summed at one moment.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct SenderCounts {
    pub rtp_sent: u64,
    pub keyframe_requests_received: u64,
    pub plis_sent: u64,
    pub frames_skipped: u64,
}

impl SenderCounts {
    pub fn sum<'a>(counters: impl IntoIterator<Item = &'a ClientCounters>) -> Self {
        counters.into_iter().fold(Self::default(), |total, c| Self {
            rtp_sent: total.rtp_sent + ClientCounters::get(&c.rtp_sent),
            keyframe_requests_received: total.keyframe_requests_received
                + ClientCounters::get(&c.keyframe_requests_received),
            plis_sent: total.plis_sent + ClientCounters::get(&c.plis_sent),
            frames_skipped: total.frames_skipped + ClientCounters::get(&c.frames_skipped),
        })
    }
}

impl Report {
    /// The sending side: packets sent and frames skipped over the window (`before` to
    /// `after`), keyframe requests and PLIs over the whole run.
    pub fn with_sending(self, before: SenderCounts, after: SenderCounts) -> Self {
        Self {
            packets_sent: after.rtp_sent.saturating_sub(before.rtp_sent),
            keyframe_requests_received: after.keyframe_requests_received,
            plis_sent: after.plis_sent,
            publisher_frames_skipped: after.frames_skipped.saturating_sub(before.frames_skipped),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn sums_every_sender_and_reports_the_window_for_packets_and_skips() {
        let (a, b) = (ClientCounters::default(), ClientCounters::default());
        a.rtp_sent.store(10, Ordering::Relaxed);
        b.rtp_sent.store(5, Ordering::Relaxed);
        b.frames_skipped.store(2, Ordering::Relaxed);
        let before = SenderCounts::sum([&a, &b]);
        assert_eq!(before.rtp_sent, 15);
        a.rtp_sent.store(40, Ordering::Relaxed);
        a.plis_sent.store(3, Ordering::Relaxed);
        b.frames_skipped.store(7, Ordering::Relaxed);
        let report = Report::default().with_sending(before, SenderCounts::sum([&a, &b]));
        assert_eq!(report.packets_sent, 30, "only what the window added");
        assert_eq!(report.publisher_frames_skipped, 5);
        assert_eq!(report.plis_sent, 3, "PLIs count over the whole run");
    }
}
