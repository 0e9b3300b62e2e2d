//! Scenario 3: simulcast layer switching driven by a subscriber's bandwidth.
//!
//! Bob's downlink is first unconstrained, then capped well below the middle layer, then
//! opened again. The SFU must follow with the forwarded layer (down, then up), and every
//! switch must be invisible to Bob's decoder: sequence numbers +1, RTP timestamps increasing,
//! VP8 picture ids +1 per frame, whatever layer each packet came from.

mod sim;

use std::time::{Duration, Instant};

use sim::{ClientConfig, LinkConfig, Sim, Spread};
use str0m::media::MediaKind;

const ALICE: usize = 0;
const BOB: usize = 1;
/// The end of each phase is judged on its last seconds, once the estimate settled.
const SETTLED: Duration = Duration::from_secs(5);

struct Phases {
    sim: Sim,
    /// When phase 1 (open), 2 (capped) and 3 (reopened) ended.
    ends: [Instant; 3],
}

/// Alice publishes to Bob; Bob's downlink is open for 15 s, 300 kbps for 20 s (less than the
/// middle layer plus audio), then 5 Mbps (enough for the top layer) for 40 s.
fn run_phases(seed: u64, shards: impl Into<Spread>) -> Phases {
    let mut sim = Sim::with_shards(seed, shards);
    assert_eq!(sim.join(ClientConfig::publisher("alice")), ALICE);
    assert_eq!(sim.join(ClientConfig::subscriber("bob")), BOB);
    sim.run_for(Duration::from_secs(15));
    let open = sim.now;
    sim.set_downlink(BOB, LinkConfig::clean().rate_kbps(300));
    sim.run_for(Duration::from_secs(20));
    let capped = sim.now;
    sim.set_downlink(BOB, LinkConfig::clean().rate_kbps(5_000));
    sim.run_for(Duration::from_secs(40));
    let reopened = sim.now;
    let phases = Phases {
        sim,
        ends: [open, capped, reopened],
    };
    phases.report();
    phases
}

impl Phases {
    fn bob_video(&self) -> &sim::recorder::RecvTrack {
        self.sim.client(BOB).tracks_from(ALICE, MediaKind::Video)[0]
    }

    /// The layer forwarded to Bob most of the time in the last seconds of a phase.
    fn dominant_layer(&self, phase: usize) -> u8 {
        let to = self.ends[phase];
        let mut counts = [0usize; 3];
        for packet in self.bob_video().packets.iter() {
            if let (true, Some(probe)) = (packet.at >= to - SETTLED && packet.at < to, packet.probe)
            {
                counts[usize::from(probe.layer.min(2))] += 1;
            }
        }
        (0..3u8)
            .max_by_key(|&l| counts[usize::from(l)])
            .filter(|&l| counts[usize::from(l)] > 0)
            .unwrap_or_else(|| panic!("no video for bob at the end of phase {}", phase + 1))
    }

    fn layers(&self) -> [u8; 3] {
        [0, 1, 2].map(|phase| self.dominant_layer(phase))
    }

    /// What happened, for the test output: the layer timeline and what the SFU sent.
    fn report(&self) {
        let timeline: Vec<(Duration, u8)> = self
            .bob_video()
            .layer_changes()
            .iter()
            .map(|(at, layer)| (*at - self.sim.start, *layer))
            .collect();
        eprintln!("layers forwarded to bob: {timeline:?}");
        let bob = self.sim.client(BOB);
        let media: Vec<u32> = bob
            .tracks
            .values()
            .filter_map(|t| t.packets.first().map(|p| p.ssrc))
            .collect();
        for (phase, end) in self.ends.iter().enumerate() {
            let (media_bps, other_bps) = bob.wire.bitrates(&media, *end - SETTLED, *end);
            eprintln!(
                "phase {}: layer {}, SFU -> bob media {} kbps, RTX/padding {} kbps",
                phase + 1,
                self.dominant_layer(phase),
                media_bps / 1000,
                other_bps / 1000
            );
        }
        eprintln!("bob downlink: {:?}", bob.downlink.stats);
    }
}

#[test]
fn switches_are_seamless_for_the_decoder() {
    switches_are_seamless_for_the_decoder_on(1);
}

/// The same with Alice and Bob on different workers.
#[test]
fn switches_are_seamless_for_the_decoder_over_two_workers() {
    switches_are_seamless_for_the_decoder_on(2);
}

/// The same with the space spanning two nodes.
#[test]
fn switches_are_seamless_for_the_decoder_across_two_nodes() {
    switches_are_seamless_for_the_decoder_on(Spread::Nodes(2));
}

