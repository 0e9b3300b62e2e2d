//! The space's other shards: what this shard tells a new one, and how it mirrors what they
//! tell it (see [`crate::shard`]).

use super::*;
use crate::connection::Connection;

impl Space {
    /// Other shards of this space exist (or no longer do): relay this shard's changes and
    /// packets to them. A shard alone relays nothing and pays nothing for the possibility.
    pub fn set_relaying(&mut self, relaying: bool) {
        self.relaying = relaying;
    }

    /// What a shard that joins the space late needs to hear first: this shard's connections
    /// and the tracks they publish, as if they had just happened.
    pub fn shard_state(&self) -> Vec<ShardEvent> {
        let connections = self
            .connections
            .values()
            .filter(|c| !c.remote)
            .map(|c| ShardEvent::Joined(Box::new(c.to_remote())));
        let tracks = self.producers.values().filter(|p| !p.remote).map(|p| {
            ShardEvent::TrackAdded(Box::new(RemoteTrack {
                producer: p.id,
                connection: p.connection,
                track: p.track.clone(),
                simulcast: p.simulcast,
                announce_mute: false,
            }))
        });
        let sequence = ShardEvent::CustomEventsSeen {
            sequence_num: self.custom_event_sequence,
        };
        connections.chain(tracks).chain([sequence]).collect()
    }

    /// A change or a packet from another shard of the space, in the order it sent them.
    pub fn handle_shard_event(&mut self, now: Instant, event: ShardEvent) {
        match event {
            ShardEvent::Media(relayed) => {
                if self
                    .producers
                    .get(&relayed.producer)
                    .is_some_and(|p| p.remote)
                {
                    let RelayedPacket {
                        producer,
                        layer,
                        params,
                        keyframe,
                        ref packet,
                    } = *relayed;
                    self.fan_out(now, producer, layer, params, keyframe, packet);
                    self.drain_dirty(now);
                }
                return;
            }
            ShardEvent::KeyframeRequest { producer, layer } => {
                if self.producers.get(&producer).is_some_and(|p| !p.remote) {
                    self.request_keyframe(now, producer, layer);
                    if let Some(publisher) = self.producers.get(&producer).map(|p| p.connection) {
                        self.drive_publisher(now, publisher);
                    }
                }
                return;
            }
            ShardEvent::Joined(remote) => self.mirror_join(now, *remote),
            ShardEvent::Left { connection } => {
                if self.connections.get(&connection).is_some_and(|c| c.remote) {
                    self.leave(now, connection);
                }
            }
            ShardEvent::TrackAdded(track) => self.mirror_track(now, *track),
            ShardEvent::TrackRemoved { producer, announce } => {
                if self.producers.get(&producer).is_some_and(|p| p.remote) {
                    self.remove_producer(producer, announce);
                    self.update_subscriptions(now);
                }
            }
            ShardEvent::TrackMuted { producer, muted } => {
                if let Some(p) = self.producers.get_mut(&producer).filter(|p| p.remote) {
                    p.track.muted = muted;
                    self.announce_mute(producer);
                }
            }
            ShardEvent::DisplayNameChanged { connection, name } => {
                let Some(mirror) = self.connections.get_mut(&connection).filter(|c| c.remote)
                else {
                    return;
                };
                mirror.display_name = name.clone();
                let connection_id = mirror.connection_id.clone();
                self.signal_others(
                    connection,
                    &ServerMessage::ParticipantUpdate {
                        connection_id,
                        display_name: name,
                        request_id: None,
                    },
                );
            }
            ShardEvent::CustomEventsSeen { sequence_num } => {
                self.custom_event_sequence = self.custom_event_sequence.max(sequence_num);
                return;
            }
            ShardEvent::CustomEvent {
                connection,
                id,
                payload,
                sequence_num,
            } => {
                self.custom_event_sequence = self.custom_event_sequence.max(sequence_num);
                let Some(mirror) = self.connections.get(&connection).filter(|c| c.remote) else {
                    return;
                };
                let connection_id = mirror.connection_id.clone();
                self.signal_others(
                    connection,
                    &ServerMessage::CustomEvent {
                        id,
                        payload,
                        connection_id,
                        sequence_num,
                        request_id: None,
                    },
                );
            }
        }
        self.drive_all(now);
    }

    fn mirror_join(&mut self, now: Instant, remote: crate::RemoteConnection) {
        if self.connections.contains_key(&remote.key) {
            return;
        }
        // The participant reconnected through another shard: its connection here is stale.
        let replaced: Vec<ConnectionKey> = self
            .connections
            .values()
            .filter(|c| !c.remote && c.participant_id == remote.participant_id)
            .map(|c| c.key)
            .collect();
        for old in replaced {
            self.leave(now, old);
        }
        let mirror = Connection::mirror(remote);
        let announcement = (!mirror.hidden)
            .then(|| ServerMessage::ParticipantConnected(mirror.participant(Vec::new())));
        let key = mirror.key;
        self.connections.insert(key, mirror);
        if let Some(announcement) = announcement {
            self.signal_others(key, &announcement);
        }
    }

    fn mirror_track(&mut self, now: Instant, remote: RemoteTrack) {
        if self.producers.contains_key(&remote.producer)
            || !self
                .connections
                .get(&remote.connection)
                .is_some_and(|c| c.remote)
        {
            return;
        }
        // A republished track (a reconnection) replaces its stale predecessor here too.
        let stale: Vec<ProducerId> = self
            .producers
            .values()
            .filter(|p| p.track.tid == remote.track.tid)
            .map(|p| p.id)
            .collect();
        for producer in stale {
            self.remove_producer(producer, true);
        }
        let mut producer = Producer::new(
            remote.producer,
            remote.connection,
            // Its mid belongs to the publisher's shard; keyframe requests go there by id.
            str0m::media::Mid::from("relay"),
            remote.track.clone(),
            remote.simulcast,
        );
        producer.remote = true;
        self.producers.insert(remote.producer, producer);
        self.announce_track(remote.connection, remote.track, remote.announce_mute);
        self.update_subscriptions(now);
    }
}
