//! [`LayerSelector`]: which simulcast layer one Consumer should receive.
//!
//! Inputs, on every call: the subscriber's bandwidth estimate (bits/s, from str0m's BWE), the
//! measured bitrate of each layer the Producer sends (from one [`crate::BitrateMeter`] per layer;
//! 0 means the layer is not being sent), and the subscriber's *preferred* maximum layer. Output:
//! the *target* layer, which the Consumer passes to [`crate::StreamRewriter::switch_to`].
//!
//! Rules (hysteresis, so a noisy estimate does not flap between layers, each flap costing a
//! keyframe):
//!
//! - Only layers that are being sent and are at most the preferred layer are candidates. If no
//!   such layer is being sent, the lowest layer that is sent is the only candidate. If nothing
//!   is sent at all, the target stays what it was.
//! - The first choice (and a re-choice when the target stops being a candidate) is the highest
//!   candidate whose bitrate fits the estimate, or the lowest candidate if none fits.
//! - **Down, immediately**, when the estimate falls below `down_percent` (90 %) of the target's
//!   bitrate: to the highest lower candidate that fits, or the lowest candidate.
//! - **Up, slowly**, to the highest candidate whose bitrate times `up_percent` (120 %) has stayed
//!   below the estimate for `up_hold` (2 s). "Stayed" is judged at the calls: call
//!   [`LayerSelector::select`] regularly (on every estimate update, or every few hundred ms).

use std::time::{Duration, Instant};

use crate::MAX_LAYERS;

/// Thresholds of a [`LayerSelector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSelectorConfig {
    /// Go up to a layer only when the estimate exceeds this percentage of its bitrate.
    /// Default 120.
    pub up_percent: u32,
    /// ... and has done so for this long. Default 2 s.
    pub up_hold: Duration,
    /// Go down as soon as the estimate is below this percentage of the target's bitrate.
    /// Default 90.
    pub down_percent: u32,
}

impl Default for LayerSelectorConfig {
    fn default() -> Self {
        Self {
            up_percent: 120,
            up_hold: Duration::from_secs(2),
            down_percent: 90,
        }
    }
}

/// Picks the target simulcast layer for one Consumer, with hysteresis. Fixed size.
///
/// Layers are indices into the bitrate slice, 0 the lowest; only the first [`MAX_LAYERS`]
/// are considered.
#[derive(Debug, Clone)]
pub struct LayerSelector {
    config: LayerSelectorConfig,
    target: Option<u8>,
    /// Since when each layer has continuously satisfied the "up" condition.
    fits_since: [Option<Instant>; MAX_LAYERS],
}

impl Default for LayerSelector {
    fn default() -> Self {
        Self::new(LayerSelectorConfig::default())
    }
}

impl LayerSelector {
    /// A selector with no target yet.
    pub fn new(config: LayerSelectorConfig) -> Self {
        Self {
            config,
            target: None,
            fits_since: [None; MAX_LAYERS],
        }
    }

    /// The target chosen by the last [`Self::select`].
    pub fn target(&self) -> Option<u8> {
        self.target
    }

    /// Forgets the target and the hysteresis state (for example when the Consumer is paused).
    pub fn reset(&mut self) {
        self.target = None;
        self.fits_since = [None; MAX_LAYERS];
    }

