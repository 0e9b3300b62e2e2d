//! Scenario 1: one publisher (audio + three-layer VP8 simulcast) to three subscribers on clean
//! links. Everyone gets audio and video, and what the SFU sends each of them is one
//! continuous RTP stream per consumer.

mod sim;

use std::time::Duration;

use oriel_proto::ServerMessage;
use sim::{ClientConfig, Sim, Spread};
use str0m::media::MediaKind;

const PUBLISHER: usize = 0;

/// Alice publishes; Bob, Carol and Dave join at the same moment and receive her.
fn fanout(seed: u64, shards: impl Into<Spread>) -> Sim {
    let mut sim = Sim::with_shards(seed, shards);
    assert_eq!(sim.join(ClientConfig::publisher("alice")), PUBLISHER);
    for name in ["bob", "carol", "dave"] {
        sim.join(ClientConfig::subscriber(name));
    }
    sim.run_for(Duration::from_secs(30));
    sim
}

#[test]
fn one_publisher_three_subscribers_on_clean_links() {
    one_publisher_three_subscribers_on_clean_links_on(1);
}

/// The same with the space spread over two workers.
#[test]
fn one_publisher_three_subscribers_on_clean_links_over_two_workers() {
    one_publisher_three_subscribers_on_clean_links_on(2);
}

/// The same with the space spanning two nodes: Alice's packets cross the wire to the other's
/// subscribers.
#[test]
fn one_publisher_three_subscribers_on_clean_links_across_two_nodes() {
    one_publisher_three_subscribers_on_clean_links_on(Spread::Nodes(2));
}

fn one_publisher_three_subscribers_on_clean_links_on(shards: impl Into<Spread>) {
    let sim = fanout(1, shards);
    for client in &sim.clients[1..] {
        let name = &client.config.name;
        assert!(client.errors.is_empty(), "{name}: {:?}", client.errors);
        assert_eq!(
            client.signals_matching(|m| matches!(m, ServerMessage::AddTrack { .. })),
            2,
            "{name} is told about the microphone and the camera"
        );
        for kind in [MediaKind::Audio, MediaKind::Video] {
            let tracks = client.tracks_from(PUBLISHER, kind);
            assert_eq!(tracks.len(), 1, "{name}: one {kind:?} consumer");
            let track = tracks[0];
            // The SDK finds the publisher's track by the MediaStream id.
            let suffix = if kind == MediaKind::Audio {
                "mic"
            } else {
                "cam"
            };
            assert_eq!(track.stream_id, format!("alice-{suffix}"));

            // Media flows for (nearly) the whole run: 50 audio packets or 30 frames a second.
            let per_second = if kind == MediaKind::Audio { 50 } else { 30 };
            assert!(
                track.packets.len() > 28 * per_second,
                "{name}: only {} {kind:?} packets",
                track.packets.len()
            );

            // Lossless link: every packet arrives once and in order, +1 each time.
            let jumps: Vec<(u64, u64)> = track
                .packets
                .windows(2)
                .filter(|w| w[1].seq != w[0].seq + 1)
                .map(|w| (w[0].seq, w[1].seq))
                .collect();
            assert!(jumps.is_empty(), "{name} {kind:?} seq jumps: {jumps:?}");
            let violations = track.continuity_violations();
            assert!(violations.is_empty(), "{name} {kind:?}: {violations:?}");
            // And that is what the SFU put on the wire, not the network's doing.
            let ssrc = track.packets[0].ssrc;
            assert!(client.wire.seq_jumps(ssrc).is_empty(), "{name} {kind:?}");
            assert_eq!(client.wire.duplicate_seqs(ssrc), 0, "{name} {kind:?}");
            assert_eq!(
                client.wire.timestamp_regressions(ssrc),
                0,
                "{name} {kind:?}"
            );

            if kind == MediaKind::Audio {
                // The audio level travels on (the SDK's own speaker detection reads it).
                assert!(
                    track.packets.iter().all(|p| p.audio_level.is_some()),
                    "{name}"
                );
            } else {
                assert!(track.decodable, "{name}: no video keyframe ever arrived");
            }
        }
    }
    assert_eq!(sim.stats.sent_to_nobody, 0);
    assert_eq!(sim.stats.parse_errors, 0);
}

/// A subscriber's video must start with a keyframe: a decoder can do nothing with the delta
/// frames before it.
///
/// Here the camera's first keyframe reaches the SFU after the consumer was put in a
/// `sub_offer` but before the subscriber's `sub_answer` came back. The consumer must not start
/// its stream on a keyframe it cannot send yet: the subscriber's first packet is a keyframe.
#[test]
fn subscriber_video_starts_with_a_keyframe() {
    subscriber_video_starts_with_a_keyframe_on(1);
}

/// The same with the space spread over two workers.
#[test]
fn subscriber_video_starts_with_a_keyframe_over_two_workers() {
    subscriber_video_starts_with_a_keyframe_on(2);
}

/// The same with the space spanning two nodes.
#[test]
fn subscriber_video_starts_with_a_keyframe_across_two_nodes() {
    subscriber_video_starts_with_a_keyframe_on(Spread::Nodes(2));
}

fn subscriber_video_starts_with_a_keyframe_on(shards: impl Into<Spread>) {
    let sim = fanout(1, shards);
    for client in &sim.clients[1..] {
        let track = client.tracks_from(PUBLISHER, MediaKind::Video)[0];
        let first = track.packets[0].vp8.expect("a VP8 descriptor");
        assert!(
            first.keyframe,
            "{}: video starts with {:?} (probe {:?}); the subscriber had to send {} PLI(s)",
            client.config.name, first, track.packets[0].probe, track.plis
        );
    }
}
