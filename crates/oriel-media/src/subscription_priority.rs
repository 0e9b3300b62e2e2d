//! Which participants a subscriber receives automatically when it can take at most N.
//!
//! Mux Spaces lets a subscriber auto-subscribe to a bounded number of participants. Which ones
//! matter most, in order:
//!
//! 1. those sharing their screen,
//! 2. then those who spoke most recently (anyone who spoke ranks above anyone who never did),
//! 3. then those with at least one unmuted track,
//! 4. then those who joined earliest.
//!
//! The choice must not churn: every change costs subscription signalling and a keyframe. So a
//! participant already chosen keeps its place unless a candidate with *strictly* higher priority
//! wants it; between equals the incumbent wins. Equivalently: rank everyone by (priority,
//! incumbent first, then input order) and take the first N.
//!
//! [`choose`] allocates nothing beyond growing the caller's output vector, which the caller
//! should reuse. It is O(N × candidates × current), fine for the control-plane rate at which it
//! runs (when someone joins, leaves, speaks, mutes or shares).

use std::cmp::Ordering;
use std::time::Instant;

/// What [`choose`] knows about one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<K> {
    /// The participant.
    pub key: K,
    /// It is sharing its screen.
    pub is_screensharing: bool,
    /// When it was last among the active speakers, if ever.
    pub last_spoke_at: Option<Instant>,
    /// At least one of its tracks is unmuted.
    pub has_unmuted_tracks: bool,
    /// When it joined the space.
    pub joined_at: Instant,
}

/// Orders two candidates by priority alone: `Greater` means `a` should be preferred over `b`.
/// `Equal` means neither is strictly preferred (then the incumbent wins in [`choose`]).
pub fn compare_priority<K>(a: &Candidate<K>, b: &Candidate<K>) -> Ordering {
    a.is_screensharing
        .cmp(&b.is_screensharing)
        // None < Some(earlier) < Some(later).
        .then(a.last_spoke_at.cmp(&b.last_spoke_at))
        .then(a.has_unmuted_tracks.cmp(&b.has_unmuted_tracks))
        // Earlier joined ranks higher.
        .then(b.joined_at.cmp(&a.joined_at))
}