    /// Chooses the target layer.
    ///
    /// - `estimate_bps`: the bandwidth available for this Consumer, in bits/s.
    /// - `layer_bitrates`: measured bits/s of each layer, index 0 the lowest; 0 = not sent.
    /// - `preferred_max`: the highest layer the subscriber wants (`u8::MAX` for no limit).
    ///
    /// Returns `None` only while no layer has ever been chosen and none is being sent.
    pub fn select(
        &mut self,
        estimate_bps: u64,
        layer_bitrates: &[u64],
        preferred_max: u8,
        now: Instant,
    ) -> Option<u8> {
        let rates = &layer_bitrates[..layer_bitrates.len().min(MAX_LAYERS)];
        let sent = |l: usize| rates.get(l).is_some_and(|&b| b > 0);
        let within_preference = |l: usize| l <= usize::from(preferred_max) && sent(l);
        let lowest_sent = (0..rates.len()).find(|&l| sent(l));
        let Some(lowest_sent) = lowest_sent else {
            // Nothing is being sent: keep whatever we had.
            self.fits_since = [None; MAX_LAYERS];
            return self.target;
        };
        let candidate = |l: usize| {
            if (0..rates.len()).any(within_preference) {
                within_preference(l)
            } else {
                l == lowest_sent
            }
        };
        let lowest_candidate = (0..rates.len())
            .find(|&l| candidate(l))
            .unwrap_or(lowest_sent);
        let fits = |l: usize| rates[l] <= estimate_bps;
        // The highest candidate below `limit` that fits the estimate.
        let highest_fitting_below = |limit: usize| {
            (0..limit.min(rates.len()))
                .rev()
                .find(|&l| candidate(l) && fits(l))
        };

        // Track how long each layer has satisfied the up condition.
        for (l, since) in self.fits_since.iter_mut().enumerate() {
            let up_ok = l < rates.len()
                && candidate(l)
                && u128::from(estimate_bps) * 100
                    > u128::from(rates[l]) * u128::from(self.config.up_percent);
            if up_ok {
                since.get_or_insert(now);
            } else {
                *since = None;
            }
        }

        let target = match self.target.map(usize::from) {
            // First choice, or re-choice when the target is no longer a candidate: no hysteresis,
            // but never higher than the old target.
            None => highest_fitting_below(MAX_LAYERS).unwrap_or(lowest_candidate),
            Some(t) if t >= rates.len() || !candidate(t) => {
                highest_fitting_below(t).unwrap_or(lowest_candidate)
            }
            Some(t) => {
                let below_down = u128::from(estimate_bps) * 100
                    < u128::from(rates[t]) * u128::from(self.config.down_percent);
                if below_down {
                    highest_fitting_below(t).unwrap_or(lowest_candidate)
                } else {
                    let hold = self.config.up_hold;
                    (t + 1..rates.len())
                        .rev()
                        .find(|&l| {
                            self.fits_since[l]
                                .is_some_and(|since| now.saturating_duration_since(since) >= hold)
                        })
                        .unwrap_or(t)
                }
            }
        };
        // `target < MAX_LAYERS`, which fits a u8.
        self.target = Some(target as u8);
        self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{t0, Rng};

    const RATES: [u64; 3] = [150_000, 500_000, 1_500_000];
    const ANY: u8 = u8::MAX;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nothing_sent_means_no_target() {
        let mut s = LayerSelector::default();
        assert_eq!(s.select(1_000_000, &[], ANY, t0()), None);
        assert_eq!(s.select(1_000_000, &[0, 0, 0], ANY, t0()), None);
        assert_eq!(s.target(), None);
    }

    #[test]
    fn first_choice_is_the_highest_that_fits() {
        let t = t0();
        for (estimate, want) in [
            (0, 0),
            (100_000, 0),
            (150_000, 0),
            (499_999, 0),
            (500_000, 1),
            (1_499_999, 1),
            (1_500_000, 2),
            (50_000_000, 2),
        ] {
            let mut s = LayerSelector::default();
            assert_eq!(
                s.select(estimate, &RATES, ANY, t),
                Some(want),
                "estimate {estimate}"
            );
        }
    }

    #[test]
    fn preferred_max_caps_the_choice() {
        let t = t0();
        let mut s = LayerSelector::default();
        assert_eq!(s.select(10_000_000, &RATES, 1, t), Some(1));
        assert_eq!(
            s.select(10_000_000, &RATES, 0, t + ms(100)),
            Some(0),
            "lowered: down at once"
        );
        // Raised again: up only after the hold time.
        assert_eq!(s.select(10_000_000, &RATES, 2, t + ms(200)), Some(0));
        assert_eq!(s.select(10_000_000, &RATES, 2, t + ms(2100)), Some(0));
        assert_eq!(
            s.select(10_000_000, &RATES, 2, t + ms(2200)),
            Some(2),
            "straight to the top"
        );
    }

    #[test]
    fn goes_down_immediately_below_ninety_percent() {
        let t = t0();
        let mut s = LayerSelector::default();
        assert_eq!(s.select(2_000_000, &RATES, ANY, t), Some(2));
        // 90 % of 1.5 Mbit/s is 1.35 Mbit/s: at the threshold we stay.
        assert_eq!(s.select(1_350_000, &RATES, ANY, t + ms(10)), Some(2));
        assert_eq!(s.select(1_349_999, &RATES, ANY, t + ms(20)), Some(1));
        // Far below everything: lowest.
        assert_eq!(s.select(10_000, &RATES, ANY, t + ms(30)), Some(0));
        // Still lowest: nothing else to do.
        assert_eq!(s.select(0, &RATES, ANY, t + ms(40)), Some(0));
    }

    #[test]
    fn down_skips_layers_that_do_not_fit() {
        let t = t0();
        let mut s = LayerSelector::default();
        assert_eq!(s.select(2_000_000, &RATES, ANY, t), Some(2));
        assert_eq!(s.select(300_000, &RATES, ANY, t + ms(10)), Some(0));
    }

    #[test]
    fn goes_up_only_after_two_seconds_above_120_percent() {
        let t = t0();
        let mut s = LayerSelector::default();
        assert_eq!(s.select(200_000, &RATES, ANY, t), Some(0));
        // 120 % of 500 kbit/s = 600 kbit/s: exactly at it does not count.
        assert_eq!(s.select(600_000, &RATES, ANY, t + ms(100)), Some(0));
        assert_eq!(s.select(600_001, &RATES, ANY, t + ms(200)), Some(0));
        assert_eq!(s.select(650_000, &RATES, ANY, t + ms(1200)), Some(0));
        assert_eq!(s.select(650_000, &RATES, ANY, t + ms(2199)), Some(0));
        assert_eq!(s.select(650_000, &RATES, ANY, t + ms(2200)), Some(1));
    }

    #[test]
    fn a_dip_restarts_the_hold() {
        let t = t0();
        let mut s = LayerSelector::default();
        s.select(200_000, &RATES, ANY, t);
        s.select(700_000, &RATES, ANY, t + ms(100));
        s.select(700_000, &RATES, ANY, t + ms(1500));
        // One sample at 110 %: not enough, the clock restarts.
        assert_eq!(s.select(550_000, &RATES, ANY, t + ms(1600)), Some(0));
        assert_eq!(s.select(700_000, &RATES, ANY, t + ms(1700)), Some(0));
        assert_eq!(s.select(700_000, &RATES, ANY, t + ms(3600)), Some(0));
        assert_eq!(s.select(700_000, &RATES, ANY, t + ms(3700)), Some(1));
    }

    #[test]
    fn climbs_to_the_highest_layer_that_held() {
        let t = t0();
        let mut s = LayerSelector::default();
        s.select(100_000, &RATES, ANY, t);
        // Enough for layer 1 from 100 ms, for layer 2 only from 1 s.
        s.select(700_000, &RATES, ANY, t + ms(100));
        s.select(2_000_000, &RATES, ANY, t + ms(1000));
        assert_eq!(s.select(2_000_000, &RATES, ANY, t + ms(2100)), Some(1));
        assert_eq!(s.select(2_000_000, &RATES, ANY, t + ms(2900)), Some(1));
        assert_eq!(s.select(2_000_000, &RATES, ANY, t + ms(3000)), Some(2));
    }

    #[test]
    fn no_flapping_in_the_hysteresis_band() {
        let t = t0();
        let mut s = LayerSelector::default();
        assert_eq!(s.select(520_000, &RATES, ANY, t), Some(1));
        // Between 90 % and 120 % of layer 1 and below layer 2: stays at 1 forever.
        let mut rng = Rng::new(1);
        for i in 1..1000 {
            let e = 450_000 + rng.below(150_000);
            assert_eq!(s.select(e, &RATES, ANY, t + ms(i * 100)), Some(1));
        }
    }

    #[test]
    fn layer_that_stops_is_left_at_once() {
        let t = t0();
        let mut s = LayerSelector::default();
        assert_eq!(s.select(5_000_000, &RATES, ANY, t), Some(2));
        // The publisher stopped sending layer 2 (its own congestion).
        assert_eq!(
            s.select(5_000_000, &[150_000, 500_000, 0], ANY, t + ms(100)),
            Some(1)
        );
        // When it comes back, it must hold for 2 s like any climb.
        assert_eq!(s.select(5_000_000, &RATES, ANY, t + ms(200)), Some(1));
        assert_eq!(s.select(5_000_000, &RATES, ANY, t + ms(2200)), Some(2));
    }

    #[test]
    fn only_higher_layers_sent_takes_the_lowest_sent() {
        let t = t0();
        let mut s = LayerSelector::default();
        // The subscriber wants layer 0, which is not sent: take the lowest that is.
        assert_eq!(s.select(5_000_000, &[0, 500_000, 1_500_000], 0, t), Some(1));
        // The low layer returns: go there at once (the target is no longer a candidate).
        assert_eq!(s.select(5_000_000, &RATES, 0, t + ms(100)), Some(0));
    }

    #[test]
    fn lowest_layer_missing_with_low_estimate() {
        let t = t0();
        let mut s = LayerSelector::default();
        assert_eq!(s.select(10_000, &[0, 500_000, 1_500_000], ANY, t), Some(1));
        assert_eq!(
            s.select(10_000, &[0, 500_000, 1_500_000], ANY, t + ms(100)),
            Some(1)
        );
    }

    #[test]
    fn everything_stops_keeps_the_target() {
        let t = t0();
        let mut s = LayerSelector::default();
        assert_eq!(s.select(5_000_000, &RATES, ANY, t), Some(2));
        assert_eq!(s.select(5_000_000, &[0, 0, 0], ANY, t + ms(100)), Some(2));
        // It comes back; the target is still a candidate and still fits.
        assert_eq!(s.select(5_000_000, &RATES, ANY, t + ms(200)), Some(2));
    }

    #[test]
    fn reset_forgets() {
        let t = t0();
        let mut s = LayerSelector::default();
        s.select(5_000_000, &RATES, ANY, t);
        s.reset();
        assert_eq!(s.target(), None);
        assert_eq!(s.select(200_000, &RATES, ANY, t), Some(0));
    }

    #[test]
    fn more_layers_than_max_are_ignored() {
        let t = t0();
        let mut s = LayerSelector::default();
        let rates = [100, 200, 300, 400, 500, 600];
        assert_eq!(
            s.select(u64::MAX, &rates, ANY, t),
            Some(MAX_LAYERS as u8 - 1)
        );
    }

    #[test]
    fn custom_thresholds() {
        let t = t0();
        let mut s = LayerSelector::new(LayerSelectorConfig {
            up_percent: 100,
            up_hold: Duration::ZERO,
            down_percent: 100,
        });
        assert_eq!(s.select(499_999, &RATES, ANY, t), Some(0));
        assert_eq!(s.select(500_001, &RATES, ANY, t), Some(1));
        assert_eq!(s.select(499_999, &RATES, ANY, t), Some(0));
    }

    /// Random estimates and layer availability: the target is always a candidate, never above
    /// the preference unless nothing within it is sent, a climb always had 2 s of headroom
    /// history, and a drop happens only below 90 % (or when the layer disappears).
    #[test]
    fn property_invariants() {
        for seed in 0..50 {
            let mut rng = Rng::new(seed);
            let mut s = LayerSelector::default();
            let t = t0();
            let mut now = t;
            let mut prev: Option<u8> = None;
            let mut estimate: u64 = 1_000_000;
            let mut history: Vec<(Instant, u64)> = Vec::new();
            let mut rates = RATES;
            let mut preferred = ANY;
            for _ in 0..5_000 {
                now += ms(50 + rng.below(300));
                estimate = (estimate as i64 + rng.below(400_001) as i64 - 200_000)
                    .clamp(0, 3_000_000) as u64;
                let rates_changed = rng.chance(2);
                if rates_changed {
                    rates = [
                        if rng.chance(90) { RATES[0] } else { 0 },
                        if rng.chance(80) { RATES[1] } else { 0 },
                        if rng.chance(80) { RATES[2] } else { 0 },
                    ];
                }
                let pref_changed = rng.chance(1);
                if pref_changed {
                    preferred = [0, 1, 2, ANY][rng.below(4) as usize];
                }
                history.push((now, estimate));
                let got = s.select(estimate, &rates, preferred, now);
                if rates.iter().all(|&r| r == 0) {
                    assert_eq!(got, prev);
                    history.clear();
                    continue;
                }
                let g = got.unwrap() as usize;
                assert!(rates[g] > 0, "seed {seed}: target is sent");
                let any_within = (0..3).any(|l| l <= preferred as usize && rates[l] > 0);
                if any_within {
                    assert!(g <= preferred as usize, "seed {seed}: preference respected");
                } else {
                    assert_eq!(g, rates.iter().position(|&r| r > 0).unwrap());
                }
                if let Some(p) = prev.map(usize::from) {
                    if g > p && !rates_changed && !pref_changed && rates[p] > 0 {
                        // A climb: the estimate stayed above 120 % for the last 2 s of samples.
                        let since = now - Duration::from_secs(2);
                        let window: Vec<_> =
                            history.iter().filter(|(at, _)| *at >= since).collect();
                        assert!(
                            window.iter().all(|(_, e)| e * 100 > rates[g] * 120),
                            "seed {seed}: early climb"
                        );
                    }
                    if g < p && !rates_changed && !pref_changed && rates[p] > 0 {
                        assert!(estimate * 100 < rates[p] * 90, "seed {seed}: needless drop");
                    }
                }
                prev = got;
            }
        }
    }
}
