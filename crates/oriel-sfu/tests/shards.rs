//! A space spread over two workers: what one shard's participants do reaches the other's as
//! if they were on one worker (names, custom events, mute), the dashboard's picture of the
//! space is whole once the shards' snapshots are combined, and a shard alone relays nothing.

mod sim;

use std::time::Duration;

use oriel_proto::ServerMessage;
use oriel_sfu::SpaceSnapshot;
use sim::{ClientConfig, Sim, Spread};
use str0m::media::MediaKind;

const ALICE: usize = 0;
const BOB: usize = 1;
const CAROL: usize = 2;

#[test]
fn signaling_crosses_shards() {
    signaling_crosses(Spread::Workers(2));
}

/// The same with the space spanning two nodes: every change crosses the wire between them.
#[test]
fn signaling_crosses_nodes() {
    signaling_crosses(Spread::Nodes(2));
}

fn signaling_crosses(spread: Spread) {
    let mut sim = Sim::with_shards(7, spread);
    assert_eq!(sim.join(ClientConfig::publisher("alice")), ALICE);
    assert_eq!(sim.join(ClientConfig::publisher("bob")), BOB);
    assert_eq!(sim.join(ClientConfig::subscriber("carol")), CAROL);
    assert_eq!((sim.shard_of(ALICE), sim.shard_of(BOB)), (0, 1));
    sim.run_for(Duration::from_secs(3));
    assert!(sim.stats.relayed > 100, "media crossed between the shards");

    // Carol (shard 0) was told of Bob (shard 1) and of his tracks.
    let bob_id = sim.client(BOB).connection_id.clone();
    let carol = sim.client(CAROL);
    assert_eq!(
        carol.signals_matching(|m| matches!(m,
            ServerMessage::ParticipantConnected(p) if p.connection_id == bob_id)),
        1,
        "carol hears bob joined once"
    );
    assert_eq!(
        carol.signals_matching(|m| matches!(m,
            ServerMessage::AddTrack { connection_id, .. } if *connection_id == bob_id)),
        2
    );

    sim.send_frame(BOB, r#"{"set_display_name":"Robert","request_id":"n1"}"#);
    sim.send_frame(
        BOB,
        r#"{"custom_event":{"id":"e1","payload":"hello"},"request_id":"e1"}"#,
    );
    sim.send_frame(BOB, r#"{"mute_track":"bob-mic"}"#);
    sim.run_for(Duration::from_secs(1));
    // Alice (shard 0) answers: her event's number follows Bob's (shard 1), as on one worker.
    sim.send_frame(
        ALICE,
        r#"{"custom_event":{"id":"e2","payload":"hi bob"},"request_id":"e2"}"#,
    );
    sim.run_for(Duration::from_secs(1));
    let numbers: Vec<u64> = sim
        .client(CAROL)
        .signals
        .iter()
        .filter_map(|(_, m)| match m {
            ServerMessage::CustomEvent { sequence_num, .. } => Some(*sequence_num),
            _ => None,
        })
        .collect();
    assert_eq!(numbers.len(), 2, "carol gets both events");
    assert!(
        numbers[0] < numbers[1],
        "numbers increase across shards: {numbers:?}"
    );
    for index in [ALICE, CAROL] {
        let client = sim.client(index);
        let name = &client.config.name;
        let renamed = client.signals_matching(|m| {
            matches!(m,
            ServerMessage::ParticipantUpdate { connection_id, display_name, .. }
                if *connection_id == bob_id && display_name == "Robert")
        });
        assert_eq!(renamed, 1, "{name} sees bob's new name");
        let events = client.signals_matching(|m| {
            matches!(m,
            ServerMessage::CustomEvent { connection_id, payload, .. }
                if *connection_id == bob_id && payload == "hello")
        });
        assert_eq!(events, 1, "{name} gets bob's custom event once");
        let muted = client.signals_matching(|m| {
            matches!(m,
            ServerMessage::TrackMuted { connection_id, track }
                if *connection_id == bob_id && track.tid == "bob-mic")
        });
        assert_eq!(muted, 1, "{name} sees bob's microphone muted");
    }

    // The dashboard asks every shard and combines: everyone once, with whole counts.
    let now = sim.now;
    let snapshot = SpaceSnapshot::combine(sim.spaces().map(|s| s.snapshot(now)));
    let mut names: Vec<&str> = snapshot
        .participants
        .iter()
        .map(|p| p.participant_id.as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let bob_cam = snapshot
        .participants
        .iter()
        .flat_map(|p| &p.tracks)
        .find(|t| t.tid == "bob-cam")
        .expect("bob's camera listed");
    assert_eq!(
        bob_cam.subscribers, 2,
        "alice and carol (shard 0) receive bob's camera (shard 1)"
    );

    // Bob leaves: his shard empties and goes; the others hear it once.
    sim.leave(BOB);
    sim.run_for(Duration::from_secs(1));
    assert!(sim.shards[1].is_none(), "an empty shard is dropped");
    for index in [ALICE, CAROL] {
        let client = sim.client(index);
        let left = client.signals_matching(|m| {
            matches!(m,
            ServerMessage::ParticipantDisconnected { connection_id } if *connection_id == bob_id)
        });
        assert_eq!(left, 1, "{} hears bob left once", client.config.name);
    }
    assert_eq!(sim.stats.signals_to_departed, 0);
}

#[test]
fn a_shard_alone_relays_nothing() {
    let mut sim = Sim::new(8);
    sim.join(ClientConfig::publisher("alice"));
    sim.join(ClientConfig::subscriber("bob"));
    sim.run_for(Duration::from_secs(2));
    let bob = sim.client(1);
    assert!(bob.received_from_since(0, MediaKind::Video, sim.start) > 30);
    assert_eq!(
        sim.stats.relayed, 0,
        "one worker: nothing to relay, nothing paid"
    );
}