/// Chooses at most `limit` participants from `candidates` to subscribe to, given the `current`
/// choice, and writes them to `out` (cleared first), highest priority first.
///
/// A current participant that is no longer among the candidates is dropped. A current one that
/// is still a candidate is replaced only by a candidate of strictly higher priority (see
/// [`compare_priority`]). Duplicate keys among the candidates are chosen once (the first, in
/// priority order).
pub fn choose<K: Copy + Eq>(
    candidates: &[Candidate<K>],
    current: &[K],
    limit: usize,
    out: &mut Vec<K>,
) {
    out.clear();
    // `better(i, j)`: candidate i comes strictly before candidate j in the total order
    // (priority, incumbent, lower index).
    let better = |i: usize, j: usize| -> bool {
        let (a, b) = (&candidates[i], &candidates[j]);
        compare_priority(a, b)
            .then_with(|| current.contains(&a.key).cmp(&current.contains(&b.key)))
            .then(j.cmp(&i))
            == Ordering::Greater
    };
    // Selection in order: each round takes the best candidate strictly after the last one taken.
    let mut last: Option<usize> = None;
    while out.len() < limit {
        let mut best: Option<usize> = None;
        for i in 0..candidates.len() {
            if last.is_some_and(|l| !better(l, i)) {
                continue;
            }
            if best.is_none_or(|b| better(i, b)) {
                best = Some(i);
            }
        }
        let Some(b) = best else {
            break;
        };
        last = Some(b);
        let key = candidates[b].key;
        if !out.contains(&key) {
            out.push(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{t0, Rng};
    use std::time::Duration;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn cand(key: u32, base: Instant, joined: u64) -> Candidate<u32> {
        Candidate {
            key,
            is_screensharing: false,
            last_spoke_at: None,
            has_unmuted_tracks: false,
            joined_at: base + secs(joined),
        }
    }

    fn run(c: &[Candidate<u32>], current: &[u32], limit: usize) -> Vec<u32> {
        let mut out = Vec::new();
        choose(c, current, limit, &mut out);
        out
    }

    #[test]
    fn priority_order() {
        let t = t0();
        let mut c = vec![
            cand(1, t, 1), // earliest joined only
            Candidate {
                has_unmuted_tracks: true,
                ..cand(2, t, 5)
            }, // unmuted
            Candidate {
                last_spoke_at: Some(t + secs(50)),
                ..cand(3, t, 9)
            }, // spoke long ago
            Candidate {
                last_spoke_at: Some(t + secs(90)),
                ..cand(4, t, 9)
            }, // spoke recently
            Candidate {
                is_screensharing: true,
                ..cand(5, t, 20)
            }, // sharing
            cand(6, t, 0), // joined first of all
        ];
        assert_eq!(run(&c, &[], 10), vec![5, 4, 3, 2, 6, 1]);
        assert_eq!(run(&c, &[], 2), vec![5, 4]);
        assert_eq!(run(&c, &[], 0), Vec::<u32>::new());
        // Speaking beats unmuted, even for a muted participant who spoke.
        c[2].has_unmuted_tracks = false;
        assert_eq!(run(&c, &[], 4), vec![5, 4, 3, 2]);
    }

    #[test]
    fn compare_priority_is_antisymmetric() {
        let t = t0();
        let a = Candidate {
            has_unmuted_tracks: true,
            ..cand(1, t, 5)
        };
        let b = cand(2, t, 1);
        assert_eq!(compare_priority(&a, &b), Ordering::Greater);
        assert_eq!(compare_priority(&b, &a), Ordering::Less);
        assert_eq!(compare_priority(&a, &a), Ordering::Equal);
    }

    #[test]
    fn incumbent_wins_ties() {
        let t = t0();
        // Identical priorities: whoever is current stays.
        let c = [cand(1, t, 5), cand(2, t, 5), cand(3, t, 5)];
        assert_eq!(run(&c, &[], 1), vec![1]);
        assert_eq!(run(&c, &[3], 1), vec![3]);
        assert_eq!(run(&c, &[2, 3], 2), vec![2, 3]);
        assert_eq!(
            run(&c, &[3, 2], 2),
            vec![2, 3],
            "output is in priority (then input) order"
        );
    }

    #[test]
    fn strictly_higher_priority_replaces_the_lowest_incumbent() {
        let t = t0();
        let mut c = vec![cand(1, t, 1), cand(2, t, 2), cand(3, t, 3)];
        assert_eq!(run(&c, &[], 2), vec![1, 2]);
        // 3 starts speaking: it replaces 2 (the lower of the current two), not 1.
        c[2].last_spoke_at = Some(t + secs(100));
        assert_eq!(run(&c, &[1, 2], 2), vec![3, 1]);
        // 3 stops speaking later but remains "most recently spoke": stays chosen.
        assert_eq!(run(&c, &[3, 1], 2), vec![3, 1]);
    }

    #[test]
    fn lower_priority_incumbent_beyond_limit_is_dropped() {
        let t = t0();
        let c = [cand(1, t, 1), cand(2, t, 2), cand(3, t, 3)];
        // Limit shrank: keep the best incumbents.
        assert_eq!(run(&c, &[3, 2, 1], 2), vec![1, 2]);
        // 1 is not current, but it joined earlier than 3: strictly higher, so it displaces 3.
        assert_eq!(run(&c, &[2, 3], 2), vec![1, 2]);
    }

    #[test]
    fn departed_incumbents_are_dropped_and_the_slot_refilled() {
        let t = t0();
        let c = [cand(1, t, 1), cand(2, t, 3), cand(3, t, 3)];
        // 9 left; its slot goes to the best remaining candidate. 3 stays (2 is only equal).
        assert_eq!(run(&c, &[9, 3], 2), vec![1, 3]);
        assert_eq!(run(&c, &[9, 2], 2), vec![1, 2]);
    }

    #[test]
    fn fewer_candidates_than_the_limit() {
        let t = t0();
        let c = [cand(1, t, 1)];
        assert_eq!(run(&c, &[1, 2, 3], 5), vec![1]);
        assert_eq!(run(&[], &[1], 5), Vec::<u32>::new());
    }

    #[test]
    fn duplicate_keys_are_chosen_once() {
        let t = t0();
        let c = [cand(1, t, 1), cand(1, t, 1), cand(2, t, 2)];
        assert_eq!(run(&c, &[], 2), vec![1, 2]);
    }

    #[test]
    fn output_vector_is_reused() {
        let t = t0();
        let c = [cand(1, t, 1), cand(2, t, 2)];
        let mut out = Vec::with_capacity(4);
        out.push(77);
        choose(&c, &[], 4, &mut out);
        assert_eq!(out, vec![1, 2]);
        let cap = out.capacity();
        choose(&c, &[2], 1, &mut out);
        assert_eq!(out, vec![1], "1 joined earlier: strictly higher");
        assert_eq!(out.capacity(), cap);
    }

    fn random_candidates(rng: &mut Rng, t: Instant, n: usize) -> Vec<Candidate<u32>> {
        (0..n)
            .map(|i| Candidate {
                key: i as u32,
                is_screensharing: rng.chance(10),
                last_spoke_at: rng.chance(40).then(|| t + secs(rng.below(5))),
                has_unmuted_tracks: rng.chance(50),
                joined_at: t + secs(rng.below(4)),
            })
            .collect()
    }

    /// Against a brute-force model: sort by (priority, incumbent, index) and take `limit`.
    /// Also: the choice is a fixed point (choosing again with it as current changes nothing),
    /// and every incumbent that lost its place lost it to a strictly higher candidate.
    #[test]
    fn property_matches_model_and_is_stable() {
        let mut rng = Rng::new(99);
        let t = t0();
        for _ in 0..5_000 {
            let n = rng.below(12) as usize;
            let c = random_candidates(&mut rng, t, n);
            let limit = rng.below(8) as usize;
            let current: Vec<u32> = (0..rng.below(8)).map(|_| rng.below(14) as u32).collect();

            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&i, &j| {
                compare_priority(&c[j], &c[i])
                    .then(
                        current
                            .contains(&c[j].key)
                            .cmp(&current.contains(&c[i].key)),
                    )
                    .then(i.cmp(&j))
            });
            let want: Vec<u32> = order.iter().take(limit).map(|&i| c[i].key).collect();
            let got = run(&c, &current, limit);
            assert_eq!(got, want);

            let again = run(&c, &got, limit);
            let mut a = again.clone();
            let mut g = got.clone();
            a.sort_unstable();
            g.sort_unstable();
            assert_eq!(a, g, "fixed point");

            for loser in current.iter().filter(|k| !got.contains(k)) {
                let Some(l) = c.iter().find(|x| x.key == *loser) else {
                    continue; // departed
                };
                for winner in got.iter().filter(|k| !current.contains(k)) {
                    let w = c.iter().find(|x| x.key == *winner).unwrap();
                    assert_eq!(
                        compare_priority(w, l),
                        Ordering::Greater,
                        "no churn between equals"
                    );
                }
            }
        }
    }
}
