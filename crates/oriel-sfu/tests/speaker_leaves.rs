//! A speaking participant leaves: the others get a speaker list without it before
//! `participant_disconnected`, and none naming it after. The Mux SDK diffs each
//! `active_speakers` against the last and looks up whoever stopped speaking: if that one is
//! already gone it logs "Participant not found for active speakers event".

mod sim;

use std::time::Duration;

use oriel_proto::ServerMessage;
use sim::{Client, ClientConfig, Sim, Spread};

/// The `active_speakers` lists `client` held naming `gone` once told that `gone` left: the last
/// one before the departure (if it still named `gone`) and any after it.
fn speaker_lists_naming_the_departed(client: &Client, gone: &str) -> Vec<Vec<(String, String)>> {
    let mut departed = false;
    let mut naming = Vec::new();
    let mut last: Option<&Vec<(String, String)>> = None;
    for (_, message) in &client.signals {
        match message {
            ServerMessage::ParticipantDisconnected { connection_id } if connection_id == gone => {
                departed = true;
                naming.extend(last.filter(|t| t.iter().any(|(c, _)| c == gone)).cloned());
            }
            ServerMessage::ActiveSpeakers(tracks) if !departed => last = Some(tracks),
            ServerMessage::ActiveSpeakers(tracks)
                if departed && tracks.iter().any(|(c, _)| c == gone) =>
            {
                naming.push(tracks.clone());
            }
            _ => {}
        }
    }
    naming
}

#[test]
fn no_active_speakers_names_a_participant_after_its_departure() {
    no_active_speakers_names_a_participant_after_its_departure_on(1);
}

/// The same with the space spread over two workers.
#[test]
fn no_active_speakers_names_a_participant_after_its_departure_over_two_workers() {
    no_active_speakers_names_a_participant_after_its_departure_on(2);
}

/// The same with the space spanning two nodes.
#[test]
fn no_active_speakers_names_a_participant_after_its_departure_across_two_nodes() {
    no_active_speakers_names_a_participant_after_its_departure_on(Spread::Nodes(2));
}

fn no_active_speakers_names_a_participant_after_its_departure_on(shards: impl Into<Spread>) {
    let mut sim = Sim::with_shards(11, shards);
    let alice = sim.join(ClientConfig::publisher("alice"));
    let bob = sim.join(ClientConfig::publisher("bob"));
    let carol = sim.join(ClientConfig::subscriber("carol"));
    let alice_connection = sim.client(alice).connection_id.clone();
    let speaking = sim.run_until(Duration::from_secs(15), |sim| {
        sim.client(carol).signals_matching(|m| {
            matches!(m, ServerMessage::ActiveSpeakers(t) if t.iter().any(|(c, _)| *c == alice_connection))
        }) > 0
    });
    assert!(speaking, "alice never became an active speaker");

    sim.leave(alice);
    sim.run_for(Duration::from_secs(3));
    for other in [bob, carol] {
        let client = sim.client(other);
        assert!(
            client.signals_matching(|m| matches!(m, ServerMessage::ParticipantDisconnected { connection_id } if *connection_id == alice_connection)) == 1,
            "{} was told alice left",
            client.connection_id
        );
        assert_eq!(
            speaker_lists_naming_the_departed(client, &alice_connection),
            Vec::<Vec<(String, String)>>::new(),
            "{} held an active_speakers naming alice once told she left",
            client.connection_id
        );
    }
}
