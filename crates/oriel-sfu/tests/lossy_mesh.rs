//! Scenario 2: three publishers and five subscribers, 2 % random loss on every link in both
//! directions. Everyone still receives everyone, NACK/RTX (publisher → SFU and SFU →
//! subscriber) repairs nearly all video losses, and nothing arrives twice.

mod sim;

use std::time::Duration;

use sim::{ClientConfig, LinkConfig, Sim};
use str0m::media::MediaKind;

const LOSS: f64 = 0.02;
const RUN: Duration = Duration::from_secs(20);

#[test]
fn three_publishers_five_subscribers_with_two_percent_loss() {
    three_publishers_five_subscribers_with_two_percent_loss_on(1);
}

/// The same with the space spread over two workers.
#[test]
fn three_publishers_five_subscribers_with_two_percent_loss_over_two_workers() {
    three_publishers_five_subscribers_with_two_percent_loss_on(2);
}

fn three_publishers_five_subscribers_with_two_percent_loss_on(shards: usize) {
    let mut sim = Sim::with_shards(2, shards);
    let lossy = LinkConfig::clean().loss(LOSS);
    let publishers: Vec<usize> = ["p0", "p1", "p2"]
        .iter()
        .map(|name| sim.join(ClientConfig::publisher(name).links(lossy)))
        .collect();
    for name in ["s0", "s1", "s2", "s3", "s4"] {
        sim.join(ClientConfig::subscriber(name).links(lossy));
    }
    sim.run_for(RUN);

    let end = sim.now;
    let mut worst_video: f64 = 1.0;
    for client in &sim.clients {
        let name = &client.config.name;
        assert!(client.errors.is_empty(), "{name}: {:?}", client.errors);
        for &source in publishers.iter().filter(|&&p| p != client.index) {
            for kind in [MediaKind::Audio, MediaKind::Video] {
                let tracks = client.tracks_from(source, kind);
                assert_eq!(
                    tracks.len(),
                    1,
                    "{name} has one {kind:?} consumer of p{source}"
                );
                let track = tracks[0];

                // Still flowing at the end.
                let recent = track.packets_since(end - Duration::from_secs(5));
                assert!(
                    recent > 5 * 25,
                    "{name}: {recent} {kind:?} packets from p{source} in 5 s"
                );

                // Repaired: packets more than a second old had their NACK/RTX rounds.
                let (received, expected) = track.completeness(end - Duration::from_secs(1));
                let ratio = received as f64 / expected as f64;
                eprintln!("{name} <- p{source} {kind:?}: {received}/{expected} = {ratio:.4}");
                if kind == MediaKind::Video {
                    worst_video = worst_video.min(ratio);
                    // Two lossy hops lose ~4 %; with repair on both, almost nothing.
                    assert!(
                        ratio > 0.99,
                        "{name} <- p{source} video: {ratio:.4} after repair"
                    );
                } else {
                    // Opus is negotiated without RTX, so audio losses stay (~4 %).
                    assert!(ratio > 0.9, "{name} <- p{source} audio: {ratio:.4}");
                }

                assert_eq!(track.duplicates(), 0, "{name} <- p{source} {kind:?}");
                let ssrc = track.packets[0].ssrc;
                assert_eq!(
                    client.wire.duplicate_seqs(ssrc),
                    0,
                    "{name} <- p{source} {kind:?}"
                );
                let violations = track.continuity_violations();
                assert!(
                    violations.is_empty(),
                    "{name} <- p{source} {kind:?}: {violations:?}"
                );
            }
        }
    }
    eprintln!("worst video completeness {worst_video:.4}; {:?}", sim.stats);
}
