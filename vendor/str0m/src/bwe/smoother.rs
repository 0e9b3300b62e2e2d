use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::rtp_::Bitrate;

/// Time window for averaging estimate changes.
const ESTIMATE_WINDOW: Duration = Duration::from_secs(3);

type TimeBitrate = (Instant, Bitrate);

const TOLERANCE: f64 = 0.05;

/// Smooths BWE estimates by averaging over a time window.
///
/// Only increases are smoothed. A decrease means the link already carries less than what is
/// being sent: averaging it with the higher estimates before it would keep the application
/// sending too much for seconds (a 3 s window takes over a second to follow a link that shrank
/// from 2.6 to 0.4 Mbit/s), and every packet of that excess is queued or lost. So a decrease
/// below the smoothed value restarts the window at the new estimate and is emitted at once.
pub struct EstimateSmoother {
    estimates: VecDeque<TimeBitrate>,
    maybe_emit: bool,
    emitted: Option<Bitrate>,
}

impl EstimateSmoother {
    pub fn new() -> Self {
        Self {
            estimates: VecDeque::new(),
            maybe_emit: false,
            emitted: None,
        }
    }

    /// Record a new estimate and update the smoothed average.
    pub fn record(&mut self, now: Instant, estimate: Bitrate) {
        // Did value change from previous?
        let do_update = self.estimates.back().map(|b| b.1) != Some(estimate);

        if do_update {
            self.maybe_emit = true;
            if self.average().is_some_and(|avg| estimate < avg * (1.0 - TOLERANCE)) {
                self.estimates.clear();
            }
            self.estimates.push_back((now, estimate));
        }

        // Remove entries older than the window.
        while let Some((time, _)) = self.estimates.front() {
            if now.duration_since(*time) > ESTIMATE_WINDOW {
                // Keep last entry
                if self.estimates.len() == 1 {
                    break;
                }

                self.maybe_emit = true;
                self.estimates.pop_front();
            } else {
                break;
            }
        }
    }

    /// Record an estimate a probe just measured.
    ///
    /// Averaging is there for the estimator's small steps up and down; a probe measures what the
    /// link carried. An application held below what it wants (an SFU on a lower simulcast layer
    /// after its subscriber's link came back) would otherwise see a probe-proven increase only
    /// as the 3 s window slides, seconds late. So an increase a probe measured restarts the
    /// window at the new estimate and is emitted at once; its own decisions have hysteresis.
    pub fn measured(&mut self, now: Instant, estimate: Bitrate) {
        if self.average().is_some_and(|avg| estimate > avg) {
            self.estimates.clear();
            self.estimates.push_back((now, estimate));
            self.maybe_emit = true;
        }
    }

    /// Poll for an estimate to emit. Returns Some only when there's a new value to emit.
    pub fn poll(&mut self) -> Option<Bitrate> {
        if !self.maybe_emit {
            return None;
        }

        if self.estimates.is_empty() {
            return None;
        }

        let Some(rate) = self.average() else {
            return None;
        };

        // This forces emitting if we have the first ever value, or a last
        // where the rest of the window is gone (estimates stop coming).
        let force = self.estimates.len() == 1 && self.emitted != Some(rate);

        // Emit if we deviate enough from previously emitted.
        let deviate = if let Some(emitted) = self.emitted {
            !in_tolerance(emitted, rate)
        } else {
            true
        };

        self.maybe_emit = false;

        // Are we not to emit?
        if !force && !deviate {
            return None;
        }

        self.emitted = Some(rate);
        Some(rate)
    }
}

impl EstimateSmoother {
    /// The mean of the estimates in the window.
    fn average(&self) -> Option<Bitrate> {
        if self.estimates.is_empty() {
            return None;
        }
        let total: f64 = self.estimates.iter().map(|b| b.1.as_f64()).sum();
        Some((total / self.estimates.len() as f64).into())
    }
}

fn in_tolerance(b1: Bitrate, b2: Bitrate) -> bool {
    let min = b1 * (1.0 - TOLERANCE);
    let max = b1 * (1.0 + TOLERANCE);
    b2 > min && b2 < max
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn an_increase_a_probe_measured_is_emitted_at_once() {
        let now = Instant::now();
        let mut smoother = EstimateSmoother::new();
        for i in 0..10 {
            smoother.record(now + Duration::from_millis(100 * i), Bitrate::kbps(300 + i));
        }
        let _ = smoother.poll();
        let at = now + Duration::from_secs(1);
        // Averaged with the rest of the window, an estimator's increase shows a third of it ...
        let mut averaged = EstimateSmoother::new();
        averaged.record(now, Bitrate::kbps(300));
        averaged.record(now + Duration::from_millis(500), Bitrate::kbps(310));
        averaged.record(at, Bitrate::kbps(2000));
        assert!(averaged.poll().unwrap() < Bitrate::kbps(1000));
        // ... a measured one all of it.
        smoother.measured(at, Bitrate::kbps(2000));
        smoother.record(at, Bitrate::kbps(2000));
        assert_eq!(smoother.poll(), Some(Bitrate::kbps(2000)));
        // A lower measurement leaves the average alone (decreases have their own rule).
        smoother.measured(at, Bitrate::kbps(1000));
        assert_eq!(smoother.poll(), None);
    }
}
