//! [`allocate`]: one subscriber's bandwidth estimate shared among the videos it receives, by
//! priority.
//!
//! Splitting the estimate evenly starves what matters most when the link is short: a screen
//! share of slides gets the same share as a thumbnail. The allocator instead
//!
//! 1. gives every video its lowest flowing layer, in priority order, while the estimate lasts
//!    (a video that cannot get even that gets what is left, and its [`crate::LayerSelector`]
//!    keeps it on the lowest layer);
//! 2. then, again in priority order, raises each video to the highest layer the rest of the
//!    estimate pays for;
//! 3. and spreads what is still left evenly, as headroom: a [`crate::LayerSelector`] moves up
//!    only when its budget exceeds the next layer by a margin.
//!
//! Each video's result is the budget its [`crate::LayerSelector`] picks a layer from, so the
//! selectors' hysteresis still applies. Priorities are the caller's: Oriel ranks screen shares
//! first, then the active speaker, then everyone else. Ties keep the callers' order.

/// One video to receive: its priority (higher first) and the bitrate of each of its layers,
/// lowest first, 0 for a layer that does not flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand<'a> {
    /// Higher is served first.
    pub priority: u8,
    /// Bits per second of each layer, lowest first; 0 for a layer that does not flow.
    pub layer_bitrates: &'a [u64],
}

/// Writes into `budgets` (cleared first) the share of `estimate_bps` of each of `demands`, in
/// their order. Allocates only `budgets`' growth and a small index buffer: for a subscriber's
/// few videos, at the pace of estimate updates, never per packet.
pub fn allocate(estimate_bps: u64, demands: &[Demand<'_>], budgets: &mut Vec<u64>) {
    budgets.clear();
    budgets.resize(demands.len(), 0);
    if demands.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(demands[i].priority));
    let mut left = estimate_bps;
    // 1. The lowest flowing layer for everyone, most important first.
    for &i in &order {
        let lowest = demands[i]
            .layer_bitrates
            .iter()
            .copied()
            .find(|&bps| bps > 0)
            .unwrap_or(0);
        let grant = lowest.min(left);
        budgets[i] += grant;
        left -= grant;
    }
    // 2. Upgrades, most important first, each to the highest layer the rest pays for.
    for &i in &order {
        let affordable = budgets[i] + left;
        let best = demands[i]
            .layer_bitrates
            .iter()
            .copied()
            .filter(|&bps| bps > 0 && bps <= affordable)
            .max()
            .unwrap_or(0);
        if best > budgets[i] {
            left -= best - budgets[i];
            budgets[i] = best;
        }
    }
    // 3. Headroom, evenly.
    let share = left / demands.len() as u64;
    let mut remainder = left - share * demands.len() as u64;
    for &i in &order {
        budgets[i] += share;
        if remainder > 0 {
            budgets[i] += remainder;
            remainder = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAMERA: [u64; 3] = [150_000, 500_000, 1_500_000];

    fn run(estimate: u64, demands: &[Demand<'_>]) -> Vec<u64> {
        let mut budgets = Vec::new();
        allocate(estimate, demands, &mut budgets);
        assert!(
            budgets.iter().sum::<u64>() <= estimate,
            "never more than the estimate: {budgets:?}"
        );
        budgets
    }

    #[test]
    fn one_video_gets_the_whole_estimate() {
        let camera = Demand {
            priority: 0,
            layer_bitrates: &CAMERA,
        };
        assert_eq!(run(900_000, &[camera]), vec![900_000]);
        assert_eq!(run(100_000, &[camera]), vec![100_000]);
    }

    #[test]
    fn a_screen_share_is_served_before_the_cameras() {
        let camera = Demand {
            priority: 0,
            layer_bitrates: &CAMERA,
        };
        let share = Demand {
            priority: 2,
            layer_bitrates: &[1_200_000],
        };
        // 1.6 Mbit/s: both cameras get their lowest layer, the share gets its one layer, and
        // the 100 kbit/s left is spread.
        let budgets = run(1_600_000, &[camera, share, camera]);
        assert_eq!(budgets, vec![183_333, 1_233_334, 183_333]);
        // An even split would have given the share 533 kbit/s: not enough for its layer.
    }

    #[test]
    fn the_active_speaker_is_raised_first() {
        let others = Demand {
            priority: 0,
            layer_bitrates: &CAMERA,
        };
        let speaker = Demand {
            priority: 1,
            layer_bitrates: &CAMERA,
        };
        let budgets = run(2_000_000, &[others, others, speaker]);
        // 450 k for three lowest layers; the speaker's top layer takes 1.35 M more; 200 k left.
        assert_eq!(budgets[2], 1_500_000 + 66_668);
        assert_eq!(budgets[0], 150_000 + 66_666);
        assert_eq!(budgets[1], 150_000 + 66_666);
    }

    #[test]
    fn short_of_every_lowest_layer_the_most_important_come_first() {
        let camera = Demand {
            priority: 0,
            layer_bitrates: &CAMERA,
        };
        let speaker = Demand {
            priority: 1,
            layer_bitrates: &CAMERA,
        };
        assert_eq!(run(200_000, &[camera, speaker]), vec![50_000, 150_000]);
    }

    #[test]
    fn layers_that_do_not_flow_are_skipped() {
        // The publisher paused its top layer; a video sending nothing at all needs nothing.
        let paused_top = Demand {
            priority: 0,
            layer_bitrates: &[150_000, 500_000, 0],
        };
        let silent = Demand {
            priority: 0,
            layer_bitrates: &[0, 0, 0],
        };
        assert_eq!(
            run(3_000_000, &[paused_top, silent]),
            vec![1_750_000, 1_250_000]
        );
        let mut budgets = vec![7];
        allocate(1_000, &[], &mut budgets);
        assert!(budgets.is_empty());
    }
}
