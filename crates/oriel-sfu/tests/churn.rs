//! Scenario 4: participants join, publish, unpublish, leave and come back while media flows.
//! Nothing panics, the others hear about every change (participant_connected/_disconnected,
//! add_track/remove_track), media from whoever is there keeps flowing, and once everyone has
//! left the space is empty and quiet.

mod sim;

use std::time::Duration;

use oriel_proto::ServerMessage;
use sim::{Client, ClientConfig, Sim, Spread};
use str0m::media::MediaKind;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn connected(client: &Client, name: &str) -> usize {
    client.signals_matching(
        |m| matches!(m, ServerMessage::ParticipantConnected(p) if p.display_name == name),
    )
}

fn disconnected(client: &Client, other: &Client) -> usize {
    client.signals_matching(|m| {
        matches!(m, ServerMessage::ParticipantDisconnected { connection_id }
            if *connection_id == other.connection_id)
    })
}

fn added(client: &Client, tid: &str) -> usize {
    client.signals_matching(
        |m| matches!(m, ServerMessage::AddTrack { track, .. } if track.tid == tid),
    )
}

fn removed(client: &Client, tid: &str) -> usize {
    client.signals_matching(
        |m| matches!(m, ServerMessage::RemoveTrack { track, .. } if track.tid == tid),
    )
}

#[test]
fn join_leave_churn_while_media_flows() {
    join_leave_churn_while_media_flows_on(1);
}

/// The same with the space spread over two workers.
#[test]
fn join_leave_churn_while_media_flows_over_two_workers() {
    join_leave_churn_while_media_flows_on(2);
}

/// The same with the space spread over 3 workers.
#[test]
fn join_leave_churn_while_media_flows_over_3_workers() {
    join_leave_churn_while_media_flows_on(3);
}

/// The same with the space spanning two nodes: every change and packet crosses the wire.
#[test]
fn join_leave_churn_while_media_flows_across_two_nodes() {
    join_leave_churn_while_media_flows_on(Spread::Nodes(2));
}

fn join_leave_churn_while_media_flows_on(shards: impl Into<Spread>) {
    let mut sim = Sim::with_shards(4, shards);
    let alice = sim.join(ClientConfig::publisher("alice"));
    let bob = sim.join(ClientConfig::subscriber("bob"));
    sim.run_for(secs(5));

    let carol = sim.join(ClientConfig::publisher("carol"));
    sim.run_for(secs(2));
    let dave = sim.join(ClientConfig::subscriber("dave"));
    sim.run_for(secs(5));

    // t = 12 s: Alice stops her camera (the transceiver goes inactive in a new offer).
    let now = sim.now;
    sim.client_mut(alice).unpublish_video(now);
    sim.run_for(secs(3));

    // t = 15 s: Bob leaves; Eve comes; Frank joins and leaves before his publisher PC is up.
    sim.leave(bob);
    sim.run_for(secs(1));
    let eve = sim.join(ClientConfig::subscriber("eve"));
    let frank = sim.join(ClientConfig::publisher("frank"));
    sim.run_for(Duration::from_millis(60));
    sim.leave(frank);
    sim.run_for(secs(4));

    // t = 20 s: Carol leaves mid-stream; Alice drops out and rejoins with the same name (a
    // page reload), publishing again under her usual track ids.
    sim.leave(carol);
    sim.run_for(secs(2));
    sim.leave(alice);
    sim.run_for(Duration::from_millis(500));
    let alice2 = sim.join(ClientConfig::publisher("alice"));
    sim.run_for(secs(8));
    let steady = sim.now;

    // --- what everyone was told ---
    for (watcher, who) in [(bob, "carol"), (bob, "dave"), (dave, "eve"), (eve, "frank")] {
        assert_eq!(
            connected(sim.client(watcher), who),
            1,
            "{watcher} sees {who} join"
        );
    }
    assert_eq!(
        connected(sim.client(dave), "alice"),
        1,
        "dave sees the new alice join"
    );
    for (watcher, who) in [
        (dave, bob),
        (dave, carol),
        (eve, frank),
        (eve, carol),
        (dave, alice),
    ] {
        let (w, c) = (sim.client(watcher), sim.client(who));
        assert_eq!(
            disconnected(w, c),
            1,
            "{} sees {} leave",
            w.config.name,
            c.config.name
        );
    }
    // Dave joined after Alice and Carol published: `joined` lists them with their tracks.
    let joined = sim.client(dave).signals.iter().find_map(|(_, m)| match m {
        ServerMessage::Joined(j) => Some(j),
        _ => None,
    });
    let mut listed: Vec<(String, usize)> = joined
        .expect("dave joined")
        .participants
        .iter()
        .map(|p| (p.display_name.clone(), p.tracks.len()))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [("alice".into(), 2), ("bob".into(), 0), ("carol".into(), 2)]
    );
    assert_eq!(added(sim.client(bob), "carol-cam"), 1);
    assert_eq!(
        removed(sim.client(bob), "alice-cam"),
        1,
        "unpublishing is announced"
    );
    assert_eq!(removed(sim.client(dave), "alice-cam"), 1);
    assert_eq!(
        added(sim.client(eve), "alice-cam"),
        1,
        "alice's camera is back"
    );

    // --- media ---
    // Dave got Carol's video while she was there, and gets the new Alice now.
    assert!(
        sim.client(dave)
            .received_from_since(carol, MediaKind::Video, sim.start)
            > 100
    );
    for watcher in [dave, eve] {
        let c = sim.client(watcher);
        assert!(c.errors.is_empty(), "{}: {:?}", c.config.name, c.errors);
        for kind in [MediaKind::Audio, MediaKind::Video] {
            let recent = c.received_from_since(alice2, kind, steady - secs(3));
            assert!(
                recent > 75,
                "{} gets {recent} {kind:?} packets of the new alice",
                c.config.name
            );
        }
    }
    // Alice's first camera stopped reaching Dave once unpublished.
    let old_cam = sim.client(dave).tracks_from(alice, MediaKind::Video);
    assert_eq!(old_cam.len(), 1);
    assert!(
        old_cam[0].inactive,
        "dave's consumer of the unpublished camera was turned inactive"
    );
    assert_eq!(old_cam[0].packets_since(sim.start + secs(13)), 0);

    // --- everybody leaves ---
    for index in [alice2, dave, eve] {
        sim.leave(index);
    }
    assert!(sim.is_empty());
    let sent_before = sim.stats.sent_to_nobody;
    sim.run_for(secs(10));
    assert_eq!(
        sim.stats.signals_to_departed, 0,
        "no signal to a departed connection"
    );
    assert_eq!(
        sim.stats.sent_to_nobody, sent_before,
        "nothing sent once everyone left"
    );
    assert_eq!(
        sim.spaces().filter_map(|s| s.poll_timeout()).min(),
        None,
        "an empty space wants no more time"
    );
    eprintln!("{:?}", sim.stats);
}
