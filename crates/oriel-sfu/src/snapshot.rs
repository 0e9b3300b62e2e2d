//! A read-only picture of a space for people watching it (the dashboard): who is connected,
//! in which role and state, and what they publish. Built on demand, never on the media path.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use oriel_proto::{ParticipantRole, TrackKind, TrackSource};

use crate::connection::Connection;
use crate::ids::ProducerId;
use crate::producer::Producer;
use crate::publisher::PublisherPc;
use crate::subscriber::SubscriberPc;
use crate::ConnectionKey;

/// Every participant connected to a space, in joining order.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpaceSnapshot {
    pub participants: Vec<ParticipantSnapshot>,
    /// Of a shard of a space spread over several workers: subscribers here of tracks
    /// published on other shards, by track id (counted into them by [`Self::combine`]).
    pub relayed_subscribers: Vec<(String, usize)>,
}

impl SpaceSnapshot {
    /// The whole space from the snapshots of its shards.
    pub fn combine(shards: impl IntoIterator<Item = SpaceSnapshot>) -> SpaceSnapshot {
        let mut participants = Vec::new();
        let mut relayed = Vec::new();
        for shard in shards {
            participants.extend(shard.participants);
            relayed.extend(shard.relayed_subscribers);
        }
        for (tid, count) in relayed {
            let track = participants
                .iter_mut()
                .flat_map(|p| p.tracks.iter_mut())
                .find(|t| t.tid == tid);
            if let Some(track) = track {
                track.subscribers += count;
            }
        }
        participants.sort_by_key(|p| std::cmp::Reverse(p.connected_for));
        SpaceSnapshot {
            participants,
            relayed_subscribers: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParticipantSnapshot {
    pub connection_id: String,
    pub participant_id: String,
    pub role: ParticipantRole,
    pub display_name: String,
    pub state: ConnectionState,
    /// How long the connection has been in the space.
    pub connected_for: Duration,
    pub tracks: Vec<TrackSnapshot>,
}

/// Whether media flows yet: signaling is up as soon as a participant is in the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionState {
    /// Joined, but no peer connection has completed ICE and DTLS yet.
    Connecting,
    /// At least one of its peer connections carries media.
    Connected,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrackSnapshot {
    pub tid: String,
    pub kind: TrackKind,
    pub source: TrackSource,
    pub name: String,
    pub muted: bool,
    pub width: u32,
    pub height: u32,
    /// Whether the publisher sends simulcast layers.
    pub simulcast: bool,
    /// Measured bitrate of each spatial layer (0 lowest), bits per second; 0 when it does not
    /// flow. A track without simulcast has one layer.
    pub layer_bitrates_bps: Vec<u64>,
    /// Subscribers it is forwarded to.
    pub subscribers: usize,
}

pub(crate) fn build(
    now: Instant,
    connections: &BTreeMap<ConnectionKey, Connection>,
    publishers: &BTreeMap<ConnectionKey, PublisherPc>,
    subscribers: &BTreeMap<ConnectionKey, SubscriberPc>,
    producers: &BTreeMap<ProducerId, Producer>,
) -> SpaceSnapshot {
    let mut participants: Vec<ParticipantSnapshot> = connections
        .values()
        .filter(|connection| !connection.hidden && !connection.remote)
        .map(|connection| {
            let key = connection.key;
            let connected = publishers
                .get(&key)
                .is_some_and(|p| p.peer.rtc.is_connected())
                || subscribers
                    .get(&key)
                    .is_some_and(|s| s.peer.rtc.is_connected());
            let tracks = producers
                .values()
                .filter(|p| p.connection == key)
                .map(|p| track(now, p))
                .collect();
            ParticipantSnapshot {
                connection_id: connection.connection_id.clone(),
                participant_id: connection.participant_id.clone(),
                role: connection.role,
                display_name: connection.display_name.clone(),
                state: if connected {
                    ConnectionState::Connected
                } else {
                    ConnectionState::Connecting
                },
                connected_for: now.saturating_duration_since(connection.joined_at),
                tracks,
            }
        })
        .collect();
    participants.sort_by_key(|p| std::cmp::Reverse(p.connected_for));
    let relayed_subscribers = producers
        .values()
        .filter(|p| p.remote && !p.consumers.is_empty())
        .map(|p| (p.track.tid.clone(), p.consumers.len()))
        .collect();
    SpaceSnapshot {
        participants,
        relayed_subscribers,
    }
}

fn track(now: Instant, producer: &Producer) -> TrackSnapshot {
    let bitrates = producer.layer_bitrates(now);
    let layers = if producer.simulcast {
        bitrates.len()
    } else {
        1
    };
    TrackSnapshot {
        tid: producer.track.tid.clone(),
        kind: producer.track.kind,
        source: producer.track.source,
        name: producer.track.name.clone(),
        muted: producer.track.muted,
        width: producer.track.width,
        height: producer.track.height,
        simulcast: producer.simulcast,
        layer_bitrates_bps: bitrates[..layers].to_vec(),
        subscribers: producer.consumers.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JoinRequest, Space, SpaceConfig};

    fn request(key: u64, participant: &str, role: ParticipantRole) -> JoinRequest {
        JoinRequest {
            connection: ConnectionKey(key),
            connection_id: format!("conn-{key}"),
            participant_id: participant.into(),
            session_id: "session".into(),
            role,
            display_name: format!("{participant} name"),
            managed_subscriptions: 16,
            hidden: false,
            ice_servers: Vec::new(),
        }
    }

    #[test]
    fn lists_joined_participants_in_joining_order_until_they_leave() {
        let start = Instant::now();
        let mut space = Space::new(SpaceConfig::new("127.0.0.1:50000".parse().unwrap()));
        assert_eq!(space.snapshot(start), SpaceSnapshot::default());
        space.join(start, request(1, "alice", ParticipantRole::Publisher));
        let later = start + Duration::from_secs(1);
        space.join(later, request(2, "bob", ParticipantRole::Subscriber));
        let snapshot = space.snapshot(later + Duration::from_secs(1));
        let who: Vec<_> = snapshot
            .participants
            .iter()
            .map(|p| (p.participant_id.as_str(), p.role, p.state, p.tracks.len()))
            .collect();
        assert_eq!(
            who,
            [
                (
                    "alice",
                    ParticipantRole::Publisher,
                    ConnectionState::Connecting,
                    0
                ),
                (
                    "bob",
                    ParticipantRole::Subscriber,
                    ConnectionState::Connecting,
                    0
                ),
            ]
        );
        assert_eq!(snapshot.participants[0].display_name, "alice name");
        assert_eq!(
            snapshot.participants[0].connected_for,
            Duration::from_secs(2)
        );
        space.leave(later, ConnectionKey(1));
        let left = space.snapshot(later);
        assert_eq!(left.participants.len(), 1);
        assert_eq!(left.participants[0].participant_id, "bob");
    }
}

#[cfg(test)]
mod hidden_tests {
    use std::time::Instant;

    use oriel_proto::{ParticipantRole, ServerMessage};

    use crate::{ConnectionKey, JoinRequest, Output, Space, SpaceConfig};

    fn request(key: u64, participant: &str, hidden: bool) -> JoinRequest {
        JoinRequest {
            connection: ConnectionKey(key),
            connection_id: format!("conn-{key}"),
            participant_id: participant.into(),
            session_id: "session".into(),
            role: ParticipantRole::Subscriber,
            display_name: participant.into(),
            managed_subscriptions: 16,
            hidden,
            ice_servers: Vec::new(),
        }
    }

    /// Signaling messages out of the space so far, with their recipient.
    fn signals(space: &mut Space) -> Vec<(u64, ServerMessage)> {
        let mut out = Vec::new();
        while let Some(output) = space.poll_output() {
            if let Output::Signal {
                connection,
                message,
            } = output
            {
                out.push((connection.0, message));
            }
        }
        out
    }

    #[test]
    fn a_hidden_participant_is_never_announced_listed_or_seen_leaving() {
        let now = Instant::now();
        let mut space = Space::new(SpaceConfig::new("127.0.0.1:50000".parse().unwrap()));
        space.join(now, request(1, "alice", false));
        signals(&mut space);
        space.join(now, request(2, "compositor", true));
        let out = signals(&mut space);
        assert!(
            !out.iter()
                .any(|(to, m)| *to == 1 && matches!(m, ServerMessage::ParticipantConnected(_))),
            "alice is not told: {out:?}"
        );
        let joined = out.iter().find_map(|(to, m)| match m {
            ServerMessage::Joined(joined) if *to == 2 => Some(joined),
            _ => None,
        });
        let listed: Vec<_> = joined
            .unwrap()
            .participants
            .iter()
            .map(|p| p.participant_id.clone())
            .collect();
        assert_eq!(listed, ["alice"], "the hidden participant sees everyone");

        space.join(now, request(3, "bob", false));
        let out = signals(&mut space);
        let bob_joined = out.iter().find_map(|(to, m)| match m {
            ServerMessage::Joined(joined) if *to == 3 => Some(joined),
            _ => None,
        });
        let listed: Vec<_> = bob_joined
            .unwrap()
            .participants
            .iter()
            .map(|p| p.participant_id.clone())
            .collect();
        assert_eq!(listed, ["alice"], "a later joiner is not told of it either");
        let who: Vec<_> = space
            .snapshot(now)
            .participants
            .iter()
            .map(|p| p.participant_id.clone())
            .collect();
        assert_eq!(who, ["alice", "bob"]);

        space.leave(now, ConnectionKey(2));
        let out = signals(&mut space);
        assert!(
            !out.iter()
                .any(|(_, m)| matches!(m, ServerMessage::ParticipantDisconnected { .. })),
            "nobody hears it leave: {out:?}"
        );
        space.leave(now, ConnectionKey(1));
        let out = signals(&mut space);
        assert!(out
            .iter()
            .any(|(to, m)| *to == 3 && matches!(m, ServerMessage::ParticipantDisconnected { .. })));
    }
}