fn switches_are_seamless_for_the_decoder_on(shards: impl Into<Spread>) {
    let phases = run_phases(3, shards);
    let bob = phases.sim.client(BOB);
    assert!(bob.errors.is_empty(), "{:?}", bob.errors);
    let [open, capped, _] = phases.layers();
    assert!(
        open >= 1,
        "unconstrained, bob gets more than the lowest layer"
    );
    assert_eq!(capped, 0, "300 kbps fits only the lowest layer");
    let track = phases.bob_video();
    assert!(
        track.layer_changes().len() >= 3,
        "up at the start, then down: {:?}",
        track.layer_changes()
    );

    // Each switch is seamless for the decoder: checked on what arrived (after repair) ...
    let violations = track.continuity_violations();
    assert!(violations.is_empty(), "{violations:?}");
    // ... and on what the SFU sent, before the bottleneck dropped anything.
    let ssrc = track.packets[0].ssrc;
    assert_eq!(
        bob.wire.seq_jumps(ssrc),
        vec![],
        "SFU video seq numbers jump"
    );
    assert_eq!(bob.wire.timestamp_regressions(ssrc), 0);
    assert_eq!(bob.wire.duplicate_seqs(ssrc), 0);
    // Whatever the bottleneck dropped was repaired (NACK, then RTX from the SFU).
    let (received, expected) = track.completeness(phases.ends[2] - Duration::from_secs(1));
    assert!(
        received as f64 / expected as f64 > 0.99,
        "video completeness {received}/{expected}"
    );
}

/// A downgraded subscriber comes back up once the cap is lifted: the space asks str0m's
/// estimator to probe towards the top layer (`Bwe::set_bitrate`), so the estimate can grow
/// past what is being sent. Without probing it stays application-limited on the lowest layer.
#[test]
fn layer_goes_back_up_when_the_cap_is_lifted() {
    layer_goes_back_up_when_the_cap_is_lifted_on(1);
}

/// The same with Alice and Bob on different workers.
#[test]
fn layer_goes_back_up_when_the_cap_is_lifted_over_two_workers() {
    layer_goes_back_up_when_the_cap_is_lifted_on(2);
}

fn layer_goes_back_up_when_the_cap_is_lifted_on(shards: impl Into<Spread>) {
    let phases = run_phases(3, shards);
    let [open, capped, reopened] = phases.layers();
    assert_eq!(capped, 0);
    assert!(
        reopened >= 1,
        "stuck on layer {reopened} with 5 Mbps available"
    );
    assert_eq!(open, 2, "1.2 Mbps top layer with an unconstrained link");
    assert_eq!(reopened, 2, "1.2 Mbps top layer with 5 Mbps available");
}

/// The e2e scenario of tests/e2e/quality.test.mjs on virtual time: Bob on the top layer, his
/// downlink capped at 400 kbit/s (the lowest layer and audio fit, the middle one does not)
/// for a while, then lifted. The climb back must not wait for a lucky probe: it is measured
/// over several seeds and cap lengths, which move the lift against the estimator's probes.
#[test]
fn top_layer_again_soon_after_a_cap_lifts() {
    let mut climbs = Vec::new();
    for (seed, capped_secs) in [(11, 8), (12, 9), (13, 10), (14, 11), (15, 12), (16, 13)] {
        let mut sim = Sim::new(seed);
        sim.join(ClientConfig::publisher("alice"));
        sim.join(ClientConfig::subscriber("bob"));
        let on_top = |sim: &Sim| {
            let tracks = sim.client(BOB).tracks_from(ALICE, MediaKind::Video);
            tracks.first().and_then(|t| t.current_layer()) == Some(2)
        };
        assert!(
            sim.run_until(Duration::from_secs(20), on_top),
            "seed {seed}: bob reaches the top layer before the cap"
        );
        sim.run_for(Duration::from_secs(3));
        sim.set_downlink(BOB, LinkConfig::clean().rate_kbps(400));
        sim.run_for(Duration::from_secs(capped_secs));
        assert!(
            !on_top(&sim),
            "seed {seed}: bob leaves the top layer under the cap"
        );
        sim.set_downlink(BOB, LinkConfig::clean());
        let lifted = sim.now;
        let back = sim.run_until(Duration::from_secs(20), on_top);
        let climb = sim.now - lifted;
        eprintln!("seed {seed}, capped {capped_secs} s: top layer again {climb:?} after the lift");
        assert!(
            back,
            "seed {seed}: bob back on the top layer within 20 s of the lift"
        );
        climbs.push(climb);
    }
    let slowest = climbs.iter().max().copied().unwrap_or_default();
    assert!(
        slowest <= Duration::from_secs(7),
        "top layer again within 7 s of the lift, slowest {slowest:?}: {climbs:?}"
    );
}
