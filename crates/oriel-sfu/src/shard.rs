//! One space spread over several workers: what its shards tell each other.
//!
//! A big space (an audio room of 300, a town hall) outgrows one worker thread. Each worker
//! that holds some of the space's connections runs a [`crate::Space`] of its own, a *shard*:
//! it owns its connections' peer connections and forwards to its own subscribers. The other
//! shards' participants and tracks are *mirrors* on it: known for signaling (`joined`
//! lists, `participant_joined`, `add_track`, mute, names, custom events), subscribed to like
//! local ones, fed by the packets the publisher's shard relays.
//!
//! A shard told that peers exist ([`crate::Space::set_relaying`]) emits
//! [`crate::Output::Relay`] for every change of its own connections and every packet of its
//! own publishers; the shell hands each to every other shard of the space, in order, with
//! [`crate::Space::handle_shard_event`]. A packet crosses as one [`Arc`]: each shard reads the
//! same bytes, nothing is copied per shard. A shard that joins late first takes
//! [`crate::Space::shard_state`] from every other shard.

use std::sync::Arc;
use std::time::Instant;

use oriel_proto::{ParticipantRole, Track};
use str0m::format::PayloadParams;

use crate::forwarded_packet::ForwardedPacket;
use crate::ids::ProducerId;
use crate::ConnectionKey;

/// A change on one shard that the other shards of the space mirror.
#[derive(Debug, Clone)]
pub enum ShardEvent {
    /// A connection joined the sending shard.
    Joined(Box<RemoteConnection>),
    /// A connection of the sending shard left (or was replaced).
    Left {
        connection: ConnectionKey,
    },
    /// A track of the sending shard's connection became a producer.
    TrackAdded(Box<RemoteTrack>),
    /// A producer of the sending shard went away; `announce` as for a local one (a track
    /// unpublished is announced, one whose participant left is not).
    TrackRemoved {
        producer: ProducerId,
        announce: bool,
    },
    TrackMuted {
        producer: ProducerId,
        muted: bool,
    },
    DisplayNameChanged {
        connection: ConnectionKey,
        name: String,
    },
    CustomEvent {
        connection: ConnectionKey,
        id: String,
        payload: String,
        sequence_num: u64,
    },
    /// The highest custom event sequence number the sending shard has used or seen, so that
    /// numbers keep increasing across the space (a shard numbers its own events past every
    /// number it has heard of, as a Lamport clock does).
    CustomEventsSeen {
        sequence_num: u64,
    },
    /// A packet of a producer of the sending shard, for the others' subscribers.
    Media(Arc<RelayedPacket>),
    /// A subscriber of another shard needs a keyframe: only the producer's own shard acts.
    KeyframeRequest {
        producer: ProducerId,
        layer: u8,
    },
}

/// A participant as the other shards see it.
#[derive(Debug, Clone)]
pub struct RemoteConnection {
    pub key: ConnectionKey,
    pub connection_id: String,
    pub participant_id: String,
    pub role: ParticipantRole,
    pub display_name: String,
    pub hidden: bool,
    pub joined_at: Instant,
}

/// A published track as the other shards see it.
#[derive(Debug, Clone)]
pub struct RemoteTrack {
    pub producer: ProducerId,
    pub connection: ConnectionKey,
    pub track: Track,
    pub simulcast: bool,
    /// The publisher muted it while it was pending: the others hear `track_muted` too.
    pub announce_mute: bool,
}

/// One publisher packet as its shard read it: what every shard needs to forward it without
/// parsing it again.
#[derive(Debug)]
pub struct RelayedPacket {
    pub producer: ProducerId,
    /// Simulcast layer (0 lowest).
    pub layer: u8,
    pub params: PayloadParams,
    pub keyframe: bool,
    pub packet: ForwardedPacket,
}
