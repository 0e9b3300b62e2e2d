//! [`PlayoutDelay`]: how long a subscriber's browser should hold video before playing it, so that
//! packets lost on the way can still be repaired in time.
//!
//! A browser sizes its jitter buffer from the jitter of arriving frames. Repairs by
//! retransmission (NACK) come at least a round trip late and are left out of that estimate, and
//! a browser that only receives (a subscriber connection) learns no round-trip time to add. On a
//! lossy link it then plays the next frame before the repair of the one before can arrive, drops
//! the damaged frame and stops asking for its packets: the viewer sees the frame rate fall and
//! the picture stutter. The SFU sees both the loss (the browser's receiver reports) and the round
//! trip (its own RTCP), so while a link loses packets it asks for a minimum playout delay (the
//! playout-delay RTP header extension) long enough for a repair: `rtt_multiplier` round trips
//! plus a margin, within `floor..=ceiling`. Once the link has been clean for `hold` the minimum
//! goes back to zero, so a clean link never pays for it in latency.

use std::time::{Duration, Instant};

/// Thresholds of a [`PlayoutDelay`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayoutDelayConfig {
    /// A report with a larger share of packets lost marks the link lossy. Default 0.5 %.
    pub loss_threshold: f32,
    /// How long after the last lossy report the delay stays. Default 10 s.
    pub hold: Duration,
    /// Round trips a repair may take (a NACK that is itself lost needs a second one). Default 2.
    pub rtt_multiplier: u32,
    /// Added for the sender's reaction and the browser's decoding. Default 50 ms.
    pub margin: Duration,
    /// The least delay asked for while lossy. Default 120 ms.
    pub floor: Duration,
    /// The most delay ever asked for: latency a call still bears. Default 400 ms.
    pub ceiling: Duration,
}

impl Default for PlayoutDelayConfig {
    fn default() -> Self {
        Self {
            loss_threshold: 0.005,
            hold: Duration::from_secs(10),
            rtt_multiplier: 2,
            margin: Duration::from_millis(50),
            floor: Duration::from_millis(120),
            ceiling: Duration::from_millis(400),
        }
    }
}

/// The minimum playout delay for one subscriber connection. Fixed size.
#[derive(Debug, Clone)]
pub struct PlayoutDelay {
    config: PlayoutDelayConfig,
    /// Until when the link counts as lossy.
    lossy_until: Option<Instant>,
    /// The largest round trip reported while lossy.
    rtt: Duration,
}

impl Default for PlayoutDelay {
    fn default() -> Self {
        Self::new(PlayoutDelayConfig::default())
    }
}

impl PlayoutDelay {
    /// A clean link, with these thresholds.
    pub fn new(config: PlayoutDelayConfig) -> Self {
        Self {
            config,
            lossy_until: None,
            rtt: Duration::ZERO,
        }
    }

    /// One report about the link: the round trip, if known, and the share of packets the
    /// browser found missing (before repairs), if it said.
    pub fn on_report(&mut self, now: Instant, rtt: Option<Duration>, loss: Option<f32>) {
        let clean = self.lossy_until.is_none_or(|until| now >= until);
        if loss.is_some_and(|loss| loss > self.config.loss_threshold) {
            if clean {
                self.rtt = Duration::ZERO;
            }
            self.lossy_until = Some(now + self.config.hold);
        }
        if let Some(rtt) = rtt {
            // While lossy the delay follows the worst round trip; it is recomputed fresh
            // the next time the link turns lossy.
            self.rtt = self.rtt.max(rtt);
        }
    }

    /// The minimum playout delay to ask for now: zero on a clean link.
    pub fn min_delay(&self, now: Instant) -> Duration {
        match self.lossy_until {
            Some(until) if now < until => (self.rtt * self.config.rtt_multiplier
                + self.config.margin)
                .clamp(self.config.floor, self.config.ceiling),
            _ => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::t0;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_clean_link_asks_for_nothing() {
        let start = t0();
        let mut delay = PlayoutDelay::default();
        assert_eq!(delay.min_delay(start), Duration::ZERO);
        delay.on_report(start, Some(ms(80)), Some(0.0));
        delay.on_report(start + ms(1000), Some(ms(300)), None);
        assert_eq!(delay.min_delay(start + ms(1000)), Duration::ZERO);
    }

    #[test]
    fn loss_asks_for_two_round_trips_and_a_margin_within_bounds() {
        let start = t0();
        let mut delay = PlayoutDelay::default();
        delay.on_report(start, Some(ms(90)), Some(0.05));
        assert_eq!(delay.min_delay(start), ms(230));
        // A longer round trip while lossy raises it, up to the ceiling.
        delay.on_report(start + ms(1000), Some(ms(500)), Some(0.0));
        assert_eq!(delay.min_delay(start + ms(1000)), ms(400));
        // A short one never goes under the floor.
        let mut near = PlayoutDelay::default();
        near.on_report(start, Some(ms(5)), Some(0.02));
        assert_eq!(near.min_delay(start), ms(120));
    }

    #[test]
    fn the_delay_holds_after_the_last_loss_then_lifts() {
        let start = t0();
        let mut delay = PlayoutDelay::default();
        delay.on_report(start, Some(ms(100)), Some(0.03));
        delay.on_report(start + ms(4000), Some(ms(100)), Some(0.01));
        // Clean reports from then on: lossy until 10 s after the last lossy one.
        delay.on_report(start + ms(5000), Some(ms(100)), Some(0.0));
        assert_eq!(delay.min_delay(start + ms(13_999)), ms(250));
        assert_eq!(delay.min_delay(start + ms(14_000)), Duration::ZERO);
        // The next lossy spell starts from its own round trip, not the old worst one.
        delay.on_report(start + ms(20_000), Some(ms(40)), Some(0.02));
        assert_eq!(delay.min_delay(start + ms(20_000)), ms(130));
    }

    #[test]
    fn loss_at_the_threshold_is_not_lossy() {
        let start = t0();
        let mut delay = PlayoutDelay::default();
        delay.on_report(start, Some(ms(100)), Some(0.005));
        assert_eq!(delay.min_delay(start), Duration::ZERO);
    }
}
